//! The command line as a person meets it: every input it cannot act on is
//! an error that names the flag (or field), the value and what was
//! expected, never a run that quietly ignores it; and exit codes scripts
//! can branch on. Each test runs the real `tally` binary.

use std::path::PathBuf;
use std::process::{Command, Output};

mod run;
use run::{refused, scratch, stderr, stdout, tally};

#[test]
fn workload_counts_and_shares_out_of_range_are_refused() {
    for (flag, value, expected) in [
        ("--completion-percent", "150", "0 to 100"),
        ("--large-percent", "101", "0 to 100"),
        ("--users", "0", "at least 1"),
        ("--files", "0", "at least 1"),
    ] {
        for cmd in ["explore", "show"] {
            let mut args = vec![cmd, flag, value];
            if cmd == "show" {
                args.extend(["--seed", "1"]);
            }
            refused(&tally(&args), &[flag, value, expected]);
        }
    }
}

#[test]
fn explore_refuses_zero_seeds_and_zero_jobs() {
    refused(
        &tally(&["explore", "--seeds", "0"]),
        &["--seeds", "'0'", "at least 1"],
    );
    refused(
        &tally(&["explore", "--jobs", "0"]),
        &["--jobs", "'0'", "at least 1"],
    );
}

#[test]
fn a_trace_export_of_several_seeds_is_refused() {
    let dir = scratch("export");
    let path = dir.join("x.jsonl");
    let o = tally(&[
        "explore",
        "--seeds",
        "3",
        "--export-trace",
        path.to_str().unwrap(),
    ]);
    refused(&o, &["--export-trace", "3 seeds", "--seed"]);
    assert!(!path.exists(), "nothing may be written");
}

#[cfg(madsim)]
#[test]
fn a_voter_pin_the_policy_does_not_know_is_refused() {
    for flag in ["--stalled-voter", "--slow-voter", "--denying-voter"] {
        let o = tally(&["explore", "--seeds", "1", flag, "bogus_manager"]);
        refused(&o, &[flag, "\"bogus_manager\"", "category_manager", "none"]);
        let o = tally(&["show", "--seed", "1", flag, "bogus_manager"]);
        refused(&o, &[flag, "\"bogus_manager\""]);
    }
    // `none` and the policy's own voters stay accepted.
    let o = tally(&[
        "explore",
        "--seeds",
        "1",
        "--no-faults",
        "--files",
        "1",
        "--stalled-voter",
        "none",
        "--denying-voter",
        "category_manager",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn pattern_test_exits_as_grep_does() {
    let pattern = r#"{"source":["a"]}"#;
    let o = tally(&[
        "pattern",
        "test",
        "--pattern",
        pattern,
        "--event",
        r#"{"source":"a"}"#,
    ]);
    assert_eq!((o.status.code(), stdout(&o).trim()), (Some(0), "match"));
    let o = tally(&[
        "pattern",
        "test",
        "--pattern",
        pattern,
        "--event",
        r#"{"source":"b"}"#,
    ]);
    assert_eq!((o.status.code(), stdout(&o).trim()), (Some(1), "no-match"));
    let o = tally(&["pattern", "test", "--pattern", "[1]", "--event", "{}"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).starts_with("invalid: "), "{}", stdout(&o));
    let help = stdout(&tally(&["pattern", "test", "--help"]));
    assert!(help.contains("0 match, 1 no-match, 2 invalid"), "{help}");
}

#[test]
fn pattern_check_prints_a_broken_lines_error_not_dashes() {
    let dir = scratch("check");
    let path = dir.join("cases.jsonl");
    std::fs::write(&path, "{\"name\":\"broken\",\"expect\":\"match\"\n").unwrap();
    let o = tally(&["pattern", "check", path.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("line 1 is not JSON: EOF while parsing"),
        "{out}"
    );
    assert!(!out.contains(": -"), "{out}");
}

/// A minimal trace with one request, for the replay flags.
fn one_line_trace(dir: &std::path::Path) -> PathBuf {
    let line = include_str!("../../scenarios/traces/production-sample.jsonl")
        .lines()
        .find(|l| l.contains("\"detail-type\":\"file.deletion.requested\""))
        .unwrap();
    let path = dir.join("t.jsonl");
    std::fs::write(&path, format!("{line}\n")).unwrap();
    path
}

#[test]
fn replay_refuses_fault_pins_without_faults() {
    let dir = scratch("replay-pins");
    let trace = one_line_trace(&dir);
    let t = trace.to_str().unwrap();
    let o = tally(&[
        "replay",
        t,
        "--no-recorded",
        "--denying-voter",
        "category_manager",
    ]);
    refused(&o, &["--denying-voter", "--faults"]);
    let o = tally(&["replay", t, "--no-recorded", "--duplicate-rate", "0.5"]);
    refused(&o, &["--duplicate-rate", "--faults"]);
}

#[test]
fn replay_refuses_voter_faults_its_votes_from_the_trace_make_void() {
    let dir = scratch("replay-voters");
    let trace = one_line_trace(&dir);
    let t = trace.to_str().unwrap();
    for flag in ["--denying-voter", "--stalled-voter", "--slow-voter"] {
        let o = tally(&[
            "replay",
            t,
            "--faults",
            "--no-faults",
            flag,
            "category_manager",
        ]);
        refused(&o, &[flag, "\"category_manager\"", "the trace"]);
    }
    let o = tally(&["replay", t, "--faults", "--forger", "true"]);
    refused(&o, &["--forger", "the trace"]);
}

#[test]
fn capture_validates_since_and_until_and_applies_them_to_logs() {
    let dir = scratch("capture");
    let sample = include_str!("../../scenarios/traces/production-sample.jsonl");
    let mut lines: Vec<&str> = sample.lines().take(40).collect();
    let time = |l: &str| -> i64 {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        tally_core::time::parse_rfc3339(v["time"].as_str().unwrap()).unwrap()
    };
    lines.sort_by_key(|l| time(l));
    let logs: String = lines
        .iter()
        .map(|l| format!("{{\"level\":\"INFO\",\"event\":{l}}}\n"))
        .collect();
    let path = dir.join("logs.jsonl");
    std::fs::write(&path, logs).unwrap();
    let p = path.to_str().unwrap();
    refused(
        &tally(&["capture", "--from-logs", p, "--since", "yesterday"]),
        &["--since", "\"yesterday\"", "RFC 3339"],
    );
    refused(
        &tally(&["capture", "--from-logs", p, "--until", "soon"]),
        &["--until", "\"soon\"", "RFC 3339"],
    );
    let (first, last) = (time(lines[0]), time(lines[lines.len() - 1]));
    assert!(first < last, "the sample spans some time");
    let middle = time(lines[lines.len() / 2]);
    let at = tally_core::time::to_rfc3339_millis(middle);
    let o = tally(&["capture", "--from-logs", p, "--since", &at]);
    assert!(o.status.success(), "{}", stderr(&o));
    let kept: Vec<i64> = stdout(&o).lines().map(time).collect();
    assert!(!kept.is_empty() && kept.len() < lines.len(), "{kept:?}");
    assert!(kept.iter().all(|t| *t >= middle), "{kept:?}");
    let o = tally(&["capture", "--from-logs", p, "--until", &at]);
    let before: Vec<i64> = stdout(&o).lines().map(time).collect();
    assert!(before.iter().all(|t| *t < middle), "{before:?}");
    assert_eq!(before.len() + kept.len(), lines.len());
}

/// A conformance file with one disagreement, for the colour tests.
fn failing_cases(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("cases.jsonl");
    let case = r#"{"name":"wrong","expect":"no-match","pattern":"{\"source\":[\"a\"]}","event":"{\"source\":\"a\"}"}"#;
    std::fs::write(&path, format!("{case}\n")).unwrap();
    path
}

fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Colour only where a person reads it: never into a pipe, and never
/// with NO_COLOR set, whatever forces it otherwise (as cargo does).
#[test]
fn colour_goes_to_terminals_only_and_no_color_turns_it_off() {
    let dir = scratch("colour");
    let cases = failing_cases(&dir);
    let args = ["pattern", "check", cases.to_str().unwrap()];
    let escape = |o: &Output| stdout(o).contains('\u{1b}');
    let piped = with_env(&args, &[]);
    assert!(stdout(&piped).contains("FAIL wrong"), "{}", stdout(&piped));
    assert!(!escape(&piped), "colour into a pipe: {:?}", stdout(&piped));
    let forced = with_env(&args, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        escape(&forced),
        "no colour even when forced: {:?}",
        stdout(&forced)
    );
    let off = with_env(&args, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!escape(&off), "NO_COLOR ignored: {:?}", stdout(&off));
}

#[cfg(madsim)]
#[test]
fn quiet_long_commands_print_only_their_verdict() {
    let loud = tally(&["explore", "--seeds", "2", "--files", "1", "--traffic", "0"]);
    let quiet = tally(&[
        "explore",
        "--seeds",
        "2",
        "--files",
        "1",
        "--traffic",
        "0",
        "--quiet",
    ]);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(stdout(&loud).lines().count() > 5, "{}", stdout(&loud));
    let last = stdout(&loud).lines().last().unwrap().to_owned();
    assert_eq!(stdout(&quiet).trim(), last);
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/01-voting-happy-path.toml"
    );
    let o = tally(&["run", "--quiet", scenario]);
    assert_eq!(stdout(&o).trim(), "1 passed, 0 failed");
    let trace = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/traces/production-sample.jsonl"
    );
    let o = tally(&["replay", "--quiet", trace]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("passed: "), "{}", stderr(&o));
}

/// A failing seeded scenario (what explore's shrinking writes) names the
/// command that draws its run, as explore's own failure does.
#[cfg(madsim)]
#[test]
fn a_failing_seeded_scenario_names_the_command_that_draws_it() {
    let dir = scratch("seeded");
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/broken/no-deletion-votes.rules.toml"
    );
    let path = dir.join("seed-0.toml");
    std::fs::write(
        &path,
        format!("name = \"x\"\nrules = \"{rules}\"\n[explore]\nseed = 0\nfiles = 2\ntraffic = 0\n"),
    )
    .unwrap();
    let o = tally(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("see it as a page: "))
        .unwrap_or_else(|| panic!("{out}"));
    for w in ["show --seed 0", "--files 2", "--no-faults", "--format html"] {
        assert!(line.contains(w), "{w:?} missing from {line}");
    }
}

/// What a user does with a counterexample: `tally check` on broken routing
/// fails, writes the shortest schedule as a scenario file and says so;
/// `tally run` on that file fails with the same property, and with an
/// `expect_violations` naming it, passes as a scenario about the broken
/// routing.
#[cfg(madsim)]
#[test]
fn a_check_counterexample_file_is_what_tally_run_reproduces() {
    let dir = scratch("check-cx");
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/broken/approvals-to-notification.rules.toml"
    );
    let o = tally(&[
        "check",
        "--voters",
        "analytics_manager",
        "--rules",
        rules,
        "--failures",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let file = dir.join("check-approved-file-deleted.toml");
    assert!(
        stdout(&o).contains(&format!("wrote {}", file.display())),
        "{}",
        stdout(&o)
    );
    let o = tally(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("invariant: approved-file-deleted"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let expected = dir.join("expected.toml");
    std::fs::write(
        &expected,
        text.replacen(
            "\n[check]",
            "expect_violations = [\"approved-file-deleted\"]\n\n[check]",
            1,
        ),
    )
    .unwrap();
    let o = tally(&["run", expected.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("caught as expected: approved-file-deleted"),
        "{}",
        stdout(&o)
    );
}
