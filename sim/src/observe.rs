//! What the simulated world saw happen, kept for the invariants and the
//! report. Appended to in virtual-time order; ordered containers only.

use std::collections::{BTreeMap, BTreeSet};
use tally_core::event::Event;
use tally_core::time::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub at: Millis,
    pub rule: String,
    pub target: String,
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
    /// The delivered event, so that a redrive sends it again unchanged.
    pub json: std::sync::Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub at: Millis,
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub target: String,
    /// The delivered event, as the target received it.
    pub json: std::sync::Arc<str>,
}

#[derive(Debug, Default)]
pub struct Observations {
    /// Every event put on the bus, duplicates included, with its time.
    pub published: Vec<(Millis, Event)>,
    /// Deliveries scheduled, and how each ended.
    pub scheduled: u64,
    pub consumed: u64,
    /// Every delivery that was consumed, when the run keeps them (`tally
    /// show`): at, event id, event type, source, target.
    pub deliveries: Option<Vec<Delivered>>,
    pub dead_letters: Vec<DeadLetter>,
    /// Deliveries dead-lettered and then redriven (counted once more in
    /// `scheduled`).
    pub redriven: u64,
    /// Refusals the aggregator audited: (at, request, event, reason).
    pub refusals: Vec<(Millis, String, String, String)>,
    /// Handler failures seen by the bus, by kind, for the report.
    pub transient_failures: u64,
    pub crashes: u64,
    pub duplicates: u64,
    /// Every target each event id was routed to (by any rule).
    pub routed: BTreeMap<String, BTreeSet<String>>,
    /// Every aggregator invocation that ran the handler: when it started
    /// and ended, the event it handled, and whether it succeeded. The
    /// oracle's notion of when an input reached the coordination.
    pub aggregated: Vec<Aggregated>,
    /// Record-level violations found right after an aggregator write.
    pub step_violations: Vec<crate::invariants::Violation>,
    /// How often each behaviour the design must survive happened.
    pub coverage: Coverage,
    /// The vote ids each voter function published, by (request, voter),
    /// for every request it handled (an empty set: it answered no vote).
    pub voted: BTreeMap<(String, String), BTreeSet<String>>,
    /// Faults and retries where they happened, kept with the deliveries
    /// (`tally show` draws them).
    pub marks: Vec<crate::timeline::Mark>,
}

impl Observations {
    /// Keeps the mark `make` builds, when the run keeps its deliveries
    /// (building it decodes the event, which other runs need not pay for).
    pub fn mark(&mut self, make: impl FnOnce() -> crate::timeline::Mark) {
        if self.deliveries.is_some() {
            self.marks.push(make());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregated {
    pub start: Millis,
    pub end: Millis,
    pub event_id: String,
    /// The handler succeeded; an entry with `ok` false says only that an
    /// invocation began (it may have written, then failed or died: the
    /// input may count all the same).
    pub ok: bool,
}

/// The behaviours every suite must reach ("sometimes" properties): a seed
/// budget that leaves one of them at zero proves nothing about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Behaviour {
    /// A vote that reached the aggregator before its request, held and
    /// then counted.
    EarlyVoteCounted,
    /// A deny that vetoed a request.
    Veto,
    /// A decision made by an expired deadline.
    TimeoutDecision,
    /// A voter's `error` vote counted.
    VoterError,
    /// An aggregator write that lost a race and was re-stepped.
    LostRaceRestepped,
    /// A handler that died after a write, whose input was redelivered.
    CrashAfterWrite,
    /// A handler that died before publishing; the event went out later.
    CrashBeforePublish,
    /// An outbox the sweeper finished (no redelivery would have).
    OutboxFinishedBySweeper,
    /// A second copy of an approval reaching the executor.
    DuplicateApprovalAtExecutor,
    /// Dead letters redriven by the operator.
    DeadLetterRedriven,
    /// A vote refused: wrong source, unrequired voter, another file.
    VoteRefused,
    /// A vote that arrived after the decision and changed nothing.
    LateVoteIgnored,
    /// A forged vote published by the adversary.
    ForgedVotePublished,
}

impl Behaviour {
    pub const ALL: [Behaviour; 13] = [
        Behaviour::EarlyVoteCounted,
        Behaviour::Veto,
        Behaviour::TimeoutDecision,
        Behaviour::VoterError,
        Behaviour::LostRaceRestepped,
        Behaviour::CrashAfterWrite,
        Behaviour::CrashBeforePublish,
        Behaviour::OutboxFinishedBySweeper,
        Behaviour::DuplicateApprovalAtExecutor,
        Behaviour::DeadLetterRedriven,
        Behaviour::VoteRefused,
        Behaviour::LateVoteIgnored,
        Behaviour::ForgedVotePublished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Behaviour::EarlyVoteCounted => "early-vote-held-and-counted",
            Behaviour::Veto => "veto",
            Behaviour::TimeoutDecision => "timeout-decision",
            Behaviour::VoterError => "voter-error-counted",
            Behaviour::LostRaceRestepped => "lost-race-re-stepped",
            Behaviour::CrashAfterWrite => "crash-after-a-write",
            Behaviour::CrashBeforePublish => "crash-before-a-publish",
            Behaviour::OutboxFinishedBySweeper => "outbox-finished-by-the-sweeper",
            Behaviour::DuplicateApprovalAtExecutor => "duplicate-approval-at-the-executor",
            Behaviour::DeadLetterRedriven => "dead-letter-redriven",
            Behaviour::VoteRefused => "vote-refused",
            Behaviour::LateVoteIgnored => "late-vote-ignored",
            Behaviour::ForgedVotePublished => "forged-vote-published",
        }
    }
}

/// Counts per behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage(pub BTreeMap<Behaviour, u64>);

impl Coverage {
    pub fn add(&mut self, b: Behaviour, n: u64) {
        if n > 0 {
            *self.0.entry(b).or_default() += n;
        }
    }

    pub fn get(&self, b: Behaviour) -> u64 {
        self.0.get(&b).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &Coverage) {
        for (b, n) in &other.0 {
            self.add(*b, *n);
        }
    }

    /// The behaviours never reached.
    pub fn missing(&self) -> Vec<Behaviour> {
        Behaviour::ALL
            .into_iter()
            .filter(|b| self.get(*b) == 0)
            .collect()
    }
}

/// The behaviours a finished run reached: those the world counted as they
/// happened, and those its records show (early votes counted, vetoes,
/// timeouts, errors, refusals, late votes).
pub fn coverage(records: &[tally_core::coordination::Record], obs: &Observations) -> Coverage {
    use tally_core::coordination::Disposition;
    use tally_core::event::{DecisionCause, VoteDecision};
    let mut c = obs.coverage.clone();
    for r in records {
        for h in &r.history {
            match &h.disposition {
                Disposition::Held
                    if r.votes
                        .get(&h.who)
                        .is_some_and(|v| v.event_id == h.event_id) =>
                {
                    c.add(Behaviour::EarlyVoteCounted, 1)
                }
                Disposition::Refused { .. } => c.add(Behaviour::VoteRefused, 1),
                Disposition::Late => c.add(Behaviour::LateVoteIgnored, 1),
                _ => {}
            }
        }
        if r.votes.values().any(|v| v.decision == VoteDecision::Error) {
            c.add(Behaviour::VoterError, 1);
        }
        match r.decision.as_ref().map(|d| d.cause) {
            Some(DecisionCause::Vetoed) => c.add(Behaviour::Veto, 1),
            Some(DecisionCause::Timeout) => c.add(Behaviour::TimeoutDecision, 1),
            _ => {}
        }
    }
    c.add(Behaviour::DeadLetterRedriven, obs.redriven);
    c
}
