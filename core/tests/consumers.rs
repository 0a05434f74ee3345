//! The event consumers, driven over the in-memory ports: one test per
//! behaviour, a port wrapper that fails on demand, and a snapshot of a
//! whole upload-to-deletion sequence.

use std::collections::BTreeSet;

use tally_core::consumers::api::{self, ApiConfig, ApiRequest};
use tally_core::consumers::file_processor::{self, NotAnUpload, ObjectCreated, ObjectReport};
use tally_core::consumers::voter::{self, Voter};
use tally_core::consumers::{analytics, audit, categorization, executor, notification, Settings};
use tally_core::coordination::{Flavour, Input, Policy, Status};
use tally_core::domain::{CategoryRule, DeletionPlan, Transaction};
use tally_core::event::{
    samples, sources, CategoryRuleCreated, CompletionStatus, DeleteRequested, DeletionRequested,
    DeletionType, DeletionVote, Event, EventData, EventKind, FileProcessed, FileUploaded,
    ProcessingStatus, TransactionsCreated, VoteDecision, CURRENT_VERSION,
};
use tally_core::handlers::aggregator::aggregate;
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::{run_ready, Memory};
use tally_core::ports::*;
use tally_core::time::Millis;
use tally_core::wire::{DeliveredEvent, Delivery};

mod consumer_support;
use consumer_support::{meta, Flaky};

const T0: Millis = 1_736_937_000_000; // 2025-01-15T10:30:00Z
const SEC: Millis = 1000;
const USER: &str = "user-1";

fn settings() -> Settings {
    Settings::default()
}

fn event(id: &str, user: &str, source: &str, data: EventData) -> Event {
    Event {
        event_id: id.to_owned(),
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: T0,
        source: source.to_owned(),
        user_id: user.to_owned(),
        correlation_id: Some("corr-1".to_owned()),
        causation_id: None,
        data,
        metadata: None,
    }
}

fn tx(file_id: &str, n: usize, description: &str) -> Transaction {
    Transaction {
        transaction_id: format!("{file_id}-tx-{n}"),
        user_id: USER.to_owned(),
        file_id: file_id.to_owned(),
        account_id: "acc-1".to_owned(),
        date: "2025-01-02".to_owned(),
        description: description.to_owned(),
        amount_cents: -1250,
        category_id: None,
    }
}

fn rule(id: &str, pattern: &str, category: &str, active: bool) -> CategoryRule {
    CategoryRule {
        rule_id: id.to_owned(),
        user_id: USER.to_owned(),
        category_id: category.to_owned(),
        pattern: pattern.to_owned(),
        active,
    }
}

/// A file with content and `n` transactions described "COFFEE SHOP".
fn seed_file(mem: &Memory, file_id: &str, n: usize) {
    let mut m = meta(file_id, USER);
    m.transaction_count = n as u64;
    run_ready(mem.put_file(&m)).unwrap();
    run_ready(mem.put_content(&m.s3_key, b"2025-01-02,COFFEE SHOP,-12.50\n")).unwrap();
    let txs: Vec<Transaction> = (0..n).map(|i| tx(file_id, i, "COFFEE SHOP")).collect();
    run_ready(mem.put_new_transactions(&txs)).unwrap();
}

fn deletion_request(request_id: &str, file_id: &str, tx_count: u64) -> Event {
    event(
        &format!("evt-req-{request_id}"),
        USER,
        sources::FILE_SERVICE,
        EventData::DeletionRequested(DeletionRequested {
            file_id: file_id.to_owned(),
            user_id: USER.to_owned(),
            account_id: "acc-1".to_owned(),
            account_type: None,
            file_name: "statement.csv".to_owned(),
            transaction_count: tx_count,
            request_id: request_id.to_owned(),
        }),
    )
}

fn votes_in(events: &[Event]) -> Vec<&DeletionVote> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::DeletionVote(v) => Some(v),
            _ => None,
        })
        .collect()
}

fn of_type(events: &[Event], kind: EventKind) -> Vec<&Event> {
    events.iter().filter(|e| e.kind() == Some(kind)).collect()
}

/// Runs the request and every required voter through the aggregator, and
/// returns the approval event it published.
fn approve(mem: &Memory, request_id: &str, file_id: &str) -> Event {
    let req = deletion_request(request_id, file_id, 0);
    let policy = Policy::default();
    run_ready(aggregate(
        mem,
        mem,
        &Input::from_event(&req).unwrap(),
        T0,
        &policy,
    ))
    .unwrap();
    for v in [Voter::AnalyticsManager, Voter::CategoryManager] {
        run_ready(voter::handle(mem, v, &req, T0 + SEC, &settings())).unwrap();
    }
    let votes: Vec<Event> = of_type(&mem.published(), EventKind::DeletionVote)
        .into_iter()
        .cloned()
        .collect();
    for vote in &votes {
        run_ready(aggregate(
            mem,
            mem,
            &Input::from_event(vote).unwrap(),
            T0 + 2 * SEC,
            &policy,
        ))
        .unwrap();
    }
    let approved = of_type(&mem.published(), EventKind::DeletionApproved)
        .into_iter()
        .find(|e| matches!(&e.data, EventData::DeletionApproved(a) if a.request_id == request_id))
        .cloned()
        .expect("approved");
    approved
}

// ---------------------------------------------------------------------------
// Voters

#[test]
fn every_voter_votes_even_with_nothing_to_process() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 0);
    let req = deletion_request("req-1", "file-1", 0);
    for v in Voter::ALL {
        let r = run_ready(voter::handle(&mem, v, &req, T0, &settings())).unwrap();
        assert!(
            matches!(
                r,
                voter::Report::Voted {
                    decision: VoteDecision::Proceed,
                    redelivery: false,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    let published = mem.published();
    let votes = votes_in(&published);
    assert_eq!(votes.len(), 4);
    let reason = |name: &str| {
        votes
            .iter()
            .find(|v| v.voter == name)
            .and_then(|v| v.reason.clone())
            .unwrap()
    };
    assert_eq!(reason("analytics_manager"), "Nothing to process");
    assert_eq!(
        reason("category_manager"),
        "No active categorization rules affected"
    );
    assert!(mem.job(USER).is_none(), "nothing to recompute");
    for (e, v) in published.iter().zip(Voter::ALL) {
        assert_eq!(e.source, v.source());
        assert_eq!(
            e.event_id,
            tally_core::ids::derive("vote", &["req-1", v.name()])
        );
        assert_eq!(e.causation_id.as_deref(), Some("evt-req-req-1"));
        assert_eq!(e.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(e.user_id, USER);
        assert_eq!(e.timestamp, T0);
        assert_eq!(e.event_version, CURRENT_VERSION);
    }
}

#[test]
fn analytics_manager_queues_a_recompute_and_category_manager_counts_rule_categorized() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 4);
    mem.add_rule(rule("r-coffee", "coffee", "cat-coffee", true));
    for i in 0..3 {
        run_ready(mem.set_category(&format!("file-1-tx-{i}"), "cat-coffee")).unwrap();
    }
    let req = deletion_request("req-1", "file-1", 4);
    let a = run_ready(voter::handle(
        &mem,
        Voter::AnalyticsManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    let c = run_ready(voter::handle(
        &mem,
        Voter::CategoryManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    let reason = |r: &voter::Report| match r {
        voter::Report::Voted { reason, .. } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(reason(&a), "Analytics recompute queued");
    assert_eq!(
        reason(&c),
        "3 transactions categorized by active rules; recorded"
    );
    let job = mem.job(USER).expect("queued");
    assert_eq!(job.priority, 2);
    assert_eq!(job.triggers, 1);

    // A redelivery votes again with the same id, and queues nothing more.
    let again = run_ready(voter::handle(
        &mem,
        Voter::AnalyticsManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(matches!(
        again,
        voter::Report::Voted {
            redelivery: true,
            ..
        }
    ));
    assert_eq!(mem.job(USER).unwrap().triggers, 1);
    let ids: BTreeSet<String> = of_type(&mem.published(), EventKind::DeletionVote)
        .iter()
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(ids.len(), 2, "one vote id per voter");
}

#[test]
fn an_inactive_rule_does_not_count_for_category_manager() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    mem.add_rule(rule("r-coffee", "coffee", "cat-coffee", false));
    run_ready(mem.set_category("file-1-tx-0", "cat-coffee")).unwrap();
    let req = deletion_request("req-1", "file-1", 2);
    let r = run_ready(voter::handle(
        &mem,
        Voter::CategoryManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(r, voter::Report::Voted { ref reason, .. } if reason == "No active categorization rules affected")
    );
}

/// A throttled read says nothing about the file: the delivery fails (the
/// bus retries it) and no vote goes out, so it cannot veto. The retry,
/// once the store answers, votes proceed.
#[test]
fn a_voter_whose_store_is_throttled_fails_the_delivery_and_votes_on_the_retry() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    ports.fail("transactions_of_file");
    ports.fail("get_file");
    let req = deletion_request("req-1", "file-1", 2);
    for v in Voter::ALL {
        let err = run_ready(voter::handle(&ports, v, &req, T0, &settings())).unwrap_err();
        assert!(err.is_transient(), "{v}: {err}");
    }
    assert!(votes_in(&ports.mem.published()).is_empty());
    ports.heal("transactions_of_file");
    ports.heal("get_file");
    for v in Voter::ALL {
        run_ready(voter::handle(&ports, v, &req, T0 + SEC, &settings())).unwrap();
    }
    let published = ports.mem.published();
    let votes = votes_in(&published);
    assert_eq!(votes.len(), 4);
    assert!(
        votes.iter().all(|v| v.decision == VoteDecision::Proceed),
        "{votes:?}"
    );
}

#[test]
fn a_voter_whose_store_fails_permanently_votes_error_with_the_error_text() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    ports.break_("transactions_of_file");
    ports.break_("get_file");
    let req = deletion_request("req-1", "file-1", 2);
    for v in Voter::ALL {
        let r = run_ready(voter::handle(&ports, v, &req, T0, &settings())).unwrap();
        let voter::Report::Voted {
            decision, reason, ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(decision, VoteDecision::Error, "{v}");
        assert!(reason.contains("access denied"), "{v}: {reason}");
    }
    let published = ports.mem.published();
    let votes = votes_in(&published);
    assert_eq!(votes.len(), 4);
    assert!(votes.iter().all(|v| v.decision == VoteDecision::Error));
    assert_eq!(
        votes[0].reason.as_deref(),
        Some("permanent: transactions_of_file: access denied")
    );
}

/// One vote id, one content: a redelivery that would decide otherwise (the
/// store healed, the file's transactions changed) re-publishes the vote as
/// the first run decided it, to the byte.
#[test]
fn a_redelivered_request_republishes_the_first_vote_unchanged() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    ports.break_("transactions_of_file");
    let req = deletion_request("req-1", "file-1", 2);
    run_ready(voter::handle(
        &ports,
        Voter::CategoryManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    ports.heal("transactions_of_file");
    let r = run_ready(voter::handle(
        &ports,
        Voter::CategoryManager,
        &req,
        T0 + 5 * SEC,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(
            &r,
            voter::Report::Voted {
                decision: VoteDecision::Error,
                redelivery: true,
                ..
            }
        ),
        "{r:?}"
    );
    let published = ports.mem.published();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], published[1]);
}

#[test]
fn a_voter_whose_publish_fails_is_a_transient_handler_error() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 0);
    ports.fail("publish");
    let req = deletion_request("req-1", "file-1", 0);
    let err = run_ready(voter::handle(
        &ports,
        Voter::BackupManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap_err();
    assert!(err.is_transient(), "{err}");
    // The retry votes what the first run decided (kept before publishing).
    ports.heal("publish");
    let r = run_ready(voter::handle(
        &ports,
        Voter::BackupManager,
        &req,
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(matches!(
        r,
        voter::Report::Voted {
            decision: VoteDecision::Proceed,
            redelivery: true,
            ..
        }
    ));
    assert_eq!(votes_in(&ports.mem.published()).len(), 1);
}

#[test]
fn a_voter_ignores_other_events() {
    let mem = Memory::new();
    let e = samples::sample(EventKind::FileUploaded, sources::FILE_SERVICE);
    let r = run_ready(voter::handle(
        &mem,
        Voter::CategoryManager,
        &e,
        T0,
        &settings(),
    ))
    .unwrap();
    assert_eq!(
        r,
        voter::Report::Ignored {
            voter: Voter::CategoryManager,
            event_type: "file.uploaded".into()
        }
    );
    assert!(mem.published().is_empty());
}

// ---------------------------------------------------------------------------
// Executor

#[test]
fn the_executor_deletes_once_when_the_approval_arrives_three_times() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 3);
    let approval = approve(&mem, "req-1", "file-1");
    mem.drain_published();

    // Two copies of the approval under different event ids, and one twice.
    let mut copy = approval.clone();
    copy.event_id = "another-copy".into();
    let reports: Vec<executor::Report> = [&approval, &copy, &approval]
        .iter()
        .map(|e| run_ready(executor::handle(&mem, e, T0 + 3 * SEC, &settings())).unwrap())
        .collect();
    assert!(
        matches!(
            &reports[0],
            executor::Report::Executed {
                transactions_deleted: 3,
                content_deleted: true,
                metadata_deleted: true,
                resumed: false,
                ..
            }
        ),
        "{:?}",
        reports[0]
    );
    assert!(matches!(
        &reports[1],
        executor::Report::AlreadyExecuted { .. }
    ));
    assert!(matches!(
        &reports[2],
        executor::Report::AlreadyExecuted { .. }
    ));

    let published = mem.published();
    let deleted = of_type(&published, EventKind::FileDeleted);
    let ids: BTreeSet<&str> = deleted.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].event_id,
        tally_core::ids::derive("deleted", &["req-1"])
    );
    assert_eq!(deleted[0].source, sources::DELETION_EXECUTOR);
    assert_eq!(
        deleted[0].causation_id.as_deref(),
        Some(approval.event_id.as_str())
    );
    let txd = of_type(&published, EventKind::TransactionsDeleted);
    assert_eq!(txd.len(), 1);
    let EventData::TransactionsDeleted(d) = &txd[0].data else {
        unreachable!()
    };
    assert_eq!(d.transaction_ids.len(), 3);
    assert_eq!(d.deletion_type, DeletionType::Bulk);
    assert_eq!(d.account_ids, vec!["acc-1".to_owned()]);

    assert!(run_ready(mem.transactions_of_file("file-1"))
        .unwrap()
        .is_empty());
    assert!(run_ready(mem.get_content("user-1/file-1/statement.csv"))
        .unwrap()
        .is_none());
    assert!(run_ready(mem.get_file("file-1")).unwrap().is_none());
}

#[test]
fn the_executor_completes_on_an_already_deleted_file() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    let approval = approve(&mem, "req-1", "file-1");
    run_ready(mem.delete_transactions_of_file("file-1")).unwrap();
    run_ready(mem.delete_content("user-1/file-1/statement.csv")).unwrap();
    run_ready(mem.delete_file("file-1")).unwrap();
    mem.drain_published();
    let r = run_ready(executor::handle(&mem, &approval, T0, &settings())).unwrap();
    assert!(
        matches!(
            r,
            executor::Report::Executed {
                transactions_deleted: 0,
                content_deleted: false,
                metadata_deleted: false,
                ..
            }
        ),
        "{r:?}"
    );
    let published = mem.published();
    assert_eq!(
        published.len(),
        1,
        "no transactions.deleted without transactions"
    );
    let EventData::FileDeleted(d) = &published[0].data else {
        panic!()
    };
    assert_eq!((d.transactions_deleted, d.content_deleted), (0, false));
}

#[test]
fn the_executor_refuses_an_approval_without_an_approved_record() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    let forged = samples::sample(EventKind::DeletionApproved, sources::DELETION_AGGREGATOR);
    let err = run_ready(executor::handle(&mem, &forged, T0, &settings())).unwrap_err();
    let HandlerError::Permanent(reason) = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("no coordination record exists for request req-xyz"),
        "{reason}"
    );

    // A request still waiting for its votes.
    let req = deletion_request("req-xyz", "abc-123", 0);
    run_ready(aggregate(
        &mem,
        &mem,
        &Input::from_event(&req).unwrap(),
        T0,
        &Policy::default(),
    ))
    .unwrap();
    let err = run_ready(executor::handle(&mem, &forged, T0, &settings())).unwrap_err();
    assert_eq!(
        err,
        HandlerError::Permanent(
            "refusing to delete file abc-123: request req-xyz is waiting, not approved".into()
        )
    );

    // An approved request for another file than the approval names.
    let approval = approve(&mem, "req-2", "file-1");
    let mut wrong = approval.clone();
    if let EventData::DeletionApproved(a) = &mut wrong.data {
        a.file_id = "file-other".into();
    }
    let err = run_ready(executor::handle(&mem, &wrong, T0, &settings())).unwrap_err();
    assert!(
        matches!(&err, HandlerError::Permanent(r) if r.contains("was approved for file file-1")),
        "{err:?}"
    );
    assert!(
        run_ready(mem.get_file("file-1")).unwrap().is_some(),
        "nothing deleted"
    );
    assert!(of_type(&mem.published(), EventKind::FileDeleted).is_empty());
}

#[test]
fn the_executor_retries_a_failed_delete_and_resumes_after_a_crash() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    let approval = approve(&ports.mem, "req-1", "file-1");
    ports.fail("delete_content");
    let err = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap_err();
    assert!(err.is_transient());
    ports.heal("delete_content");
    // The retry resumes the plan the first run kept.
    let r = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap();
    assert!(
        matches!(
            r,
            executor::Report::Executed {
                resumed: true,
                transactions_deleted: 2,
                ..
            }
        ),
        "{r:?}"
    );
    // Done is kept: another copy does nothing.
    let r = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap();
    assert!(
        matches!(r, executor::Report::AlreadyExecuted { .. }),
        "{r:?}"
    );
}

/// Two requests for one file (a client retried its DELETE after a lost
/// response), both approved. The first request's run dies after deleting
/// and before announcing, and its bookkeeping fails too; the second
/// request's run deletes the file and announces. When the first request's
/// approval is retried, the file is gone, but its deletion was never
/// announced: it must be, from its own plan. (Found by the simulator's
/// oracle, approved-file-deleted, seed 10: the retry used to find its claim
/// still taken and the metadata gone, and took the deletion for done.)
#[test]
fn the_executor_announces_a_request_whose_file_another_request_deleted() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    let first = approve(&ports.mem, "req-1", "file-1");
    let second = approve(&ports.mem, "req-2", "file-1");
    ports.mem.drain_published();
    ports.fail("publish");
    ports.fail("release");
    assert!(run_ready(executor::handle(&ports, &first, T0, &settings())).is_err());
    ports.heal("publish");
    ports.heal("release");
    run_ready(executor::handle(&ports, &second, T0 + SEC, &settings())).unwrap();
    assert!(run_ready(ports.mem.get_file("file-1")).unwrap().is_none());
    run_ready(executor::handle(&ports, &first, T0 + 2 * SEC, &settings())).unwrap();
    let announced: BTreeSet<String> = ports
        .mem
        .published()
        .iter()
        .filter_map(|e| match &e.data {
            EventData::FileDeleted(d) => Some(d.request_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        announced,
        BTreeSet::from(["req-1".to_owned(), "req-2".to_owned()])
    );
}

// ---------------------------------------------------------------------------
// Analytics

#[test]
fn analytics_priority_and_type_maps_for_every_listed_type() {
    let major: BTreeSet<String> = ["cash_flow", "category_trends", "financial_health"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expected: [(EventKind, u8, Option<BTreeSet<String>>); 7] = [
        (EventKind::FileProcessed, 2, Some(major.clone())),
        (EventKind::TransactionsCreated, 2, Some(major.clone())),
        (
            EventKind::TransactionUpdated,
            3,
            Some(BTreeSet::from(["cash_flow".to_string()])),
        ),
        (EventKind::TransactionsDeleted, 2, Some(major.clone())),
        (EventKind::AccountCreated, 3, None),
        (EventKind::AccountUpdated, 3, None),
        (EventKind::AccountDeleted, 1, Some(major.clone())),
    ];
    assert_eq!(analytics::PRIORITY_MAP.len(), 7);
    let mem = Memory::new();
    for (kind, priority, types) in expected {
        assert_eq!(
            analytics::priority_of(kind.as_str()),
            Some(priority),
            "{kind}"
        );
        let mut e = samples::sample(kind, kind.publishers()[0]);
        e.user_id = format!("user-{kind}");
        let r = run_ready(analytics::handle(&mem, &e, T0, &settings())).unwrap();
        let analytics::Report::Triggered {
            trigger, queued, ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(trigger.priority, priority);
        match types {
            Some(types) => {
                let job = mem.job(&e.user_id).expect("a job");
                assert_eq!(
                    (job.priority, &job.analytic_types),
                    (priority, &types),
                    "{kind}"
                );
                assert!(matches!(
                    queued,
                    analytics::Queued::Job {
                        kind: analytics::MergeKind::Started,
                        ..
                    }
                ));
            }
            None => {
                assert!(trigger.analytic_types.is_empty());
                assert_eq!(queued, analytics::Queued::NothingToRecompute);
                assert!(mem.job(&e.user_id).is_none(), "{kind}");
            }
        }
    }
    // Types outside the maps are ignored, not errors.
    let e = samples::sample(EventKind::FileUploaded, sources::FILE_SERVICE);
    let r = run_ready(analytics::handle(&mem, &e, T0, &settings())).unwrap();
    assert_eq!(
        r,
        analytics::Report::Ignored {
            event_type: "file.uploaded".into()
        }
    );
    assert!(mem.published().is_empty());
}

fn trigger(mem: &Memory, id: &str, kind: EventKind, at: Millis) -> analytics::Report {
    let mut e = samples::sample(kind, kind.publishers()[0]);
    e.event_id = id.into();
    e.user_id = USER.into();
    run_ready(analytics::handle(mem, &e, at, &settings())).unwrap()
}

#[test]
fn analytics_triggers_within_300_seconds_collapse_into_one_job() {
    let mem = Memory::new();
    trigger(&mem, "e1", EventKind::TransactionUpdated, T0);
    trigger(&mem, "e2", EventKind::AccountDeleted, T0 + 120 * SEC);
    trigger(&mem, "e3", EventKind::TransactionUpdated, T0 + 299 * SEC);
    let job = mem.job(USER).unwrap();
    assert_eq!(job.triggers, 3);
    assert_eq!(job.priority, 1, "the highest priority wins");
    assert_eq!(job.analytic_types.len(), 3, "types united");
    assert_eq!(
        (job.first_triggered_at, job.last_triggered_at),
        (T0, T0 + 299 * SEC)
    );

    // A redelivery changes nothing.
    let r = trigger(&mem, "e2", EventKind::AccountDeleted, T0 + 200 * SEC);
    assert!(matches!(
        r,
        analytics::Report::Triggered {
            queued: analytics::Queued::Duplicate,
            ..
        }
    ));
    assert_eq!(mem.job(USER).unwrap().triggers, 3);

    // At the end of the window a new job starts.
    let r = trigger(&mem, "e4", EventKind::TransactionUpdated, T0 + 300 * SEC);
    assert!(
        matches!(
            r,
            analytics::Report::Triggered {
                queued: analytics::Queued::Job {
                    kind: analytics::MergeKind::Restarted,
                    triggers: 1,
                    priority: 3,
                    ..
                },
                ..
            }
        ),
        "{r:?}"
    );
    let job = mem.job(USER).unwrap();
    assert_eq!(
        job.analytic_types,
        BTreeSet::from(["cash_flow".to_string()])
    );
    assert_eq!(job.first_triggered_at, T0 + 300 * SEC);
}

#[test]
fn analytics_merge_is_pure_and_windowed_from_the_first_trigger() {
    let t = analytics::trigger_for("transaction.updated").unwrap();
    let (job, kind) = analytics::merge(None, "u", &t, 1000, 300_000);
    assert_eq!(kind, analytics::MergeKind::Started);
    let (job2, kind) = analytics::merge(Some(&job), "u", &t, 1000 + 299_999, 300_000);
    assert_eq!((kind, job2.triggers), (analytics::MergeKind::Merged, 2));
    // Still measured from the first trigger, not the last.
    let (_, kind) = analytics::merge(Some(&job2), "u", &t, 1000 + 300_000, 300_000);
    assert_eq!(kind, analytics::MergeKind::Restarted);
    // A late delivery stamped before the first trigger joins the job.
    let (job3, kind) = analytics::merge(Some(&job), "u", &t, 500, 300_000);
    assert_eq!(
        (kind, job3.first_triggered_at),
        (analytics::MergeKind::Merged, 500)
    );
}

fn delete_requested(coordination_id: &str, file_id: &str) -> Event {
    event(
        &format!("evt-dr-{coordination_id}"),
        USER,
        sources::FILE_SERVICE,
        EventData::DeleteRequested(DeleteRequested {
            file_id: file_id.into(),
            coordination_id: coordination_id.into(),
            account_id: "acc-1".into(),
            file_name: "statement.csv".into(),
            transaction_count: 2,
        }),
    )
}

fn completions(events: &[Event]) -> Vec<(String, String, CompletionStatus, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::ConsumerCompletion(c) => Some((
                e.source.clone(),
                c.consumer.clone(),
                c.status,
                c.error_message.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn analytics_completion_flavour_reports_done_or_failed() {
    let ports = Flaky::default();
    let r = run_ready(analytics::handle(
        &ports,
        &delete_requested("c-1", "file-1"),
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(
            r,
            analytics::Report::Completion {
                status: CompletionStatus::Done,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(ports.mem.job(USER).unwrap().priority, 2);

    // Throttled: the delivery fails and is retried; nothing is reported.
    ports.fail("put_job");
    let err = run_ready(analytics::handle(
        &ports,
        &delete_requested("c-2", "file-2"),
        T0,
        &settings(),
    ))
    .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(completions(&ports.mem.published()).len(), 1);
    ports.heal("put_job");
    ports.break_("put_job");
    let r = run_ready(analytics::handle(
        &ports,
        &delete_requested("c-2", "file-2"),
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(
            r,
            analytics::Report::Completion {
                status: CompletionStatus::Failed,
                ..
            }
        ),
        "{r:?}"
    );
    let published = ports.mem.published();
    assert_eq!(
        completions(&published),
        vec![
            (
                "analytics.service".into(),
                "analytics_consumer".into(),
                CompletionStatus::Done,
                None
            ),
            (
                "analytics.service".into(),
                "analytics_consumer".into(),
                CompletionStatus::Failed,
                Some("permanent: put_job: access denied".into())
            ),
        ]
    );
    assert_eq!(
        published[0].event_id,
        tally_core::ids::derive("completion", &["c-1", "analytics_consumer"])
    );
    // The failure released the claim: the recompute can still be queued,
    // and the report re-published is the one first made (failed).
    ports.heal("put_job");
    let r = run_ready(analytics::handle(
        &ports,
        &delete_requested("c-2", "file-2"),
        T0 + SEC,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(
            r,
            analytics::Report::Completion {
                status: CompletionStatus::Failed,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(ports.mem.job(USER).unwrap().triggers, 2);
    let published = ports.mem.published();
    assert_eq!(published.len(), 3);
    assert_eq!(published[1], published[2]);
}

// ---------------------------------------------------------------------------
// Categorization

fn file_processed(id: &str, file_id: &str, ids: Vec<String>, status: ProcessingStatus) -> Event {
    event(
        id,
        USER,
        sources::FILE_SERVICE,
        EventData::FileProcessed(FileProcessed {
            file_id: file_id.into(),
            account_id: "acc-1".into(),
            transaction_count: ids.len() as u64,
            duplicate_count: 0,
            transaction_ids: ids,
            date_range: None,
            processing_status: status,
            error_message: None,
        }),
    )
}

#[test]
fn categorization_works_in_batches_of_100_and_applies_the_first_active_rule() {
    let mem = Memory::new();
    let mut txs: Vec<Transaction> = (0..250)
        .map(|i| {
            tx(
                "file-1",
                i,
                if i % 2 == 0 {
                    "Coffee Shop #12"
                } else {
                    "RENT"
                },
            )
        })
        .collect();
    txs[0].category_id = Some("cat-manual".into());
    run_ready(mem.put_new_transactions(&txs)).unwrap();
    mem.add_rule(rule("r-off", "coffee", "cat-wrong", false));
    mem.add_rule(rule("r-coffee", "COFFEE", "cat-coffee", true));
    mem.add_rule(rule("r-shop", "shop", "cat-shops", true));
    let mut ids: Vec<String> = txs.iter().map(|t| t.transaction_id.clone()).collect();
    ids.push("missing-tx".into());
    let e = file_processed("evt-p1", "file-1", ids, ProcessingStatus::Success);

    let r = run_ready(categorization::handle(&mem, &e, T0, &settings())).unwrap();
    let categorization::Report::Applied {
        applied,
        redelivery,
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    assert!(!redelivery);
    assert_eq!(applied.considered, 251);
    assert_eq!(applied.batches, 3);
    assert_eq!(applied.not_found, 1);
    assert_eq!(applied.left_alone, 1);
    assert_eq!(applied.unmatched, 125);
    assert_eq!(applied.assigned.len(), 124);
    assert!(applied.assigned.iter().all(|a| a.rule_id == "r-coffee"));

    let published = mem.published();
    assert_eq!(published.len(), 124);
    let EventData::TransactionCategorized(c) = &published[0].data else {
        panic!()
    };
    assert_eq!(c.confidence, 1.0);
    assert_eq!(c.rule_id.as_deref(), Some("r-coffee"));
    assert_eq!(c.assignment_type.as_str(), "rule_based");
    assert_eq!(published[0].source, sources::CATEGORY_SERVICE);
    let stored = mem.all_transactions();
    assert_eq!(
        stored
            .iter()
            .filter(|t| t.category_id.as_deref() == Some("cat-coffee"))
            .count(),
        124
    );
    assert_eq!(
        stored
            .iter()
            .find(|t| t.transaction_id == "file-1-tx-0")
            .unwrap()
            .category_id
            .as_deref(),
        Some("cat-manual")
    );

    // A redelivery finds nothing left to do.
    let r = run_ready(categorization::handle(&mem, &e, T0, &settings())).unwrap();
    assert!(
        matches!(r, categorization::Report::Applied { redelivery: true, ref applied, .. } if applied.assigned.is_empty())
    );
    assert_eq!(mem.published().len(), 124);
}

#[test]
fn categorization_handles_transactions_created_and_skips_what_it_cannot_do() {
    let mem = Memory::new();
    run_ready(mem.put_new_transactions(&[tx("f", 1, "coffee")])).unwrap();
    mem.add_rule(rule("r", "coffee", "cat", true));
    let created = event(
        "evt-c",
        USER,
        sources::TRANSACTION_SERVICE,
        EventData::TransactionsCreated(TransactionsCreated {
            file_id: "f".into(),
            account_id: "acc-1".into(),
            transaction_ids: vec!["f-tx-1".into()],
            transaction_count: 1,
            date_range: None,
        }),
    );
    let r = run_ready(categorization::handle(&mem, &created, T0, &settings())).unwrap();
    assert!(
        matches!(r, categorization::Report::Applied { ref applied, .. } if applied.assigned.len() == 1)
    );

    let failed = file_processed(
        "evt-f",
        "f",
        vec!["f-tx-1".into()],
        ProcessingStatus::Failed,
    );
    let r = run_ready(categorization::handle(&mem, &failed, T0, &settings())).unwrap();
    assert!(matches!(r, categorization::Report::Skipped { .. }));
    let mut rule_created =
        samples::sample(EventKind::CategoryRuleCreated, sources::CATEGORY_SERVICE);
    if let EventData::CategoryRuleCreated(c) = &mut rule_created.data {
        c.auto_apply = false;
    }
    let r = run_ready(categorization::handle(&mem, &rule_created, T0, &settings())).unwrap();
    assert!(
        matches!(r, categorization::Report::Skipped { ref reason, .. } if reason.contains("autoApply is false")),
        "{r:?}"
    );
    let other = samples::sample(EventKind::AccountCreated, sources::ACCOUNT_SERVICE);
    let r = run_ready(categorization::handle(&mem, &other, T0, &settings())).unwrap();
    assert_eq!(
        r,
        categorization::Report::Ignored {
            event_type: "account.created".into()
        }
    );
}

/// A rule created with autoApply categorizes the user's existing
/// uncategorized transactions (with the user's other active rules, first
/// match first; the new rule counts even before the store shows it), and
/// no one else's; a redelivery finds nothing left to do.
#[test]
fn a_new_rule_with_auto_apply_categorizes_the_users_existing_transactions() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    seed_file(&mem, "file-2", 1);
    run_ready(mem.set_category("file-1-tx-1", "cat-mine")).unwrap();
    let mut theirs = tx("file-3", 0, "COFFEE SHOP");
    theirs.user_id = "mallory".into();
    let tea = tx("file-2", 5, "TEA SHOP");
    run_ready(mem.put_new_transactions(&[theirs, tea])).unwrap();
    mem.add_rule(rule("r-tea", "tea", "cat-tea", true));
    mem.add_rule(rule("r-off", "coffee", "cat-off", false));
    let created = event(
        "evt-rule",
        USER,
        sources::CATEGORY_SERVICE,
        EventData::CategoryRuleCreated(CategoryRuleCreated {
            category_id: "cat-coffee".into(),
            rule_id: "r-coffee".into(),
            rule_pattern: "coffee".into(),
            auto_apply: true,
        }),
    );
    let r = run_ready(categorization::handle(&mem, &created, T0, &settings())).unwrap();
    let categorization::Report::Applied { applied, .. } = r else {
        panic!("{r:?}")
    };
    let given: Vec<(&str, &str)> = applied
        .assigned
        .iter()
        .map(|a| (a.transaction_id.as_str(), a.category_id.as_str()))
        .collect();
    assert_eq!(
        given,
        [
            ("file-1-tx-0", "cat-coffee"),
            ("file-2-tx-0", "cat-coffee"),
            ("file-2-tx-5", "cat-tea")
        ]
    );
    let published = mem.drain_published();
    assert_eq!(published.len(), 3);
    assert_eq!(
        published[0].event_id,
        tally_core::ids::derive(
            "categorized",
            &[&created.event_id, "file-1-tx-0", "r-coffee"]
        )
    );
    let category = |id: &str| {
        run_ready(mem.get_transactions(&[id.to_owned()])).unwrap()[0]
            .category_id
            .clone()
    };
    assert_eq!(category("file-1-tx-1").as_deref(), Some("cat-mine"));
    assert_eq!(category("file-3-tx-0"), None, "another user's transaction");

    let again = run_ready(categorization::handle(&mem, &created, T0, &settings())).unwrap();
    assert!(
        matches!(again, categorization::Report::Skipped { ref reason, .. } if reason == "no transaction ids"),
        "{again:?}"
    );
    assert!(mem.published().is_empty());
}

#[test]
fn categorization_completion_flavour_categorizes_the_file_then_reports() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    ports.mem.add_rule(rule("r", "coffee", "cat", true));
    let r = run_ready(categorization::handle(
        &ports,
        &delete_requested("c-1", "file-1"),
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(
        matches!(r, categorization::Report::Completion { status: CompletionStatus::Done, applied: Some(ref a), .. } if a.assigned.len() == 2),
        "{r:?}"
    );
    ports.fail("rules_of_user");
    let err = run_ready(categorization::handle(
        &ports,
        &delete_requested("c-2", "file-1"),
        T0,
        &settings(),
    ))
    .unwrap_err();
    assert!(err.is_transient(), "{err}");
    ports.heal("rules_of_user");
    ports.break_("rules_of_user");
    let r = run_ready(categorization::handle(
        &ports,
        &delete_requested("c-2", "file-1"),
        T0,
        &settings(),
    ))
    .unwrap();
    assert!(matches!(
        r,
        categorization::Report::Completion {
            status: CompletionStatus::Failed,
            ..
        }
    ));
    let c = completions(&ports.mem.published());
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0].0.as_str(), c[0].1.as_str()),
        ("category.service", "categorization_consumer")
    );
    assert_eq!(
        c[1].3.as_deref(),
        Some("permanent: rules_of_user: access denied")
    );
}

// ---------------------------------------------------------------------------
// Audit

#[test]
fn audit_stores_a_duplicate_once_and_unknown_types_too() {
    let mem = Memory::new();
    let e = samples::sample(EventKind::FileProcessed, sources::FILE_SERVICE);
    let d1 = DeliveredEvent::wrap(&e, "eb-1", &Delivery::default());
    // Re-published: EventBridge gives it a new delivery id.
    let d2 = DeliveredEvent::wrap(&e, "eb-2", &Delivery::default());
    let r1 = run_ready(audit::handle_delivered(&mem, &d1, T0)).unwrap();
    let r2 = run_ready(audit::handle_delivered(&mem, &d2, T0)).unwrap();
    assert!(matches!(r1, audit::Report::Stored { .. }));
    assert!(matches!(r2, audit::Report::Duplicate { ref event_id, .. } if event_id == &e.event_id));
    assert_eq!(mem.audit_entries().len(), 1);
    assert_eq!(mem.audit_entries()[0].delivered, d1.to_json());

    // An unknown type, with odd spacing that must survive byte for byte.
    let text = r#"{ "version":"0","id":"eb-9","detail-type":"budget.exceeded","source":"budget.service",
        "account":"1","time":"2025-01-15T10:30:05Z","region":"us-east-1","resources":[],
        "detail":{"limit": 100,  "spent": 120.5}}"#;
    let r = run_ready(audit::handle_text(&mem, text, T0)).unwrap();
    assert_eq!(
        r,
        audit::Report::Stored {
            event_id: "eb-9".into(),
            event_type: "budget.exceeded".into()
        }
    );
    let r = run_ready(audit::handle_text(&mem, text, T0)).unwrap();
    assert!(matches!(r, audit::Report::Duplicate { .. }));
    let stored = mem
        .audit_entries()
        .into_iter()
        .find(|a| a.event_id == "eb-9")
        .unwrap();
    assert_eq!(stored.delivered, text);
    assert_eq!(stored.timestamp, T0 + 5 * SEC);
    assert_eq!(stored.source, "budget.service");
    // The stored text replays as the same delivered event.
    assert_eq!(
        DeliveredEvent::from_json(&stored.delivered)
            .unwrap()
            .detail_type,
        "budget.exceeded"
    );

    // Not a delivered event at all: dead-lettered with the reason.
    let err = run_ready(audit::handle_text(&mem, "{\"id\": 3}", T0)).unwrap_err();
    assert!(
        matches!(&err, HandlerError::Permanent(r) if r.contains("id")),
        "{err:?}"
    );
}

#[test]
fn audit_of_a_failing_log_is_transient() {
    let ports = Flaky::default();
    ports.fail("append");
    let e = samples::sample(EventKind::FileDeleted, sources::DELETION_EXECUTOR);
    let d = DeliveredEvent::wrap(&e, "eb-1", &Delivery::default());
    assert!(run_ready(audit::handle_delivered(&ports, &d, T0))
        .unwrap_err()
        .is_transient());
}

// ---------------------------------------------------------------------------
// Notification

#[test]
fn notification_once_per_event_id() {
    let mem = Memory::new();
    let events = [
        samples::sample(EventKind::FileProcessed, sources::FILE_SERVICE),
        samples::sample(EventKind::TransactionsDeleted, sources::DELETION_EXECUTOR),
        samples::sample(EventKind::AccountDeleted, sources::ACCOUNT_SERVICE),
    ];
    for e in events.iter().chain(events.iter()) {
        run_ready(notification::handle(&mem, e, T0, &settings())).unwrap();
    }
    let sent = mem.notifications();
    assert_eq!(sent.len(), 3);
    let messages: Vec<&str> = sent.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "Your file abc-123 was processed: 2 transactions found.",
            "2 transactions were deleted (bulk).",
            "Account acc-789 was deleted, with 42 transactions.",
        ]
    );
    let r = run_ready(notification::handle(&mem, &events[0], T0, &settings())).unwrap();
    assert!(matches!(r, notification::Report::Duplicate { .. }));
    let other = samples::sample(EventKind::FileUploaded, sources::FILE_SERVICE);
    let r = run_ready(notification::handle(&mem, &other, T0, &settings())).unwrap();
    assert!(matches!(r, notification::Report::Ignored { .. }));
}

#[test]
fn a_failed_notification_is_retried_and_then_sent_once() {
    let ports = Flaky::default();
    let e = samples::sample(EventKind::AccountDeleted, sources::ACCOUNT_SERVICE);
    ports.fail("notify");
    assert!(run_ready(notification::handle(&ports, &e, T0, &settings()))
        .unwrap_err()
        .is_transient());
    ports.heal("notify");
    let r = run_ready(notification::handle(&ports, &e, T0, &settings())).unwrap();
    assert!(matches!(r, notification::Report::Sent { .. }));
    assert_eq!(ports.mem.notifications().len(), 1);

    // A claim that cannot be given back is not swallowed either.
    let e2 = samples::sample(EventKind::FileProcessed, sources::FILE_SERVICE);
    ports.fail("notify");
    ports.fail("release");
    let err = run_ready(notification::handle(&ports, &e2, T0, &settings())).unwrap_err();
    assert!(
        matches!(&err, HandlerError::Permanent(r) if r.contains("could not be released")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// File processor and object-created

/// The file processor's handling, at T0, of upload `id` of `file_id` at `key`.
fn process<P>(
    ports: &P,
    id: &str,
    file_id: &str,
    key: &str,
) -> Result<file_processor::Report, HandlerError>
where
    P: ContentStore + TransactionStore + FileStore + IdempotencyStore + Publisher,
{
    run_ready(file_processor::handle(
        ports,
        &uploaded(id, file_id, key),
        T0,
        &settings(),
    ))
}

fn uploaded(id: &str, file_id: &str, key: &str) -> Event {
    event(
        id,
        USER,
        sources::FILE_SERVICE,
        EventData::FileUploaded(FileUploaded {
            file_id: file_id.into(),
            file_name: "statement.csv".into(),
            file_size: 100,
            s3_key: key.into(),
            account_id: Some("acc-1".into()),
            file_format: Some("csv".into()),
        }),
    )
}

fn processed_of(mem: &Memory) -> FileProcessed {
    match mem.published().last().map(|e| e.data.clone()) {
        Some(EventData::FileProcessed(p)) => p,
        other => panic!("{other:?}"),
    }
}

/// One id, one content (issue 18, seed 5 of the default swarm): the file
/// processor dies just after writing the transactions, so its claim is
/// given back and the upload retried. The retry finds its own transactions
/// already there; its `file.processed` must still say 0 duplicates, as the
/// first run would have.
#[test]
fn file_processor_retried_after_a_crash_past_its_writes_reports_the_same_duplicates() {
    let ports = Flaky::default();
    let key = "user-1/file-1/statement.csv";
    run_ready(
        ports
            .mem
            .put_content(key, b"2025-01-01,A,1\n2025-01-02,B,2\n"),
    )
    .unwrap();
    ports.crash_after("put_new_transactions");
    let up = uploaded("u1", "file-1", key);
    assert!(
        run_ready(file_processor::handle(&ports, &up, T0, &settings()))
            .unwrap_err()
            .is_transient()
    );
    ports.heal("put_new_transactions");
    let r = run_ready(file_processor::handle(&ports, &up, T0 + SEC, &settings())).unwrap();
    assert!(
        matches!(
            r,
            file_processor::Report::Processed {
                transaction_count: 2,
                new: 0,
                duplicate_count: 0,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(processed_of(&ports.mem).duplicate_count, 0);
}

/// An upload processed after its file was deleted (a redriven or late
/// delivery) finds neither metadata nor content: it reports the failure and
/// creates nothing, so the deleted file is not resurrected. Found by the
/// simulator's oracle (approved-file-deleted, seed 2).
#[test]
fn file_processor_does_not_resurrect_a_deleted_file() {
    let mem = Memory::new();
    let key = "user-1/file-1/statement.csv";
    let r = process(&mem, "u1", "file-1", key).unwrap();
    assert!(
        matches!(
            r,
            file_processor::Report::Processed {
                status: ProcessingStatus::Failed,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(run_ready(mem.get_file("file-1")).unwrap().is_none());
    // And metadata is only ever updated where it still exists.
    assert!(!run_ready(mem.update_file(&meta("file-1", USER))).unwrap());
    assert!(run_ready(mem.get_file("file-1")).unwrap().is_none());
}

#[test]
fn file_processor_success_then_duplicates_on_reprocessing() {
    let mem = Memory::new();
    let key = "user-1/file-1/statement.csv";
    run_ready(mem.put_content(
        key,
        b"\xef\xbb\xbfDate,Description,Amount\r\n2025-01-03,COFFEE SHOP,-4.50\r\n\r\n2025-01-01,\"ACME, Inc. payroll\",2500\r\n2025-01-02,GROCER,-12.5\r\n",
    ))
    .unwrap();
    let r = process(&mem, "u1", "file-1", key).unwrap();
    assert!(
        matches!(
            r,
            file_processor::Report::Processed {
                status: ProcessingStatus::Success,
                transaction_count: 3,
                new: 3,
                duplicate_count: 0,
                bad_lines: 0,
                ..
            }
        ),
        "{r:?}"
    );
    let p = processed_of(&mem);
    assert_eq!(p.transaction_ids.len(), 3);
    assert_eq!(
        p.transaction_ids[0],
        file_processor::transaction_id("file-1", 2)
    );
    let range = p.date_range.unwrap();
    assert_eq!(
        (range.start_date.as_str(), range.end_date.as_str()),
        ("2025-01-01", "2025-01-03")
    );
    let stored = mem.all_transactions();
    let payroll = stored
        .iter()
        .find(|t| t.description == "ACME, Inc. payroll")
        .unwrap();
    assert_eq!(
        (payroll.amount_cents, payroll.account_id.as_str()),
        (250_000, "acc-1")
    );
    assert!(stored.iter().any(|t| t.amount_cents == -1250));
    let m = run_ready(mem.get_file("file-1")).unwrap().unwrap();
    assert_eq!(
        (m.transaction_count, m.user_id.as_str(), m.s3_key.as_str()),
        (3, USER, key)
    );

    // The same delivery again: already processed.
    let r = process(&mem, "u1", "file-1", key).unwrap();
    assert!(matches!(r, file_processor::Report::Duplicate { .. }));
    // Reprocessing (a new upload event of the same file): all duplicates.
    let r = process(&mem, "u2", "file-1", key).unwrap();
    assert!(
        matches!(
            r,
            file_processor::Report::Processed {
                status: ProcessingStatus::Success,
                transaction_count: 3,
                new: 0,
                duplicate_count: 3,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(processed_of(&mem).duplicate_count, 3);
    assert_eq!(mem.all_transactions().len(), 3);
    assert_eq!(of_type(&mem.published(), EventKind::FileProcessed).len(), 2);
}

#[test]
fn file_processor_partial_names_the_first_bad_line() {
    let mem = Memory::new();
    let key = "user-1/file-2/statement.csv";
    run_ready(mem.put_content(
        key,
        b"2025-01-03,COFFEE,-4.50\n2025-13-01,BAD MONTH,1\nnot a line\n2025-01-04,TEA,-1.999\n2025-01-05,OK,3.10\n",
    ))
    .unwrap();
    process(&mem, "u1", "file-2", key).unwrap();
    let p = processed_of(&mem);
    assert_eq!(p.processing_status, ProcessingStatus::Partial);
    assert_eq!(p.transaction_count, 2);
    assert_eq!(
        p.error_message.as_deref(),
        Some("line 2: date \"2025-13-01\" has no month 13 (and 2 more bad lines)")
    );
}

#[test]
fn file_processor_fails_on_missing_content_or_no_readable_line() {
    let mem = Memory::new();
    process(&mem, "u1", "file-3", "user-1/file-3/x.csv").unwrap();
    let p = processed_of(&mem);
    assert_eq!(p.processing_status, ProcessingStatus::Failed);
    assert_eq!(
        p.error_message.as_deref(),
        Some("content missing at user-1/file-3/x.csv")
    );
    assert_eq!((p.transaction_count, p.date_range), (0, None));

    run_ready(mem.put_content(
        "user-1/file-4/x.csv",
        b"date,description,amount\nyesterday,LUNCH,abc\n",
    ))
    .unwrap();
    process(&mem, "u2", "file-4", "user-1/file-4/x.csv").unwrap();
    let p = processed_of(&mem);
    assert_eq!(p.processing_status, ProcessingStatus::Failed);
    assert_eq!(
        p.error_message.as_deref(),
        Some("line 2: date \"yesterday\" is not YYYY-MM-DD")
    );

    // A transient read failure is an error to retry, not a failed file.
    let ports = Flaky::default();
    ports.fail("get_content");
    let err = process(&ports, "u3", "f", "user-1/f/x.csv").unwrap_err();
    assert!(err.is_transient());
    ports.heal("get_content");
    let r = process(&ports, "u3", "f", "user-1/f/x.csv").unwrap();
    assert!(
        matches!(r, file_processor::Report::Processed { .. }),
        "the claim was released"
    );
}

#[test]
fn amounts_and_dates_parse_strictly() {
    use file_processor::{parse_amount, parse_date};
    assert_eq!(parse_amount("-12.50"), Ok(-1250));
    assert_eq!(parse_amount("12.5"), Ok(1250));
    assert_eq!(parse_amount("+7"), Ok(700));
    assert_eq!(parse_amount(".05"), Ok(5));
    assert_eq!(parse_amount("0"), Ok(0));
    assert!(parse_amount("1.234").is_err());
    assert!(parse_amount("").is_err());
    assert!(parse_amount("-").is_err());
    assert!(parse_amount("1e3").is_err());
    assert!(parse_amount("99999999999999999999").is_err());
    assert!(parse_date("2024-02-29").is_ok());
    assert!(parse_date("2025-02-29").is_err());
    assert!(parse_date("2025-1-01").is_err());
}

#[test]
fn object_created_publishes_uploads_and_skips_restore_packages() {
    let mem = Memory::new();
    let obj = |key: &str| ObjectCreated {
        bucket: "uploads".into(),
        key: key.into(),
        size: 42,
        sequencer: Some("0A1B".into()),
    };
    let r = run_ready(file_processor::object_created(
        &mem,
        &obj("user-1/file-1/Statement.CSV"),
        T0,
    ))
    .unwrap();
    assert!(
        matches!(r, ObjectReport::Published { ref user_id, ref file_id, .. } if user_id == USER && file_id == "file-1")
    );
    for key in [
        "restore/user-1/backup.zip",
        "user-1/file-1/everything.restore.zip",
        "user-1/file-1/X.RESTORE.ZIP",
    ] {
        let r = run_ready(file_processor::object_created(&mem, &obj(key), T0)).unwrap();
        assert_eq!(
            r,
            ObjectReport::Skipped {
                key: key.into(),
                why: NotAnUpload::RestorePackage
            },
            "{key}"
        );
    }
    for key in [
        "loose.csv",
        "user-1/file.csv",
        "a/b/c/d.csv",
        "user-1//x.csv",
    ] {
        let r = run_ready(file_processor::object_created(&mem, &obj(key), T0)).unwrap();
        assert!(
            matches!(
                r,
                ObjectReport::Skipped {
                    why: NotAnUpload::Layout { .. },
                    ..
                }
            ),
            "{key}: {r:?}"
        );
    }
    let published = mem.published();
    assert_eq!(published.len(), 1);
    let e = &published[0];
    assert_eq!(
        (e.source.as_str(), e.user_id.as_str()),
        (sources::FILE_SERVICE, USER)
    );
    let EventData::FileUploaded(u) = &e.data else {
        panic!()
    };
    assert_eq!(u.s3_key, "user-1/file-1/Statement.CSV");
    assert_eq!(u.file_format.as_deref(), Some("csv"));
    assert_eq!(u.file_size, 42);
    // S3's own redelivery is the same event; a re-upload is a new one.
    run_ready(file_processor::object_created(
        &mem,
        &obj("user-1/file-1/Statement.CSV"),
        T0,
    ))
    .unwrap();
    let mut again = obj("user-1/file-1/Statement.CSV");
    again.sequencer = Some("0A1C".into());
    run_ready(file_processor::object_created(&mem, &again, T0)).unwrap();
    let ids: Vec<String> = mem.published().iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
}

// ---------------------------------------------------------------------------
// API

fn delete(path: &str, caller: Option<&str>) -> ApiRequest {
    ApiRequest {
        method: "DELETE".into(),
        path: path.into(),
        caller: caller.map(str::to_owned),
    }
}

const ENTROPY: [u8; 16] = [
    0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76,
];

#[test]
fn api_answers_202_with_a_request_id_and_publishes_the_request() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    let resp = run_ready(api::handle(
        &mem,
        &delete("/files/file-1", Some(USER)),
        T0,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap();
    assert_eq!(resp.status, 202);
    let request_id = resp.body["requestId"].as_str().unwrap().to_owned();
    assert_eq!(request_id, "deadbeef-0123-4567-89ab-cdef10325476");
    assert_eq!(request_id, api::uuid_v4(ENTROPY));
    assert_eq!(
        api::uuid_v4([0; 16]),
        "00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(resp.body["metadata"]["transactionCount"], 2);
    let published = mem.published();
    assert_eq!(published.len(), 1);
    let e = &published[0];
    assert_eq!(e.correlation_id.as_deref(), Some(request_id.as_str()));
    let EventData::DeletionRequested(r) = &e.data else {
        panic!("{e:?}")
    };
    assert_eq!(
        (
            r.request_id.as_str(),
            r.file_name.as_str(),
            r.transaction_count,
            r.user_id.as_str()
        ),
        (request_id.as_str(), "statement.csv", 2, USER)
    );
    assert!(
        run_ready(mem.get_file("file-1")).unwrap().is_some(),
        "nothing deleted yet"
    );

    // The completion flavour.
    let cfg = ApiConfig {
        publishing_enabled: true,
        flavour: Flavour::Completion,
    };
    let resp = run_ready(api::handle(
        &mem,
        &delete("/files/file-1", Some(USER)),
        T0,
        [7; 16],
        &cfg,
    ))
    .unwrap();
    assert_eq!(resp.status, 202);
    let EventData::DeleteRequested(d) = &mem.published()[1].data else {
        panic!()
    };
    assert_eq!(
        resp.body["coordinationId"].as_str(),
        Some(d.coordination_id.as_str())
    );
}

#[test]
fn api_answers_404_for_another_users_file_and_a_missing_one() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    let theirs = run_ready(api::handle(
        &mem,
        &delete("/files/file-1", Some("mallory")),
        T0,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap();
    let missing = run_ready(api::handle(
        &mem,
        &delete("/files/nope", Some("mallory")),
        T0,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap();
    assert_eq!(theirs, missing, "indistinguishable");
    assert_eq!(theirs.status, 404);
    assert!(mem.published().is_empty());
    let anon = run_ready(api::handle(
        &mem,
        &delete("/files/file-1", None),
        T0,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap();
    assert_eq!(anon.status, 401);
    let mut get = delete("/files/file-1", Some(USER));
    get.method = "GET".into();
    assert_eq!(
        run_ready(api::handle(&mem, &get, T0, ENTROPY, &ApiConfig::default()))
            .unwrap()
            .status,
        405
    );
    assert_eq!(
        run_ready(api::handle(
            &mem,
            &delete("/accounts/1", Some(USER)),
            T0,
            ENTROPY,
            &ApiConfig::default()
        ))
        .unwrap()
        .status,
        404
    );
}

#[test]
fn api_deletes_directly_when_publishing_is_off() {
    let mem = Memory::new();
    seed_file(&mem, "file-1", 2);
    let cfg = ApiConfig {
        publishing_enabled: false,
        flavour: Flavour::Voting,
    };
    let resp = run_ready(api::handle(
        &mem,
        &delete("/files/file-1", Some(USER)),
        T0,
        ENTROPY,
        &cfg,
    ))
    .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["metadata"]["transactionsDeleted"], 2);
    assert!(mem.published().is_empty());
    assert!(run_ready(mem.get_file("file-1")).unwrap().is_none());
    assert!(run_ready(mem.get_content("user-1/file-1/statement.csv"))
        .unwrap()
        .is_none());
    assert!(mem.all_transactions().is_empty());
}

#[test]
fn api_port_failures_are_handler_errors() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 1);
    ports.fail("publish");
    let err = run_ready(api::handle(
        &ports,
        &delete("/files/file-1", Some(USER)),
        T0,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap_err();
    assert!(err.is_transient());
    assert_eq!(api::ApiResponse::from_error(&err).status, 503);
}

// ---------------------------------------------------------------------------
// The whole sequence, as a snapshot.

fn short(id: &str) -> String {
    match id.rsplit_once('-') {
        Some((p, rest)) if rest.len() == 32 => format!("{p}-{}", &rest[..8]),
        _ => id.to_owned(),
    }
}

fn render(e: &Event) -> String {
    let what = match &e.data {
        EventData::FileUploaded(u) => format!("file={} key={}", u.file_id, u.s3_key),
        EventData::FileProcessed(p) => format!(
            "file={} status={} count={} dups={} range={:?}",
            p.file_id,
            p.processing_status,
            p.transaction_count,
            p.duplicate_count,
            p.date_range
                .as_ref()
                .map(|r| (r.start_date.as_str(), r.end_date.as_str()))
        ),
        EventData::TransactionCategorized(c) => format!(
            "tx={} category={} rule={}",
            short(&c.transaction_id),
            c.category_id,
            c.rule_id.as_deref().unwrap_or("-")
        ),
        EventData::DeletionRequested(r) => format!(
            "file={} request={} txs={}",
            r.file_id, r.request_id, r.transaction_count
        ),
        EventData::DeletionVote(v) => format!(
            "{} {} ({})",
            v.voter,
            v.decision,
            v.reason.as_deref().unwrap_or("")
        ),
        EventData::DeletionApproved(a) => format!(
            "request={} by={:?} cause={}",
            a.request_id, a.approved_by, a.cause
        ),
        EventData::FileDeleted(d) => format!(
            "file={} txs={} content={}",
            d.file_id, d.transactions_deleted, d.content_deleted
        ),
        EventData::TransactionsDeleted(d) => {
            format!("{} txs {}", d.transaction_ids.len(), d.deletion_type)
        }
        other => other.to_value().to_string(),
    };
    format!(
        "  -> {} {} from {} caused by {}: {what}",
        e.event_type(),
        short(&e.event_id),
        e.source,
        short(e.causation_id.as_deref().unwrap_or("-"))
    )
}

#[test]
fn snapshot_upload_to_deletion() {
    let mem = Memory::new();
    let s = settings();
    mem.add_rule(rule("r-coffee", "coffee", "cat-coffee", true));
    let key = "user-1/file-9/january.csv";
    // The upload API wrote the metadata before the client uploaded.
    let mut m = meta("file-9", USER);
    m.file_name = "january.csv".into();
    m.s3_key = key.into();
    run_ready(mem.put_file(&m)).unwrap();
    run_ready(mem.put_content(
        key,
        b"date,description,amount\n2025-01-02,Coffee Bar,-3.80\n2025-01-03,Rent,-950.00\n2025-01-04,COFFEE BEANS,-14.25\n2025-01-05,oops\n",
    ))
    .unwrap();
    let mut log = String::new();
    let mut audited = 0usize;
    let mut step = |log: &mut String, label: &str, report: String, mem: &Memory| {
        log.push_str(&format!("{label}: {report}\n"));
        for e in mem.drain_published() {
            log.push_str(&render(&e));
            log.push('\n');
            let d = DeliveredEvent::wrap(&e, &format!("eb-{audited}"), &Delivery::default());
            audited += 1;
            run_ready(audit::handle_delivered(mem, &d, T0)).unwrap();
        }
    };

    let obj = ObjectCreated {
        bucket: "uploads".into(),
        key: key.into(),
        size: 120,
        sequencer: Some("01".into()),
    };
    let r = run_ready(file_processor::object_created(&mem, &obj, T0)).unwrap();
    let uploaded = mem.published()[0].clone();
    step(&mut log, "object_created", format!("{r:?}"), &mem);

    let r = run_ready(file_processor::handle(&mem, &uploaded, T0 + SEC, &s)).unwrap();
    let processed = mem.published()[0].clone();
    step(&mut log, "file_processor", format!("{r:?}"), &mem);

    let r = run_ready(categorization::handle(&mem, &processed, T0 + 2 * SEC, &s)).unwrap();
    let categorized = mem.published();
    step(&mut log, "categorization", format!("{r:?}"), &mem);

    let r = run_ready(analytics::handle(&mem, &processed, T0 + 2 * SEC, &s)).unwrap();
    step(&mut log, "analytics", format!("{r:?}"), &mem);
    let r = run_ready(notification::handle(&mem, &processed, T0 + 2 * SEC, &s)).unwrap();
    step(&mut log, "notification", format!("{r:?}"), &mem);
    for e in &categorized {
        let r = run_ready(analytics::handle(&mem, e, T0 + 3 * SEC, &s)).unwrap();
        step(&mut log, "analytics", format!("{r:?}"), &mem);
    }

    let resp = run_ready(api::handle(
        &mem,
        &delete("/files/file-9", Some(USER)),
        T0 + 60 * SEC,
        ENTROPY,
        &ApiConfig::default(),
    ))
    .unwrap();
    let request = mem.published()[0].clone();
    step(
        &mut log,
        "api",
        format!("{} {}", resp.status, resp.body),
        &mem,
    );

    let policy = Policy::default();
    run_ready(aggregate(
        &mem,
        &mem,
        &Input::from_event(&request).unwrap(),
        T0 + 61 * SEC,
        &policy,
    ))
    .unwrap();
    for v in [Voter::CategoryManager, Voter::AnalyticsManager] {
        let r = run_ready(voter::handle(&mem, v, &request, T0 + 62 * SEC, &s)).unwrap();
        let votes = mem.published();
        step(&mut log, "voter", format!("{r:?}"), &mem);
        for vote in votes {
            let h = run_ready(aggregate(
                &mem,
                &mem,
                &Input::from_event(&vote).unwrap(),
                T0 + 63 * SEC,
                &policy,
            ))
            .unwrap();
            let status = h.record.map_or("none", |r| r.status.as_str());
            step(&mut log, "aggregator", status.to_owned(), &mem);
        }
    }
    let record = mem.record(&api::uuid_v4(ENTROPY)).unwrap();
    assert_eq!(record.status, Status::Approved);
    let approval = of_type(
        &mem.audit_entries()
            .iter()
            .map(|a| {
                DeliveredEvent::from_json(&a.delivered)
                    .unwrap()
                    .decode()
                    .unwrap()
            })
            .collect::<Vec<_>>(),
        EventKind::DeletionApproved,
    )[0]
    .clone();
    for _ in 0..2 {
        let r = run_ready(executor::handle(&mem, &approval, T0 + 64 * SEC, &s)).unwrap();
        step(&mut log, "executor", format!("{r:?}"), &mem);
    }
    let r = run_ready(notification::handle(
        &mem,
        &of_type(
            &mem.audit_entries()
                .iter()
                .map(|a| {
                    DeliveredEvent::from_json(&a.delivered)
                        .unwrap()
                        .decode()
                        .unwrap()
                })
                .collect::<Vec<_>>(),
            EventKind::TransactionsDeleted,
        )[0]
        .clone(),
        T0 + 65 * SEC,
        &s,
    ))
    .unwrap();
    step(&mut log, "notification", format!("{r:?}"), &mem);

    let job = mem.job(USER).unwrap();
    log.push_str(&format!(
        "analytics job: priority={} types={:?} triggers={}\n",
        job.priority, job.analytic_types, job.triggers
    ));
    log.push_str(&format!("audited: {} entries\n", mem.audit_entries().len()));
    for n in mem.notifications() {
        log.push_str(&format!("notified {}: {}\n", n.user_id, n.message));
    }
    insta::assert_snapshot!(log);
}

/// Every consumer's future is `Send`, so one body serves a Lambda on tokio
/// and a node in madsim alike.
#[test]
fn consumer_futures_are_send() {
    fn send<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let mem = Memory::new();
    let s = settings();
    let e = samples::sample(EventKind::FileUploaded, sources::FILE_SERVICE);
    let d = DeliveredEvent::wrap(&e, "eb", &Delivery::default());
    let obj = ObjectCreated {
        bucket: "b".into(),
        key: "k".into(),
        size: 0,
        sequencer: None,
    };
    let req = delete("/files/x", None);
    let cfg = ApiConfig::default();
    drop(send(voter::handle(&mem, Voter::BackupManager, &e, T0, &s)));
    drop(send(executor::handle(&mem, &e, T0, &s)));
    drop(send(analytics::handle(&mem, &e, T0, &s)));
    drop(send(categorization::handle(&mem, &e, T0, &s)));
    drop(send(audit::handle_delivered(&mem, &d, T0)));
    drop(send(audit::handle_text(&mem, "{}", T0)));
    drop(send(notification::handle(&mem, &e, T0, &s)));
    drop(send(file_processor::handle(&mem, &e, T0, &s)));
    drop(send(file_processor::object_created(&mem, &obj, T0)));
    drop(send(api::handle(&mem, &req, T0, ENTROPY, &cfg)));
}

/// A transaction that appears after the plan was made (a late write of the
/// file processor) is deleted too and joins the plan, so the announcement
/// names everything the deletion removed.
#[test]
fn the_executor_announces_a_transaction_added_after_its_plan() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    let approval = approve(&ports.mem, "req-1", "file-1");
    ports.fail("delete_content");
    assert!(
        run_ready(executor::handle(&ports, &approval, T0, &settings()))
            .unwrap_err()
            .is_transient()
    );
    ports.heal("delete_content");
    run_ready(ports.mem.put_new_transactions(&[tx("file-1", 7, "LATE")])).unwrap();
    let r = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap();
    assert!(
        matches!(
            r,
            executor::Report::Executed {
                transactions_deleted: 3,
                content_deleted: true,
                ..
            }
        ),
        "{r:?}"
    );
    let published = ports.mem.published();
    let deleted: Vec<&String> = published
        .iter()
        .filter_map(|e| match &e.data {
            EventData::TransactionsDeleted(t) => Some(&t.transaction_ids),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(deleted, ["file-1-tx-0", "file-1-tx-1", "file-1-tx-7"]);
}

/// One id, one content (issue 18, seed 175 of the default swarm): the
/// executor dies just after deleting the metadata, so the claim is given
/// back and the approval retried. The retry finds no metadata and nothing
/// left to delete; it must still announce what the first run deleted, not
/// zeros, under the same id.
#[test]
fn the_executor_retried_after_a_crash_past_the_metadata_announces_the_same_counts() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 3);
    let approval = approve(&ports.mem, "req-1", "file-1");
    ports.mem.drain_published();
    ports.crash_after("delete_file");
    assert!(
        run_ready(executor::handle(&ports, &approval, T0, &settings()))
            .unwrap_err()
            .is_transient()
    );
    ports.heal("delete_file");
    assert!(run_ready(ports.mem.get_file("file-1")).unwrap().is_none());
    run_ready(executor::handle(&ports, &approval, T0 + SEC, &settings())).unwrap();
    let published = ports.mem.published();
    let deleted = of_type(&published, EventKind::FileDeleted);
    assert_eq!(deleted.len(), 2, "{published:#?}");
    let content = |e: &Event| {
        let mut e = e.clone();
        e.timestamp = 0;
        e
    };
    assert_eq!(content(deleted[0]), content(deleted[1]));
    let EventData::FileDeleted(d) = &deleted[1].data else {
        unreachable!()
    };
    assert_eq!((d.transactions_deleted, d.content_deleted), (3, true));
}

/// A failed announcement is retried with what the first run deleted.
#[test]
fn the_executor_refuses_a_file_of_another_user_and_retries_a_failed_publish() {
    let ports = Flaky::default();
    seed_file(&ports.mem, "file-1", 2);
    let approval = approve(&ports.mem, "req-1", "file-1");
    let mut theirs = meta("file-1", "mallory");
    theirs.transaction_count = 2;
    run_ready(ports.mem.put_file(&theirs)).unwrap();
    let err = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap_err();
    assert!(
        matches!(&err, HandlerError::Permanent(r) if r.contains("another user")),
        "{err:?}"
    );
    assert_eq!(
        run_ready(ports.mem.transactions_of_file("file-1"))
            .unwrap()
            .len(),
        2
    );

    // The publish fails after the deletes: transient, and the metadata stays
    // with the plan, so the retry (the claim was released) announces what
    // the first run deleted, under the same ids.
    run_ready(ports.mem.put_file(&meta("file-1", USER))).unwrap();
    ports.mem.drain_published();
    ports.fail("publish");
    assert!(
        run_ready(executor::handle(&ports, &approval, T0, &settings()))
            .unwrap_err()
            .is_transient()
    );
    assert!(run_ready(ports.mem.transactions_of_file("file-1"))
        .unwrap()
        .is_empty());
    assert!(
        run_ready(ports.mem.get_file("file-1")).unwrap().is_some(),
        "the metadata outlives a failed announcement"
    );
    // The plan was kept before anything was deleted (asking to keep
    // another value answers with the kept one).
    let kept = run_ready(ports.mem.remember(executor::PLANS, "req-1", "{}", T0)).unwrap();
    assert!(!kept.first);
    let plan: DeletionPlan = serde_json::from_str(&kept.value).unwrap();
    assert_eq!(plan.request_id, "req-1");
    assert_eq!(plan.transaction_ids.len(), 2);
    assert_eq!(
        plan.content_key.as_deref(),
        Some("user-1/file-1/statement.csv")
    );
    ports.heal("publish");
    let r = run_ready(executor::handle(&ports, &approval, T0, &settings())).unwrap();
    assert!(
        matches!(
            r,
            executor::Report::Executed {
                transactions_deleted: 2,
                content_deleted: true,
                metadata_deleted: true,
                resumed: true,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(run_ready(ports.mem.get_file("file-1")).unwrap().is_none());
    let published = ports.mem.published();
    assert_eq!(published.len(), 2);
    let EventData::TransactionsDeleted(t) = &published[1].data else {
        panic!("{:?}", published[1])
    };
    assert_eq!(t.transaction_ids, plan.transaction_ids);
    assert_eq!(
        published[1].event_id,
        tally_core::ids::derive("tx-deleted", &["req-1"])
    );
    assert_eq!(
        published[0].event_id,
        tally_core::ids::derive("deleted", &["req-1"])
    );
}

/// A policy that binds a voter to another source is the one the deployed
/// voter follows: its vote comes from that source and counts (it used to
/// come from the voter's default source and be refused, silencing the
/// voter until the deadline).
#[test]
fn a_voter_votes_from_the_source_its_policy_binds() {
    use tally_core::handlers::dispatch::dispatch;
    let mem = Memory::new();
    seed_file(&mem, "f-bound", 2);
    let mut policy = Policy::default();
    policy
        .voter_sources
        .insert("category_manager".into(), "ledger.category".into());
    let req = deletion_request("r-bound", "f-bound", 2);
    let s = Settings::default();
    run_ready(dispatch(&mem, "category_voter", &req, T0, &policy, &s)).unwrap();
    let published = mem.published();
    let vote = published
        .iter()
        .find(|e| matches!(e.data, EventData::DeletionVote(_)))
        .expect("the voter voted");
    assert_eq!(vote.source, "ledger.category");
    let input = Input::from_event(vote).unwrap();
    let request = Input::from_event(&req).unwrap();
    run_ready(aggregate(&mem, &mem, &request, T0, &policy)).unwrap();
    let h = run_ready(aggregate(&mem, &mem, &input, T0 + SEC, &policy)).unwrap();
    assert_eq!(h.refusals().count(), 0, "{:?}", h.commands);
    assert!(h.record.unwrap().votes.contains_key("category_manager"));
}
