//! Every JSON line `tally` prints has a `type` and the shape that
//! docs/json-output.schema.json documents for it: the test reads the
//! schema from the docs, so the docs cannot drift from the output.

use serde_json::Value;
use std::process::{Command, Output};

fn schema() -> jsonschema::Validator {
    let text = include_str!("../../docs/json-output.schema.json");
    let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn tally(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .output()
        .unwrap()
}

/// Each non-empty line of `text` validated; their `type`s in order.
#[track_caller]
fn validated(text: &str) -> Vec<String> {
    let v = schema();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{line}\ndoes not fit the schema: {errors:#?}"
            );
            value["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The schema is not so loose that anything passes: the shapes this
/// output had before it was documented are refused.
#[test]
fn the_schema_refuses_the_old_untyped_shapes() {
    let v = schema();
    let old_seed =
        serde_json::json!({"seed": 1, "ok": true, "faults": "duplicate-rate=0 crash-rate=0.1"});
    assert!(!v.is_valid(&old_seed));
    let mut seed = old_seed.clone();
    seed["type"] = "seed".into();
    assert!(!v.is_valid(&seed), "faults as a formatted string");
    let old_decision = serde_json::json!({"requestId": "r", "fileId": "f", "outcome": "approved", "cause": "all_proceeded", "at": "2025-01-15T10:30:00.000Z"});
    assert!(!v.is_valid(&old_decision));
    let mut decision = old_decision.clone();
    decision["type"] = "decision".into();
    assert!(v.is_valid(&decision));
}

#[test]
fn replay_json_fits_the_schema() {
    let trace = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/traces/production-sample.jsonl"
    );
    let o = tally(&["replay", trace, "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let types = validated(&String::from_utf8_lossy(&o.stdout));
    assert!(
        types.len() > 100 && types.iter().all(|t| t == "decision"),
        "{types:?}"
    );
    assert_eq!(validated(&err), ["report"]);
}

#[cfg(madsim)]
#[test]
fn explore_and_show_json_fit_the_schema() {
    let o = tally(&[
        "explore",
        "--seeds",
        "2",
        "--files",
        "2",
        "--traffic",
        "0",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(validated(&out), ["seed", "seed", "summary"]);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(first["faults"]["duplicate-rate"].is_number(), "{first}");

    let o = tally(&["show", "--seed", "3", "--files", "2", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let types = validated(&String::from_utf8_lossy(&o.stdout));
    assert!(
        !types.is_empty() && types.iter().all(|t| t == "decision"),
        "{types:?}"
    );
}

/// A shard run with `--quiet` prints only its summary, which says the
/// whole range, the configuration and the slice it covers.
#[cfg(madsim)]
#[test]
fn a_quiet_shard_prints_one_summary_with_its_range_and_slice() {
    let o = tally(&[
        "explore",
        "--first",
        "5",
        "--seeds",
        "5",
        "--shard",
        "2/2",
        "--files",
        "2",
        "--traffic",
        "0",
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(validated(&out), ["summary"]);
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["seeds"], 3, "{summary}");
    assert_eq!(
        summary["range"],
        serde_json::json!({"first": 5, "seeds": 5, "config": "--files 2 --traffic 0"})
    );
    assert_eq!(
        summary["shard"],
        serde_json::json!({"index": 2, "of": 2, "first": 7, "seeds": 3})
    );
}

/// A failing seed ends with a `failure` object naming the reproducer and
/// the command that draws the run.
#[cfg(madsim)]
#[test]
fn a_failing_explore_ends_with_a_failure_object() {
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/broken/no-deletion-votes.rules.toml"
    );
    let regressions = std::env::temp_dir().join(format!("tally-json-{}.txt", std::process::id()));
    let o = tally(&[
        "explore",
        "--seeds",
        "1",
        "--files",
        "2",
        "--rules",
        rules,
        "--no-shrink",
        "--json",
        "--regressions",
        regressions.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(validated(&out), ["seed", "failure"]);
    let failure: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(failure["reason"], "invariant");
    assert_eq!(failure["seedsRun"], 1, "{failure}");
    assert_eq!(failure["shard"]["of"], 1, "{failure}");
    assert!(
        failure["show"].as_str().unwrap().contains("--format html"),
        "{failure}"
    );
    let _ = std::fs::remove_file(regressions);
}
