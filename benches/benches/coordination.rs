//! Votes per second through the pure step function, and through the whole
//! aggregator handler (load, step, conditional write, publish, clear) over
//! the in-memory ports.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tally_core::coordination::{step, Flavour, Input, Policy, Request, Vote};
use tally_core::event::VoteDecision;
use tally_core::handlers::aggregator::aggregate;
use tally_core::ports::memory::{run_ready, Memory};

const REQUESTS: usize = 1_000;
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

fn vote(i: usize, voter: &str, source: &str) -> Input {
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

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let requests: Vec<Input> = (0..REQUESTS).map(request).collect();
    let first: Vec<Input> = (0..REQUESTS)
        .map(|i| vote(i, "analytics_manager", "analytics.service"))
        .collect();
    let second: Vec<Input> = (0..REQUESTS)
        .map(|i| vote(i, "category_manager", "category.service"))
        .collect();
    // Records waiting for their last vote: the step under measurement
    // counts that vote and decides.
    let waiting: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let r = step(None, &requests[i], T0, &policy).record;
            step(r, &first[i], T0 + 1, &policy).record
        })
        .collect();

    let mut g = c.benchmark_group("coordination");
    g.throughput(Throughput::Elements(REQUESTS as u64));
    g.bench_function("step: deciding vote", |b| {
        b.iter_batched(
            || waiting.clone(),
            |records| {
                for (i, rec) in records.into_iter().enumerate() {
                    black_box(step(rec, &second[i], T0 + 2, &policy));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("step: counted vote", |b| {
        let registered: Vec<_> = (0..REQUESTS)
            .map(|i| step(None, &requests[i], T0, &policy).record)
            .collect();
        b.iter_batched(
            || registered.clone(),
            |records| {
                for (i, rec) in records.into_iter().enumerate() {
                    black_box(step(rec, &first[i], T0 + 1, &policy));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("handler over in-memory ports: request and two votes", |b| {
        b.iter_batched(
            Memory::new,
            |m| {
                for i in 0..REQUESTS {
                    for input in [&requests[i], &first[i], &second[i]] {
                        black_box(
                            run_ready(aggregate(&m, &m, input, T0, &policy)).expect("handled"),
                        );
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
