//! The coordination's inputs as the core's suites build them: one voting
//! request and one vote with every field set, which a suite adjusts with
//! struct update syntax (`Request { transaction_count: 5000,
//! ..voting_request("r") }`) instead of spelling every field again.
#![allow(dead_code)]

use tally_core::coordination::{Flavour, Input, Request, Vote};
use tally_core::event::VoteDecision;
use tally_core::time::Millis;

pub const T0: Millis = 1_736_937_000_000;

/// A voting request for `request_id` (event `evt-req-<id>`, file `f1`,
/// three transactions, no account type, no correlation, no timestamp).
pub fn voting_request(request_id: &str) -> Request {
    Request {
        flavour: Flavour::Voting,
        event_id: format!("evt-req-{request_id}"),
        request_id: request_id.into(),
        file_id: "f1".into(),
        user_id: "u1".into(),
        account_id: "a1".into(),
        account_type: None,
        transaction_count: 3,
        correlation_id: None,
        requested_at: 0,
    }
}

/// A voting vote on `request_id` (event `evt-<id>-<voter>`, file `f1`, no
/// reason).
pub fn voting_vote(request_id: &str, voter: &str, source: &str, decision: VoteDecision) -> Vote {
    Vote {
        flavour: Flavour::Voting,
        event_id: format!("evt-{request_id}-{voter}"),
        request_id: request_id.into(),
        file_id: "f1".into(),
        voter: voter.into(),
        source: source.into(),
        decision,
        reason: None,
    }
}

pub fn request(request_id: &str) -> Input {
    Input::Request(voting_request(request_id))
}

pub fn proceed(request_id: &str, voter: &str, source: &str) -> Input {
    Input::Vote(voting_vote(
        request_id,
        voter,
        source,
        VoteDecision::Proceed,
    ))
}
