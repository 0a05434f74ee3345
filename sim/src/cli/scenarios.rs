//! `tally run SCENARIO...`: runs scenario files in the simulated world,
//! prints each decision log and checks the expected outcomes.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML), or folders of them (which hold scenarios
    /// and, beside them, NAME.rules.toml and NAME.policy.toml files).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Print only failing scenarios and the closing "N passed, M failed".
    #[arg(long, short)]
    pub quiet: bool,
}

#[cfg(not(madsim))]
pub fn run(_: RunArgs) -> ExitCode {
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally run ...");
    ExitCode::from(2)
}

#[cfg(madsim)]
pub fn run(args: RunArgs) -> ExitCode {
    use super::style::{paint, FAIL, NOTE};
    use tally_sim::scenario::{expand, load, Loaded};
    let files = match expand(&args.scenarios) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scenarios = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"));
    let snapshots = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
    let mut unreviewed = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let Loaded {
            scenario: s,
            rules,
            policy,
        } = match load(&path) {
            Ok(x) => x,
            Err(e) => {
                anstream::println!("== {}\n{}: {e}", path.display(), paint(FAIL, "FAILED"));
                failed += 1;
                continue;
            }
        };
        let lint = tally_core::rules::lint(&rules, &policy);
        let report = tally_sim::world::run_scenario(&s, rules, policy);
        let snapshot = tally_sim::scenario::snapshot_path(&path, scenarios, snapshots)
            .filter(|snap| !snap.exists());
        if args.quiet && report.ok() {
            passed += 1;
            if snapshot.is_some() {
                unreviewed.push(path.display().to_string());
            }
            continue;
        }
        println!("== {} ({})", report.name, path.display());
        for f in &lint {
            println!("  lint: {f}");
        }
        for line in &report.log {
            println!("  {line}");
        }
        let failed_word = paint(FAIL, "FAILED");
        for f in &report.failures {
            anstream::println!("  {failed_word} expectation: {f}");
        }
        for v in &report.violations {
            anstream::println!("  {failed_word} invariant: {v}");
        }
        if let Some(snap) = snapshot {
            anstream::println!(
                "  {}: ./scripts/review shows this log to accept as {}",
                paint(NOTE, "no snapshot yet"),
                snap.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            unreviewed.push(path.display().to_string());
        }
        if report.ok() {
            passed += 1;
        } else {
            println!("  reproduce with: ./scripts/tally run {}", path.display());
            if let Some(e) = &s.explore {
                // A seeded run (a shrunk failure) can be drawn; a scripted
                // scenario has no seed for `show` to re-run.
                let dir = path.parent().unwrap_or(std::path::Path::new("."));
                let config = tally_sim::args::ConfigArgs {
                    workload: e.workload(),
                    rules: s.rules.as_ref().map(|r| dir.join(r)),
                    policy: s.policy.as_ref().map(|p| dir.join(p)),
                    pins: tally_sim::faults::Pins {
                        no_faults: true,
                        ..s.faults.clone()
                    },
                };
                println!("  see it as a page: {}", config.show_command(e.seed));
            }
            failed += 1;
        }
    }
    if !unreviewed.is_empty() && !args.quiet {
        println!(
            "{} scenarios have no snapshot yet ({}): review them with ./scripts/review",
            unreviewed.len(),
            unreviewed.join(", ")
        );
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
