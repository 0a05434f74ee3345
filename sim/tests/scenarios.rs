//! Every scenario in `scenarios/` meets its expectations and keeps every
//! invariant it does not exist to show broken; its decision log is a
//! reviewed snapshot, one file per scenario (only in builds with `--cfg
//! madsim`). `insta::glob!` runs every scenario even when one fails, and
//! a new scenario gets a `.snap.new` that `./scripts/review` shows.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use tally_sim::scenario::{is_scenario_file, load, snapshot_path};
use tally_sim::world::run_scenario;

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");

#[test]
fn every_scenario_holds_and_its_log_is_the_reviewed_one() {
    let mut failed = Vec::new();
    let mut ran = 0;
    insta::glob!("../../scenarios", "*.toml", |path| {
        if !is_scenario_file(path) {
            return;
        }
        ran += 1;
        let loaded = match load(path) {
            Ok(l) => l,
            Err(e) => {
                failed.push(e);
                return;
            }
        };
        let report = run_scenario(&loaded.scenario, loaded.rules, loaded.policy);
        if !report.ok() {
            failed.push(format!(
                "{}: {:#?} {:#?}\n{}",
                path.display(),
                report.failures,
                report.violations,
                report.log.join("\n")
            ));
        }
        let body = format!(
            "# {}\n# {}\n{}",
            loaded.scenario.name,
            loaded.scenario.description,
            report.log.join("\n")
        );
        insta::assert_snapshot!("scenario", body);
    });
    assert!(ran >= 9, "scenarios went missing: {ran} found");
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// `tally run` tells a scenario without a snapshot by the name insta
/// gives it: every scenario of the suite has its snapshot there.
#[test]
fn every_scenario_has_its_snapshot_where_tally_run_looks() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(SCENARIOS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_scenario_file(p))
        .collect();
    files.sort();
    for f in &files {
        let snap = snapshot_path(f, Path::new(SCENARIOS), Path::new(SNAPSHOTS))
            .unwrap_or_else(|| panic!("{} is not seen as a suite scenario", f.display()));
        assert!(
            snap.exists(),
            "{} has no snapshot {}",
            f.display(),
            snap.display()
        );
    }
    let broken = Path::new(SCENARIOS).join("broken/no-deletion-votes.rules.toml");
    assert_eq!(
        snapshot_path(&broken, Path::new(SCENARIOS), Path::new(SNAPSHOTS)),
        None
    );
}

/// A vote that came after the decision is in the log, marked, so that a
/// reviewer sees it arrived and changed nothing.
#[test]
fn a_late_vote_is_logged_as_ignored() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/05-duplicate-and-late-votes.toml"
    ));
    let l = load(&path).unwrap();
    let log = run_scenario(&l.scenario, l.rules, l.policy).log;
    let late: Vec<&String> = log.iter().filter(|x| x.contains(" late ")).collect();
    assert_eq!(late.len(), 2, "{log:#?}");
    assert!(
        late.iter()
            .all(|x| x.ends_with("after the decision, ignored")),
        "{late:?}"
    );
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
