//! Events per second replaying a 1,000,000-event captured trace through the
//! coordination (reading included): parse every line, decode the
//! coordination's inputs in full, drive the step in time order, fire the
//! deadlines.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tally_core::coordination::Policy;
use tally_sim::replay::replay;
use tally_sim::trace::{read, BadLines};

const EVENTS: usize = 1_000_000;

fn bench(c: &mut Criterion) {
    let text = tally_benches::trace(EVENTS);
    let policy = Policy::default();
    let check = replay(&read(&text, BadLines::Fatal).expect("reads"), &policy);
    assert_eq!(
        check.decisions.len(),
        EVENTS.div_ceil(40),
        "every request decided"
    );
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("1M-event trace: read and replay", |b| {
        b.iter(|| {
            black_box(replay(
                &read(&text, BadLines::Fatal).expect("reads"),
                &policy,
            ))
        })
    });
    g.bench_function("1M-event trace: read only", |b| {
        b.iter(|| black_box(read(&text, BadLines::Fatal).expect("reads")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
