//! The properties every run must keep, each named, checked over what the
//! world saw (records, published events, dead letters, the audit log).
//! Safety properties are "always" properties (checked during and after a
//! run); liveness properties are "eventually" properties, checked after the
//! liveness phase, when faults have stopped and everything has settled.

use crate::observe::Observations;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tally_core::coordination::{Policy, Record, Rule, Status};
use tally_core::domain::AuditEntry;
use tally_core::event::{Event, EventData, VoteDecision};
use tally_core::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// Safety: no file's data is deleted without an approved coordination.
    NoDeletionWithoutApproval,
    /// Safety: at most one terminal decision per request, never both kinds.
    AtMostOneDecision,
    /// Safety: a counted deny (voting) is never overturned.
    NoVetoOverturned,
    /// Safety: no approval without every required vote (or an expired
    /// deadline whose outcome is proceed); no denial without a deny, an
    /// error or an expired deadline.
    NoDecisionWithoutVotesOrDeadline,
    /// Safety: file.deleted at most once per request.
    FileDeletedAtMostOnce,
    /// Safety: every event id published more than once carries the same
    /// content each time (its publish time aside): a redelivered input
    /// re-emits the same event, which is what lets consumers dedupe by id.
    OneIdOneContent,
    /// Safety: every event the coordination needs somewhere (a request at
    /// the aggregator and its voters, a vote at the aggregator, an approval
    /// at the executor) was routed there.
    RoutedWhereNeeded,
    /// Safety: a voter function that handled a request published exactly
    /// one vote for it, under one id whatever the deliveries (a voter that
    /// returns without voting stalls the request; a new id per delivery
    /// defeats every consumer's dedupe).
    EachVoterVotesOnce,
    /// Safety: every vote a record counts was published by its voter's
    /// bound source, for a required voter, about the request's file.
    OnlyRealVotesCount,
    /// Safety (the oracle): each request was decided as the votes that
    /// reached the aggregator, and when, say it must be.
    DecidedAsTheVotesSay,
    /// Liveness: every decision a record holds reached the bus.
    DecisionPublished,
    /// Liveness: an approved file ends deleted (metadata, transactions,
    /// content) and announced; a file whose requests were all denied is kept.
    ApprovedFileDeleted,
    /// Liveness: every request is decided within its deadline plus the
    /// retry horizon.
    DecidedInTime,
    /// Liveness: every delivery was consumed or sits in a dead-letter queue.
    NothingLost,
    /// Liveness: every published event is in the audit log, once.
    AuditedOnce,
}

/// Every invariant, in report order.
pub const ALL: [Invariant; 15] = [
    Invariant::NoDeletionWithoutApproval,
    Invariant::AtMostOneDecision,
    Invariant::NoVetoOverturned,
    Invariant::NoDecisionWithoutVotesOrDeadline,
    Invariant::FileDeletedAtMostOnce,
    Invariant::OneIdOneContent,
    Invariant::RoutedWhereNeeded,
    Invariant::EachVoterVotesOnce,
    Invariant::OnlyRealVotesCount,
    Invariant::DecidedAsTheVotesSay,
    Invariant::DecisionPublished,
    Invariant::ApprovedFileDeleted,
    Invariant::DecidedInTime,
    Invariant::NothingLost,
    Invariant::AuditedOnce,
];

impl Invariant {
    pub fn name(self) -> &'static str {
        match self {
            Invariant::NoDeletionWithoutApproval => "no-deletion-without-approval",
            Invariant::AtMostOneDecision => "at-most-one-decision",
            Invariant::NoVetoOverturned => "no-veto-overturned",
            Invariant::NoDecisionWithoutVotesOrDeadline => "no-decision-without-votes-or-deadline",
            Invariant::FileDeletedAtMostOnce => "file-deleted-at-most-once",
            Invariant::OneIdOneContent => "one-id-one-content",
            Invariant::RoutedWhereNeeded => "routed-where-needed",
            Invariant::EachVoterVotesOnce => "each-voter-votes-once",
            Invariant::OnlyRealVotesCount => "only-real-votes-count",
            Invariant::DecidedAsTheVotesSay => "decided-as-the-votes-say",
            Invariant::DecisionPublished => "decision-published",
            Invariant::ApprovedFileDeleted => "approved-file-deleted",
            Invariant::DecidedInTime => "decided-in-time",
            Invariant::NothingLost => "nothing-lost",
            Invariant::AuditedOnce => "audited-once",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Invariant::DecidedInTime
            | Invariant::NothingLost
            | Invariant::AuditedOnce
            | Invariant::DecisionPublished
            | Invariant::ApprovedFileDeleted => "eventually",
            _ => "always",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.invariant.name(),
            self.invariant.kind(),
            self.detail
        )
    }
}

fn v(invariant: Invariant, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// Safety properties of one record, cheap enough to check after every
/// aggregator invocation.
pub fn check_record(rec: &Record, policy: &Policy) -> Vec<Violation> {
    tally_core::coordination::check(rec, policy)
        .into_iter()
        .map(|b| {
            let invariant = match b.rule {
                Rule::VetoOverturned => Invariant::NoVetoOverturned,
                Rule::UnfoundedVote => Invariant::OnlyRealVotesCount,
                Rule::UnfoundedDecision | Rule::Inconsistent => {
                    Invariant::NoDecisionWithoutVotesOrDeadline
                }
            };
            v(invariant, b.detail)
        })
        .collect()
}

/// Every event id published twice or more with other content than its
/// first publication (the timestamp aside: a republished event keeps its
/// id and content, not necessarily the moment it was built).
pub fn one_id_one_content(published: &[(Millis, Event)]) -> Vec<Violation> {
    let mut first: BTreeMap<&str, (Millis, &Event)> = BTreeMap::new();
    let mut out = Vec::new();
    for (at, ev) in published {
        let Some((first_at, seen)) = first.get(ev.event_id.as_str()) else {
            first.insert(ev.event_id.as_str(), (*at, ev));
            continue;
        };
        if !same_content(seen, ev) {
            out.push(v(
                Invariant::OneIdOneContent,
                format!(
                    "{} ({} from {}) was published at {first_at} and again at {at} with other content: {}",
                    ev.event_id,
                    ev.event_type(),
                    seen.source,
                    differences(seen, ev)
                ),
            ));
        }
    }
    out
}

/// Equal but for the timestamp, compared field by field (every field of
/// `Event` but `timestamp`, so a new field must be added here).
fn same_content(a: &Event, b: &Event) -> bool {
    let Event {
        event_id,
        event_version,
        timestamp: _,
        source,
        user_id,
        correlation_id,
        causation_id,
        data,
        metadata,
    } = a;
    *event_id == b.event_id
        && *event_version == b.event_version
        && *source == b.source
        && *user_id == b.user_id
        && *correlation_id == b.correlation_id
        && *causation_id == b.causation_id
        && *data == b.data
        && *metadata == b.metadata
}

/// The fields in which two publications of one id differ, as
/// `path: first -> second` (the timestamp aside), read from their details.
fn differences(a: &Event, b: &Event) -> String {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let null = Value::Null;
                    walk(
                        &p,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => out.push(format!("{path}: {a} -> {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let (mut x, mut y) = (a.to_detail(), b.to_detail());
    for d in [&mut x, &mut y] {
        if let Some(o) = d.as_object_mut() {
            o.remove("timestamp");
        }
    }
    walk("", &x, &y, &mut out);
    if a.source != b.source {
        out.push(format!("source: {} -> {}", a.source, b.source));
    }
    out.join(", ")
}

/// Everything the world saw, at the end of a run (or when it stopped).
pub struct Evidence<'a> {
    /// In place in the store (borrowed while the check runs).
    pub records: &'a [&'a Record],
    pub obs: &'a Observations,
    pub audit: &'a [AuditEntry],
    /// Files whose metadata no longer exists, with their id.
    pub deleted_files: &'a BTreeSet<String>,
    pub policy: &'a Policy,
    /// Set after the liveness phase: check the eventually-properties too.
    pub settled: bool,
    /// Deadline plus retry horizon, for DecidedInTime.
    pub horizon_ms: Millis,
    pub inflight: u64,
    /// The clocks and the files' end states, for the oracle.
    pub view: &'a crate::oracle::WorldView,
}

pub fn check(e: &Evidence<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    let by_id: BTreeMap<&str, &Record> = e
        .records
        .iter()
        .map(|r| (r.request_id.as_str(), *r))
        .collect();
    for r in e.records {
        out.extend(check_record(r, e.policy));
    }
    out.extend(one_id_one_content(&e.obs.published));
    out.extend(e.obs.step_violations.iter().cloned());
    for ((request, voter), ids) in &e.obs.voted {
        if ids.len() != 1 {
            out.push(v(
                Invariant::EachVoterVotesOnce,
                format!(
                    "{voter} handled {request} and published {} vote ids for it: {ids:?}",
                    ids.len()
                ),
            ));
        }
    }
    out.extend(crate::oracle::check(
        e.records, e.obs, e.policy, e.view, e.settled,
    ));
    out.extend(crate::oracle::routed(&e.obs.published, e.obs, e.policy));
    // Decisions and deletions as published on the bus.
    let mut decisions: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    let mut deleted_events: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (_, ev) in &e.obs.published {
        match &ev.data {
            EventData::DeletionApproved(a) => {
                decisions
                    .entry(a.request_id.as_str())
                    .or_default()
                    .insert(("approved", ev.event_id.as_str()));
            }
            EventData::DeletionDenied(d) => {
                decisions
                    .entry(d.request_id.as_str())
                    .or_default()
                    .insert(("denied", ev.event_id.as_str()));
            }
            EventData::FileDeleted(f) => {
                deleted_events
                    .entry(f.request_id.as_str())
                    .or_default()
                    .insert(ev.event_id.as_str());
            }
            _ => {}
        }
    }
    for (req, ds) in &decisions {
        if ds.len() > 1 {
            out.push(v(
                Invariant::AtMostOneDecision,
                format!("{req} was decided {} ways: {ds:?}", ds.len()),
            ));
        }
        if ds.iter().any(|(k, _)| *k == "approved")
            && by_id
                .get(req)
                .is_some_and(|r| r.votes.values().any(|x| x.decision == VoteDecision::Deny))
        {
            out.push(v(
                Invariant::NoVetoOverturned,
                format!("{req} was approved on the bus despite a counted deny"),
            ));
        }
    }
    for (req, ids) in &deleted_events {
        if ids.len() > 1 {
            out.push(v(
                Invariant::FileDeletedAtMostOnce,
                format!("{req}: {} distinct file.deleted events", ids.len()),
            ));
        }
        if !by_id.get(req).is_some_and(|r| r.status == Status::Approved) {
            out.push(v(
                Invariant::NoDeletionWithoutApproval,
                format!("file.deleted for {req}, which is not approved"),
            ));
        }
    }
    let approved_files: BTreeSet<&str> = e
        .records
        .iter()
        .filter(|r| r.status == Status::Approved)
        .filter_map(|r| r.request.as_ref().map(|q| q.file_id.as_str()))
        .collect();
    for f in e.deleted_files {
        if !approved_files.contains(f.as_str()) {
            out.push(v(
                Invariant::NoDeletionWithoutApproval,
                format!("file {f} is gone but no request for it was approved"),
            ));
        }
    }
    if e.settled {
        for r in e.records.iter().filter(|r| r.request.is_some()) {
            let registered = r
                .history
                .iter()
                .find(|h| h.disposition == tally_core::coordination::Disposition::Registered)
                .map_or(r.created_at, |h| h.at);
            match &r.decision {
                None => out.push(v(
                    Invariant::DecidedInTime,
                    format!(
                        "{} is still waiting (registered at {registered})",
                        r.request_id
                    ),
                )),
                Some(d) if d.at > registered + e.horizon_ms => out.push(v(
                    Invariant::DecidedInTime,
                    format!(
                        "{} decided {} ms after registering, past the {} ms horizon",
                        r.request_id,
                        d.at - registered,
                        e.horizon_ms
                    ),
                )),
                Some(_) => {}
            }
            if !r.outbox.is_empty() {
                out.push(v(
                    Invariant::NothingLost,
                    format!(
                        "{} still has {} unpublished events in its outbox",
                        r.request_id,
                        r.outbox.len()
                    ),
                ));
            }
        }
        let ended = e.obs.consumed + e.obs.dead_letters.len() as u64 + e.obs.redriven;
        if e.inflight != 0 || ended != e.obs.scheduled {
            out.push(v(Invariant::NothingLost, format!("{} deliveries scheduled, {} consumed, {} dead-lettered, {} redriven, {} in flight", e.obs.scheduled, e.obs.consumed, e.obs.dead_letters.len(), e.obs.redriven, e.inflight)));
        }
        let audited: BTreeSet<&str> = e.audit.iter().map(|a| a.event_id.as_str()).collect();
        let dead_audit: BTreeSet<&str> = e
            .obs
            .dead_letters
            .iter()
            .filter(|d| d.target == "audit")
            .map(|d| d.event_id.as_str())
            .collect();
        let mut missing: Vec<&str> = e
            .obs
            .published
            .iter()
            .map(|(_, ev)| ev.event_id.as_str())
            .filter(|id| !audited.contains(id) && !dead_audit.contains(id))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            out.push(v(
                Invariant::AuditedOnce,
                format!(
                    "{} published events are not in the audit log (first: {})",
                    missing.len(),
                    missing[0]
                ),
            ));
        }
        if audited.len() != e.audit.len() {
            out.push(v(
                Invariant::AuditedOnce,
                "the audit log holds an event twice".into(),
            ));
        }
    }
    out.sort_by(|a, b| (a.invariant, &a.detail).cmp(&(b.invariant, &b.detail)));
    out.dedup();
    out
}
