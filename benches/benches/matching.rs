//! Events per second for five rules of each operator kind over ~1 KB
//! citylots-like GeoJSON features: tally's `PatternSet` against the
//! `quamina` crate on the operators both support. `tally` reads and checks
//! every byte of each event; `tally-lazy` stops reading once every key the
//! rules name has been seen, which is what quamina does.
//!
//! Times are the benchmark thread's CPU time, not wall-clock time: on a
//! machine shared with other work, a bench that is descheduled would
//! otherwise be charged for the other processes' time, and the ratios
//! between tally and quamina would depend on what else ran meanwhile.
//!
//! `matching/ratio/{full,lazy}/<operator>` reads the ratios off directly:
//! each iteration runs one pass of quamina and one of tally back to back,
//! and the value measured is quamina's CPU time over tally's, so a load
//! that comes and goes during the run slows both sides of every sample
//! alike (above 1: tally is faster). Criterion prints it where it prints
//! times, with an `x`.
//!
//! `matching/bound` puts tally's full scan in bytes per second beside plain
//! `memchr` passes over the same bytes: one for a byte that never occurs
//! (reading every byte once, the limit for anything that checks every byte)
//! and one that stops at every quote (the least a scanner that must find
//! every string does).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, criterion_group, criterion_main, Bencher, Criterion, Throughput};
use tally_benches::cpu::thread_cpu;
use tally_benches::{citylots, rule_groups};
use tally_core::pattern::{Pattern, PatternSet, Scratch};

const EVENTS: usize = 2_000;

/// Runs `pass` (one pass over every event) `iters` times; returns the CPU
/// time it took.
fn cpu_iter<F: FnMut() -> usize>(b: &mut Bencher<'_>, mut pass: F) {
    b.iter_custom(|iters| {
        let t0 = thread_cpu();
        for _ in 0..iters {
            black_box(pass());
        }
        thread_cpu() - t0
    })
}

fn tally_pass(
    set: &PatternSet,
    bytes: &[&[u8]],
    scratch: &mut Scratch,
    out: &mut Vec<usize>,
) -> usize {
    let mut n = 0;
    for e in bytes {
        out.clear();
        set.matches_into(e, scratch, out).unwrap();
        n += out.len();
    }
    n
}

/// The rules compiled by tally and by quamina.
fn matchers(rules: &[String]) -> (PatternSet, quamina::Quamina<usize>) {
    let mut set = PatternSet::new();
    let mut q = quamina::Quamina::<usize>::new();
    for (i, r) in rules.iter().enumerate() {
        set.add(&Pattern::compile(r).expect("rule compiles"));
        q.add_pattern(i, r).expect("quamina takes the rule");
    }
    (set, q)
}

fn quamina_pass(q: &quamina::Quamina<usize>, bytes: &[&[u8]]) -> usize {
    bytes
        .iter()
        .map(|e| q.matches_for_event(e).unwrap().len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let events = citylots(0x5eed, EVENTS);
    let bytes: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
    let total_bytes: usize = bytes.iter().map(|e| e.len()).sum();
    let mut exact = None;
    for (name, rules) in rule_groups() {
        let (set, q) = matchers(&rules);
        let mut lazy = set.clone();
        lazy.set_lazy_scan(true);
        // All three must find the same matches.
        let mut scratch = Scratch::new();
        let (mut ours, mut ours_lazy) = (Vec::new(), Vec::new());
        let mut total = 0usize;
        for e in &bytes {
            ours.clear();
            ours_lazy.clear();
            set.matches_into(e, &mut scratch, &mut ours).expect("event");
            lazy.matches_into(e, &mut scratch, &mut ours_lazy)
                .expect("event");
            let mut theirs = q.matches_for_event(e).expect("event");
            theirs.sort_unstable();
            let show = || String::from_utf8_lossy(e).into_owned();
            assert_eq!(ours, theirs, "{name}: disagreement on {}", show());
            assert_eq!(ours, ours_lazy, "{name}: lazy scan differs on {}", show());
            total += ours.len();
        }
        eprintln!("{name}: {total} matches over {EVENTS} events");

        let mut g = c.benchmark_group(format!("matching/{name}"));
        g.throughput(Throughput::Elements(EVENTS as u64));
        g.bench_function("tally", |b| {
            let (mut scratch, mut out) = (Scratch::new(), Vec::with_capacity(8));
            cpu_iter(b, || tally_pass(&set, &bytes, &mut scratch, &mut out))
        });
        g.bench_function("tally-lazy", |b| {
            let (mut scratch, mut out) = (Scratch::new(), Vec::with_capacity(8));
            cpu_iter(b, || tally_pass(&lazy, &bytes, &mut scratch, &mut out))
        });
        g.bench_function("quamina", |b| cpu_iter(b, || quamina_pass(&q, &bytes)));
        g.finish();
        if name == "exact" {
            exact = Some(set);
        }
    }

    let set = exact.expect("the exact group");
    let mut g = c.benchmark_group("matching/bound");
    g.throughput(Throughput::Bytes(total_bytes as u64));
    g.bench_function("tally-exact", |b| {
        let (mut scratch, mut out) = (Scratch::new(), Vec::with_capacity(8));
        cpu_iter(b, || tally_pass(&set, &bytes, &mut scratch, &mut out))
    });
    g.bench_function("memchr-quotes", |b| {
        cpu_iter(b, || {
            bytes
                .iter()
                .map(|e| memchr::memchr_iter(b'"', e).count())
                .sum()
        })
    });
    g.bench_function("memchr", |b| {
        // A byte no event holds, so that every byte is read.
        cpu_iter(b, || {
            bytes
                .iter()
                .map(|e| memchr::memchr(0x01, e).map_or(0, |_| 1))
                .sum()
        })
    });
    g.finish();
}

/// Speed-up over quamina, as a criterion measurement: a benchmark returns
/// the sum over its iterations of quamina's time over tally's, which
/// criterion divides by the iterations like any other value.
struct Speedup;

impl Measurement for Speedup {
    type Intermediate = ();
    type Value = f64;

    fn start(&self) {}

    fn end(&self, _: ()) -> f64 {
        0.0
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self
    }
}

impl ValueFormatter for Speedup {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "x"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "x"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "x"
    }
}

fn ratios(c: &mut Criterion<Speedup>) {
    let events = citylots(0x5eed, EVENTS);
    let bytes: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
    for scan in ["full", "lazy"] {
        let mut g = c.benchmark_group(format!("matching/ratio/{scan}"));
        for (name, rules) in rule_groups() {
            let (mut set, q) = matchers(&rules);
            set.set_lazy_scan(scan == "lazy");
            let (mut scratch, mut out) = (Scratch::new(), Vec::with_capacity(8));
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut sum = 0.0;
                    for _ in 0..iters {
                        let t0 = thread_cpu();
                        black_box(tally_pass(&set, &bytes, &mut scratch, &mut out));
                        let t1 = thread_cpu();
                        black_box(quamina_pass(&q, &bytes));
                        let t2 = thread_cpu();
                        sum += (t2 - t1).as_secs_f64() / (t1 - t0).as_secs_f64();
                    }
                    sum
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_group! {
    name = ratio_benches;
    config = Criterion::default().with_measurement(Speedup);
    targets = ratios
}
criterion_main!(benches, ratio_benches);
