//! Schedules per second of `tally check`'s search, on the CI scope (one
//! request, one voter, one crash, one duplicate, objections) and on the
//! two default voters without the duplicate. Each iteration is a whole,
//! complete search; the schedule count is the throughput.
//! `cargo bench -p tally-benches --bench check`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tally_sim::check::{check, Scope};

fn scopes() -> Vec<(&'static str, Scope)> {
    let mut ci = Scope {
        duplicates: 1,
        ..Scope::default()
    };
    ci.policy.voting.required = vec!["analytics_manager".into()];
    vec![
        ("CI scope: one voter, C=1, D=1", ci),
        ("defaults: two voters, C=1", Scope::default()),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    for (name, scope) in scopes() {
        let r = check(&scope, |_, _| {});
        assert!(r.ok(), "{name}: the landed code must pass");
        eprintln!(
            "{name}: {} schedules, {} quiescent states",
            r.schedules, r.states
        );
        g.throughput(Throughput::Elements(r.schedules as u64));
        g.bench_function(name, |b| b.iter(|| black_box(check(&scope, |_, _| {}))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
