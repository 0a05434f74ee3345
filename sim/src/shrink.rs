//! Shrinking a failing seed to the smallest run that still fails, as
//! proptest shrinks a case: the seed's drawn fault mix is pinned whole, then
//! each fault is turned off where the failure survives without it, then
//! the workload is cut (fewer files, users, ordinary events, completion and
//! large files) where it survives that. Every step re-runs the seed; only a
//! run that still violates an invariant is kept, so what is printed always
//! reproduces.

use crate::faults::{FaultMix, Pins};
use crate::world::{run, RunConfig, RunReport};

/// Every knob of `mix`, pinned: the run no longer depends on the draw.
pub fn pins_of(mix: &FaultMix) -> Pins {
    let voter = |v: &Option<String>| Some(v.clone().unwrap_or_else(|| "none".to_owned()));
    Pins {
        no_faults: false,
        duplicate_rate: Some(mix.duplicate_rate),
        publish_failure_rate: Some(mix.publish_failure_rate),
        invoke_failure_rate: Some(mix.invoke_failure_rate),
        drop_rate: Some(mix.drop_rate),
        max_delay_ms: Some(mix.max_delay_ms),
        crash_rate: Some(mix.crash_rate),
        store_error_rate: Some(mix.store_error_rate),
        stalled_voter: voter(&mix.stalled_voter),
        slow_voter: voter(&mix.slow_voter),
        denying_voter: voter(&mix.denying_voter),
        clock_skew_ms: Some(mix.clock_skew_ms),
        forger: Some(mix.forger),
        request_delay_ms: Some(mix.request_delay_ms),
        burst_rate: Some(mix.burst_rate),
        permanent_error_rate: Some(mix.permanent_error_rate),
    }
}

/// One way to make a run smaller: `None` when it is already as small.
type Cut = fn(&mut RunConfig) -> bool;

fn set<T: PartialEq>(slot: &mut Option<T>, off: T) -> bool {
    if slot.as_ref() == Some(&off) {
        return false;
    }
    *slot = Some(off);
    true
}

const FAULTS_OFF: &[Cut] = &[
    |c| set(&mut c.pins.duplicate_rate, 0.0),
    |c| set(&mut c.pins.publish_failure_rate, 0.0),
    |c| set(&mut c.pins.invoke_failure_rate, 0.0),
    |c| set(&mut c.pins.drop_rate, 0.0),
    |c| set(&mut c.pins.max_delay_ms, 0),
    |c| set(&mut c.pins.crash_rate, 0.0),
    |c| set(&mut c.pins.store_error_rate, 0.0),
    |c| set(&mut c.pins.stalled_voter, "none".to_owned()),
    |c| set(&mut c.pins.slow_voter, "none".to_owned()),
    |c| set(&mut c.pins.denying_voter, "none".to_owned()),
    |c| set(&mut c.pins.clock_skew_ms, 0),
    |c| set(&mut c.pins.forger, false),
    |c| set(&mut c.pins.request_delay_ms, 0),
    |c| set(&mut c.pins.burst_rate, 0.0),
    |c| set(&mut c.pins.permanent_error_rate, 0.0),
];

fn halve(n: &mut usize, floor: usize) -> bool {
    if *n <= floor {
        return false;
    }
    *n = floor.max(*n / 2);
    true
}

fn down(n: &mut u64) -> bool {
    if *n == 0 {
        return false;
    }
    *n = 0;
    true
}

const WORKLOAD_CUTS: &[Cut] = &[
    |c| halve(&mut c.workload.files, 1),
    |c| halve(&mut c.workload.users, 1),
    |c| halve(&mut c.workload.traffic, 0),
    |c| down(&mut c.workload.large_percent),
    |c| down(&mut c.workload.completion_percent),
];

/// What shrinking came to: the smallest failing configuration found, its
/// report, and how many runs it took.
pub struct Shrunk {
    pub config: RunConfig,
    pub report: RunReport,
    pub runs: usize,
}

/// Shrinks the failing run of `cfg` (whose report is `failed`). Each cut is
/// tried until it no longer applies or the failure no longer survives it.
pub fn shrink(cfg: &RunConfig, failed: RunReport) -> Shrunk {
    let mut best = cfg.clone();
    best.pins = pins_of(&failed.mix);
    let mut report = failed;
    let mut runs = 0;
    for cuts in [FAULTS_OFF, WORKLOAD_CUTS] {
        for cut in cuts {
            loop {
                let mut next = best.clone();
                if !cut(&mut next) {
                    break;
                }
                runs += 1;
                let r = run(&next);
                if r.ok() {
                    break;
                }
                best = next;
                report = r;
            }
        }
    }
    Shrunk {
        config: best,
        report,
        runs,
    }
}

/// The shrunk run as a scenario file: `tally run FILE` runs exactly it and
/// fails with the same invariant.
pub fn scenario_text(s: &Shrunk, rules: Option<&str>, policy: Option<&str>) -> String {
    let w = &s.config.workload;
    let first = s
        .report
        .violations
        .first()
        .map(|v| v.to_string())
        .unwrap_or_default();
    let mut faults = toml::to_string(&s.config.pins).unwrap_or_default();
    faults = faults
        .lines()
        .filter(|l| !l.starts_with("no_faults"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut text = format!(
        "# Written by `tally explore` after shrinking seed {seed} in {runs} runs.\n\
         # `tally run` on this file reproduces the failure:\n\
         #   {first}\n\
         name = {name:?}\n",
        seed = s.config.seed,
        runs = s.runs,
        first = first.replace('\n', " "),
        name = format!("seed {} of tally explore, shrunk", s.config.seed),
    );
    if let Some(r) = rules {
        text.push_str(&format!("rules = {r:?}\n"));
    }
    if let Some(p) = policy {
        text.push_str(&format!("policy = {p:?}\n"));
    }
    text.push_str(&format!(
        "\n[explore]\nseed = {}\nfiles = {}\nusers = {}\ncompletion_percent = {}\nlarge_percent = {}\ntraffic = {}\n\n[faults]\n{faults}\n",
        s.config.seed, w.files, w.users, w.completion_percent, w.large_percent, w.traffic
    ));
    text
}
