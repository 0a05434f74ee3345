//! The rules file: the default rules route as the notes say and lint clean;
//! the gaps a real implementation had are found; bad files are refused with
//! the rule and field named.

use tally_core::event::{samples, EventData, EventKind, ProcessingStatus};
use tally_core::pattern::Scratch;
use tally_core::rules::{lint, Finding, Rules};
use tally_core::wire::{DeliveredEvent, Delivery};

fn targets_of(rules: &Rules, event: &tally_core::event::Event) -> Vec<String> {
    let json = DeliveredEvent::wrap(event, "t", &Delivery::default()).to_json();
    let mut hits = Vec::new();
    rules
        .route(json.as_bytes(), &mut Scratch::default(), &mut hits)
        .unwrap();
    let mut t: Vec<String> = hits
        .iter()
        .flat_map(|&i| rules.rules[i].targets.clone())
        .collect();
    t.sort();
    t.dedup();
    t
}

#[test]
fn the_default_rules_lint_clean() {
    assert_eq!(lint(&Rules::default_rules()), vec![]);
}

#[test]
fn the_default_rules_route_as_the_notes_say() {
    let r = Rules::default_rules();
    let s = |k: EventKind| samples::sample(k, k.publishers()[0]);
    assert_eq!(
        targets_of(&r, &s(EventKind::DeletionRequested)),
        [
            "aggregator",
            "analytics_voter",
            "audit",
            "backup_voter",
            "category_voter",
            "compliance_voter"
        ]
    );
    assert_eq!(
        targets_of(&r, &s(EventKind::DeletionVote)),
        ["aggregator", "audit"]
    );
    assert_eq!(
        targets_of(&r, &s(EventKind::DeletionApproved)),
        ["audit", "executor"]
    );
    assert_eq!(
        targets_of(&r, &s(EventKind::FileUploaded)),
        ["audit", "file_processor"]
    );
    assert_eq!(
        targets_of(&r, &s(EventKind::FileProcessed)),
        ["analytics", "audit", "categorization", "notification"]
    );
    assert_eq!(
        targets_of(&r, &s(EventKind::AccountDeleted)),
        ["analytics", "audit", "notification"]
    );
}

#[test]
fn only_successful_files_with_transactions_are_categorized() {
    let r = Rules::default_rules();
    let mut e = samples::sample(EventKind::FileProcessed, "file.service");
    for (status, count, expected) in [
        (ProcessingStatus::Success, 2, true),
        (ProcessingStatus::Partial, 2, false),
        (ProcessingStatus::Failed, 0, false),
        (ProcessingStatus::Success, 0, false),
    ] {
        if let EventData::FileProcessed(d) = &mut e.data {
            d.processing_status = status;
            d.transaction_count = count;
        }
        assert_eq!(
            targets_of(&r, &e).contains(&"categorization".to_owned()),
            expected,
            "{status} {count}"
        );
    }
}

#[test]
fn a_vote_from_an_unlisted_source_reaches_only_audit() {
    let r = Rules::default_rules();
    let mut v = samples::sample(EventKind::DeletionVote, "analytics.service");
    v.source = "mallory.service".into();
    assert_eq!(targets_of(&r, &v), ["audit"]);
}

/// The routing a real implementation of the notes shipped with: the audit
/// rule lists sources, votes list a source nobody publishes from, and
/// nothing routes file.deleted or the completion flavour.
const GAPPY: &str = r#"
bus = "b"

[[rule]]
name = "requests"
pattern = '{"source": ["file.service"], "detail-type": ["file.deletion.requested"]}'
targets = ["analytics_voter", "category_voter"]
dead_letter_queue = "dlq"

[[rule]]
name = "votes"
pattern = '{"source": ["category.service", "analytics.service", "voting.service"], "detail-type": ["file.deletion.vote"]}'
targets = ["aggregator"]
dead_letter_queue = "dlq"

[[rule]]
name = "legacy"
pattern = '{"detail-type": ["file.purged"]}'
targets = ["executor"]
dead_letter_queue = "dlq"

[[rule]]
name = "audit"
pattern = '{"source": ["file.service", "transaction.service"]}'
targets = ["audit"]
dead_letter_queue = "dlq"
"#;

#[test]
fn the_gaps_of_a_real_implementation_are_found() {
    let r = Rules::parse("gappy.toml", GAPPY).unwrap();
    let findings = lint(&r);
    let has = |f: &Finding| findings.contains(f);
    assert!(has(&Finding::UnknownSource {
        rule: "votes".into(),
        source: "voting.service".into()
    }));
    assert!(has(&Finding::DeadRule {
        rule: "legacy".into()
    }));
    assert!(has(&Finding::Unrouted {
        event_type: "file.deleted".into(),
        source: "deletion.executor".into()
    }));
    assert!(has(&Finding::Unrouted {
        event_type: "consumer.completion".into(),
        source: "analytics.service".into()
    }));
    assert!(has(&Finding::NotAudited {
        event_type: "file.deletion.vote".into(),
        source: "category.service".into()
    }));
    assert!(!has(&Finding::NoAuditRule));
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        text.contains(
            &"unknown source: votes names source \"voting.service\", which no publisher uses"
                .to_owned()
        ),
        "{text:#?}"
    );
}

#[test]
fn no_audit_rule_is_a_finding() {
    let text = GAPPY.split("[[rule]]\nname = \"audit\"").next().unwrap();
    assert!(lint(&Rules::parse("x.toml", text).unwrap()).contains(&Finding::NoAuditRule));
}

fn parse_err(body: &str) -> String {
    Rules::parse("bad.toml", &format!("bus = \"b\"\n{body}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_rules_files_name_the_rule_and_field() {
    let rule = |pattern: &str, targets: &str, extra: &str| {
        format!("[[rule]]\nname = \"r1\"\npattern = '{pattern}'\ntargets = {targets}\ndead_letter_queue = \"dlq\"\n{extra}")
    };
    let ok = r#"{"source": ["file.service"]}"#;
    let e = parse_err(&rule(r#"{"source": "file.service"}"#, "[\"audit\"]", ""));
    assert!(
        e.starts_with("bad.toml: rule[0] \"r1\", field `pattern`: "),
        "{e}"
    );
    let e = parse_err(&rule(ok, "[\"auditor\"]", ""));
    assert!(e.starts_with("bad.toml: rule[0] \"r1\", field `targets`: unknown target \"auditor\"; known targets: "), "{e}");
    let e = parse_err(&rule(ok, "[]", ""));
    assert_eq!(
        e,
        "bad.toml: rule[0] \"r1\", field `targets`: a rule needs at least one target"
    );
    let e = parse_err(&rule(
        ok,
        "[\"audit\"]",
        "retry = { maximum_retry_attempts = 200, maximum_event_age_seconds = 600 }",
    ));
    assert_eq!(e, "bad.toml: rule[0] \"r1\", field `retry`: maximum_retry_attempts = 200; EventBridge allows 0 to 185");
    let e = parse_err(&rule(
        ok,
        "[\"audit\"]",
        "retry = { maximum_retry_attempts = 3, maximum_event_age_seconds = 10 }",
    ));
    assert_eq!(e, "bad.toml: rule[0] \"r1\", field `retry`: maximum_event_age_seconds = 10; EventBridge allows 60 to 86400");
    let e = parse_err(&format!(
        "{}{}",
        rule(ok, "[\"audit\"]", ""),
        rule(ok, "[\"audit\"]", "")
    ));
    assert_eq!(
        e,
        "bad.toml: rule[1] \"r1\", field `name`: another rule already has this name"
    );
    let e =
        parse_err("[[rule]]\nname = \"r1\"\ntargets = [\"audit\"]\ndead_letter_queue = \"d\"\n");
    assert!(
        e.starts_with("bad.toml: not a valid rules file: ")
            && e.contains("missing field `pattern`"),
        "{e}"
    );
    let e = parse_err(&rule(ok, "[\"audit\"]", "colour = \"red\""));
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = Rules::parse("bad.toml", "bus = \"\"")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "bad.toml: not a valid rules file: `bus` must name the event bus"
    );
}
