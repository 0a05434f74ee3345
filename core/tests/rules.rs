//! The rules file: the default rules route as the notes say and lint clean;
//! the gaps a real implementation had are found; bad files are refused with
//! the rule and field named.

use tally_core::coordination::Policy;
use tally_core::event::{samples, EventData, EventKind, ProcessingStatus};
use tally_core::pattern::Scratch;
use tally_core::rules::{lint, required_paths, DefaultRoute, Finding, Rules};
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

fn lint_default_policy(rules: &Rules) -> Vec<Finding> {
    lint(rules, &Policy::default())
}

#[test]
fn the_default_rules_and_policy_lint_clean() {
    assert_eq!(lint_default_policy(&Rules::default_rules()), vec![]);
}

/// What the default policy's coordination needs delivered, derived from the
/// policy (voters, their sources, the aggregator's source), never listed in
/// the linter: every voter the voting flavour may require and both
/// completion consumers, each from the source it is counted from.
#[test]
fn the_required_paths_follow_from_the_policy() {
    let paths: Vec<String> = required_paths(&Policy::default())
        .iter()
        .map(|p| {
            format!(
                "{} {} -> {}",
                p.event.event_type(),
                p.event.source,
                p.target
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            "file.deletion.requested file.service -> aggregator",
            "file.deletion.requested file.service -> analytics_voter",
            "file.deletion.requested file.service -> backup_voter",
            "file.deletion.requested file.service -> category_voter",
            "file.deletion.requested file.service -> compliance_voter",
            "file.deletion.vote analytics.service -> aggregator",
            "file.deletion.vote backup.service -> aggregator",
            "file.deletion.vote category.service -> aggregator",
            "file.deletion.vote compliance.service -> aggregator",
            "file.deletion.approved deletion.aggregator -> executor",
            "file.delete_requested file.service -> aggregator",
            "file.delete_requested file.service -> analytics",
            "file.delete_requested file.service -> categorization",
            "consumer.completion analytics.service -> aggregator",
            "consumer.completion category.service -> aggregator",
        ]
    );
    // A voter the policy never requires is not a need.
    let mut p = Policy::default();
    p.voting.account_type_voters.clear();
    let paths = required_paths(&p);
    assert!(!paths.iter().any(|x| x.target == "compliance_voter"));
    assert!(!paths.iter().any(|x| x.event.source == "compliance.service"));
}

const NO_APPROVALS: &str = include_str!("../../scenarios/broken/no-deletion-approvals.rules.toml");
const NO_VOTES: &str = include_str!("../../scenarios/broken/no-deletion-votes.rules.toml");
const APPROVALS_TO_NOTIFICATION: &str =
    include_str!("../../scenarios/broken/approvals-to-notification.rules.toml");
const FILE_SERVICE_AGGREGATOR: &str =
    include_str!("../../scenarios/broken/file-service-aggregator.policy.toml");

fn missing(
    event_type: &str,
    source: &str,
    target: &str,
    reached: &[&str],
    default_rule: &str,
    default_source: &str,
) -> Finding {
    Finding::MissingPath {
        event_type: event_type.into(),
        source: source.into(),
        target: target.into(),
        reached: reached.iter().map(|s| (*s).to_owned()).collect(),
        default_route: Some(DefaultRoute {
            rule: default_rule.into(),
            source: default_source.into(),
        }),
    }
}

/// Each broken fixture is the default rules with exactly one rule dropped
/// or changed, so what lint flags there is that one change.
fn differs_from_default_only_in(broken: &Rules, rule: &str) {
    let d = Rules::default_rules();
    let key = |r: &tally_core::rules::Rule| {
        (
            r.name.clone(),
            r.pattern.source().to_string(),
            r.targets.clone(),
            r.retry,
            r.dead_letter_queue.clone(),
        )
    };
    let same = |rules: &Rules| -> Vec<_> {
        rules
            .rules
            .iter()
            .filter(|r| r.name != rule)
            .map(key)
            .collect()
    };
    assert_eq!(same(broken), same(&d));
    assert_eq!(broken.bus, d.bus);
}

#[test]
fn rules_without_deletion_approvals_leave_the_executor_unreached() {
    let r = Rules::parse("no-deletion-approvals.rules.toml", NO_APPROVALS).unwrap();
    differs_from_default_only_in(&r, "deletion-approvals");
    assert!(r.rule("deletion-approvals").is_none());
    assert_eq!(
        lint_default_policy(&r),
        [missing(
            "file.deletion.approved",
            "deletion.aggregator",
            "executor",
            &["audit"],
            "deletion-approvals",
            "deletion.aggregator"
        )]
    );
    assert_eq!(
        lint_default_policy(&r)[0].to_string(),
        "missing path: file.deletion.approved from deletion.aggregator never reaches executor (it reaches audit); the default rules deliver it by rule deletion-approvals"
    );
}

#[test]
fn rules_without_deletion_votes_leave_the_aggregator_without_votes() {
    let r = Rules::parse("no-deletion-votes.rules.toml", NO_VOTES).unwrap();
    differs_from_default_only_in(&r, "deletion-votes");
    let vote = |source| {
        missing(
            "file.deletion.vote",
            source,
            "aggregator",
            &["audit"],
            "deletion-votes",
            source,
        )
    };
    assert_eq!(
        lint_default_policy(&r),
        [
            vote("analytics.service"),
            vote("backup.service"),
            vote("category.service"),
            vote("compliance.service"),
        ]
    );
}

/// Routed and audited, so neither `unrouted` nor `not audited`: only the
/// required path finds it.
#[test]
fn approvals_sent_to_notification_only_are_a_missing_path() {
    let r = Rules::parse(
        "approvals-to-notification.rules.toml",
        APPROVALS_TO_NOTIFICATION,
    )
    .unwrap();
    differs_from_default_only_in(&r, "deletion-approvals");
    assert_eq!(
        r.rule("deletion-approvals").unwrap().targets,
        ["notification"]
    );
    let findings = lint_default_policy(&r);
    assert_eq!(
        findings,
        [missing(
            "file.deletion.approved",
            "deletion.aggregator",
            "executor",
            &["audit", "notification"],
            "deletion-approvals",
            "deletion.aggregator"
        )]
    );
    assert!(findings[0]
        .to_string()
        .contains("never reaches executor (it reaches audit, notification)"));
}

#[test]
fn decisions_published_from_the_file_service_never_reach_the_executor() {
    let p = Policy::parse(
        "file-service-aggregator.policy.toml",
        FILE_SERVICE_AGGREGATOR,
    )
    .unwrap();
    assert_eq!(p.aggregator_source, "file.service");
    assert_eq!(
        Policy {
            aggregator_source: Policy::default().aggregator_source,
            ..p.clone()
        },
        Policy::default(),
        "the fixture changes the aggregator's source and nothing else"
    );
    let findings = lint(&Rules::default_rules(), &p);
    assert_eq!(
        findings,
        [missing(
            "file.deletion.approved",
            "file.service",
            "executor",
            &["audit"],
            "deletion-approvals",
            "deletion.aggregator"
        )]
    );
    assert_eq!(
        findings[0].to_string(),
        "missing path: file.deletion.approved from file.service never reaches executor (it reaches audit); the default rules deliver it, by rule deletion-approvals, only from deletion.aggregator"
    );
}

#[test]
fn a_policy_that_counts_votes_from_elsewhere_or_requires_an_unknown_voter_is_a_finding() {
    let mut p = Policy::default();
    p.voter_sources
        .insert("category_manager".into(), "analytics.service".into());
    p.voting.required.push("fraud_manager".into());
    p.voter_sources
        .insert("fraud_manager".into(), "fraud.service".into());
    let findings = lint(&Rules::default_rules(), &p);
    assert!(findings.contains(&Finding::VoterSource {
        voter: "category_manager".into(),
        publishes_from: "category.service".into(),
        counted_from: "analytics.service".into(),
    }));
    assert!(findings.contains(&Finding::NoTarget {
        flavour: "voting".into(),
        voter: "fraud_manager".into(),
    }));
    // No rule routes votes from fraud.service to the aggregator.
    assert!(findings.iter().any(|f| matches!(f,
        Finding::MissingPath { event_type, source, target, .. }
            if event_type == "file.deletion.vote" && source == "fraud.service" && target == "aggregator")));
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
    let findings = lint_default_policy(&r);
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
    assert!(
        lint_default_policy(&Rules::parse("x.toml", text).unwrap()).contains(&Finding::NoAuditRule)
    );
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
