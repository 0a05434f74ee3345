//! Captured traces replayed through this build: the sample traces decide as
//! recorded (their decision logs are reviewed snapshots), and captures that
//! are out of order, repeated, cut short or damaged are handled and
//! reported, never silently dropped.

use tally_core::coordination::Policy;
use tally_sim::replay::replay;
use tally_sim::trace::{self, differences, read, recorded_decisions, BadLines, DecisionOut};

const SAMPLE: &str = include_str!("../../scenarios/traces/production-sample.jsonl");

fn lines() -> Vec<&'static str> {
    SAMPLE.lines().collect()
}

fn decisions_of(text: &str) -> Vec<DecisionOut> {
    replay(&read(text, BadLines::Skip).unwrap(), &Policy::default()).decisions
}

#[test]
fn the_sample_trace_replays_to_its_recorded_decisions() {
    let t = read(SAMPLE, BadLines::Fatal).unwrap();
    let recorded = recorded_decisions(&t, &Policy::default());
    assert!(
        recorded.len() >= 300,
        "a few hundred deletion requests: {}",
        recorded.len()
    );
    assert!(
        t.events.len() > 10 * recorded.len(),
        "among ordinary traffic"
    );
    let r = replay(&t, &Policy::default());
    assert_eq!(differences(&recorded, &r.decisions, true), vec![]);
    let json: Vec<String> = r.decisions.iter().map(DecisionOut::to_json).collect();
    insta::assert_snapshot!("production-sample-decisions", json.join("\n"));
}

/// A deterministic shuffle (no OS randomness): reverse within blocks.
fn shuffled(lines: &[&str], block: usize) -> String {
    lines
        .chunks(block)
        .flat_map(|c| c.iter().rev())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn out_of_order_lines_decide_the_same() {
    let base = decisions_of(SAMPLE);
    assert_eq!(decisions_of(&shuffled(&lines(), 7)), base);
    assert_eq!(
        decisions_of(&lines().iter().rev().copied().collect::<Vec<_>>().join("\n")),
        base
    );
}

#[test]
fn duplicate_lines_decide_the_same() {
    let doubled: Vec<&str> = lines().iter().flat_map(|l| [*l, *l]).collect();
    assert_eq!(decisions_of(&doubled.join("\n")), decisions_of(SAMPLE));
}

fn is_type(line: &str, t: &str) -> bool {
    line.contains(&format!("\"detail-type\":\"{t}\""))
}

#[test]
fn votes_without_requests_decide_nothing_and_the_differences_are_reported() {
    let no_requests: Vec<&str> = lines()
        .into_iter()
        .filter(|l| !is_type(l, "file.deletion.requested") && !is_type(l, "file.delete_requested"))
        .collect();
    let t = read(&no_requests.join("\n"), BadLines::Fatal).unwrap();
    let r = replay(&t, &Policy::default());
    assert!(r.decisions.is_empty(), "no request, no decision");
    assert!(
        r.records
            .iter()
            .all(|rec| rec.request.is_none() && !rec.held.is_empty()),
        "the votes are held, waiting"
    );
    let recorded = recorded_decisions(&t, &Policy::default());
    let diffs = differences(&recorded, &r.decisions, true);
    assert_eq!(diffs.len(), recorded.len());
    assert!(diffs[0].right.is_none());
}

#[test]
fn a_trace_missing_some_votes_times_out_those_requests() {
    let mut dropped = 0;
    let fewer: Vec<&str> = lines()
        .into_iter()
        .filter(|l| {
            let drop =
                is_type(l, "file.deletion.vote") && l.contains("category_manager") && dropped < 5;
            dropped += drop as usize;
            !drop
        })
        .collect();
    let t = read(&fewer.join("\n"), BadLines::Fatal).unwrap();
    let r = replay(&t, &Policy::default());
    let diffs = differences(
        &recorded_decisions(&t, &Policy::default()),
        &r.decisions,
        true,
    );
    assert!(!diffs.is_empty() && diffs.len() <= 5, "{diffs:#?}");
    for d in &diffs {
        let replayed = d.right.as_ref().expect("still decided");
        assert_eq!(
            (replayed.outcome.as_str(), replayed.cause.as_str()),
            ("denied", "timeout"),
            "{d}"
        );
    }
}

#[test]
fn a_recorded_decision_that_differs_is_reported_first_with_both_sides() {
    let approval = lines()
        .into_iter()
        .find(|l| is_type(l, "file.deletion.approved"))
        .unwrap();
    let forged = approval
        .replace(
            "\"detail-type\":\"file.deletion.approved\"",
            "\"detail-type\":\"file.deletion.denied\"",
        )
        .replace("\"approvedBy\"", "\"deniedBy\"")
        .replace("all_proceeded", "vetoed");
    let text = SAMPLE.replacen(approval, &forged, 1);
    let t = read(&text, BadLines::Fatal).unwrap();
    let diffs = differences(
        &recorded_decisions(&t, &Policy::default()),
        &replay(&t, &Policy::default()).decisions,
        true,
    );
    assert_eq!(diffs.len(), 1, "{diffs:#?}");
    let text = diffs[0].to_string();
    assert!(
        text.contains("denied cause=vetoed") && text.contains("approved cause=all_proceeded"),
        "{text}"
    );
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_skipped_or_fatal() {
    let good = lines()[0];
    let unknown_version = lines()
        .into_iter()
        .find(|l| is_type(l, "file.deletion.vote"))
        .unwrap()
        .replace("\"eventVersion\":\"1.0\"", "\"eventVersion\":\"9.0\"");
    let text = [
        good,
        "not json at all",
        "{\"hello\": 1}",
        &unknown_version,
        "",
        good,
    ]
    .join("\n");
    let t = read(&text, BadLines::Skip).unwrap();
    assert_eq!(t.events.len(), 2);
    let reasons: Vec<String> = t.bad.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert!(reasons[0].starts_with("line 2: not JSON"), "{reasons:#?}");
    assert!(
        reasons[1].starts_with("line 3: not a delivered EventBridge event"),
        "{reasons:#?}"
    );
    assert!(
        reasons[2].starts_with("line 4: detail.eventVersion: eventVersion \"9.0\""),
        "{reasons:#?}"
    );
    let fatal = read(&text, BadLines::Fatal).unwrap_err();
    assert_eq!(fatal.line, 2);
}

#[test]
fn diff_lists_every_request_whose_outcome_or_cause_differs() {
    let d = |id: &str, outcome: &str, cause: &str| DecisionOut {
        at: 1,
        request_id: id.into(),
        file_id: "f".into(),
        outcome: outcome.into(),
        cause: cause.into(),
    };
    let a = vec![
        d("r1", "approved", "all_proceeded"),
        d("r2", "denied", "timeout"),
        d("r3", "denied", "vetoed"),
    ];
    let b = vec![
        d("r1", "approved", "all_proceeded"),
        d("r2", "approved", "timeout"),
        d("r4", "approved", "all_proceeded"),
    ];
    let diffs = differences(&a, &b, false);
    let ids: Vec<&str> = diffs.iter().map(|x| x.request_id.as_str()).collect();
    assert_eq!(ids, ["r2", "r3", "r4"]);
    for x in &a {
        assert_eq!(
            &DecisionOut::from_json(1, &x.to_json()).unwrap(),
            x,
            "the --json form reads back"
        );
    }
}

#[test]
fn capture_pulls_events_out_of_json_logs_unchanged() {
    let ev: serde_json::Value = serde_json::from_str(lines()[0]).unwrap();
    let logs = [
        serde_json::json!({"level": "INFO", "requestId": "abc", "event": ev}).to_string(),
        serde_json::json!({"level": "INFO", "message": ev.to_string()}).to_string(),
        ev.to_string(),
        "{\"level\": \"INFO\", \"message\": \"handled\"}".to_owned(),
        "plain text".to_owned(),
    ]
    .join("\n");
    let (events, skipped) = trace::from_logs(&logs);
    assert_eq!(skipped, 2);
    assert_eq!(events.len(), 3);
    for e in events {
        assert_eq!(serde_json::from_str::<serde_json::Value>(&e).unwrap(), ev);
    }
}

/// A line's `receivedAt` (milliseconds or RFC 3339) orders the replay:
/// two deciding votes received in the other order than their event times
/// decide the other way; a bad one is a bad line naming the field.
#[test]
fn received_at_orders_the_inputs_and_a_bad_one_is_named() {
    let r = tally_sim::housef3::Deletion {
        n: 0,
        deny: true,
        at: 1_736_937_000_000,
    };
    let policy = Policy::parse(
        "p",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/housef3.policy.toml"
        ))
        .unwrap(),
    )
    .unwrap();
    // analytics_manager errs at +2s, category_manager denies at +3s.
    let err = r
        .vote("analytics_manager", 2_000, false)
        .delivered()
        .replace("\"decision\":\"proceed\"", "\"decision\":\"error\"");
    let deny = r.vote("category_manager", 3_000, true).delivered();
    let stamp = |line: &str, at: i64| format!("{{\"receivedAt\":{at},{}", &line[1..]);
    let cause = |lines: &[String]| {
        let t = read(&lines.join("\n"), BadLines::Fatal).unwrap();
        replay(&t, &policy).decisions[0].cause.clone()
    };
    let request = r.request().delivered();
    assert_eq!(
        cause(&[request.clone(), err.clone(), deny.clone()]),
        "voter_error"
    );
    let late_err = stamp(&err, r.at + 5_000);
    let early_deny = stamp(&deny, r.at + 4_000);
    assert_eq!(
        cause(&[request.clone(), late_err.clone(), early_deny]),
        "vetoed"
    );
    let rfc = deny.replacen('{', "{\"receivedAt\":\"2025-01-15T10:30:04Z\",", 1);
    assert_eq!(cause(&[request, late_err, rfc]), "vetoed");
    let bad = deny.replacen('{', "{\"receivedAt\":true,", 1);
    assert_eq!(
        trace::read_line(7, &bad).unwrap_err().to_string(),
        "line 7: receivedAt: expected milliseconds since the epoch or an ISO-8601 time, found boolean true"
    );
}
