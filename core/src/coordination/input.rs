//! What the coordination consumes: requests, votes (a completion report is a
//! vote in the completion flavour), and a deadline's timer.

use crate::event::{CompletionStatus, Event, EventData, VoteDecision};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// The deletion-voting note: a deny vetoes.
    Voting,
    /// The completion-coordination note: consumers report done or failed.
    Completion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub flavour: Flavour,
    pub event_id: String,
    pub request_id: String,
    pub file_id: String,
    pub user_id: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    pub transaction_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// When the requester published it (the event's own timestamp). The
    /// deadline runs from here, not from when the aggregator happened to
    /// receive it, so a replay at the events' own times sets the same
    /// deadline production did. 0 when unknown.
    #[serde(default)]
    pub requested_at: crate::time::Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    pub flavour: Flavour,
    pub event_id: String,
    pub request_id: String,
    pub file_id: String,
    pub voter: String,
    /// The EventBridge source it came from: a vote counts only from its
    /// voter's own source.
    pub source: String,
    pub decision: VoteDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Request(Request),
    Vote(Vote),
    /// The deadline of `request_id` may have passed. Spurious firings are
    /// harmless: the record's own deadline decides.
    Timer {
        request_id: String,
    },
}

impl Input {
    /// The coordination input an event carries, if any.
    pub fn from_event(e: &Event) -> Option<Input> {
        match &e.data {
            EventData::DeletionRequested(r) => Some(Input::Request(Request {
                flavour: Flavour::Voting,
                event_id: e.event_id.clone(),
                request_id: r.request_id.clone(),
                file_id: r.file_id.clone(),
                user_id: if r.user_id.is_empty() {
                    e.user_id.clone()
                } else {
                    r.user_id.clone()
                },
                account_id: r.account_id.clone(),
                account_type: r.account_type.clone(),
                transaction_count: r.transaction_count,
                correlation_id: e.correlation_id.clone(),
                requested_at: e.timestamp,
            })),
            EventData::DeleteRequested(r) => Some(Input::Request(Request {
                flavour: Flavour::Completion,
                event_id: e.event_id.clone(),
                request_id: r.coordination_id.clone(),
                file_id: r.file_id.clone(),
                user_id: e.user_id.clone(),
                account_id: r.account_id.clone(),
                account_type: None,
                transaction_count: r.transaction_count,
                correlation_id: e.correlation_id.clone(),
                requested_at: e.timestamp,
            })),
            EventData::DeletionVote(v) => Some(Input::Vote(Vote {
                flavour: Flavour::Voting,
                event_id: e.event_id.clone(),
                request_id: v.request_id.clone(),
                file_id: v.file_id.clone(),
                voter: v.voter.clone(),
                source: e.source.clone(),
                decision: v.decision,
                reason: v.reason.clone(),
            })),
            EventData::ConsumerCompletion(c) => Some(Input::Vote(Vote {
                flavour: Flavour::Completion,
                event_id: e.event_id.clone(),
                request_id: c.coordination_id.clone(),
                file_id: c.file_id.clone(),
                voter: c.consumer.clone(),
                source: e.source.clone(),
                decision: match c.status {
                    CompletionStatus::Done => VoteDecision::Proceed,
                    CompletionStatus::Failed => VoteDecision::Error,
                },
                reason: c.error_message.clone(),
            })),
            _ => None,
        }
    }

    pub fn request_id(&self) -> &str {
        match self {
            Input::Request(r) => &r.request_id,
            Input::Vote(v) => &v.request_id,
            Input::Timer { request_id } => request_id,
        }
    }
}
