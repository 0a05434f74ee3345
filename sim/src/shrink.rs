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
    Pins::of(mix)
}

/// One way to make a run smaller (false when it is already as small).
type WorkloadCut = fn(&mut RunConfig) -> bool;

#[derive(Clone, Copy)]
enum Cut {
    /// Pin knob `i` of `Pins::KNOBS` off.
    FaultOff(usize),
    Workload(WorkloadCut),
}

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

const WORKLOAD_CUTS: &[WorkloadCut] = &[
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
    // Each fault turned off (in the knobs' order), then each cut of the
    // workload; a cut is tried again while it applies and the failure
    // survives it.
    let cuts = (0..Pins::KNOBS.len())
        .map(Cut::FaultOff)
        .chain(WORKLOAD_CUTS.iter().map(|c| Cut::Workload(*c)));
    for cut in cuts {
        loop {
            let mut next = best.clone();
            let applied = match cut {
                Cut::FaultOff(i) => next.pins.turn_off(i),
                Cut::Workload(f) => f(&mut next),
            };
            if !applied {
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
    text.push_str(&crate::scenario::files_text(rules, policy));
    text.push_str(&format!(
        "\n[explore]\nseed = {}\nfiles = {}\nusers = {}\ncompletion_percent = {}\nlarge_percent = {}\ntraffic = {}\n\n[faults]\n{faults}\n",
        s.config.seed, w.files, w.users, w.completion_percent, w.large_percent, w.traffic
    ));
    text
}
