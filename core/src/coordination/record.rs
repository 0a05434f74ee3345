//! One record per coordination, keyed by requestId: everything the
//! aggregator knows, written back whole with a version condition.

use super::input::{Flavour, Request, Vote};
use crate::event::{DecisionCause, Event, VoteDecision};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    Approved,
    Denied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Approved => "approved",
            Status::Denied => "denied",
        }
    }
}

/// A vote that counts toward the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountedVote {
    pub decision: VoteDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the aggregator received it.
    pub at: Millis,
    pub event_id: String,
}

/// What became of an input that the record saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Disposition {
    /// The request registered the coordination.
    Registered,
    /// A vote that counts.
    Counted,
    /// A vote that came before its request: kept, judged when it comes.
    Held,
    /// Refused: never counted, and audited with the reason.
    Refused { reason: String },
    /// Arrived after the decision: recorded, never changes the outcome.
    Late,
    /// The voter had already voted: the first vote stands.
    Superseded,
    /// Another request for the same requestId.
    RepeatedRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: Millis,
    pub event_id: String,
    /// The voter, or `request` for a request.
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<VoteDecision>,
    pub disposition: Disposition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub status: Status,
    pub cause: DecisionCause,
    /// approvedBy or deniedBy of the decision event.
    pub by: Vec<String>,
    pub at: Millis,
    /// The id of the approved/denied event: derived, so every re-emission
    /// is the same event.
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub request_id: String,
    pub flavour: Flavour,
    pub status: Status,
    /// None until the request arrives (votes may come first).
    pub request: Option<Request>,
    /// Sorted; empty until the request arrives.
    pub required: Vec<String>,
    pub votes: BTreeMap<String, CountedVote>,
    /// Votes that came before the request, in arrival order.
    pub held: Vec<(Millis, Vote)>,
    /// Every distinct input seen, in order (the audit of the coordination,
    /// and the durable idempotency set: an event id here is a duplicate).
    pub history: Vec<HistoryEntry>,
    pub deadline: Option<Millis>,
    pub created_at: Millis,
    /// DynamoDB TTL: the record may vanish after this.
    pub expires_at: Millis,
    pub decision: Option<Decision>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    /// Events written with the state change and not yet published.
    pub outbox: Vec<Event>,
}

impl Record {
    pub fn new(request_id: &str, flavour: Flavour, now: Millis, ttl_ms: Millis) -> Record {
        Record {
            request_id: request_id.to_owned(),
            flavour,
            status: Status::Waiting,
            request: None,
            required: Vec::new(),
            votes: BTreeMap::new(),
            held: Vec::new(),
            history: Vec::new(),
            deadline: None,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            decision: None,
            version: 0,
            outbox: Vec::new(),
        }
    }

    pub fn has_seen(&self, event_id: &str) -> bool {
        self.history.iter().any(|h| h.event_id == event_id)
    }

    pub fn is_decided(&self) -> bool {
        self.status != Status::Waiting
    }

    /// When the record needs a visit that no delivery may bring, if ever:
    /// a waiting record at its deadline (a timer input decides it), and a
    /// record whose outbox holds events at once (from its creation: a
    /// publish died, and a timer decision is never redelivered). The
    /// sweeper, the replay's timers and both record stores' `due` read it.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let deadline = self.deadline.filter(|_| !self.is_decided());
        let stuck = (!self.outbox.is_empty()).then_some(self.created_at);
        match (deadline, stuck) {
            (Some(d), Some(c)) => Some(d.min(c)),
            (d, c) => d.or(c),
        }
    }

    /// Whether the sweeper should visit the record at `now`.
    pub fn is_due(&self, now: Millis) -> bool {
        self.next_wakeup().is_some_and(|at| at <= now)
    }

    /// Required voters that have not voted yet.
    pub fn missing(&self) -> Vec<String> {
        self.required
            .iter()
            .filter(|v| !self.votes.contains_key(*v))
            .cloned()
            .collect()
    }
}
