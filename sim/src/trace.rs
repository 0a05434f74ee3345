//! Captured production traces: JSON Lines, one delivered EventBridge event
//! per line exactly as a target receives it. Lines may be out of time
//! order and may repeat, as captures are. Reading is fast: only the events
//! the coordination reads (requests, votes, completion reports) and the
//! decisions it is compared with are decoded in full; the rest keep their
//! type and time.
//!
//! What production recorded is read leniently and what the coordination
//! needs strictly: a trace is evidence from another system (the notes'
//! own Python implementation among them), and a field the comparison does
//! not use must not cost the whole line. Requests and votes go through the
//! core's decoder (which takes userId from the envelope, null reasons and
//! ids, and ignores fields it does not know); recorded decisions through
//! [`Recorded::from_delivered`], which takes them with or without `cause`,
//! `deniedBy` as a string or a list, and `allVotes` with any timestamps.
//!
//! A line may carry, beside the delivered event, when the consumer received
//! it: a top-level `receivedAt` (milliseconds since the epoch or an RFC 3339
//! time; the event store's `auditTimestamp`, or the aggregator's own time in
//! a simulated run's export). Lines are then in arrival order, which is the
//! order the aggregator decided in.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tally_core::coordination::{HistoryEntry, Input, Policy, Record};
use tally_core::event::{DecisionCause, Event, EventKind};
use tally_core::time::{parse_rfc3339, to_rfc3339_millis, Millis};
use tally_core::wire::{describe, DeliveredEvent};

/// The top-level field of a trace line that says when the event was
/// received (not part of EventBridge's delivery envelope).
pub const RECEIVED_AT: &str = "receivedAt";

/// What a bad line gets: skipped with a report, or the end of the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadLines {
    #[default]
    Skip,
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Debug, Clone)]
pub struct Traced {
    /// 1-based line number in the trace.
    pub line: usize,
    /// The event's own time: the envelope's millisecond timestamp when it
    /// has one, else EventBridge's `time`.
    pub at: Millis,
    /// When the consumer received it (`receivedAt`), if the line says.
    pub received: Option<Millis>,
    pub detail_type: String,
    /// Decoded for the types the coordination reads (boxed: most lines
    /// have none, and a million lines get sorted).
    pub event: Option<Box<Event>>,
    /// A decision event (`file.deletion.approved` or `.denied`) as read.
    pub recorded: Option<Box<Recorded>>,
}

impl Traced {
    /// When the line happened for a replay: when it was received if the
    /// line says, else the event's own time.
    pub fn arrival(&self) -> Millis {
        self.received.unwrap_or(self.at)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// In arrival order (ties keep the order of the lines).
    pub events: Vec<Traced>,
    pub bad: Vec<BadLine>,
    /// Non-blank lines: read or bad.
    pub lines: usize,
}

#[derive(Deserialize)]
struct FullEnvelope<'a> {
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    time: &'a str,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, rename = "receivedAt")]
    received: Option<&'a RawValue>,
}

struct Envelope<'a> {
    detail_type: &'a str,
    time: &'a str,
    has_detail: bool,
    received: Option<&'a str>,
}

/// Types decoded as coordination inputs.
fn is_input(kind: Option<EventKind>) -> bool {
    matches!(
        kind,
        Some(
            EventKind::DeletionRequested
                | EventKind::DeleteRequested
                | EventKind::DeletionVote
                | EventKind::ConsumerCompletion
        )
    )
}

/// A time given as milliseconds since the epoch (a JSON integer) or as
/// ISO-8601 text; text without an offset is UTC (Python's
/// `datetime.isoformat()` on Lambda writes none).
fn time_of(v: &Value) -> Option<Millis> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_rfc3339(s).or_else(|| parse_rfc3339(&format!("{s}Z"))),
        _ => None,
    }
}

const TIME_EXPECTED: &str = "milliseconds since the epoch or an ISO-8601 time";

fn received_of(raw: &str) -> Result<Millis, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("{RECEIVED_AT}: {e}"))?;
    time_of(&v).ok_or_else(|| {
        format!(
            "{RECEIVED_AT}: expected {TIME_EXPECTED}, found {}",
            describe(&v)
        )
    })
}

/// Reads one line; `Ok(None)` for a blank line.
pub fn read_line(line: usize, text: &str) -> Result<Option<Traced>, BadLine> {
    let bad = |reason: String| BadLine { line, reason };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let env = match crate::envelope_scan::top(trimmed) {
        Some(t) => Envelope {
            detail_type: t.detail_type,
            time: t.time,
            has_detail: t.has_detail,
            received: t.received,
        },
        // The fast read declined: let serde_json read it and name the fault.
        None => {
            let full: FullEnvelope<'_> = serde_json::from_str(trimmed).map_err(|e| {
                if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_err() {
                    bad(format!("not JSON: {e}"))
                } else {
                    bad(format!("not a delivered EventBridge event: {e}"))
                }
            })?;
            Envelope {
                detail_type: full.detail_type,
                time: full.time,
                has_detail: full.detail.is_some(),
                received: full.received.map(RawValue::get),
            }
        }
    };
    let received = env.received.map(received_of).transpose().map_err(bad)?;
    let kind = EventKind::parse(env.detail_type);
    let (mut event, mut recorded) = (None, None);
    let at = if is_input(kind) {
        let ev = DeliveredEvent::from_json(trimmed)
            .and_then(|d| d.decode())
            .map_err(|e| bad(e.to_string()))?;
        let at = ev.timestamp;
        event = Some(Box::new(ev));
        at
    } else if let Some(outcome @ (EventKind::DeletionApproved | EventKind::DeletionDenied)) = kind {
        let d = DeliveredEvent::from_json(trimmed).map_err(|e| bad(e.to_string()))?;
        let r = Recorded::from_delivered(line, &d, outcome == EventKind::DeletionApproved)
            .map_err(|e| bad(format!("recorded decision not read: {e}")))?;
        let at = r.at;
        recorded = Some(Box::new(r));
        at
    } else {
        if !env.has_detail {
            return Err(bad(
                "not a delivered EventBridge event: missing field `detail`".into(),
            ));
        }
        parse_rfc3339(env.time).ok_or_else(|| {
            bad(format!(
                "time: expected an RFC 3339 time, found {:?}",
                env.time
            ))
        })?
    };
    Ok(Some(Traced {
        line,
        at,
        received,
        detail_type: env.detail_type.to_owned(),
        event,
        recorded,
    }))
}

/// Reads a whole trace. With `BadLines::Fatal` the first bad line is the
/// error; with `Skip` every bad line is reported in `Trace::bad`.
pub fn read(text: &str, bad_lines: BadLines) -> Result<Trace, BadLine> {
    let mut trace = Trace::default();
    for (i, line) in text.lines().enumerate() {
        match read_line(i + 1, line) {
            Ok(Some(t)) => trace.events.push(t),
            Ok(None) => continue,
            Err(b) if bad_lines == BadLines::Fatal => return Err(b),
            Err(b) => trace.bad.push(b),
        }
        trace.lines += 1;
    }
    trace.events.sort_by_key(|t| (t.arrival(), t.line));
    Ok(trace)
}

/// One vote as a recorded decision lists it under `allVotes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedVote {
    pub voter: String,
    pub decision: String,
    pub reason: Option<String>,
    /// When the aggregator received it, if the entry says.
    pub at: Option<Millis>,
}

/// A decision event as a trace recorded it, read leniently: what the
/// comparison needs (request, outcome; cause when there is one) strictly,
/// the rest as it comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub line: usize,
    pub event_id: String,
    pub source: String,
    pub at: Millis,
    pub request_id: String,
    pub file_id: String,
    /// `approved` or `denied`.
    pub outcome: &'static str,
    /// None when the recording system gives none (the notes' aggregator
    /// does not): then only the outcome is compared.
    pub cause: Option<DecisionCause>,
    /// approvedBy or deniedBy: a list, or the one voter as a string.
    pub by: Vec<String>,
    /// allVotes, by voter.
    pub votes: Vec<RecordedVote>,
    pub reason: Option<String>,
}

fn field_err(path: &str, expected: &str, found: Option<&Value>) -> String {
    let found = found.map_or("nothing (the field is missing)".to_owned(), describe);
    format!("{path}: expected {expected}, found {found}")
}

fn opt_string(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        other => Err(field_err(&format!("{at}.{key}"), "a string", other)),
    }
}

impl Recorded {
    /// Reads a delivered `file.deletion.approved` (`approved`) or
    /// `file.deletion.denied`. The data sits in `detail.data` (the notes'
    /// envelope) or directly in `detail`; errors name the field.
    pub fn from_delivered(
        line: usize,
        d: &DeliveredEvent,
        approved: bool,
    ) -> Result<Recorded, String> {
        let detail = d
            .detail
            .as_object()
            .ok_or_else(|| field_err("detail", "a JSON object", Some(&d.detail)))?;
        let (data, at_path) = match detail.get("data") {
            Some(Value::Object(m)) => (m, "detail.data"),
            _ => (detail, "detail"),
        };
        let at = match detail.get("timestamp") {
            None | Some(Value::Null) => parse_rfc3339(&d.time).ok_or_else(|| {
                field_err("time", "an RFC 3339 time", Some(&d.time.clone().into()))
            })?,
            Some(v) => {
                time_of(v).ok_or_else(|| field_err("detail.timestamp", TIME_EXPECTED, Some(v)))?
            }
        };
        let event_id = opt_string(detail, "eventId", "detail")?.unwrap_or_else(|| d.id.clone());
        let request_id = opt_string(data, "requestId", at_path)?
            .ok_or_else(|| field_err(&format!("{at_path}.requestId"), "a string", None))?;
        let file_id = match opt_string(data, "fileId", at_path)? {
            Some(f) => f,
            None => opt_string(data, "entityId", at_path)?.ok_or_else(|| {
                field_err(&format!("{at_path}.fileId"), "a string (or entityId)", None)
            })?,
        };
        let cause = match data.get("cause") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(|c| DecisionCause::ALL.iter().copied().find(|k| k.as_str() == c))
                    .ok_or_else(|| {
                        let all: Vec<&str> =
                            DecisionCause::ALL.iter().map(|c| c.as_str()).collect();
                        field_err(
                            &format!("{at_path}.cause"),
                            &format!("one of {}", all.join(", ")),
                            Some(v),
                        )
                    })?,
            ),
        };
        let by_key = if approved { "approvedBy" } else { "deniedBy" };
        let by_path = format!("{at_path}.{by_key}");
        let by = match data.get(by_key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| field_err(&format!("{by_path}[{i}]"), "a string", Some(v)))
                })
                .collect::<Result<_, _>>()?,
            other => return Err(field_err(&by_path, "a voter or a list of voters", other)),
        };
        let votes_path = format!("{at_path}.allVotes");
        let votes = match data.get("allVotes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(voter, entry)| {
                    let p = format!("{votes_path}.{voter}");
                    let e = entry
                        .as_object()
                        .ok_or_else(|| field_err(&p, "a JSON object", Some(entry)))?;
                    let decision = opt_string(e, "decision", &p)?
                        .ok_or_else(|| field_err(&format!("{p}.decision"), "a string", None))?;
                    let at = match e.get("timestamp") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(time_of(v).ok_or_else(|| {
                            field_err(&format!("{p}.timestamp"), TIME_EXPECTED, Some(v))
                        })?),
                    };
                    Ok(RecordedVote {
                        voter: voter.clone(),
                        decision,
                        reason: opt_string(e, "reason", &p)?,
                        at,
                    })
                })
                .collect::<Result<_, String>>()?,
            other => return Err(field_err(&votes_path, "an object of votes by voter", other)),
        };
        Ok(Recorded {
            line,
            event_id,
            source: d.source.clone(),
            at,
            request_id,
            file_id,
            outcome: if approved { "approved" } else { "denied" },
            cause,
            by,
            votes,
            reason: opt_string(data, "reason", at_path)?,
        })
    }

    /// As a decision log line; a cause not recorded reads `(not recorded)`.
    pub fn decision(&self) -> DecisionOut {
        DecisionOut {
            at: self.at,
            request_id: self.request_id.clone(),
            file_id: self.file_id.clone(),
            outcome: self.outcome.to_owned(),
            cause: self
                .cause
                .map_or_else(|| NOT_RECORDED.to_owned(), |c| c.as_str().to_owned()),
        }
    }
}

/// The cause of a recorded decision that gives none.
pub const NOT_RECORDED: &str = "(not recorded)";

/// The recorded decisions of a trace under a policy: the decision events
/// published from its aggregator source.
#[derive(Debug, Clone, Default)]
pub struct Recognised {
    /// The first per request, in time order.
    pub decisions: Vec<Recorded>,
    /// Decision events from any other source, counted by source: not the
    /// aggregator's, so not compared (a policy naming another aggregator
    /// source would count them).
    pub other_sources: BTreeMap<String, usize>,
}

pub fn recognise(trace: &Trace, policy: &Policy) -> Recognised {
    let mut out = Recognised::default();
    let mut first: BTreeMap<&str, &Recorded> = BTreeMap::new();
    for r in trace.events.iter().filter_map(|t| t.recorded.as_deref()) {
        if r.source != policy.aggregator_source {
            *out.other_sources.entry(r.source.clone()).or_default() += 1;
            continue;
        }
        let slot = first.entry(&r.request_id).or_insert(r);
        if (r.at, r.line) < (slot.at, slot.line) {
            *slot = r;
        }
    }
    out.decisions = first.into_values().cloned().collect();
    out.decisions
        .sort_by(|a, b| (a.at, &a.request_id).cmp(&(b.at, &b.request_id)));
    out
}

/// The decisions a trace recorded (the first per request, in time order),
/// as decision log lines.
pub fn recorded_decisions(trace: &Trace, policy: &Policy) -> Vec<DecisionOut> {
    recognise(trace, policy)
        .decisions
        .iter()
        .map(Recorded::decision)
        .collect()
}

/// A simulated run's audit log as a trace (`explore --export-trace`): each
/// line the delivered event the audit kept, and, for every input the
/// aggregator recorded, the time it did (`receivedAt`), so that a replay
/// feeds the inputs in the order the aggregator saw them. A voter that
/// re-runs after a failure re-publishes its vote under the same derived id,
/// possibly with another decision: the audit keeps the first copy it got,
/// the aggregator counts the first copy it got, and the two can differ;
/// the line then holds the aggregator's copy (from what was `published`).
pub fn export(
    entries: &[tally_core::domain::AuditEntry],
    records: &[Record],
    published: &[(Millis, Event)],
) -> Vec<String> {
    let decision_of = |e: &Event| match Input::from_event(e) {
        Some(Input::Vote(v)) => Some(v.decision),
        _ => None,
    };
    // Inputs received in the same millisecond keep the order the record
    // took them in (its history's), so ties sort by the position there.
    let mut seen: BTreeMap<&str, (&HistoryEntry, usize)> = BTreeMap::new();
    for (seq, h) in records.iter().flat_map(|r| &r.history).enumerate() {
        seen.entry(&h.event_id).or_insert((h, seq));
    }
    let mut lines: Vec<(Millis, usize, Millis, &str, String)> = entries
        .iter()
        .map(|e| {
            let text = e.delivered.trim();
            let Some(&(h, seq)) = seen.get(e.event_id.as_str()) else {
                let t = e.timestamp;
                return (t, usize::MAX, t, e.event_id.as_str(), text.to_owned());
            };
            let mut line = text.to_owned();
            let audited = DeliveredEvent::from_json(text).ok();
            let kept = audited.as_ref().and_then(|d| d.decode().ok());
            if h.decision.is_some() && kept.as_ref().and_then(decision_of) != h.decision {
                let counted = published
                    .iter()
                    .find(|(_, p)| p.event_id == e.event_id && decision_of(p) == h.decision);
                if let (Some(mut d), Some((_, p))) = (audited, counted) {
                    d.detail = p.to_detail();
                    d.time = tally_core::time::to_rfc3339_seconds(p.timestamp);
                    line = d.to_json();
                }
            }
            // The rest of the line stays byte for byte as delivered.
            if let Some(rest) = line.strip_prefix('{').filter(|r| r.trim_start() != "}") {
                line = format!("{{\"{RECEIVED_AT}\":{},{rest}", h.at);
            }
            (h.at, seq, e.timestamp, e.event_id.as_str(), line)
        })
        .collect();
    lines.sort_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
    lines.into_iter().map(|l| l.4).collect()
}

/// A terminal decision, as recorded in a trace or made by a replay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecisionOut {
    pub at: Millis,
    pub request_id: String,
    pub file_id: String,
    pub outcome: String,
    pub cause: String,
}

impl DecisionOut {
    /// `{"requestId", "fileId", "outcome", "cause", "at"}`, one line.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Line<'a> {
            request_id: &'a str,
            file_id: &'a str,
            outcome: &'a str,
            cause: &'a str,
            at: String,
        }
        let line = Line {
            request_id: &self.request_id,
            file_id: &self.file_id,
            outcome: &self.outcome,
            cause: &self.cause,
            at: to_rfc3339_millis(self.at),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// [`DecisionOut::to_json`] as a line of `tally`'s JSON output, with
    /// `"type": "decision"` (docs/json-output.schema.json).
    pub fn to_typed_json(&self) -> String {
        // Spliced rather than re-serialised, so that the fields keep the
        // order of to_json (serde_json's maps would sort them).
        let fields = self.to_json();
        format!(
            "{{\"type\":\"decision\",{}",
            fields.strip_prefix('{').unwrap_or(&fields)
        )
    }

    pub fn from_json(line: usize, text: &str) -> Result<DecisionOut, BadLine> {
        let bad = |reason: String| BadLine { line, reason };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    bad(format!(
                        "{k}: expected a string, found {}",
                        v.get(k).map_or("nothing".to_owned(), |x| x.to_string())
                    ))
                })
        };
        let at_text = s("at")?;
        let at = parse_rfc3339(&at_text)
            .ok_or_else(|| bad(format!("at: expected an RFC 3339 time, found {at_text:?}")))?;
        Ok(DecisionOut {
            at,
            request_id: s("requestId")?,
            file_id: s("fileId")?,
            outcome: s("outcome")?,
            cause: s("cause")?,
        })
    }
}

/// One request whose decision differs between two logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub request_id: String,
    pub left: Option<DecisionOut>,
    pub right: Option<DecisionOut>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |d: &Option<DecisionOut>| {
            d.as_ref().map_or("(no decision)".to_owned(), |d| {
                format!(
                    "{} cause={} at {}",
                    d.outcome,
                    d.cause,
                    to_rfc3339_millis(d.at)
                )
            })
        };
        write!(
            f,
            "{}: {} | {}",
            self.request_id,
            side(&self.left),
            side(&self.right)
        )
    }
}

/// Requests whose outcome or cause differ (or that one side lacks), in
/// the order of the earlier decision. With `left_only_scope`, requests the
/// left side never decided are not differences (a trace cut before its
/// decision is compared only where it decided).
pub fn differences(
    left: &[DecisionOut],
    right: &[DecisionOut],
    left_only_scope: bool,
) -> Vec<Difference> {
    let l: BTreeMap<&str, &DecisionOut> = left.iter().map(|d| (d.request_id.as_str(), d)).collect();
    let r: BTreeMap<&str, &DecisionOut> =
        right.iter().map(|d| (d.request_id.as_str(), d)).collect();
    let mut ids: Vec<&str> = l.keys().copied().collect();
    if !left_only_scope {
        ids.extend(r.keys().copied().filter(|k| !l.contains_key(k)));
    }
    let mut diffs: Vec<(Millis, Difference)> = ids
        .into_iter()
        .filter_map(|id| {
            let (a, b) = (l.get(id).copied(), r.get(id).copied());
            let same = matches!((a, b), (Some(a), Some(b)) if a.outcome == b.outcome && a.cause == b.cause);
            (!same).then(|| {
                let at = a.or(b).map_or(0, |d| d.at);
                (at, Difference { request_id: id.to_owned(), left: a.cloned(), right: b.cloned() })
            })
        })
        .collect();
    diffs.sort_by(|x, y| (x.0, &x.1.request_id).cmp(&(y.0, &y.1.request_id)));
    diffs.into_iter().map(|(_, d)| d).collect()
}

/// Pulls delivered events out of JSON log lines: a line that is itself a
/// delivered event, or whose top-level field (`event`, `message`, or any
/// other) holds one, as an object or as JSON text. Events come out
/// unchanged (re-serialized compactly); lines without one are counted.
pub fn from_logs(text: &str) -> (Vec<String>, usize) {
    fn is_event(v: &serde_json::Value) -> bool {
        v.get("detail-type").is_some_and(|x| x.is_string())
            && v.get("detail").is_some()
            && v.get("id").is_some()
    }
    fn find(v: &serde_json::Value) -> Option<serde_json::Value> {
        if is_event(v) {
            return Some(v.clone());
        }
        let obj = v.as_object()?;
        obj.values().find_map(|field| match field {
            serde_json::Value::Object(_) if is_event(field) => Some(field.clone()),
            serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .filter(is_event),
            _ => None,
        })
    }
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .as_ref()
            .and_then(find)
        {
            Some(ev) => out.push(ev.to_string()),
            None => skipped += 1,
        }
    }
    (out, skipped)
}
