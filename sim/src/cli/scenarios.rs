//! `tally run SCENARIO...`: runs scenario files in the simulated world,
//! prints each decision log and checks the expected outcomes.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML), or folders of them.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
}

#[cfg(not(madsim))]
pub fn run(_: RunArgs) -> ExitCode {
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally run ...");
    ExitCode::from(2)
}

#[cfg(madsim)]
pub fn run(args: RunArgs) -> ExitCode {
    use tally_sim::scenario::{expand, load, Loaded};
    let files = match expand(&args.scenarios) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let Loaded {
            scenario: s,
            rules,
            policy,
        } = match load(&path) {
            Ok(x) => x,
            Err(e) => {
                println!("== {}\nFAILED: {e}", path.display());
                failed += 1;
                continue;
            }
        };
        let lint = tally_core::rules::lint(&rules, &policy);
        let report = tally_sim::world::run_scenario(&s, rules, policy);
        println!("== {} ({})", report.name, path.display());
        for f in &lint {
            println!("  lint: {f}");
        }
        for line in &report.log {
            println!("  {line}");
        }
        for f in &report.failures {
            println!("  FAILED expectation: {f}");
        }
        for v in &report.violations {
            println!("  FAILED invariant: {v}");
        }
        if report.ok() {
            passed += 1;
        } else {
            println!("  reproduce with: ./scripts/tally run {}", path.display());
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
