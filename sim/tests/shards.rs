//! Exploring one seed range on many machines: the slices `--shard I/N`
//! runs, the checks on its value, and `explore merge`, which must give one
//! verdict only for every shard of one range exactly once, every failure
//! in it once with its reproducer, and never a pass on nothing.

use proptest::prelude::*;
use std::ops::Range;
use tally_sim::shard::{seed_range, slice, Shard};

mod run;
use run::{refused, scratch, tally};
#[cfg(madsim)]
use run::{stderr, stdout};

/// A range with at most 5,000 seeds anywhere in u64 (its end included),
/// or one of any size, and a shard count from 1 to its size (at most 3,000).
fn ranges() -> impl Strategy<Value = (Range<u64>, u64)> {
    let small = (1u64..=5_000).prop_flat_map(|seeds| (0..=u64::MAX - seeds, Just(seeds)));
    let any = (1u64..=u64::MAX).prop_flat_map(|seeds| (0..=u64::MAX - seeds, Just(seeds)));
    prop_oneof![small, any].prop_flat_map(|(first, seeds)| {
        let range = seed_range(first, seeds).unwrap();
        (Just(range), 1..=seeds.min(3_000))
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/shards.txt"))),
        ..ProptestConfig::default()
    })]

    // The invariant: for every range and every N from 1 to its size, the
    // N shards are non-empty, each begins where the one before ends, the
    // first at the range's start and the last at its end (so they are
    // disjoint and their union is exactly the range), and no two differ
    // in size by more than one seed.
    #[test]
    fn the_shards_of_a_range_are_the_range_exactly((range, n) in ranges()) {
        let shards: Vec<Range<u64>> =
            (1..=n).map(|index| slice(&range, Shard { index, count: n })).collect();
        prop_assert_eq!(shards[0].start, range.start);
        prop_assert_eq!(shards[shards.len() - 1].end, range.end);
        for pair in shards.windows(2) {
            prop_assert_eq!(pair[0].end, pair[1].start);
        }
        let sizes: Vec<u64> = shards.iter().map(|s| s.end - s.start).collect();
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        prop_assert!(*lo >= 1, "an empty shard: {:?}", shards);
        prop_assert!(hi - lo <= 1, "sizes {} to {}", lo, hi);
        if range.end - range.start <= 5_000 {
            let union: Vec<u64> = shards.iter().flat_map(Clone::clone).collect();
            prop_assert_eq!(union, range.collect::<Vec<u64>>());
        }
    }
}

#[test]
fn shard_values_are_read_and_refused_with_what_was_expected() {
    assert_eq!(
        Shard::parse("3/20"),
        Ok(Shard {
            index: 3,
            count: 20
        })
    );
    assert_eq!(Shard::parse("1/1"), Ok(Shard::WHOLE));
    for (text, expected) in [
        ("0/4", "count from 1"),
        ("5/4", "I is 1 to 4"),
        ("1/0", "at least 1 shard"),
        ("3", "expected I/N"),
        ("a/b", "expected I/N"),
        ("-1/4", "expected I/N"),
    ] {
        let e = Shard::parse(text).unwrap_err();
        assert!(e.contains(expected), "{text}: {e}");
    }
    let e = seed_range(u64::MAX - 1, 2).unwrap_err();
    assert!(e.contains("--first") && e.contains("--seeds 2"), "{e}");
}

/// Every bad `--shard` names the flag and its value, with exit status 2,
/// before anything runs (in a build without the simulator too).
#[test]
fn a_shard_that_cannot_run_is_refused_naming_the_flag() {
    for (args, words) in [
        (
            vec!["--shard", "0/4"],
            vec!["--shard", "0/4", "count from 1"],
        ),
        (vec!["--shard", "5/4"], vec!["--shard", "5/4", "1 to 4"]),
        (vec!["--shard", "1/0"], vec!["--shard", "1/0", "at least 1"]),
        (vec!["--shard", "two"], vec!["--shard", "two", "I/N"]),
        (
            vec!["--shard", "3/20", "--seeds", "10"],
            vec!["--shard 3/20", "10 seeds", "at most 10 shards"],
        ),
        (
            vec!["--shard", "1/2", "--seed", "4"],
            vec!["--shard", "--seed"],
        ),
        (
            vec!["--first", "18446744073709551610", "--seeds", "10"],
            vec![
                "--first 18446744073709551610 --seeds 10",
                "past the last seed",
            ],
        ),
    ] {
        let mut argv = vec!["explore"];
        argv.extend(&args);
        refused(&tally(&argv), &words);
    }
}

/// Merging nothing, or files that are not explore output, is no verdict.
#[test]
fn merge_refuses_zero_files_and_files_that_are_not_explore_output() {
    refused(&tally(&["explore", "merge"]), &["FILE"]);
    let dir = scratch("not-explore");
    let cases = [
        ("empty.json", "", "no `summary` or `failure` line"),
        ("text.json", "3 seeds, every invariant held\n", "not JSON"),
        (
            "decision.json",
            r#"{"type":"decision","requestId":"r","fileId":"f","outcome":"approved","cause":"all_proceeded","at":"2025-01-15T10:30:00.000Z"}"#,
            "a `decision` object",
        ),
        (
            "old.json",
            r#"{"type":"summary","seeds":3,"decisions":1,"invariantsChecked":45,"requests":1,"approved":1,"denied":0,"deliveries":9,"duplicates":0,"transientFailures":0,"crashes":0,"redriven":0,"coverage":{},"ok":true}"#,
            "missing field `range`",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let o = tally(&["explore", "merge", path.to_str().unwrap()]);
        refused(&o, &[name, expected, "no verdict"]);
    }
    let missing = dir.join("missing.json");
    refused(
        &tally(&["explore", "merge", missing.to_str().unwrap()]),
        &["cannot read", "missing.json"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `explore` with `args` and writes its stdout to `dir/name`.
#[cfg(madsim)]
fn explore_to(dir: &std::path::Path, name: &str, args: &[&str]) -> (String, Option<i32>) {
    let regressions = dir.join("regressions.txt");
    let mut argv = vec!["explore", "--json", "--no-shrink", "--regressions"];
    argv.push(regressions.to_str().unwrap());
    argv.extend(args);
    let o = tally(&argv);
    let path = dir.join(name);
    std::fs::write(&path, &o.stdout).unwrap();
    (path.to_str().unwrap().to_owned(), o.status.code())
}

/// A small workload, so that each shard is quick.
#[cfg(madsim)]
const SMALL: [&str; 4] = ["--files", "2", "--traffic", "0"];

/// The three shards of a passing range merge into a pass over all of it,
/// whichever order they come in and whether or not they are `--quiet`,
/// with the same decisions as the unsharded run; a gap, an overlap and a
/// shard of another range or configuration are refused, each by name.
#[cfg(madsim)]
#[test]
fn shards_merge_into_the_verdict_of_the_whole_range_and_nothing_else() {
    let dir = scratch("pass");
    let range = ["--first", "10", "--seeds", "7"];
    let shard = |i: &str, extra: &[&str]| {
        let mut args: Vec<&str> = range.iter().chain(&SMALL).copied().collect();
        args.extend(["--shard", i]);
        args.extend(extra);
        let (path, code) = explore_to(&dir, &format!("shard-{}.json", &i[..1]), &args);
        assert_eq!(code, Some(0), "{}", std::fs::read_to_string(&path).unwrap());
        path
    };
    let one = shard("1/3", &["--quiet"]);
    let two = shard("2/3", &[]);
    let three = shard("3/3", &["--quiet", "--jobs", "2"]);
    let (whole, code) = explore_to(
        &dir,
        "whole.json",
        &range.iter().chain(&SMALL).copied().collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(0));
    let whole = std::fs::read_to_string(whole).unwrap();
    let summary: serde_json::Value = serde_json::from_str(whole.lines().last().unwrap()).unwrap();

    let o = tally(&["explore", "merge", &three, &one, &two]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("3 shards of seeds 10..16"), "{out}");
    assert!(out.contains("7 of 7 seeds run"), "{out}");
    assert!(
        out.contains(&format!("{} decisions", summary["decisions"])),
        "the unsharded run's {} decisions: {out}",
        summary["decisions"]
    );
    assert!(out.contains("every invariant held"), "{out}");

    refused(
        &tally(&["explore", "merge", &one, &three]),
        &["gap: shard 2/3 (seeds 12..13)", "--shard 2/3"],
    );
    refused(
        &tally(&["explore", "merge", &one, &two, &two, &three]),
        &["overlap: shard 2/3", "2 files", &two],
    );
    let (other_range, _) = explore_to(
        &dir,
        "other-range.json",
        &[
            "--first",
            "10",
            "--seeds",
            "8",
            "--shard",
            "2/3",
            "--files",
            "2",
            "--traffic",
            "0",
        ],
    );
    refused(
        &tally(&["explore", "merge", &one, &other_range, &three]),
        &["mixed runs", "--seeds 8", "other-range.json"],
    );
    let (other_config, _) = explore_to(
        &dir,
        "other-config.json",
        &[
            "--first",
            "10",
            "--seeds",
            "7",
            "--shard",
            "2/3",
            "--files",
            "3",
            "--traffic",
            "0",
        ],
    );
    refused(
        &tally(&["explore", "merge", &one, &other_config, &three]),
        &["mixed runs", "`--files 3 --traffic 0`", "other-config.json"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Under rules that never route a vote nearly every seed fails, so each
/// of four shards stops at a failure: the merge names each failure once
/// (not again for its failing `seed` line), with its reproducer once, says
/// what each shard left unrun, and exits 1.
#[cfg(madsim)]
#[test]
fn every_failure_of_every_shard_is_in_the_merge_once() {
    let dir = scratch("fail");
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/broken/no-deletion-votes.rules.toml"
    );
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for i in 1..=4 {
        let shard = format!("{i}/4");
        let mut args = vec!["--seeds", "12", "--rules", rules, "--shard", &shard];
        args.extend(SMALL);
        if i % 2 == 0 {
            args.push("--quiet");
        }
        let (path, code) = explore_to(&dir, &format!("shard-{i}.json"), &args);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(code, Some(1), "{text}");
        let failure: serde_json::Value =
            serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(failure["type"], "failure", "{failure}");
        failures.push(failure);
        files.push(path);
    }
    let mut argv = vec!["explore", "merge"];
    argv.extend(files.iter().map(String::as_str));
    let o = tally(&argv);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let mut ran = 0;
    for f in &failures {
        let line = format!("FAILED: seed {} ", f["seed"]);
        assert_eq!(out.matches(&line).count(), 1, "{line:?} once in:\n{out}");
        let reproducer = format!("reproduce with: {}\n", f["reproducer"].as_str().unwrap());
        assert_eq!(
            out.matches(&reproducer).count(),
            1,
            "{reproducer:?} once in:\n{out}"
        );
        let (shard, seed) = (&f["shard"], f["seed"].as_u64().unwrap());
        let end = shard["first"].as_u64().unwrap() + shard["seeds"].as_u64().unwrap();
        if seed + 1 < end {
            let left = format!("{} not run", tally_sim::shard::seeds_text(&(seed + 1..end)));
            assert!(out.contains(&left), "{left}: {out}");
        }
        ran += f["seedsRun"].as_u64().unwrap();
    }
    assert_eq!(out.matches("FAILED").count(), 4, "{out}");
    assert!(out.contains(&format!("{ran} of 12 seeds run")), "{out}");
    assert!(out.contains("4 failures"), "{out}");
    assert!(out.contains("routed-where-needed"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
