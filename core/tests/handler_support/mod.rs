//! Inputs shared by the handler suites (aggregator.rs, mutants_handlers.rs).
#![allow(dead_code)]

use tally_core::coordination::{Flavour, Input, Request, Vote};
use tally_core::event::VoteDecision;
use tally_core::time::Millis;

pub const T0: Millis = 1_736_937_000_000;

pub fn request(id: &str) -> Input {
    Input::Request(Request {
        flavour: Flavour::Voting,
        event_id: format!("evt-req-{id}"),
        request_id: id.into(),
        file_id: "f1".into(),
        user_id: "u1".into(),
        account_id: "a1".into(),
        account_type: None,
        transaction_count: 3,
        correlation_id: None,
        requested_at: 0,
    })
}

pub fn proceed(id: &str, voter: &str, source: &str) -> Input {
    Input::Vote(Vote {
        flavour: Flavour::Voting,
        event_id: format!("evt-{id}-{voter}"),
        request_id: id.into(),
        file_id: "f1".into(),
        voter: voter.into(),
        source: source.into(),
        decision: VoteDecision::Proceed,
        reason: None,
    })
}
