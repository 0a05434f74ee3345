//! Bad input through the deployed functions on moto's server: what each
//! function answers, where the input ends up (the batch failure report,
//! the function's dead-letter queue after its retries, or the record's
//! history) and that no decision changes: no record is decided, and the
//! file, its content and its transactions are untouched.

use crate::support::{failed_ids, Moto, MAX_RECEIVES, T0};
use tally_aws::lambda::Answer;
use tally_core::coordination::{Disposition, Status};
use tally_core::event::{samples, sources, Event, EventData, EventKind, VoteDecision};
use tally_core::handlers::HandlerError;
use tally_core::ports::{ContentStore, FileStore, TransactionStore};
use tally_core::wire::delivered::{DeliveredEvent, Delivery};

const MINUTE: i64 = 60_000;

fn body(e: &Event) -> String {
    DeliveredEvent::wrap(e, &format!("eb-{}", e.event_id), &Delivery::default()).to_json()
}

fn request(request_id: &str) -> Event {
    let mut e = samples::sample(EventKind::DeletionRequested, sources::FILE_SERVICE);
    e.event_id = format!("evt-request-{request_id}");
    e.user_id = "alice".into();
    e.timestamp = T0 + MINUTE;
    if let EventData::DeletionRequested(r) = &mut e.data {
        r.file_id = "f1".into();
        r.user_id = "alice".into();
        r.account_id = "acc-alice".into();
        r.account_type = None;
        r.transaction_count = 4;
        r.request_id = request_id.into();
    }
    e
}

/// A vote by `voter` on `request_id`, published from `source`.
fn vote(id: &str, request_id: &str, voter: &str, source: &str, decision: VoteDecision) -> Event {
    crate::support::vote(id, request_id, voter, source, decision, T0 + MINUTE + 1000)
}

/// alice's file f1 with 4 transactions, processed; nothing failed.
async fn world() -> Moto {
    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 4, None, T0).await;
    let failures = moto.pump(T0 + 100).await;
    assert!(failures.is_empty(), "{failures:?}");
    moto
}

/// No decision was made and f1 is whole: its metadata, content and 4
/// transactions.
async fn assert_untouched(moto: &Moto) {
    assert!(
        moto.decisions().await.is_empty(),
        "{:?}",
        moto.decisions().await
    );
    for r in moto.records().await {
        assert_eq!(r.status, Status::Waiting, "{r:?}");
        assert!(r.decision.is_none() && r.votes.is_empty(), "{r:?}");
    }
    let ports = moto.ports();
    assert!(ports.get_file("f1").await.unwrap().is_some());
    assert!(ports
        .get_content("alice/f1/f1.csv")
        .await
        .unwrap()
        .is_some());
    assert_eq!(ports.transactions_of_file("f1").await.unwrap().len(), 4);
}

fn permanent(r: Result<tally_aws::lambda::deliver::Delivered, HandlerError>) -> String {
    match r {
        Err(HandlerError::Permanent(why)) => why,
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
}

/// Bodies that do not decode (not JSON, JSON that is not an event, an
/// event without its envelope) are refused with the reason naming what is
/// wrong; in a batch only their messages are reported failed (the good one
/// beside them is handled); from the queue they are retried, then land in
/// the dead-letter queue; nothing is decided or deleted.
#[tokio::test]
async fn undecodable_bodies_are_dead_lettered_with_a_reason() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let bad = [
        ("not json", "the SQS message body is not valid JSON"),
        (
            "[1, 2, 3]",
            "(event): expected a JSON object, found an array of 3 elements",
        ),
        ("{}", "id: expected a string"),
    ];
    for function in ["aggregator", "executor", "category-voter"] {
        for (text, reason) in bad {
            let why = permanent(moto.deliver_to(function, text, now).await);
            assert!(why.contains(reason), "{function} {text:?}: {why}");
        }
    }

    // In a batch, only the bad messages fail.
    let good = body(&request("req-good"));
    let answer = moto
        .invoke_batch("aggregator", &["not json", &good, "[1, 2, 3]"], now)
        .await;
    assert_eq!(failed_ids(&answer), ["m0", "m2"]);
    let records = moto.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].request_id, "req-good");

    // From the queues: retried, then dead-lettered, body unchanged.
    for function in ["aggregator", "executor"] {
        for (text, _) in bad {
            moto.send_raw(function, text).await;
        }
    }
    let failures = moto.pump(now).await;
    assert_eq!(
        failures.len(),
        2 * bad.len() * MAX_RECEIVES as usize,
        "{failures:?}"
    );
    for function in ["aggregator", "executor"] {
        let mut dead = moto.dead_lettered(function).await;
        dead.sort();
        let mut want: Vec<String> = bad.iter().map(|(t, _)| t.to_string()).collect();
        want.sort();
        assert_eq!(dead, want, "{function}");
    }
    assert_untouched(&moto).await;
}

/// An unknown event type reaches only the audit (the one rule that takes
/// everything), which keeps it; delivered to the aggregator anyway, it is
/// refused by name and dead-lettered.
#[tokio::test]
async fn an_unknown_event_type_is_audited_and_refused_elsewhere() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let text = r#"{"version":"0","id":"eb-mystery","detail-type":"file.mystery","source":"file.service","account":"123456789012","time":"2025-01-15T10:32:00Z","region":"us-east-1","resources":[],"detail":{"eventId":"evt-mystery","eventVersion":"1.0","timestamp":1736937120000,"userId":"alice","data":{"fileId":"f1"}}}"#;
    let why = permanent(moto.deliver_to("aggregator", text, now).await);
    assert!(
        why.contains("the aggregator has no use for file.mystery"),
        "{why}"
    );
    assert!(moto.deliver_to("audit", text, now).await.is_ok());

    moto.send_raw("aggregator", text).await;
    let failures = moto.pump(now).await;
    assert_eq!(failures.len(), MAX_RECEIVES as usize, "{failures:?}");
    assert_eq!(moto.dead_lettered("aggregator").await, [text]);
    assert_untouched(&moto).await;
}

/// A vote whose source is not its voter's (a forged category_manager
/// proceed from analytics.service) is refused with the reason in the
/// record's history and in the Handled report, never counted, and not
/// dead-lettered (handled, not failed); a vote for an unknown request is
/// held, not counted, and decides nothing.
#[tokio::test]
async fn forged_votes_and_votes_for_unknown_requests_decide_nothing() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let answer = moto
        .invoke_batch("aggregator", &[&body(&request("req-1"))], now)
        .await;
    assert!(failed_ids(&answer).is_empty());

    let forged = vote(
        "evt-forged",
        "req-1",
        "category_manager",
        sources::ANALYTICS_SERVICE,
        VoteDecision::Proceed,
    );
    let handled = moto
        .deliver_to("aggregator", &body(&forged), now)
        .await
        .unwrap();
    assert_eq!(handled.report["status"], "waiting", "{}", handled.report);
    let refused = handled.report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{}", handled.report);
    assert_eq!(refused[0]["eventId"], "evt-forged");
    let reason = refused[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("category_manager votes from category.service, not from analytics.service"),
        "{reason}"
    );
    let record = moto.ports();
    let r = tally_core::ports::RecordStore::load(&record, "req-1")
        .await
        .unwrap()
        .unwrap();
    let h = r
        .history
        .iter()
        .find(|h| h.event_id == "evt-forged")
        .unwrap();
    assert!(
        matches!(&h.disposition, Disposition::Refused { reason: r } if r == reason),
        "{h:?}"
    );
    assert!(r.votes.is_empty());

    // Through the queue: handled (the refusal is the answer), not retried.
    let unknown = vote(
        "evt-orphan",
        "req-nobody",
        "analytics_manager",
        sources::ANALYTICS_SERVICE,
        VoteDecision::Proceed,
    );
    let forged_again = vote(
        "evt-forged-2",
        "req-1",
        "analytics_manager",
        sources::CATEGORY_SERVICE,
        VoteDecision::Deny,
    );
    moto.send_raw("aggregator", &body(&unknown)).await;
    moto.send_raw("aggregator", &body(&forged_again)).await;
    let failures = moto.pump(now).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(moto.dead_lettered("aggregator").await.is_empty());

    let orphan = tally_core::ports::RecordStore::load(&record, "req-nobody")
        .await
        .unwrap()
        .unwrap();
    assert!(orphan.request.is_none() && orphan.deadline.is_none());
    assert_eq!(orphan.held.len(), 1);
    assert!(matches!(orphan.history[0].disposition, Disposition::Held));
    let r = tally_core::ports::RecordStore::load(&record, "req-1")
        .await
        .unwrap()
        .unwrap();
    assert!(r
        .history
        .iter()
        .any(|h| h.event_id == "evt-forged-2"
            && matches!(&h.disposition, Disposition::Refused { .. })));
    assert_untouched(&moto).await;
}

/// An approval with no coordination record behind it (forged, or for a
/// request the aggregator never saw) is refused by the executor, retried,
/// dead-lettered, and deletes nothing.
#[tokio::test]
async fn a_forged_approval_deletes_nothing() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let mut approved = samples::sample(EventKind::DeletionApproved, sources::DELETION_AGGREGATOR);
    approved.event_id = "evt-forged-approval".into();
    if let EventData::DeletionApproved(a) = &mut approved.data {
        a.file_id = "f1".into();
        a.request_id = "req-forged".into();
    }
    let text = body(&approved);
    let why = permanent(moto.deliver_to("executor", &text, now).await);
    assert!(
        why.contains("no coordination record exists for request req-forged"),
        "{why}"
    );
    moto.send_raw("executor", &text).await;
    let failures = moto.pump(now).await;
    assert_eq!(failures.len(), MAX_RECEIVES as usize, "{failures:?}");
    assert_eq!(moto.dead_lettered("executor").await, [text]);
    assert_untouched(&moto).await;
}

/// A registered req-1 (alice's f1) and a deny on it by analytics_manager,
/// from its own source, whose reason is `reason_bytes` long.
async fn registered_with_a_deny(moto: &Moto, id: &str, reason_bytes: usize, now: i64) -> Event {
    let answer = moto
        .invoke_batch("aggregator", &[&body(&request("req-1"))], now)
        .await;
    assert!(failed_ids(&answer).is_empty());
    let mut deny = vote(
        id,
        "req-1",
        "analytics_manager",
        sources::ANALYTICS_SERVICE,
        VoteDecision::Deny,
    );
    if let EventData::DeletionVote(v) = &mut deny.data {
        v.reason = Some("x".repeat(reason_bytes));
    }
    deny
}

/// A delivery over 256 KB (a deny whose reason alone is 300 KB: no
/// publisher could have sent it, and SQS could not carry it) is refused by
/// its size before it reaches a store, and reported failed in its batch;
/// the request stays undecided and the file whole.
#[tokio::test]
async fn an_entry_over_256_kb_is_refused() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let huge = registered_with_a_deny(&moto, "evt-huge", 300 * 1024, now).await;
    let text = body(&huge);
    assert!(text.len() > 256 * 1024);
    let why = permanent(moto.deliver_to("aggregator", &text, now).await);
    assert!(
        why.contains(&format!("the delivered event is {} bytes", text.len()))
            && why.contains("over EventBridge's 256 KB entry limit"),
        "{}",
        &why[..why.len().min(400)]
    );
    let answer = moto.invoke_batch("aggregator", &[&text], now).await;
    assert_eq!(failed_ids(&answer), ["m0"]);
    assert_untouched(&moto).await;
}

/// A deny whose reason is long but within the bus's limits (150 KB) still
/// vetoes: the coordination keeps the first 1,024 bytes of a reason,
/// so the record (which holds the vote and the decision event) stays far
/// under DynamoDB's 400 KB item limit and the veto is never lost.
#[tokio::test]
async fn a_veto_with_a_long_reason_still_vetoes() {
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    let long = registered_with_a_deny(&moto, "evt-long", 150 * 1024, now).await;
    let answer = moto.invoke_batch("aggregator", &[&body(&long)], now).await;
    assert!(failed_ids(&answer).is_empty(), "{answer:?}");
    let rec = tally_core::ports::RecordStore::load(&moto.ports(), "req-1")
        .await
        .unwrap()
        .unwrap();
    let decision = rec.decision.as_ref().expect("decided");
    assert_eq!(decision.status, Status::Denied);
    let kept = rec.votes["analytics_manager"].reason.as_deref().unwrap();
    assert!(
        kept.ends_with("more bytes)"),
        "{}",
        &kept[kept.len() - 40..]
    );
    assert!(kept.len() < 1100);
}

/// A whole invocation payload of an unknown shape is refused naming its
/// keys, and a known shape sent to a function that cannot take it is
/// refused naming the function and the shape.
#[tokio::test]
async fn an_unknown_invocation_payload_is_refused_by_name() {
    let moto = Moto::fresh().await;
    match moto
        .app("aggregator")
        .invoke(r#"{"hello": 1, "world": [2]}"#, T0)
        .await
    {
        Answer::Failed(HandlerError::Permanent(why)) => {
            assert!(
                why.contains("not a payload a tally function takes"),
                "{why}"
            );
            assert!(
                why.contains("\"hello\"") && why.contains("\"world\""),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    match moto.app("executor").invoke("not json", T0).await {
        Answer::Failed(HandlerError::Permanent(why)) => {
            assert!(why.contains("not JSON"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let api = serde_json::json!({
        "httpMethod": "DELETE", "path": "/files/f1", "headers": {}, "multiValueHeaders": {},
        "requestContext": { "authorizer": {}, "httpMethod": "DELETE", "path": "/files/f1" }, "isBase64Encoded": false,
    });
    match moto.app("aggregator").invoke(&api.to_string(), T0).await {
        Answer::Failed(HandlerError::Permanent(why)) => assert!(
            why.contains("function aggregator") && why.contains("API Gateway request"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
}

/// A flood of forged votes on one request, each with the longest voter
/// name the coordination takes and a 1 KB reason, leaves its record small
/// (past the history's bound the flood is refused, not recorded) and the
/// real voters still decide; a voter name over the bound is refused before
/// the record is read. Every write fits DynamoDB's item: nothing is
/// dead-lettered.
#[tokio::test]
async fn a_flood_of_forged_votes_neither_outgrows_a_record_nor_silences_the_voters() {
    use tally_core::coordination::{MAX_HISTORY, MAX_ID_BYTES, MAX_RECORD_JSON_BYTES};
    let moto = world().await;
    let now = T0 + 2 * MINUTE;
    // The request is on the bus, in the aggregator's and the voters' queues;
    // the flood comes first.
    let answer = moto.delete("f1", Some("alice"), now).await;
    let request = crate::support::request_id(&answer);
    let forged: Vec<String> = (0..60)
        .map(|i| {
            let name = format!("{i:03}{}", "\"".repeat(MAX_ID_BYTES - 3));
            let mut v = vote(
                &format!("evt-flood-{i}"),
                &request,
                &name,
                sources::ANALYTICS_SERVICE,
                VoteDecision::Deny,
            );
            if let EventData::DeletionVote(d) = &mut v.data {
                d.reason = Some("\\".repeat(4096));
            }
            body(&v)
        })
        .collect();
    for chunk in forged.chunks(10) {
        let bodies: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let answer = moto.invoke_batch("aggregator", &bodies, now).await;
        assert!(failed_ids(&answer).is_empty(), "{answer:?}");
    }
    let too_long = vote(
        "evt-too-long",
        &request,
        &"v".repeat(MAX_ID_BYTES + 1),
        sources::ANALYTICS_SERVICE,
        VoteDecision::Deny,
    );
    let handled = moto
        .deliver_to("aggregator", &body(&too_long), now)
        .await
        .unwrap();
    let reason = handled.report["refused"][0]["reason"].as_str().unwrap();
    assert!(
        reason.ends_with("is 129 bytes; an identifier is at most 128"),
        "{reason}"
    );

    let r = tally_core::ports::RecordStore::load(&moto.ports(), &request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.history.len(), MAX_HISTORY, "{:?}", r.history.len());
    assert!(serde_json::to_string(&r).unwrap().len() < MAX_RECORD_JSON_BYTES);
    assert!(!r.history.iter().any(|h| h.event_id == "evt-too-long"));

    // The voters vote (through the queues); the flood silenced no one.
    let failures = moto.pump(now + 1000).await;
    assert!(failures.is_empty(), "{failures:?}");
    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains("approved cause=all_proceeded"),
        "{decisions:?}"
    );
    assert!(moto.dead_lettered("aggregator").await.is_empty());
}
