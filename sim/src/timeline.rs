//! One run as a timeline: every delivery of the deletion flow, every
//! decision (timeouts among them), refusal and deletion, and every fault
//! injected into it (duplicates, bursts, dead letters, crashes, throttled
//! attempts, lost races), each at its virtual time and tied to its request
//! and file where it has one. `tally show` draws its Mermaid diagram and
//! its HTML page from this, and `--request`/`--file` narrow it.

use serde::Serialize;
use tally_core::time::Millis;

/// The events of the deletion flow (the rest of the traffic would drown it).
pub const FLOW: &[&str] = &[
    "file.deletion.requested",
    "file.deletion.vote",
    "file.deletion.approved",
    "file.deletion.denied",
    "file.deleted",
    "file.delete_requested",
    "consumer.completion",
];

/// What a timeline entry shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An event handed to a target and consumed there.
    Delivery,
    /// A terminal decision by the votes (approved, or denied by a veto or
    /// an error).
    Decision,
    /// A terminal decision by an expired deadline.
    Timeout,
    /// A vote the aggregator refused (wrong source, unrequired voter,
    /// another file) and audited.
    Refusal,
    /// The executor's announcement that a file is gone.
    Deletion,
    /// Injected: the bus delivered an event twice.
    Duplicate,
    /// Injected: the bus handed one delivery to three invocations at once.
    Burst,
    /// A delivery dead-lettered (injected loss, or out of retries).
    DeadLetter,
    /// Injected: a handler died at one of its crash points.
    Crash,
    /// A failed attempt the bus retried (throttling, a store error, a
    /// failed publish).
    Retry,
    /// An aggregator write that lost a race and was stepped again.
    LostRace,
}

impl Kind {
    /// Faults injected into the run, as opposed to what the system did.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Kind::Duplicate
                | Kind::Burst
                | Kind::DeadLetter
                | Kind::Crash
                | Kind::Retry
                | Kind::LostRace
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Delivery => "delivery",
            Kind::Decision => "decision",
            Kind::Timeout => "timeout",
            Kind::Refusal => "refusal",
            Kind::Deletion => "deletion",
            Kind::Duplicate => "duplicate",
            Kind::Burst => "burst",
            Kind::DeadLetter => "dead-letter",
            Kind::Crash => "crash",
            Kind::Retry => "retry",
            Kind::LostRace => "lost-race",
        }
    }
}

/// A fault the world injected (or a retry it made), recorded where it
/// happened when the run keeps its deliveries (`tally show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub at: Millis,
    pub kind: Kind,
    pub event_id: String,
    pub event_type: String,
    pub target: String,
    /// The request and file the event is about, when it is about one.
    pub request: Option<String>,
    pub file: Option<String>,
    pub detail: String,
}

impl Mark {
    /// A mark of `kind` on the delivery of `event_id` to `target`, about
    /// the request and file `ids` names (`ids_of`).
    pub fn new(at: Millis, kind: Kind, delivery: (&str, &str, &str), detail: String) -> Mark {
        let (event_id, event_type, target) = delivery;
        Mark {
            at,
            kind,
            event_id: event_id.to_owned(),
            event_type: event_type.to_owned(),
            target: target.to_owned(),
            request: None,
            file: None,
            detail,
        }
    }

    /// The mark, tied to the request and file `ids` names.
    pub fn about(mut self, ids: Option<(String, String)>) -> Mark {
        if let Some((request, file)) = ids {
            self.request = Some(request);
            self.file = Some(file);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub at: Millis,
    pub kind: Kind,
    /// Where it starts: the publishing source for a delivery, else the
    /// function it happened in.
    pub from: String,
    /// Where a delivery ends (the same as `from` for the rest).
    pub to: String,
    pub event_type: String,
    pub event_id: String,
    pub request: Option<String>,
    pub file: Option<String>,
    /// One line about it, for people.
    pub label: String,
    /// The delivered event, for a delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
}

/// The request and file a deletion-flow event (as delivered) is about.
pub fn ids_of(json: &str) -> Option<(String, String)> {
    let event = tally_core::wire::DeliveredEvent::from_json(json)
        .ok()?
        .decode()
        .ok()?;
    ids_of_data(event.data)
}

/// The request and file a deletion-flow event's data is about.
pub fn ids_of_data(data: tally_core::event::EventData) -> Option<(String, String)> {
    use tally_core::event::EventData;
    Some(match data {
        EventData::DeletionRequested(r) => (r.request_id, r.file_id),
        EventData::DeletionVote(v) => (v.request_id, v.file_id),
        EventData::DeletionApproved(a) => (a.request_id, a.file_id),
        EventData::DeletionDenied(d) => (d.request_id, d.file_id),
        EventData::FileDeleted(f) => (f.request_id, f.file_id),
        EventData::DeleteRequested(r) => (r.coordination_id, r.file_id),
        EventData::ConsumerCompletion(c) => (c.coordination_id, c.file_id),
        _ => return None,
    })
}

/// What narrows a timeline: one request, or every request for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only<'a> {
    All,
    Request(&'a str),
    File(&'a str),
}

impl Only<'_> {
    pub fn keeps(&self, request: Option<&str>, file: Option<&str>) -> bool {
        match *self {
            Only::All => true,
            Only::Request(id) => request == Some(id),
            Only::File(id) => file == Some(id),
        }
    }
}

/// A decision of the run, as the timeline needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionAt {
    pub at: Millis,
    pub request_id: String,
    pub file_id: String,
    pub outcome: String,
    pub cause: String,
}

/// What a run saw, handed to [`build`].
pub struct Parts<'a> {
    pub deliveries: &'a [crate::observe::Delivered],
    pub decisions: &'a [DecisionAt],
    /// (at, request, event id, reason).
    pub refusals: &'a [(Millis, String, String, String)],
    pub marks: &'a [Mark],
}

/// The timeline of a run, in time order (ties in a fixed order of kind,
/// then as recorded), narrowed to `only`.
pub fn build(parts: &Parts<'_>, only: Only<'_>) -> Vec<Entry> {
    let mut out = Vec::new();
    let file_of_request = |req: &str| {
        parts
            .decisions
            .iter()
            .find(|d| d.request_id == req)
            .map(|d| d.file_id.clone())
    };
    // file.deleted is routed to the audit alone: its deliveries there say
    // when a file went, and only the other flow deliveries are drawn.
    for d in parts
        .deliveries
        .iter()
        .filter(|d| FLOW.contains(&d.event_type.as_str()))
    {
        let ids = ids_of(&d.json);
        let (request, file) = (ids.as_ref().map(|x| x.0.clone()), ids.map(|x| x.1));
        if !only.keeps(request.as_deref(), file.as_deref()) {
            continue;
        }
        let json = serde_json::from_str(&d.json).ok();
        if d.event_type == "file.deleted"
            && !out
                .iter()
                .any(|e: &Entry| e.kind == Kind::Deletion && e.event_id == d.event_id)
        {
            out.push(Entry {
                at: d.at,
                kind: Kind::Deletion,
                from: "executor".into(),
                to: "executor".into(),
                event_type: d.event_type.clone(),
                event_id: d.event_id.clone(),
                label: format!("deleted file {}", file.as_deref().unwrap_or("?")),
                request: request.clone(),
                file: file.clone(),
                json: None,
            });
        }
        if d.target == "audit" {
            continue;
        }
        out.push(Entry {
            at: d.at,
            kind: Kind::Delivery,
            from: d.source.clone(),
            to: d.target.clone(),
            event_type: d.event_type.clone(),
            event_id: d.event_id.clone(),
            label: d.event_type.clone(),
            request,
            file,
            json,
        });
    }
    for d in parts.decisions {
        if !only.keeps(Some(&d.request_id), Some(&d.file_id)) {
            continue;
        }
        let kind = if d.cause == "timeout" {
            Kind::Timeout
        } else {
            Kind::Decision
        };
        out.push(Entry {
            at: d.at,
            kind,
            from: "aggregator".into(),
            to: "aggregator".into(),
            event_type: format!("file.deletion.{}", d.outcome),
            event_id: String::new(),
            label: format!("{} ({})", d.outcome, d.cause),
            request: Some(d.request_id.clone()),
            file: Some(d.file_id.clone()),
            json: None,
        });
    }
    for (at, req, event_id, reason) in parts.refusals {
        let file = file_of_request(req);
        if !only.keeps(Some(req), file.as_deref()) {
            continue;
        }
        out.push(Entry {
            at: *at,
            kind: Kind::Refusal,
            from: "aggregator".into(),
            to: "aggregator".into(),
            event_type: "file.deletion.vote".into(),
            event_id: event_id.clone(),
            label: format!("refused: {reason}"),
            request: Some(req.clone()),
            file,
            json: None,
        });
    }
    for m in parts
        .marks
        .iter()
        .filter(|m| FLOW.contains(&m.event_type.as_str()) && m.target != "audit")
    {
        if !only.keeps(m.request.as_deref(), m.file.as_deref()) {
            continue;
        }
        out.push(Entry {
            at: m.at,
            kind: m.kind,
            from: m.target.clone(),
            to: m.target.clone(),
            event_type: m.event_type.clone(),
            event_id: m.event_id.clone(),
            label: format!("{}: {} {}", m.kind.name(), m.event_type, m.detail)
                .trim_end()
                .to_owned(),
            request: m.request.clone(),
            file: m.file.clone(),
            json: None,
        });
    }
    // Stable: equal keys keep the order they were recorded in.
    out.sort_by_key(|e| (e.at, e.kind));
    out
}

/// Every request a run knows of, sorted: for the error that names an id
/// the run does not have.
pub fn requests(parts: &Parts<'_>) -> Vec<String> {
    let mut known: Vec<String> = parts
        .decisions
        .iter()
        .map(|d| d.request_id.clone())
        .chain(
            parts
                .deliveries
                .iter()
                .filter_map(|d| ids_of(&d.json).map(|x| x.0)),
        )
        .collect();
    known.sort();
    known.dedup();
    known
}

/// Every file a run's deletion flow is about, sorted.
pub fn files(parts: &Parts<'_>) -> Vec<String> {
    let mut known: Vec<String> = parts
        .decisions
        .iter()
        .map(|d| d.file_id.clone())
        .chain(
            parts
                .deliveries
                .iter()
                .filter_map(|d| ids_of(&d.json).map(|x| x.1)),
        )
        .collect();
    known.sort();
    known.dedup();
    known
}
