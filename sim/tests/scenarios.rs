//! Every scenario in `scenarios/` meets its expectations and keeps every
//! invariant it does not exist to show broken; its decision log is a
//! reviewed snapshot (only in builds with `--cfg madsim`).
#![cfg(madsim)]

use std::path::PathBuf;
use tally_sim::scenario::{expand, load};
use tally_sim::world::run_scenario;

#[test]
fn every_scenario_holds_and_its_log_is_the_reviewed_one() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"));
    let files = expand(&[dir]).unwrap();
    assert!(files.len() >= 9, "scenarios went missing: {files:?}");
    for path in files {
        let loaded = load(&path).unwrap();
        let report = run_scenario(&loaded.scenario, loaded.rules, loaded.policy);
        assert!(
            report.ok(),
            "{}: {:#?} {:#?}\n{}",
            path.display(),
            report.failures,
            report.violations,
            report.log.join("\n")
        );
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let body = format!(
            "# {}\n# {}\n{}",
            loaded.scenario.name,
            loaded.scenario.description,
            report.log.join("\n")
        );
        insta::assert_snapshot!(name, body);
    }
}

/// Same scenario, same seed: the same log, byte for byte.
#[test]
fn a_scenario_replays_identically() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/06-late-write-never-regresses.toml"
    ));
    let a = load(&path).unwrap();
    let b = load(&path).unwrap();
    assert_eq!(
        run_scenario(&a.scenario, a.rules, a.policy).log,
        run_scenario(&b.scenario, b.rules, b.policy).log
    );
}
