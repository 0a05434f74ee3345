//! A simulated run exported as a trace (`tally explore --export-trace`) and
//! replayed (`tally replay`) decides every request as the run did: the
//! trace carries when the aggregator received each input, and the replay
//! feeds them in that order.
#![cfg(madsim)]

use tally_sim::replay::replay;
use tally_sim::trace::{differences, read, BadLines};
use tally_sim::world::{run, RunConfig};

/// Seeds whose replayed decisions differ from the run's, with the first
/// difference of each.
fn disagreeing(seeds: std::ops::Range<u64>) -> Vec<String> {
    let mut out = Vec::new();
    for seed in seeds {
        let mut cfg = RunConfig::new(seed);
        cfg.export_trace = true;
        let r = run(&cfg);
        assert!(
            !r.decisions.is_empty(),
            "seed {seed}: the run decided nothing"
        );
        let t = read(&r.trace.join("\n"), BadLines::Fatal)
            .unwrap_or_else(|b| panic!("seed {seed}: the exported trace does not read: {b}"));
        let replayed = replay(&t, &cfg.policy);
        let diffs = differences(&r.decisions, &replayed.decisions, false);
        if let Some(d) = diffs.first() {
            out.push(format!("seed {seed}: {} differ, first {d}", diffs.len()));
        }
    }
    out
}

/// For every seed, replaying the run's own exported trace gives each request
/// the outcome and cause the run gave it, and decides no other request.
#[test]
fn an_exported_run_replays_to_its_own_decisions_on_200_seeds() {
    let bad = disagreeing(0..200);
    assert!(
        bad.is_empty(),
        "{} of 200 seeds differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
