//! Replaying a trace through this build's coordination, in the events' own
//! time. The inputs (requests, votes, completion reports) are fed as
//! recorded, in time order; what the coordination derives from them
//! (approvals, denials, deletions) is regenerated, never fed back. Timers
//! fire at their deadlines as time passes, and after the last line time
//! runs on until every deadline has passed, so every request ends decided.
//!
//! Without faults the replay is a direct, ordered drive of `step` (the
//! fast path); `--faults` replays through the simulated world instead.

use crate::trace::{DecisionOut, Trace};
use std::collections::{BTreeMap, BTreeSet};
use tally_core::coordination::{log, step, Command, Input, Policy, Record};
use tally_core::time::Millis;

#[derive(Debug, Default)]
pub struct Replayed {
    /// One per decided request, in time order.
    pub decisions: Vec<DecisionOut>,
    /// The decision log lines (the same as the simulator prints).
    pub log: Vec<String>,
    /// (at, request, event, reason) for every refused input.
    pub refusals: Vec<(Millis, String, String, String)>,
    pub records: Vec<Record>,
    /// Coordination inputs fed.
    pub inputs: usize,
}

/// The coordination's records and armed timers while a replay runs.
struct Replayer<'p> {
    policy: &'p Policy,
    records: BTreeMap<String, Record>,
    timers: BTreeSet<(Millis, String)>,
    out: Replayed,
}

impl Replayer<'_> {
    fn apply(&mut self, input: &Input, now: Millis) {
        let id = input.request_id().to_owned();
        let s = step(self.records.remove(&id), input, now, self.policy);
        for (event_id, reason) in s.refusals() {
            let refusal = (now, id.clone(), event_id.to_owned(), reason.to_owned());
            self.out.refusals.push(refusal);
        }
        let mut record = s.record;
        // The replay's publish is the decision it keeps: the outbox
        // empties, as production's would.
        if let Some(event_ids) = s.commands.iter().find_map(|c| match c {
            Command::Publish { event_ids } => Some(event_ids.clone()),
            _ => None,
        }) {
            let done = Input::Published {
                request_id: id.clone(),
                event_ids,
            };
            record = step(record, &done, now, self.policy).record;
        }
        if let Some(r) = record {
            if let Some(at) = r.next_wakeup() {
                self.timers.insert((at, id.clone()));
            }
            self.records.insert(id, r);
        }
    }

    /// Fires, in deadline order, every timer due at or before `limit`.
    fn fire_until(&mut self, limit: Millis) {
        while let Some((at, id)) = self.timers.first().cloned().filter(|(at, _)| *at <= limit) {
            self.timers.remove(&(at, id.clone()));
            self.apply(&Input::Timer { request_id: id }, at);
        }
    }
}

pub fn replay(trace: &Trace, policy: &Policy) -> Replayed {
    let mut r = Replayer {
        policy,
        records: BTreeMap::new(),
        timers: BTreeSet::new(),
        out: Replayed::default(),
    };
    for t in &trace.events {
        let Some(input) = t.event.as_deref().and_then(Input::from_event) else {
            continue;
        };
        r.fire_until(t.arrival());
        r.out.inputs += 1;
        r.apply(&input, t.arrival());
    }
    r.fire_until(Millis::MAX);
    let mut out = r.out;
    let decided = log::in_decision_order(r.records.values());
    out.log = decided
        .iter()
        .filter_map(|x| log::decision_line(x))
        .collect();
    out.decisions = decided.iter().filter_map(|x| decision_of(x)).collect();
    out.records = r.records.into_values().collect();
    out
}

pub fn decision_of(r: &Record) -> Option<DecisionOut> {
    let d = r.decision.as_ref()?;
    Some(DecisionOut {
        at: d.at,
        request_id: r.request_id.clone(),
        file_id: r
            .request
            .as_ref()
            .map_or_else(String::new, |q| q.file_id.clone()),
        outcome: d.status.as_str().to_owned(),
        cause: d.cause.to_string(),
    })
}
