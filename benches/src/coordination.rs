//! The coordination benches' workload: 1,000 requests, each with the two
//! votes the default policy requires for it, and the three passes the
//! benches time (`benches/coordination.rs`) and the instruction counter
//! runs under callgrind (`examples/coordination_instructions.rs`), so that
//! both measure the same work. Each pass is never inlined, so that
//! callgrind's `--toggle-collect` can count it alone.

use std::hint::black_box;
use tally_core::coordination::{step, Flavour, Input, Policy, Record, Request, Vote};
use tally_core::event::VoteDecision;
use tally_core::handlers::aggregator::aggregate;
use tally_core::ports::memory::{run_ready, Memory};

/// Coordinations per pass (the benches' throughput unit is one of them).
pub const REQUESTS: usize = 1_000;
const T0: i64 = 1_736_937_000_000;

fn request(i: usize) -> Input {
    Input::Request(Request {
        flavour: Flavour::Voting,
        event_id: format!("evt-req-{i}"),
        request_id: format!("req-{i}"),
        file_id: format!("file-{i}"),
        user_id: "user".into(),
        account_id: "acc".into(),
        account_type: None,
        transaction_count: 10,
        correlation_id: None,
        requested_at: 0,
    })
}

fn proceed(i: usize, voter: &str, source: &str) -> Input {
    Input::Vote(Vote {
        flavour: Flavour::Voting,
        event_id: format!("evt-{voter}-{i}"),
        request_id: format!("req-{i}"),
        file_id: format!("file-{i}"),
        voter: voter.into(),
        source: source.into(),
        decision: VoteDecision::Proceed,
        reason: None,
    })
}

pub struct Workload {
    pub policy: Policy,
    pub requests: Vec<Input>,
    /// The first required vote of each request (it counts, and decides nothing).
    pub first: Vec<Input>,
    /// The second (it decides).
    pub second: Vec<Input>,
    /// Each request registered: the record the first vote is stepped on.
    pub registered: Vec<Option<Record>>,
    /// Each record after its first vote: waiting for the deciding one.
    pub waiting: Vec<Option<Record>>,
}

impl Workload {
    pub fn new() -> Workload {
        let policy = Policy::default();
        let requests: Vec<Input> = (0..REQUESTS).map(request).collect();
        let first: Vec<Input> = (0..REQUESTS)
            .map(|i| proceed(i, "analytics_manager", "analytics.service"))
            .collect();
        let second: Vec<Input> = (0..REQUESTS)
            .map(|i| proceed(i, "category_manager", "category.service"))
            .collect();
        let registered: Vec<_> = (0..REQUESTS)
            .map(|i| step(None, &requests[i], T0, &policy).record)
            .collect();
        let waiting = (0..REQUESTS)
            .map(|i| step(registered[i].clone(), &first[i], T0 + 1, &policy).record)
            .collect();
        Workload {
            policy,
            requests,
            first,
            second,
            registered,
            waiting,
        }
    }

    /// Steps each registered record (`self.registered.clone()`) with its
    /// first vote, which counts.
    #[inline(never)]
    pub fn counted_votes(&self, records: Vec<Option<Record>>) {
        for (rec, vote) in records.into_iter().zip(&self.first) {
            black_box(step(rec, vote, T0 + 1, &self.policy));
        }
    }

    /// Steps each waiting record (`self.waiting.clone()`) with the vote
    /// that decides it.
    #[inline(never)]
    pub fn deciding_votes(&self, records: Vec<Option<Record>>) {
        for (rec, vote) in records.into_iter().zip(&self.second) {
            black_box(step(rec, vote, T0 + 2, &self.policy));
        }
    }

    /// Every request and its two votes through the aggregator handler
    /// (load, step, conditional save, publish, clear) over fresh
    /// in-memory ports.
    #[inline(never)]
    pub fn handler(&self, m: Memory) {
        for i in 0..REQUESTS {
            for input in [&self.requests[i], &self.first[i], &self.second[i]] {
                let handled = run_ready(aggregate(&m, &m, input, T0, &self.policy));
                black_box(handled.expect("handled"));
            }
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload::new()
    }
}
