//! What the coordination consumes: requests, votes (a completion report is a
//! vote in the completion flavour), and a deadline's timer.

use super::limits::MAX_REASON_BYTES;
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

/// The reason as the coordination keeps it. A reason is for people; kept
/// whole, a long one (EventBridge carries up to 256 KB) would sit in the
/// record twice (the vote and the decision event in the outbox) and push it
/// past DynamoDB's 400 KB item limit (see `bounds`). So: at most
/// [`MAX_REASON_BYTES`] bytes, cut at a character boundary and saying how
/// much was cut, and control characters other than line breaks and tabs
/// shown as U+FFFD (JSON would spell each in six bytes).
pub fn bounded_reason(reason: &Option<String>) -> Option<String> {
    let r = reason.as_ref()?;
    let mut end = r.len().min(MAX_REASON_BYTES);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    let kept: String = r[..end]
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => c,
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect();
    if end == r.len() {
        return Some(kept);
    }
    Some(format!("{kept}... ({} more bytes)", r.len() - end))
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
    /// The caller published these events of the record's outbox (the
    /// step's `Command::Publish`): they leave the outbox. Not an event of
    /// the bus, so never in the history.
    Published {
        request_id: String,
        event_ids: Vec<String>,
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
                reason: bounded_reason(&v.reason),
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
                reason: bounded_reason(&c.error_message),
            })),
            _ => None,
        }
    }

    pub fn request_id(&self) -> &str {
        match self {
            Input::Request(r) => &r.request_id,
            Input::Vote(v) => &v.request_id,
            Input::Timer { request_id } | Input::Published { request_id, .. } => request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reason past the cap is cut at a character boundary (never inside
    /// a multi-byte character) and says how much was cut; a short one is
    /// kept as it is; control characters but line breaks and tabs are
    /// replaced.
    #[test]
    fn reasons_are_bounded_at_a_character_boundary() {
        assert_eq!(bounded_reason(&None), None);
        let short = Some("No active categorization rules affected".to_owned());
        assert_eq!(bounded_reason(&short), short);
        let exact = Some("\u{e9}".repeat(MAX_REASON_BYTES / 2));
        assert_eq!(bounded_reason(&exact), exact);
        // 'é' is two bytes: a cut at an odd byte falls inside one.
        let long = Some(format!("x{}", "\u{e9}".repeat(100_000)));
        let cut = bounded_reason(&long).unwrap();
        let kept = format!("x{}", "\u{e9}".repeat(MAX_REASON_BYTES / 2 - 1));
        assert_eq!(
            cut,
            format!("{kept}... ({} more bytes)", 200_001 - kept.len())
        );
        let controls = Some("line\none\tand\u{0}\u{1b}[31m".to_owned());
        assert_eq!(
            bounded_reason(&controls).unwrap(),
            "line\none\tand\u{fffd}\u{fffd}[31m"
        );
    }
}
