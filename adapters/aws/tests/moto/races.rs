//! Races and crashes on moto's DynamoDB and EventBridge: the conditional
//! writes and the outbox are what make the aggregator safe to run many
//! times at once and to die at any point.

use crate::support::{failed_ids, Moto, T0};
use std::sync::Arc;
use tally_aws::lambda::App;
use tally_core::consumers::voter::Voter;
use tally_core::event::{Event, VoteDecision};
use tally_core::ports::{FileStore, RecordStore};
use tally_core::wire::delivered::{DeliveredEvent, Delivery};
use tally_core::wire::sqs;

const MINUTE: i64 = 60_000;

fn deciding_vote(request: &str, at: i64) -> Event {
    let voter = Voter::CategoryManager;
    let id = format!("vote-{request}-{}", voter.name());
    crate::support::vote(
        &id,
        request,
        voter.name(),
        voter.source(),
        VoteDecision::Proceed,
        at,
    )
}

/// An SQS batch of one message carrying `event` as EventBridge delivers it.
fn batch(event: &Event, message_id: &str) -> String {
    let delivered = DeliveredEvent::wrap(event, &format!("eb-{message_id}"), &Delivery::default());
    let body = sqs::encode_body(&delivered);
    serde_json::json!({ "Records": [crate::support::sqs_record("aggregator", message_id, &body)] })
        .to_string()
}

/// Uploads f1, requests its deletion and lets only the analytics voter
/// vote: the record waits for category_manager. Returns the requestId.
async fn waiting_for_category_manager(moto: &Moto) -> String {
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 3, None, T0).await;
    assert!(moto.pump(T0 + 100).await.is_empty());
    let answer = moto.delete("f1", Some("alice"), T0 + 2 * MINUTE).await;
    let request = crate::support::request_id(&answer);
    moto.stall("category-voter").await;
    assert!(moto.pump(T0 + 2 * MINUTE + 100).await.is_empty());
    let rec = moto
        .ports()
        .load(&request)
        .await
        .unwrap()
        .expect("registered");
    assert!(!rec.is_decided());
    request
}

/// The same deciding vote handled by eight concurrent invocations: every
/// one succeeds or asks for a retry, exactly one decision is recorded, and
/// the approval is published with one event id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_vote_handled_concurrently_decides_once() {
    let moto = Moto::fresh().await;
    let request = waiting_for_category_manager(&moto).await;
    let now = T0 + 3 * MINUTE;
    let deciding = deciding_vote(&request, now);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app: Arc<App> = Arc::new(moto.app("aggregator"));
        let payload = batch(&deciding, &format!("m{i}"));
        tasks.push(tokio::spawn(async move {
            let answer = app.invoke(&payload, now).await;
            failed_ids(&answer)
        }));
    }
    let mut retried = 0;
    for t in tasks {
        retried += t.await.unwrap().len();
    }
    // Lost races are retried inside the handler; none should reach SQS.
    assert_eq!(retried, 0);
    let rec = moto.ports().load(&request).await.unwrap().unwrap();
    assert!(rec.is_decided(), "{rec:?}");
    assert!(rec.outbox.is_empty(), "the outbox was flushed");
    let counted: Vec<_> = rec
        .history
        .iter()
        .filter(|h| h.event_id == deciding.event_id)
        .collect();
    assert_eq!(
        counted.len(),
        1,
        "the vote is in the history once: {counted:?}"
    );
    // Everything the decision published goes through; the file is deleted once.
    assert!(moto.pump(now + 100).await.is_empty());
    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(decisions[0].contains("approved cause=all_proceeded"));
    assert!(moto.ports().get_file("f1").await.unwrap().is_none());
}

/// The deciding vote handled by an aggregator whose PutEvents fails after
/// the record is written: the message is handed back for a retry. Returns
/// the requestId, the vote and when it was handled.
async fn decided_but_not_published(moto: &Moto) -> (String, Event, i64) {
    let request = waiting_for_category_manager(moto).await;
    let now = T0 + 3 * MINUTE;
    let deciding = deciding_vote(&request, now);
    let broken = moto.app_publishing_nowhere("aggregator");
    let answer = broken.invoke(&batch(&deciding, "m1"), now).await;
    assert_eq!(
        failed_ids(&answer),
        vec!["m1".to_owned()],
        "retried, not lost"
    );
    (request, deciding, now)
}

/// The aggregator writes the decision and dies before its publish goes
/// (here: the bus it publishes to does not exist, so PutEvents fails after
/// the record is written). The input goes back to the queue; its
/// redelivery finds the decision in the outbox and publishes it.
#[tokio::test]
async fn a_crash_between_write_and_publish_is_recovered_by_redelivery() {
    let moto = Moto::fresh().await;
    let (request, deciding, now) = decided_but_not_published(&moto).await;
    let rec = moto.ports().load(&request).await.unwrap().unwrap();
    assert!(rec.is_decided(), "the decision was written");
    assert_eq!(rec.outbox.len(), 1, "and is waiting in the outbox");
    assert!(moto.ports().get_file("f1").await.unwrap().is_some());

    let answer = moto
        .app("aggregator")
        .invoke(&batch(&deciding, "m1"), now + 1000)
        .await;
    assert!(failed_ids(&answer).is_empty());
    let rec = moto.ports().load(&request).await.unwrap().unwrap();
    assert!(rec.outbox.is_empty());
    assert!(moto.pump(now + 2000).await.is_empty());
    assert!(
        moto.ports().get_file("f1").await.unwrap().is_none(),
        "executed"
    );
    assert_eq!(moto.decisions().await.len(), 1);
}

/// The same crash, and no redelivery ever comes (a timer decision, or a
/// message that expired): the sweeper finds the record with unpublished
/// events and publishes them.
#[tokio::test]
async fn a_crash_between_write_and_publish_is_recovered_by_the_sweeper() {
    let moto = Moto::fresh().await;
    let (request, _, now) = decided_but_not_published(&moto).await;
    let swept = moto.sweep(now + 60_000).await;
    assert_eq!(swept["decided"], serde_json::json!([request]), "{swept}");
    let rec = moto.ports().load(&request).await.unwrap().unwrap();
    assert!(rec.outbox.is_empty());
    assert!(moto.pump(now + 61_000).await.is_empty());
    assert!(
        moto.ports().get_file("f1").await.unwrap().is_none(),
        "executed"
    );
}

/// The executor deletes everything and dies before its announcement goes
/// (its bus does not exist): the approval is retried until it is
/// dead-lettered, the metadata stays with the deletion plan, and when the
/// approval is redriven the retry announces what the first runs deleted,
/// not zeros, and only then deletes the metadata.
#[tokio::test]
async fn a_failed_announcement_of_the_executor_is_retried_with_its_counts() {
    use tally_core::ports::{AuditLog, IdempotencyStore, TransactionStore};
    let moto = Moto::fresh().await;
    let request = waiting_for_category_manager(&moto).await;
    let now = T0 + 3 * MINUTE;
    let answer = moto
        .app("aggregator")
        .invoke(&batch(&deciding_vote(&request, now), "m1"), now)
        .await;
    assert!(failed_ids(&answer).is_empty());
    let failures = moto
        .pump_with(now + 100, false, |name| match name {
            "executor" => moto.app_publishing_nowhere("executor"),
            other => moto.app(other),
        })
        .await;
    assert!(
        failures.iter().all(|(f, _)| f == "executor") && !failures.is_empty(),
        "{failures:?}"
    );
    let ports = moto.ports();
    assert!(ports.transactions_of_file("f1").await.unwrap().is_empty());
    assert!(
        ports.get_file("f1").await.unwrap().is_some(),
        "the metadata outlives the failed announcement"
    );
    // The plan was kept before anything was deleted (asking to keep
    // another value answers with the kept one).
    let kept = ports
        .remember(tally_core::consumers::executor::PLANS, &request, "{}", now)
        .await
        .unwrap();
    assert!(!kept.first);
    let plan: tally_core::domain::DeletionPlan = serde_json::from_str(&kept.value).unwrap();
    assert_eq!(plan.transaction_ids.len(), 3);
    assert!(plan.content_key.is_some());

    let approvals = moto.dead_lettered("executor").await;
    assert_eq!(approvals.len(), 1);
    moto.send_raw("executor", &approvals[0]).await;
    assert!(moto.pump(now + 200).await.is_empty());
    assert!(ports.get_file("f1").await.unwrap().is_none());
    let deleted: Vec<_> = ports
        .entries(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "file.deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:#?}");
    let detail: serde_json::Value = serde_json::from_str(&deleted[0].delivered).unwrap();
    assert_eq!(
        detail["detail"]["data"]["transactionsDeleted"], 3,
        "{detail}"
    );
    assert_eq!(detail["detail"]["data"]["contentDeleted"], true, "{detail}");
}
