//! The nightly workflow (`.github/workflows/nightly.yml`) cannot skip a
//! shard silently: its matrix lists exactly the shards 1..N of the N its
//! command names, the slices those commands run add up to exactly the
//! million seeds it promises, a failing shard cancels no other, every
//! shard's output is uploaded even when it fails, and the merge reads
//! them all whatever the shards did. Read with a YAML parser, not by
//! searching the text, and sliced by tally's own function.

use serde_json::Value;
use std::ops::Range;
use tally_sim::shard::{seed_range, slice, Shard};

const WORKFLOW: &str = include_str!("../../.github/workflows/nightly.yml");

/// The seeds the nightly run explores.
const SEEDS: Range<u64> = 0..1_000_000;

fn workflow(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("nightly.yml is YAML")
}

/// The step of `job` whose `run` holds `needle`, with its `run`.
#[track_caller]
fn step<'a>(job: &'a Value, needle: &str) -> (&'a Value, &'a str) {
    let steps = job["steps"].as_array().expect("the job has steps");
    let found: Vec<&Value> = steps
        .iter()
        .filter(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
        .collect();
    assert_eq!(found.len(), 1, "one step runs {needle:?}: {steps:#?}");
    (found[0], found[0]["run"].as_str().unwrap())
}

/// The first step of `job` that uses the action `prefix`.
fn uses<'a>(job: &'a Value, prefix: &str) -> Option<&'a Value> {
    job["steps"]
        .as_array()?
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
}

/// The value of `--flag` in `words`.
fn flag<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| w == name)?;
    words.get(at + 1).map(String::as_str)
}

/// Everything wrong with the workflow `text`, as one line each.
fn problems(text: &str) -> Vec<String> {
    let w = workflow(text);
    let mut wrong = Vec::new();
    let explore = &w["jobs"]["explore"];
    let strategy = &explore["strategy"];
    if strategy["fail-fast"] != Value::Bool(false) {
        wrong.push("fail-fast is not false: one failing shard would cancel the rest".to_owned());
    }
    let matrix: Vec<u64> = strategy["matrix"]["shard"]
        .as_array()
        .expect("a matrix of shards")
        .iter()
        .map(|v| v.as_u64().expect("each shard a whole number"))
        .collect();
    let (_, command) = step(explore, "explore --");
    let mut covered: Vec<Range<u64>> = Vec::new();
    for &i in &matrix {
        let line = command.replace("${{ matrix.shard }}", &i.to_string());
        let words = shlex::split(&line).expect("a shell line");
        if !line.starts_with("./scripts/tally explore ") {
            wrong.push(format!(
                "not run through ./scripts/tally (the madsim build): {line}"
            ));
        }
        if !words.iter().any(|w| w == "--json") {
            wrong.push(format!("no --json, so nothing to merge: {line}"));
        }
        let first = flag(&words, "--first").map_or(0, |v| v.parse().unwrap());
        let seeds = flag(&words, "--seeds").expect("--seeds").parse().unwrap();
        let range = seed_range(first, seeds).unwrap();
        if range != SEEDS {
            wrong.push(format!("runs seeds {range:?}, not {SEEDS:?}: {line}"));
        }
        let shard = Shard::parse(flag(&words, "--shard").expect("--shard")).unwrap();
        if shard.index != i {
            wrong.push(format!("matrix value {i} runs shard {shard}"));
        }
        let expected: Vec<u64> = (1..=shard.count).collect();
        if matrix != expected {
            wrong.push(format!(
                "the matrix lists shards {matrix:?}, the command {} shards: 1..={}",
                shard.count, shard.count
            ));
        }
        covered.push(slice(&range, shard));
    }
    covered.sort_by_key(|r| r.start);
    let mut at = SEEDS.start;
    for r in &covered {
        if r.start != at {
            wrong.push(format!(
                "seeds {at}..{} are run by no shard, or twice",
                r.start
            ));
        }
        at = at.max(r.end);
    }
    if at != SEEDS.end {
        wrong.push(format!("seeds {at}..{} are run by no shard", SEEDS.end));
    }
    let upload = uses(explore, "actions/upload-artifact@").expect("the shard uploads its output");
    if upload["if"].as_str() != Some("always()") {
        wrong.push(
            "a failed shard's output is not uploaded (the upload needs if: always())".to_owned(),
        );
    }
    let artifact = upload["with"]["name"].as_str().unwrap_or_default();
    if !artifact.contains("${{ matrix.shard }}") {
        wrong.push(format!(
            "artifact {artifact:?} is not named by shard: the shards overwrite one another"
        ));
    }
    let merge = &w["jobs"]["merge"];
    if merge["needs"] != "explore" {
        wrong.push("the merge does not wait for the shards".to_owned());
    }
    if !merge["if"]
        .as_str()
        .is_some_and(|c| c.contains("!cancelled()") || c.contains("always()"))
    {
        wrong.push("the merge is skipped when a shard fails".to_owned());
    }
    let download =
        uses(merge, "actions/download-artifact@").expect("the merge downloads the shards");
    let prefix = artifact.split("${{").next().unwrap_or_default();
    if download["with"]["pattern"].as_str() != Some(&format!("{prefix}*")) {
        wrong.push(format!(
            "the download's pattern is not {prefix}*: {download}"
        ));
    }
    let dir = download["with"]["path"].as_str().unwrap_or_default();
    let (_, run) = step(merge, "explore merge");
    if run != format!("./scripts/tally explore merge {dir}/*.json") {
        wrong.push(format!(
            "the merge does not read every downloaded shard: {run}"
        ));
    }
    wrong
}

#[test]
fn the_nightly_matrix_runs_every_shard_of_a_million_seeds_and_merges_them() {
    let wrong = problems(WORKFLOW);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The checks above catch what they exist for: a shard left out of the
/// matrix, a matrix of another N, a shorter range, fail-fast, a merge
/// skipped after a failure.
#[test]
fn a_workflow_that_would_skip_seeds_is_caught() {
    for (from, to, expected) in [
        (" 19, 20]", " 19]", "the matrix lists shards"),
        ("/20 ", "/21 ", "the matrix lists shards"),
        ("--seeds 1000000", "--seeds 999999", "runs seeds"),
        ("fail-fast: false", "fail-fast: true", "fail-fast"),
        (
            "if: ${{ !cancelled() }}",
            "if: ${{ success() }}",
            "skipped when a shard fails",
        ),
        (
            "explore merge shards/*.json",
            "explore merge shards/shard-1.json",
            "every downloaded",
        ),
        ("        if: always()\n", "", "if: always()"),
    ] {
        assert!(WORKFLOW.contains(from), "{from:?} is not in the workflow");
        let wrong = problems(&WORKFLOW.replacen(from, to, 1));
        assert!(
            wrong.iter().any(|w| w.contains(expected)),
            "{from:?} -> {to:?}: expected {expected:?} in {wrong:#?}"
        );
    }
}
