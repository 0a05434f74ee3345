//! Seeds per second and simulated deliveries per second for the standard
//! workload (10 deletion requests among uploads and their processing, the
//! four voters, each seed's default fault swarm). Needs the simulator:
//! `RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim cargo bench -p tally-benches --bench simulation`.

#[cfg(madsim)]
mod sim {
    use criterion::{black_box, criterion_group, Criterion, Throughput};
    use tally_sim::world::{run, RunConfig, Workload};

    const SEEDS: u64 = 20;

    fn config(seed: u64) -> RunConfig {
        let mut c = RunConfig::new(seed);
        c.workload = Workload {
            files: 10,
            users: 4,
            completion_percent: 0,
            large_percent: 0,
            traffic: 0,
        };
        c
    }

    fn bench(c: &mut Criterion) {
        let deliveries: u64 = (0..SEEDS).map(|s| run(&config(s)).stats.deliveries).sum();
        eprintln!(
            "the standard workload: {} deliveries over {SEEDS} seeds",
            deliveries
        );
        let mut g = c.benchmark_group("simulation");
        g.sample_size(10);
        g.throughput(Throughput::Elements(SEEDS));
        g.bench_function("seeds of the standard workload", |b| {
            b.iter(|| (0..SEEDS).for_each(|s| drop(black_box(run(&config(s))))))
        });
        g.throughput(Throughput::Elements(deliveries));
        g.bench_function("simulated deliveries", |b| {
            b.iter(|| (0..SEEDS).for_each(|s| drop(black_box(run(&config(s))))))
        });
        g.finish();
    }

    criterion_group!(benches, bench);
}

#[cfg(madsim)]
criterion::criterion_main!(sim::benches);

#[cfg(not(madsim))]
fn main() {
    eprintln!("the simulation bench needs the simulator: RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim cargo bench -p tally-benches --bench simulation");
}
