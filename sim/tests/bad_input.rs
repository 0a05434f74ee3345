//! Bad input to the trace reader: every broken line is reported with its
//! line number and what was wrong, skipped (or fatal with `--bad-lines
//! fatal`), and changes no decision of the replay. Also replays the
//! `trace_line` fuzz corpus and regressions through the fuzz target's own
//! body (`fuzz/shared/trace_line.rs`). See docs/bad-input.md.

#[path = "../../fuzz/shared/trace_line.rs"]
mod trace_line;

use std::path::{Path, PathBuf};
use tally_core::coordination::Policy;
use tally_sim::replay::replay;
use tally_sim::scenario::Scenario;
use tally_sim::trace::{self, read, read_line, BadLines};

const SAMPLE: &str = include_str!("../../scenarios/traces/production-sample.jsonl");

fn sample_lines(n: usize) -> Vec<&'static str> {
    SAMPLE.lines().take(n).collect()
}

/// The first sample line of this type.
fn line_of(detail_type: &str) -> &'static str {
    SAMPLE
        .lines()
        .find(|l| l.contains(&format!("\"detail-type\":\"{detail_type}\"")))
        .expect("the sample has every type")
}

fn reason(text: &str) -> String {
    match read_line(7, text) {
        Err(b) => {
            assert_eq!(b.line, 7);
            assert!(b.to_string().starts_with("line 7: "), "{b}");
            b.reason
        }
        Ok(t) => panic!("read a bad line: {:?}", t.map(|t| t.detail_type)),
    }
}

#[test]
fn the_fuzz_corpus_and_regressions_replay_through_the_target_body() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files: Vec<PathBuf> = Vec::new();
    for kind in ["corpus", "regressions"] {
        if let Ok(rd) = std::fs::read_dir(fuzz.join(kind).join("trace_line")) {
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no trace_line corpus");
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| trace_line::check(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
}

#[test]
fn a_line_that_is_not_json_is_named_as_such() {
    let r = reason(r#"{"version":"0","id":"#);
    assert!(r.starts_with("not JSON: "), "{r}");
    let r = reason("this is a log line, not an event");
    assert!(r.starts_with("not JSON: "), "{r}");
}

#[test]
fn json_that_is_not_a_delivered_event_is_named_as_such() {
    let r = reason("[1, 2, 3]");
    assert!(r.starts_with("not a delivered EventBridge event: "), "{r}");
    let r = reason(r#"{"hello": "world"}"#);
    assert_eq!(
        r,
        "not a delivered EventBridge event: missing field `detail-type` at line 1 column 18"
    );
    let r = reason(r#"{"detail-type": 5, "time": "2025-01-15T10:30:00Z", "detail": {}}"#);
    assert!(
        r.contains("invalid type: integer `5`, expected a borrowed string"),
        "{r}"
    );
}

#[test]
fn a_missing_detail_or_time_is_named() {
    let r = reason(r#"{"detail-type":"file.uploaded","time":"2025-01-15T10:30:00Z"}"#);
    assert_eq!(
        r,
        "not a delivered EventBridge event: missing field `detail`"
    );
    let r = reason(r#"{"detail-type":"file.uploaded","time":"never","detail":{}}"#);
    assert_eq!(r, r#"time: expected an RFC 3339 time, found "never""#);
}

#[test]
fn a_coordination_event_with_a_bad_field_names_the_field() {
    let good = line_of("file.deletion.requested");
    let bad = good.replacen(
        "\"transactionCount\":",
        "\"transactionCount\":\"many\",\"x\":",
        1,
    );
    let r = reason(&bad);
    assert!(
        r.starts_with("detail.data.transactionCount: invalid type: string \"many\", expected u64"),
        "{r}"
    );
    let vote = line_of("file.deletion.vote");
    let r = reason(&vote.replacen("\"decision\":\"", "\"decision\":\"maybe", 1));
    assert!(
        r.starts_with("detail.data.decision: unknown variant `maybeproceed`, expected one of"),
        "{r}"
    );
    let r = reason(&good.replacen("\"eventVersion\":\"1.0\"", "\"eventVersion\":\"2.0\"", 1));
    assert_eq!(
        r,
        "detail.eventVersion: eventVersion \"2.0\" of file.deletion.requested cannot be read by this build, which reads 1.x"
    );
}

#[test]
fn unknown_types_and_versions_are_read_not_refused() {
    let good = line_of("file.uploaded");
    let t = read_line(1, &good.replacen("file.uploaded", "file.mystery", 1))
        .unwrap()
        .unwrap();
    assert_eq!(t.detail_type, "file.mystery");
    assert!(t.event.is_none());
}

#[test]
fn timestamps_far_in_the_past_or_future_are_read_in_order() {
    let a = line_of("file.uploaded").replacen("\"time\":\"2025", "\"time\":\"1970", 1);
    let b = line_of("file.processed").replacen("\"time\":\"2025", "\"time\":\"9999", 1);
    let t = read(&format!("{b}\n{a}\n"), BadLines::Fatal).unwrap();
    assert_eq!(t.events.len(), 2);
    assert!(t.events[0].at < 0 || t.events[0].at < t.events[1].at);
    assert_eq!(t.events[0].line, 2);
}

#[test]
fn broken_lines_are_reported_skipped_or_fatal_and_change_no_decision() {
    let lines: Vec<&str> = SAMPLE.lines().collect();
    let clean = lines.join("\n");
    let mut damaged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    damaged.insert(10, "{\"broken".into());
    damaged.insert(20, String::new());
    damaged.insert(30, "[]".into());
    damaged.insert(40, lines[5][..lines[5].len() / 2].to_owned());
    let damaged = damaged.join("\n");
    let t = read(&damaged, BadLines::Skip).unwrap();
    let bad: Vec<usize> = t.bad.iter().map(|b| b.line).collect();
    assert_eq!(bad, vec![11, 31, 41]);
    assert_eq!(t.events.len(), lines.len(), "no good line lost");
    let first = read(&damaged, BadLines::Fatal).unwrap_err();
    assert_eq!(first.line, 11);
    let before = replay(&read(&clean, BadLines::Fatal).unwrap(), &Policy::default());
    let after = replay(&t, &Policy::default());
    assert_eq!(before.decisions, after.decisions);
    assert!(!before.decisions.is_empty());
}

#[test]
fn huge_and_deeply_nested_lines_are_refused_or_read_without_panicking() {
    let deep = format!(
        r#"{{"detail-type":"file.deletion.vote","time":"2025-01-15T10:30:00Z","detail":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = reason(&deep);
    assert!(!r.is_empty());
    let huge = line_of("file.uploaded").replacen(
        "\"fileName\":\"",
        &format!("\"fileName\":\"{}", "x".repeat(1 << 20)),
        1,
    );
    assert!(read_line(1, &huge).unwrap().is_some());
}

#[test]
fn crlf_and_blank_lines_are_not_bad_lines() {
    let text = format!(
        "\r\n{}\r\n   \r\n{}\r\n",
        sample_lines(2)[0],
        sample_lines(2)[1]
    );
    let t = read(&text, BadLines::Fatal).unwrap();
    assert_eq!(t.events.len(), 2);
    assert!(t.bad.is_empty());
}

/// A broken detail of a type the coordination does not read is a bad line
/// too (the fast top-level read once let it through unchecked).
#[test]
fn a_broken_detail_of_an_uninteresting_type_is_a_bad_line() {
    for detail in [r#"{"a":1]"#, "tru", r#"{"a":}"#] {
        let line = format!(
            r#"{{"detail-type":"file.uploaded","time":"2025-01-15T10:30:00Z","detail":{detail}}}"#
        );
        let r = reason(&line);
        assert!(r.starts_with("not JSON: "), "{line}: {r}");
    }
}

#[test]
fn scenario_files_with_bad_input_name_what_is_wrong() {
    let err = |t: &str| Scenario::parse("s.toml", t).unwrap_err().to_string();
    assert!(err("name = 5").starts_with("s.toml: "));
    let e = err("name = \"x\"\n[[step]]\nat = \"soon\"\ndo = \"upload\"\nfile = \"f1\"\n");
    assert!(
        e.contains("expected milliseconds (0 or more) or a duration"),
        "{e}"
    );
    let e = err("name = \"x\"\n[[step]]\nat = \"1s\"\ndo = \"upload\"\nfile = \"nope\"\n");
    assert_eq!(
        e,
        "s.toml: step[0]: file \"nope\" is not declared in a [[file]] table"
    );
    assert!(trace::read("", BadLines::Fatal).unwrap().events.is_empty());
}
