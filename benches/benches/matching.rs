//! Events per second for five rules of each operator kind over ~1 KB
//! citylots-like GeoJSON features: tally's `PatternSet` against the
//! `quamina` crate on the operators both support. `tally` reads and checks
//! every byte of each event; `tally-lazy` stops reading once every key the
//! rules name has been seen, which is what quamina does.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tally_benches::{citylots, rule_groups};
use tally_core::pattern::{Pattern, PatternSet, Scratch};

const EVENTS: usize = 2_000;

fn bench(c: &mut Criterion) {
    let events = citylots(0x5eed, EVENTS);
    let bytes: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
    for (name, rules) in rule_groups() {
        let mut set = PatternSet::new();
        let mut q = quamina::Quamina::<usize>::new();
        for (i, r) in rules.iter().enumerate() {
            set.add(&Pattern::compile(r).expect("rule compiles"));
            q.add_pattern(i, r).expect("quamina takes the rule");
        }
        // Both must find the same matches.
        let mut scratch = Scratch::new();
        let mut ours = Vec::new();
        let mut total = 0usize;
        for e in &bytes {
            ours.clear();
            set.matches_into(e, &mut scratch, &mut ours).expect("event");
            let mut theirs = q.matches_for_event(e).expect("event");
            theirs.sort_unstable();
            assert_eq!(
                ours,
                theirs,
                "{name}: disagreement on {}",
                String::from_utf8_lossy(e)
            );
            total += ours.len();
        }
        eprintln!("{name}: {total} matches over {EVENTS} events");

        let mut g = c.benchmark_group(format!("matching/{name}"));
        g.throughput(Throughput::Elements(EVENTS as u64));
        g.bench_function("tally", |b| {
            let mut scratch = Scratch::new();
            let mut out = Vec::with_capacity(8);
            b.iter(|| {
                let mut n = 0;
                for e in &bytes {
                    out.clear();
                    set.matches_into(e, &mut scratch, &mut out).unwrap();
                    n += out.len();
                }
                black_box(n)
            })
        });
        let mut lazy = set.clone();
        lazy.set_lazy_scan(true);
        g.bench_function("tally-lazy", |b| {
            let mut scratch = Scratch::new();
            let mut out = Vec::with_capacity(8);
            b.iter(|| {
                let mut n = 0;
                for e in &bytes {
                    out.clear();
                    lazy.matches_into(e, &mut scratch, &mut out).unwrap();
                    n += out.len();
                }
                black_box(n)
            })
        });
        g.bench_function("quamina", |b| {
            b.iter(|| {
                let mut n = 0;
                for e in &bytes {
                    n += q.matches_for_event(e).unwrap().len();
                }
                black_box(n)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
