//! Replays every committed fuzz input through the fuzz targets' own bodies
//! (`tally_core::fuzzing`), on stable, so that `cargo test` exercises the
//! seed corpora and keeps every crash the fuzzers found as a regression:
//!
//!     cargo test -p tally-core --features fuzzing --test fuzz_corpus
//!
//! Inputs live in `fuzz/corpus/<target>/` (seeds and what fuzzing added)
//! and `fuzz/regressions/<target>/` (inputs that once crashed). The
//! `trace_line` target's inputs are replayed by tally-sim's
//! `tests/bad_input.rs`.

use std::path::{Path, PathBuf};
use tally_core::fuzzing::{self, reference, Body, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn body_of(target: &str) -> Body {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target")
        .1
}

/// Runs every input of `target`; reports each failing file by name.
fn replay(target: &str) -> usize {
    let mut files = inputs("corpus", target);
    files.extend(inputs("regressions", target));
    run_all(body_of(target), &files, target)
}

fn run_all(body: Body, files: &[PathBuf], target: &str) -> usize {
    let mut failed = Vec::new();
    for f in files {
        let data = std::fs::read(f).expect("readable corpus file");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: failing inputs:\n{}",
        failed.join("\n")
    );
    files.len()
}

macro_rules! replays {
    ($($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            let n = replay(stringify!($name));
            assert!(n > 0, "no corpus for {}", stringify!($name));
        }
    )+};
}

replays!(
    putevents_entry,
    delivered_event,
    sqs_body,
    api_request,
    pattern,
    rules_file,
    policy_file,
    coordination,
    matcher_differential,
);

#[test]
fn every_target_has_a_replay_test() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "putevents_entry",
            "delivered_event",
            "sqs_body",
            "api_request",
            "pattern",
            "rules_file",
            "policy_file",
            "coordination",
            "matcher_differential",
        ]
    );
    // And every target directory under fuzz/ is one of them (or trace_line).
    for kind in ["corpus", "regressions"] {
        if let Ok(rd) = std::fs::read_dir(fuzz_dir().join(kind)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    names.contains(&name.as_str()) || name == "trace_line",
                    "fuzz/{kind}/{name} belongs to no target"
                );
            }
        }
    }
}

/// The reference matcher agrees with the AWS-validated vectors it can
/// express (a check of the reference itself, so that a disagreement in the
/// differential target points at the matcher).
#[test]
fn the_reference_matcher_follows_the_documented_semantics() {
    use reference::Json::*;
    let obj = |e: Vec<(&str, reference::Json)>| {
        Object(e.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let s = |t: &str| Str(t.to_owned());
    let n = |t: &str| Num(t.to_owned());
    // Array consistency: one element of each array per match.
    let event = obj(vec![(
        "r",
        Array(vec![
            obj(vec![("x", s("a")), ("y", n("1"))]),
            obj(vec![("x", s("b")), ("y", n("2"))]),
        ]),
    )]);
    let pat = |x: &str, y: &str| {
        obj(vec![(
            "r",
            obj(vec![("x", Array(vec![s(x)])), ("y", Array(vec![n(y)]))]),
        )])
    };
    let m = |p| reference::matches(&reference::compile(&p).unwrap(), &event);
    assert!(m(pat("a", "1")));
    assert!(!m(pat("a", "2")));
    fuzzing::differential::check(&[pat("a", "1"), pat("a", "2"), pat("b", "2")], &event);
    // Numbers: 300 == 3.0e2; outside the range only the text matches.
    let event = obj(vec![("v", n("3.0e2")), ("w", n("1e400"))]);
    let p = obj(vec![
        ("v", Array(vec![n("300")])),
        ("w", Array(vec![n("1e400")])),
    ]);
    assert!(reference::matches(&reference::compile(&p).unwrap(), &event));
    fuzzing::differential::check(&[p], &event);
    // exists: false holds only where no value is there.
    let p = obj(vec![("z", Array(vec![obj(vec![("exists", Bool(false))])]))]);
    assert!(reference::matches(&reference::compile(&p).unwrap(), &event));
    // Invalid patterns are invalid to both.
    for bad in [
        obj(vec![]),
        obj(vec![("a", Array(vec![]))]),
        obj(vec![(
            "$or",
            Array(vec![obj(vec![("a", Array(vec![n("1")]))])]),
        )]),
        obj(vec![(
            "a",
            Array(vec![obj(vec![(
                "numeric",
                Array(vec![s(">"), n("1e400")]),
            )])]),
        )]),
    ] {
        assert!(reference::compile(&bad).is_err(), "{}", bad.to_text());
        assert!(
            tally_core::pattern::Pattern::compile(&bad.to_text()).is_err(),
            "{}",
            bad.to_text()
        );
    }
}
