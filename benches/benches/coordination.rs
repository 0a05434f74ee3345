//! Votes per second through the pure step function, and through the whole
//! aggregator handler (load, step, conditional write, publish, clear) over
//! the in-memory ports. The workload and the passes are
//! `tally_benches::coordination`'s, which the instruction counter
//! (`examples/coordination_instructions.rs`) runs too.
//!
//! Times are the benchmark thread's CPU time, not wall-clock time (see
//! `tally_benches::cpu`), and a pass's input is made outside it.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_benches::coordination::{Workload, REQUESTS};
use tally_benches::cpu;
use tally_core::ports::memory::Memory;

fn bench(c: &mut Criterion) {
    let w = Workload::new();
    let mut g = c.benchmark_group("coordination");
    g.throughput(Throughput::Elements(REQUESTS as u64));
    g.bench_function("step: deciding vote", |b| {
        b.iter_custom(|iters| cpu::batched(iters, || w.waiting.clone(), |r| w.deciding_votes(r)))
    });
    g.bench_function("step: counted vote", |b| {
        b.iter_custom(|iters| cpu::batched(iters, || w.registered.clone(), |r| w.counted_votes(r)))
    });
    g.bench_function("handler over in-memory ports: request and two votes", |b| {
        b.iter_custom(|iters| cpu::batched(iters, Memory::new, |m| w.handler(m)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
