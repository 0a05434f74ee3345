//! The coordination as a pure step:
//! `(record or none, input, now, policy) -> (record, effects)`.
//!
//! Under at-least-once delivery every input may come twice, late, out of
//! order or never; each rule below is one of those cases.

use super::bounds;
use super::input::{Input, Request, Vote};
use super::policy::{FlavourPolicy, Outcome, Policy};
use super::record::{CountedVote, Decision, Disposition, HistoryEntry, Record, Status};
use crate::event::{
    DecisionCause, DeletionApproved, DeletionDenied, Event, EventData, VoteDecision, VoteRecord,
    CURRENT_VERSION,
};
use crate::ids;
use crate::time::Millis;
use std::collections::BTreeMap;

/// A count for CloudWatch, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    /// One dimension at most (`Voter` for DeletionVotes and VoterTimeout).
    pub dimension: Option<(&'static str, String)>,
    pub value: u64,
}

impl Metric {
    fn count(name: &'static str) -> Metric {
        Metric {
            name,
            dimension: None,
            value: 1,
        }
    }

    fn by_voter(name: &'static str, voter: &str) -> Metric {
        Metric {
            name,
            dimension: Some(("Voter", voter.to_owned())),
            value: 1,
        }
    }
}

/// What the caller of `step` carries out, in order. The record is the
/// one authority: a save writes it whole, a publish names events its
/// outbox holds, and the deadline is the record's (`Record::next_wakeup`),
/// so there is nothing here to keep in step with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Write the step's record, on condition that the stored one is still
    /// at `expected_version` (0: there was none). A conflict means another
    /// writer won: re-load and step the same input again.
    Save {
        expected_version: u64,
    },
    /// Publish these events of the record's outbox, then step
    /// `Input::Published` with the same ids to take them out.
    Publish {
        event_ids: Vec<String>,
    },
    /// An input refused and never counted: the caller audits it. It is in
    /// the record's history too, unless the record refused it unrecorded
    /// (`bounds`: the step then changed nothing).
    Refused {
        event_id: String,
        reason: String,
    },
    Metric(Metric),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// None only when there was no record and the input creates none.
    pub record: Option<Record>,
    /// Save first (if the input changed anything), then the refusals and
    /// metrics, which hold only once the save did, then the publish (if the
    /// outbox holds anything, also what an earlier, crashed call left).
    pub commands: Vec<Command>,
}

impl Step {
    /// A step that changed nothing (a duplicate, a spurious timer) and
    /// refuses or counts nothing: the record's outbox may still need a
    /// publish.
    fn unchanged(record: Option<Record>) -> Step {
        Step::assemble(record, Vec::new())
    }

    /// Refused without being recorded (see `bounds`): the record stays as
    /// it was, the refusal goes to the caller's log.
    fn refused(record: Option<Record>, event_id: &str, reason: String) -> Step {
        let refusal = Command::Refused {
            event_id: bounds::cut(event_id),
            reason,
        };
        Step::assemble(record, vec![refusal])
    }

    /// The commands in their order: `commands` (the save first, when the
    /// record changed, then the refusals and metrics), then the publish of
    /// whatever the outbox holds. The one vector is the machine's own, so
    /// a step allocates nothing more for its commands. Inlined, so that the
    /// record is moved once, into the caller's step.
    #[inline]
    fn assemble(record: Option<Record>, mut commands: Vec<Command>) -> Step {
        if let Some(r) = record.as_ref().filter(|r| !r.outbox.is_empty()) {
            commands.push(Command::Publish {
                event_ids: r.outbox.iter().map(|e| e.event_id.clone()).collect(),
            });
        }
        Step { record, commands }
    }

    /// The version the save is conditional on, when the step saves.
    pub fn save(&self) -> Option<u64> {
        self.commands.iter().find_map(|c| match c {
            Command::Save { expected_version } => Some(*expected_version),
            _ => None,
        })
    }

    /// Whether the input changed the record (so it must be saved).
    pub fn changed(&self) -> bool {
        self.save().is_some()
    }

    /// The ids of the outbox events to publish, if any.
    pub fn to_publish(&self) -> Option<&[String]> {
        self.commands.iter().find_map(|c| match c {
            Command::Publish { event_ids } => Some(event_ids.as_slice()),
            _ => None,
        })
    }

    /// The refusals, as (event id, reason).
    pub fn refusals(&self) -> impl Iterator<Item = (&str, &str)> {
        self.commands.iter().filter_map(|c| match c {
            Command::Refused { event_id, reason } => Some((event_id.as_str(), reason.as_str())),
            _ => None,
        })
    }

    pub fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.commands.iter().filter_map(|c| match c {
            Command::Metric(m) => Some(m),
            _ => None,
        })
    }
}

pub fn step(record: Option<Record>, input: &Input, now: Millis, policy: &Policy) -> Step {
    let (event_id, flavour) = match input {
        Input::Timer { .. } => return timer(record, now, policy),
        Input::Published { event_ids, .. } => return published(record, event_ids),
        Input::Request(r) => (&r.event_id, r.flavour),
        Input::Vote(v) => (&v.event_id, v.flavour),
    };
    if record.as_ref().is_some_and(|r| r.has_seen(event_id)) {
        return Step::unchanged(record);
    }
    if let Some(reason) = bounds::oversized(input) {
        return Step::refused(record, event_id, reason);
    }
    // Only a full history needs the record as it was (rare: the common
    // step clones nothing).
    let full = record
        .as_ref()
        .filter(|r| r.history.len() >= bounds::MAX_HISTORY)
        .cloned();
    // The machine steps the record where it lies: a record is a few
    // hundred bytes, and each move of it is a copy.
    let mut record = record;
    let rec =
        record.get_or_insert_with(|| Record::new(input.request_id(), flavour, now, policy.ttl_ms));
    let mut m = Machine::new(rec, policy, now);
    m.expire_deadline(event_id);
    match input {
        Input::Request(req) => m.request(req),
        Input::Vote(vote) => m.vote(vote),
        Input::Timer { .. } | Input::Published { .. } => unreachable!("returned above"),
    }
    let commands = m.finish();
    match full {
        Some(before) if !bounds::admits(&before, record.as_ref().expect("stepped")) => {
            let reason = bounds::full(&before);
            Step::refused(Some(before), event_id, reason)
        }
        _ => Step::assemble(record, commands),
    }
}

/// A deadline's timer: decides a waiting record whose deadline has passed;
/// anything else (spurious, early, already decided) changes nothing.
fn timer(mut record: Option<Record>, now: Millis, policy: &Policy) -> Step {
    match record.as_mut() {
        Some(rec) if !rec.is_decided() && rec.deadline.is_some_and(|d| now >= d) => {
            let mut m = Machine::new(rec, policy, now);
            m.decide_timeout("timer");
            let commands = m.finish();
            Step::assemble(record, commands)
        }
        _ => Step::unchanged(record),
    }
}

/// Events the caller published leave the outbox: the one write that is
/// not a decision, under the same version rule as every other.
fn published(record: Option<Record>, event_ids: &[String]) -> Step {
    match record {
        Some(mut rec) if rec.outbox.iter().any(|e| event_ids.contains(&e.event_id)) => {
            let expected = rec.version;
            rec.outbox.retain(|e| !event_ids.contains(&e.event_id));
            rec.version += 1;
            // What is left was put there by another writer, which
            // publishes it itself.
            Step {
                record: Some(rec),
                commands: vec![Command::Save {
                    expected_version: expected,
                }],
            }
        }
        other => Step {
            record: other,
            commands: Vec::new(),
        },
    }
}

struct Machine<'r, 'p> {
    rec: &'r mut Record,
    effects: Vec<Command>,
    policy: &'p Policy,
    now: Millis,
}

impl<'r, 'p> Machine<'r, 'p> {
    fn new(rec: &'r mut Record, policy: &'p Policy, now: Millis) -> Self {
        Machine {
            // The save comes first: the step changes the record. Room for
            // the metrics a step adds, so that pushing them does not grow it.
            effects: {
                let mut c = Vec::with_capacity(4);
                c.push(Command::Save {
                    expected_version: rec.version,
                });
                c
            },
            rec,
            policy,
            now,
        }
    }

    fn flavour(&self) -> &FlavourPolicy {
        self.policy.of(self.rec.flavour)
    }

    /// The record stepped (its version bumped), the commands in order
    /// but the publish, which `Step::assemble` adds.
    fn finish(self) -> Vec<Command> {
        self.rec.version += 1;
        self.effects
    }

    fn log(
        &mut self,
        event_id: &str,
        who: &str,
        decision: Option<VoteDecision>,
        disposition: Disposition,
    ) {
        self.rec.history.push(HistoryEntry {
            at: self.now,
            event_id: event_id.to_owned(),
            who: who.to_owned(),
            decision,
            disposition,
        });
    }

    /// What became of a vote, in the history.
    fn log_vote(&mut self, vote: &Vote, disposition: Disposition) {
        self.log(
            &vote.event_id,
            &vote.voter,
            Some(vote.decision),
            disposition,
        );
    }

    fn refuse(&mut self, vote: &Vote, reason: String) {
        self.effects.push(Command::Refused {
            event_id: vote.event_id.clone(),
            reason: reason.clone(),
        });
        self.log_vote(vote, Disposition::Refused { reason });
    }

    /// Whatever the input, a waiting record whose deadline has passed is
    /// decided by the deadline first: nothing counts after it.
    fn expire_deadline(&mut self, cause_id: &str) {
        if !self.rec.is_decided() && self.rec.deadline.is_some_and(|d| self.now >= d) {
            self.decide_timeout(cause_id);
        }
    }

    fn request(&mut self, req: &Request) {
        if let Some(existing) = &self.rec.request {
            let disposition = if existing.file_id != req.file_id || existing.flavour != req.flavour
            {
                let reason = format!(
                    "requestId {} already belongs to a request for file {}; this one names file {}",
                    req.request_id, existing.file_id, req.file_id
                );
                self.effects.push(Command::Refused {
                    event_id: req.event_id.clone(),
                    reason: reason.clone(),
                });
                Disposition::Refused { reason }
            } else {
                Disposition::RepeatedRequest
            };
            self.log(&req.event_id, "request", None, disposition);
            return;
        }
        if req.flavour != self.rec.flavour {
            // Votes of the other flavour came first; the request decides the flavour.
            self.rec.flavour = req.flavour;
        }
        let required = self
            .flavour()
            .required_for(req.transaction_count, req.account_type.as_deref());
        // From the request's own time (never later than now: a requester's
        // clock ahead of ours does not stretch the deadline).
        let base = if req.requested_at > 0 {
            req.requested_at.min(self.now)
        } else {
            self.now
        };
        let deadline = base.saturating_add(self.flavour().deadline_ms);
        self.rec.required = required;
        self.rec.request = Some(req.clone());
        self.rec.expires_at = self
            .rec
            .expires_at
            .max(self.now.saturating_add(self.policy.ttl_ms));
        self.log(&req.event_id, "request", None, Disposition::Registered);
        self.effects
            .push(Command::Metric(Metric::count("DeletionRequests")));
        if self.rec.is_decided() {
            return;
        }
        self.rec.deadline = Some(deadline);
        // Votes that came first count now, in the order they arrived, if
        // they came before the deadline. One held past it is a vote that
        // came after the deadline, as on a record that was there: it finds
        // the record decided by the deadline, and is late.
        let (early, late): (Vec<_>, Vec<_>) = std::mem::take(&mut self.rec.held)
            .into_iter()
            .partition(|(at, _)| *at < deadline);
        for (at, vote) in early {
            if self.rec.is_decided() {
                self.log_vote(&vote, Disposition::Late);
                continue;
            }
            self.judge(&vote, at);
        }
        self.evaluate(&req.event_id);
        if !late.is_empty() {
            self.expire_deadline(&req.event_id);
        }
        for (_, vote) in late {
            self.log_vote(&vote, Disposition::Late);
        }
    }

    fn vote(&mut self, vote: &Vote) {
        if self.rec.is_decided() {
            self.log_vote(vote, Disposition::Late);
            return;
        }
        if let Some(reason) = self.refusal_before_request(vote) {
            self.refuse(vote, reason);
            return;
        }
        if self.rec.request.is_none() {
            self.rec.held.push((self.now, vote.clone()));
            self.log_vote(vote, Disposition::Held);
            return;
        }
        self.judge(vote, self.now);
        self.evaluate(&vote.event_id);
    }

    /// Refusals that need no request: the shape of the vote and its source.
    fn refusal_before_request(&self, vote: &Vote) -> Option<String> {
        if vote.flavour != self.rec.flavour {
            return Some(
                format!(
                    "a {:?} input cannot answer a {:?} coordination",
                    vote.flavour, self.rec.flavour
                )
                .to_lowercase(),
            );
        }
        if vote.decision == VoteDecision::Deny
            && vote.reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Some("a deny must give a reason".to_owned());
        }
        match self.policy.voter_sources.get(&vote.voter) {
            None => Some(format!(
                "voter {} is unknown: no source is bound to it",
                vote.voter
            )),
            Some(bound) if *bound != vote.source => Some(format!(
                "voter {} votes from {}, not from {}",
                vote.voter, bound, vote.source
            )),
            Some(_) => None,
        }
    }

    /// Counts or refuses a vote once the request is known.
    fn judge(&mut self, vote: &Vote, received: Millis) {
        // A held vote was checked against the record's flavour when it came;
        // the request may since have set another one.
        if vote.flavour != self.rec.flavour {
            let reason = format!(
                "a {:?} input cannot answer a {:?} coordination",
                vote.flavour, self.rec.flavour
            )
            .to_lowercase();
            return self.refuse(vote, reason);
        }
        let req = self
            .rec
            .request
            .as_ref()
            .expect("judge runs after the request registered");
        if req.file_id != vote.file_id {
            let reason = format!(
                "vote names file {} but request {} is for file {}",
                vote.file_id, req.request_id, req.file_id
            );
            return self.refuse(vote, reason);
        }
        if !self.rec.required.contains(&vote.voter) {
            let reason = format!(
                "voter {} is not required for this request (required: {})",
                vote.voter,
                self.rec.required.join(", ")
            );
            return self.refuse(vote, reason);
        }
        if self.rec.votes.contains_key(&vote.voter) {
            self.log_vote(vote, Disposition::Superseded);
            return;
        }
        self.rec.votes.insert(
            vote.voter.clone(),
            CountedVote {
                decision: vote.decision,
                reason: vote.reason.clone(),
                at: received,
                event_id: vote.event_id.clone(),
            },
        );
        self.log_vote(vote, Disposition::Counted);
        self.effects.push(Command::Metric(Metric::by_voter(
            "DeletionVotes",
            &vote.voter,
        )));
    }

    fn voters_with(&self, d: VoteDecision) -> Vec<String> {
        self.rec
            .votes
            .iter()
            .filter(|(_, v)| v.decision == d)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Decides if the votes now decide: any deny vetoes (voting), an error
    /// applies the error outcome, all required in approves.
    fn evaluate(&mut self, cause_id: &str) {
        if self.rec.is_decided() || self.rec.request.is_none() {
            return;
        }
        // The common case, a vote that decides nothing yet, allocates nothing.
        let any = |d: VoteDecision| self.rec.votes.values().any(|v| v.decision == d);
        let all_in = self
            .rec
            .required
            .iter()
            .all(|v| self.rec.votes.contains_key(v));
        let error_denies =
            any(VoteDecision::Error) && self.flavour().error_outcome == Outcome::Deny;
        if !(all_in || any(VoteDecision::Deny) || error_denies) {
            return;
        }
        let denies = self.voters_with(VoteDecision::Deny);
        if !denies.is_empty() {
            let reason = self.rec.votes[&denies[0]].reason.clone();
            return self.decide(
                Status::Denied,
                DecisionCause::Vetoed,
                denies,
                reason,
                cause_id,
            );
        }
        let errors = self.voters_with(VoteDecision::Error);
        if !errors.is_empty() && self.flavour().error_outcome == Outcome::Deny {
            let first = &self.rec.votes[&errors[0]];
            let reason = Some(format!(
                "{} failed: {}",
                errors[0],
                first.reason.as_deref().unwrap_or("no detail given")
            ));
            return self.decide(
                Status::Denied,
                DecisionCause::VoterError,
                errors,
                reason,
                cause_id,
            );
        }
        if self.rec.missing().is_empty() {
            let mut by = self.voters_with(VoteDecision::Proceed);
            by.extend(errors);
            by.sort();
            self.decide(
                Status::Approved,
                DecisionCause::AllProceeded,
                by,
                None,
                cause_id,
            );
        }
    }

    fn decide_timeout(&mut self, cause_id: &str) {
        let missing = self.rec.missing();
        for v in &missing {
            self.effects
                .push(Command::Metric(Metric::by_voter("VoterTimeout", v)));
        }
        match self.flavour().timeout_outcome {
            Outcome::Deny => {
                let reason = Some(format!(
                    "no vote from {} by the deadline",
                    missing.join(", ")
                ));
                self.decide(
                    Status::Denied,
                    DecisionCause::Timeout,
                    missing,
                    reason,
                    cause_id,
                );
            }
            Outcome::Proceed => {
                let by = self.voters_with(VoteDecision::Proceed);
                self.decide(Status::Approved, DecisionCause::Timeout, by, None, cause_id);
            }
        }
    }

    fn decide(
        &mut self,
        status: Status,
        cause: DecisionCause,
        by: Vec<String>,
        reason: Option<String>,
        cause_id: &str,
    ) {
        let req = self
            .rec
            .request
            .as_ref()
            .expect("only a registered request is decided");
        let event_id = ids::derive("decision", &[&req.request_id, status.as_str()]);
        let all_votes: BTreeMap<String, VoteRecord> = self
            .rec
            .votes
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    VoteRecord {
                        decision: v.decision,
                        reason: v.reason.clone(),
                        timestamp: v.at,
                        event_id: v.event_id.clone(),
                    },
                )
            })
            .collect();
        let data = match status {
            Status::Approved => EventData::DeletionApproved(DeletionApproved {
                file_id: req.file_id.clone(),
                request_id: req.request_id.clone(),
                approved_by: by.clone(),
                all_votes,
                cause,
            }),
            _ => EventData::DeletionDenied(DeletionDenied {
                file_id: req.file_id.clone(),
                request_id: req.request_id.clone(),
                denied_by: by.clone(),
                all_votes,
                cause,
                reason,
            }),
        };
        let event = Event {
            event_id: event_id.clone(),
            event_version: CURRENT_VERSION.to_owned(),
            timestamp: self.now,
            source: self.policy.aggregator_source.clone(),
            user_id: req.user_id.clone(),
            correlation_id: Some(
                req.correlation_id
                    .clone()
                    .unwrap_or_else(|| req.request_id.clone()),
            ),
            causation_id: Some(cause_id.to_owned()),
            data,
            metadata: None,
        };
        self.rec.status = status;
        self.rec.decision = Some(Decision {
            status,
            cause,
            by,
            at: self.now,
            event_id,
        });
        self.rec.outbox.push(event);
        self.effects.push(Command::Metric(Metric::count(
            if status == Status::Approved {
                "DeletionApprovals"
            } else {
                "DeletionDenials"
            },
        )));
    }
}
