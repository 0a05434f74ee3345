//! Tests added to catch the consumer mutants that cargo-mutants found
//! surviving (see docs/mutants.md): each pins one behaviour that no other
//! test did.

use tally_core::consumers::api::{self, Route};
use tally_core::consumers::file_processor::{file_format, parse_amount, parse_date};
use tally_core::consumers::voter::{categorized_by_active_rules, Voter};
use tally_core::consumers::{executor, notification, Settings};
use tally_core::coordination::{step, Input, Policy, Request, Vote};
use tally_core::domain::{CategoryRule, Transaction};
use tally_core::event::{sources, AccountDeleted, Event, EventData, VoteDecision, CURRENT_VERSION};
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::run_ready;
use tally_core::ports::*;
use tally_core::time::Millis;

mod consumer_support;
use consumer_support::{meta, Flaky};
mod inputs;
use inputs::T0;

const DAY: Millis = 24 * 60 * 60 * 1000;
const USER: &str = "user-1";

fn event(id: &str, source: &str, data: EventData) -> Event {
    Event {
        event_id: id.to_owned(),
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: T0,
        source: source.to_owned(),
        user_id: USER.to_owned(),
        correlation_id: None,
        causation_id: None,
        data,
        metadata: None,
    }
}

/// Stores an approved coordination record for `file_id` and returns the
/// approval event the aggregator published for it.
fn approved(ports: &Flaky, request_id: &str, file_id: &str) -> Event {
    let policy = Policy::default();
    let inputs = [
        Input::Request(Request {
            file_id: file_id.to_owned(),
            user_id: USER.to_owned(),
            transaction_count: 0,
            ..inputs::voting_request(request_id)
        }),
        vote(
            request_id,
            file_id,
            "analytics_manager",
            sources::ANALYTICS_SERVICE,
        ),
        vote(
            request_id,
            file_id,
            "category_manager",
            sources::CATEGORY_SERVICE,
        ),
    ];
    let mut rec = None;
    for input in &inputs {
        rec = step(rec, input, T0, &policy).record;
    }
    let rec = rec.unwrap();
    run_ready(ports.save(&rec, 0)).unwrap();
    let EventData::DeletionApproved(a) = &rec.outbox[0].data else {
        panic!("expected an approval, got {:?}", rec.outbox);
    };
    event(
        "evt-approved",
        sources::DELETION_AGGREGATOR,
        EventData::DeletionApproved(a.clone()),
    )
}

fn vote(request_id: &str, file_id: &str, voter: &str, source: &str) -> Input {
    Input::Vote(Vote {
        event_id: format!("evt-vote-{request_id}-{voter}"),
        file_id: file_id.to_owned(),
        ..inputs::voting_vote(request_id, voter, source, VoteDecision::Proceed)
    })
}

/// A consumer's idempotency claim lives seven days by default, well past
/// EventBridge's 24-hour retry horizon.
#[test]
fn claims_expire_seven_days_after_they_are_taken() {
    assert_eq!(Settings::default().claim_ttl_ms, 7 * DAY);
    let ports = Flaky::default();
    let deleted = event(
        "evt-acc-deleted",
        sources::ACCOUNT_SERVICE,
        EventData::AccountDeleted(AccountDeleted {
            account_id: "acc-1".to_owned(),
            transaction_count: 3,
        }),
    );
    let now = T0 + 42;
    run_ready(notification::handle(
        &ports,
        &deleted,
        now,
        &Settings::default(),
    ))
    .unwrap();
    let claims = ports.claims.lock().unwrap().clone();
    assert_eq!(
        claims,
        [(
            notification::CONSUMER.to_owned(),
            "evt-acc-deleted".to_owned(),
            now + 7 * DAY
        )]
    );
}

/// Only `/files/<id>` (one segment, an optional trailing slash) names a
/// file: an empty id or a nested path is not found.
#[test]
fn route_accepts_exactly_one_non_empty_segment() {
    assert_eq!(
        api::route("DELETE", "/files/f-1/"),
        Route::DeleteFile {
            file_id: "f-1".to_owned()
        }
    );
    assert_eq!(api::route("DELETE", "/files/"), Route::NotFound);
    assert_eq!(api::route("DELETE", "/files//"), Route::NotFound);
    assert_eq!(api::route("DELETE", "/files/a/b"), Route::NotFound);
}

/// A run that fails part way leaves nothing that stops its retry: the
/// plan is kept, `done` is not, so the retry resumes and finishes.
#[test]
fn a_failing_execution_leaves_its_retry_free_to_finish() {
    let ports = Flaky::default();
    run_ready(ports.put_file(&meta("f-9", USER))).unwrap();
    let approval = approved(&ports, "req-9", "f-9");
    ports.fail("delete_transactions_of_file");
    let err = run_ready(executor::handle(
        &ports,
        &approval,
        T0,
        &Settings::default(),
    ))
    .unwrap_err();
    assert!(matches!(err, HandlerError::Transient(_)), "{err:?}");
    assert_eq!(
        run_ready(ports.recall(executor::DONE, "req-9")).unwrap(),
        None,
        "a failed run is not done"
    );
    ports.heal("delete_transactions_of_file");
    let r = run_ready(executor::handle(
        &ports,
        &approval,
        T0,
        &Settings::default(),
    ))
    .unwrap();
    assert!(
        matches!(r, executor::Report::Executed { resumed: true, .. }),
        "{r:?}"
    );
    assert!(run_ready(ports.recall(executor::DONE, "req-9"))
        .unwrap()
        .is_some());
}

/// Dates are `YYYY-MM-DD` with dashes at both places and exactly ten
/// characters.
#[test]
fn dates_need_both_dashes_and_ten_characters() {
    assert!(parse_date("2025-01-15").is_ok());
    for bad in [
        "2025/01/15",
        "2025/01-15",
        "2025-01/15",
        "2025-01-150",
        "2025-1-15",
        "2025-01-1",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
}

/// Month lengths follow the Gregorian calendar: 30-day months, February's
/// 28 days, and 29 in leap years (every fourth year, but not centuries
/// unless divisible by 400).
#[test]
fn dates_follow_the_gregorian_calendar() {
    for ok in [
        "2025-04-30",
        "2025-06-30",
        "2025-09-30",
        "2025-11-30",
        "2025-02-28",
        "2024-02-29",
        "2000-02-29",
        "2025-01-31",
    ] {
        assert!(parse_date(ok).is_ok(), "{ok}");
    }
    for bad in [
        "2025-04-31",
        "2025-06-31",
        "2025-09-31",
        "2025-11-31",
        "2025-02-29",
        "2023-02-29",
        "1900-02-29",
        "2100-02-29",
        "2024-02-30",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
}

/// An amount with a non-digit in either its whole or its decimal part is
/// not a number, whichever part it is in.
#[test]
fn amounts_with_a_bad_character_in_either_part_are_not_numbers() {
    for bad in ["1.5x", "1.x", "12.-5", "1x.50", "x.5", "1 .50"] {
        let e = parse_amount(bad).unwrap_err();
        assert!(e.ends_with("is not a number"), "{bad}: {e}");
    }
    assert_eq!(parse_amount("1.5"), Ok(150));
}

/// A file name has a format only when it has a non-empty stem and an
/// extension of one to five letters or digits, given in lowercase.
#[test]
fn file_format_needs_a_stem_and_a_short_alphanumeric_extension() {
    assert_eq!(file_format("Statement.CSV").as_deref(), Some("csv"));
    assert_eq!(file_format("a.b.ofx").as_deref(), Some("ofx"));
    for none in [
        ".csv",
        "statement.",
        "statement",
        "statement.toolong",
        "statement.c-v",
        ".toolong",
        ".c-v",
    ] {
        assert_eq!(file_format(none), None, "{none}");
    }
}

/// Every voter parses back from its name and prints as that name, which is
/// how the default policy binds it to its source; unknown names parse to
/// nothing.
#[test]
fn voters_parse_and_print_as_the_policy_names_them() {
    let policy = Policy::default();
    for v in Voter::ALL {
        assert_eq!(Voter::parse(v.name()), Some(v));
        assert_eq!(v.to_string(), v.name());
        assert_eq!(
            policy.voter_sources.get(&v.to_string()).map(String::as_str),
            Some(v.source())
        );
    }
    assert_eq!(Voter::parse("analytics_consumer"), None);
    assert_eq!(Voter::parse(""), None);
}

/// category_manager counts a categorized transaction only when an active
/// rule of that very category matches it: a matching rule of another
/// category, or a rule of the category that does not match, does not count.
#[test]
fn only_a_matching_active_rule_of_the_same_category_counts() {
    let rule = |id: &str, category: &str, pattern: &str| CategoryRule {
        rule_id: id.to_owned(),
        user_id: USER.to_owned(),
        category_id: category.to_owned(),
        pattern: pattern.to_owned(),
        active: true,
    };
    let tx = Transaction {
        transaction_id: "tx-1".to_owned(),
        user_id: USER.to_owned(),
        file_id: "f-1".to_owned(),
        account_id: "acc-1".to_owned(),
        date: "2025-01-02".to_owned(),
        description: "COFFEE SHOP".to_owned(),
        amount_cents: -450,
        category_id: Some("cat-coffee".to_owned()),
    };
    let txs = [tx];
    let others = [
        rule("r-other-category", "cat-food", "coffee"),
        rule("r-no-match", "cat-coffee", "grocer"),
    ];
    assert_eq!(categorized_by_active_rules(&others, &txs), 0);
    let mut with_match = others.to_vec();
    with_match.push(rule("r-match", "cat-coffee", "coffee"));
    assert_eq!(categorized_by_active_rules(&with_match, &txs), 1);
}
