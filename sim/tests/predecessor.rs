//! Traces in the wire shapes of the system the design notes describe, as
//! built (the public repository mazerunner70/housef3): its `BaseEvent`
//! envelope (userId there and not in data, correlationId and causationId
//! null, metadata), its voters publishing as `<voter with dots>.service`
//! with a null reason on proceed, and its aggregator publishing as
//! `vote.aggregator` without a cause, with `deniedBy` a single voter and
//! `allVotes` stamped by `datetime.now().isoformat()`. With the example
//! policy (`scenarios/housef3.policy.toml`) they replay with nothing
//! skipped and every recorded decision compared; `tally replay` fails,
//! with one line saying why, whenever that is not so.

use serde_json::Value;
use std::process::{Command, Output};
use tally_core::coordination::Policy;
use tally_sim::compare::{compare, Kind};
use tally_sim::housef3::{isoformat, Deletion};
use tally_sim::replay::replay;
use tally_sim::trace::{read, recognise, BadLines};

const POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/housef3.policy.toml"
);
/// 2025-01-15T10:30:00Z
const T0: i64 = 1_736_937_000_000;

fn policy() -> Policy {
    Policy::parse(POLICY, &std::fs::read_to_string(POLICY).unwrap()).unwrap()
}

fn requests() -> Vec<Deletion> {
    (0..8)
        .map(|n| Deletion {
            n,
            deny: n % 3 == 1,
            at: T0 + n as i64 * 60_000,
        })
        .collect()
}

/// Every request's lines, reversed for some (captures are not in time
/// order).
fn trace_lines() -> Vec<String> {
    let mut out = Vec::new();
    for r in requests() {
        let mut lines: Vec<String> = r.events().iter().map(|e| e.delivered()).collect();
        if r.n % 2 == 0 {
            lines.reverse();
        }
        out.extend(lines);
    }
    out
}

/// `tally replay` on `trace` (written to a file of its own) with `args`.
fn tally(trace: &str, args: &[&str]) -> Output {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("tally-predecessor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = dir.join(format!("t{n}.jsonl"));
    std::fs::write(&path, trace).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("replay")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn last_line(o: &Output) -> String {
    stderr(o).lines().last().unwrap_or("").to_owned()
}

#[test]
fn the_notes_systems_trace_replays_with_every_decision_compared() {
    let text = trace_lines().join("\n");
    let t = read(&text, BadLines::Fatal).expect("every line of its shapes reads");
    let policy = policy();
    let recorded = recognise(&t, &policy);
    assert_eq!(recorded.decisions.len(), requests().len());
    assert!(recorded.other_sources.is_empty());
    assert!(recorded.decisions.iter().all(|d| d.cause.is_none()));
    let r = replay(&t, &policy);
    let cmp = compare(&recorded.decisions, &r.records, &t);
    assert_eq!((cmp.compared, cmp.agreeing), (8, 8), "{:#?}", cmp.differing);
    let denied = r.decisions.iter().filter(|d| d.outcome == "denied").count();
    assert_eq!(denied, 3, "the vetoes are decided as vetoes");

    let out = tally(&text, &["--policy", POLICY]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("40 lines read, 0 skipped, 8 requests replayed, 8 recorded decisions compared: 8 agree, 0 differ"),
        "{err}"
    );
}

#[test]
fn one_flipped_recorded_decision_fails_and_names_the_request() {
    let original = requests()[0].decision().delivered();
    let flipped = original
        .replace("file.deletion.approved", "file.deletion.denied")
        .replace(
            "\"approvedBy\":[\"analytics_manager\",\"category_manager\"]",
            "\"deniedBy\":\"category_manager\"",
        );
    let lines: Vec<String> = trace_lines()
        .into_iter()
        .map(|l| if l == original { flipped.clone() } else { l })
        .collect();
    assert!(lines.contains(&flipped));
    let out = tally(&lines.join("\n"), &["--policy", POLICY]);
    assert!(!out.status.success());
    let last = last_line(&out);
    assert!(
        last.starts_with("FAILED: 1 of 8 recorded decisions differ (first: request req-0"),
        "{last}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("recorded denied cause=(not recorded)"),
        "{err}"
    );
    assert!(
        err.contains("replayed approved cause=all_proceeded"),
        "{err}"
    );
    let json = tally(&lines.join("\n"), &["--policy", POLICY, "--json"]);
    let report: Value = serde_json::from_str(last_line(&json).as_str()).unwrap();
    assert_eq!(report["summary"]["differing"], 1);
    assert_eq!(report["summary"]["agreeing"], 7);
    assert_eq!(report["differences"][0]["requestId"], "req-0");
    assert_eq!(report["differences"][0]["recorded"]["outcome"], "denied");
    assert_eq!(report["differences"][0]["replayed"]["outcome"], "approved");
    assert_eq!(report["differences"][0]["kind"], "first-deciding-vote");
    assert!(report["failed"].as_str().unwrap().contains("req-0"));
}

/// What a new user got before: the decisions' source is not the default
/// policy's aggregator, so nothing was compared, and that passed.
#[test]
fn without_the_policy_nothing_is_compared_and_the_replay_fails_saying_why() {
    let out = tally(&trace_lines().join("\n"), &[]);
    assert!(!out.status.success());
    let last = last_line(&out);
    assert!(
        last.starts_with(
            "FAILED: the trace holds 24 coordination inputs but no recorded decision to compare"
        ),
        "{last}"
    );
    assert!(last.contains("8 from vote.aggregator"), "{last}");
    assert!(last.contains("\"deletion.aggregator\""), "{last}");
    assert!(last.contains("--no-recorded"), "{last}");
}

#[test]
fn inputs_without_decisions_fail_unless_that_is_expected() {
    let inputs: Vec<String> = trace_lines()
        .into_iter()
        .filter(|l| !l.contains("vote.aggregator"))
        .collect();
    let text = inputs.join("\n");
    let out = tally(&text, &["--policy", POLICY]);
    assert!(!out.status.success());
    assert!(last_line(&out).contains("no recorded decision to compare"));
    let out = tally(&text, &["--policy", POLICY, "--no-recorded"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 recorded decisions compared: 0 agree, 0 differ"));
    let out = tally("\n\n", &["--policy", POLICY, "--no-recorded"]);
    assert!(!out.status.success());
    assert_eq!(last_line(&out), "FAILED: the trace holds no line");
}

#[test]
fn an_unreadable_recorded_decision_is_reported_with_its_line_and_field() {
    let mut lines = trace_lines();
    let i = lines
        .iter()
        .position(|l| l.contains("vote.aggregator"))
        .unwrap();
    let at = serde_json::from_str::<Value>(&lines[i]).unwrap()["detail"]["data"]["allVotes"]
        ["analytics_manager"]["timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    lines[i] = lines[i].replacen(&at, "yesterday", 1);
    let t = read(&lines.join("\n"), BadLines::Skip).unwrap();
    assert_eq!(t.bad.len(), 1);
    assert_eq!(
        t.bad[0].to_string(),
        format!("line {}: recorded decision not read: detail.data.allVotes.analytics_manager.timestamp: expected milliseconds since the epoch or an ISO-8601 time, found string \"yesterday\"", i + 1)
    );
    let out = tally(&lines.join("\n"), &["--policy", POLICY]);
    assert!(!out.status.success());
    let last = last_line(&out);
    assert!(last.starts_with(&format!("FAILED: 1 of 40 lines could not be read (first: line {}: recorded decision not read: detail.data.allVotes", i + 1)), "{last}");
    let out = tally(
        &lines.join("\n"),
        &["--policy", POLICY, "--bad-lines", "skip"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("40 lines read, 1 skipped, 8 requests replayed, 7 recorded decisions compared: 7 agree, 0 differ"), "{err}");
}

#[test]
fn numeric_vote_timestamps_lists_and_causes_are_read_too() {
    let r = &requests()[0];
    let line = r
        .decision()
        .delivered()
        .replace(&isoformat(r.at + 2_100), "PLACEHOLDER")
        .replace("\"PLACEHOLDER\"", &(r.at + 2_100).to_string())
        .replace(
            "\"workflowType\"",
            "\"cause\":\"all_proceeded\",\"workflowType\"",
        );
    let t = read(&line, BadLines::Fatal).unwrap();
    let d = t.events[0].recorded.as_deref().unwrap();
    assert_eq!(d.cause.map(|c| c.as_str()), Some("all_proceeded"));
    assert_eq!(d.votes[0].at, Some(r.at + 2_100));
    assert_eq!(d.votes[1].at, Some(r.at + 3_100));
    let bad = line.replace("all_proceeded", "because");
    let e = read(&bad, BadLines::Fatal).unwrap_err();
    assert!(e.reason.contains("detail.data.cause: expected one of all_proceeded, vetoed, timeout, voter_error, found string \"because\""), "{e}");
}

#[test]
fn each_difference_says_why() {
    let policy = policy();
    let why = |lines: &[String]| {
        let t = read(&lines.join("\n"), BadLines::Fatal).unwrap();
        let rec = recognise(&t, &policy);
        let cmp = compare(&rec.decisions, &replay(&t, &policy).records, &t);
        assert_eq!(cmp.differing.len(), 1, "{:#?}", cmp.differing);
        let d = cmp.differing[0].clone();
        let text = d.to_string();
        (d.kind, d.reason, text)
    };
    let r = &requests()[0];
    let [analytics, category] = r.votes().map(|v| v.delivered());
    let (request, decision) = (r.request().delivered(), r.decision().delivered());
    // A vote from the wrong source: refused, so the request times out.
    let forged = analytics.replace("analytics.manager.service", "analytics.service");
    let (kind, reason, _) = why(&[request.clone(), forged, category.clone(), decision.clone()]);
    assert_eq!(kind, Kind::DeadlineCrossed);
    assert!(reason.contains("analytics_manager (proceed refused: voter analytics_manager votes from analytics.manager.service, not from analytics.service)"), "{reason}");
    // Received after the deadline: here the deadline decides first.
    let late = format!("{{\"receivedAt\":{},{}", r.at + 301_000, &analytics[1..]);
    let (kind, reason, _) = why(&[request.clone(), late, category.clone(), decision.clone()]);
    assert_eq!(kind, Kind::DeadlineCrossed);
    assert!(reason.contains("after this build had decided"), "{reason}");
    // A recorded decision with nothing that explains it.
    let (kind, reason, text) = why(std::slice::from_ref(&decision));
    assert_eq!(kind, Kind::NoInputs);
    assert!(
        reason.contains("no request and no vote for req-0"),
        "{reason}"
    );
    assert!(text.contains("replayed (no decision)"), "{text}");
    // Votes but no request.
    let (kind, _, _) = why(&[analytics, category, decision]);
    assert_eq!(kind, Kind::NoRequest);
}
