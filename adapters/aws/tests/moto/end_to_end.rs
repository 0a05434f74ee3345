//! The deployment end to end, on moto's server: the API publishes to
//! EventBridge, EventBridge routes by the rules file into each function's
//! SQS queue, the functions run the core's handlers over DynamoDB and S3.

use crate::support::{request_id, Moto, T0};
use tally_core::ports::{ContentStore, FileStore, TransactionStore};

const MINUTE: i64 = 60_000;

#[tokio::test]
async fn a_deletion_is_approved_and_executed_once() {
    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 4, None, T0).await;
    let failures = moto.pump(T0 + 100).await;
    assert!(failures.is_empty(), "{failures:?}");
    let ports = moto.ports();
    assert_eq!(ports.transactions_of_file("f1").await.unwrap().len(), 4);

    let answer = moto.delete("f1", Some("alice"), T0 + 2 * MINUTE).await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let failures = moto.pump(T0 + 2 * MINUTE + 100).await;
    assert!(failures.is_empty(), "{failures:?}");

    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains("file=f1 approved cause=all_proceeded"),
        "{decisions:?}"
    );
    assert!(ports.transactions_of_file("f1").await.unwrap().is_empty());
    assert!(ports.get_file("f1").await.unwrap().is_none());
    assert!(ports
        .get_content("alice/f1/f1.csv")
        .await
        .unwrap()
        .is_none());
}

/// The file's data, as (transactions, metadata present, content present).
async fn what_is_left(moto: &Moto, file: &str, owner: &str) -> (usize, bool, bool) {
    let ports = moto.ports();
    (
        ports.transactions_of_file(file).await.unwrap().len(),
        ports.get_file(file).await.unwrap().is_some(),
        ports
            .get_content(&format!("{owner}/{file}/{file}.csv"))
            .await
            .unwrap()
            .is_some(),
    )
}

async fn uploaded(moto: &Moto, file: &str, owner: &str, lines: usize) {
    moto.seed_user(owner).await;
    moto.upload(file, owner, lines, None, T0).await;
    let failures = moto.pump(T0 + 100).await;
    assert!(failures.is_empty(), "{failures:?}");
}

/// A deny vote published on the bus from the voter's own source vetoes
/// the deletion at once: nothing is deleted.
#[tokio::test]
async fn a_veto_denies_and_nothing_is_deleted() {
    use tally_core::event::{EventData, VoteDecision};
    use tally_core::ports::Publisher;
    let moto = Moto::fresh().await;
    uploaded(&moto, "f1", "alice", 3).await;
    let now = T0 + 2 * MINUTE;
    let answer = moto.delete("f1", Some("alice"), now).await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let request = request_id(&answer);
    let voter = tally_core::consumers::voter::Voter::CategoryManager;
    // The category voter objects before its own function runs.
    moto.stall("category-voter").await;
    let mut deny = crate::support::vote(
        "vote-deny-1",
        &request,
        voter.name(),
        voter.source(),
        VoteDecision::Deny,
        now + 10,
    );
    if let EventData::DeletionVote(v) = &mut deny.data {
        v.reason = Some("an open dispute on these transactions".into());
    }
    moto.ports().publish(&[deny]).await.unwrap();
    let failures = moto.pump(now + 100).await;
    assert!(failures.is_empty(), "{failures:?}");
    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains(&format!(
            "{request} file=f1 denied cause=vetoed by=[category_manager]"
        )),
        "{decisions:?}"
    );
    assert_eq!(what_is_left(&moto, "f1", "alice").await, (3, true, true));
}

/// A voter that never runs does not stall the request: the sweeper, run by
/// its schedule, finds the expired deadline and the policy's timeout
/// outcome (deny) decides.
#[tokio::test]
async fn a_stalled_voter_times_out_through_the_sweeper() {
    let moto = Moto::fresh().await;
    uploaded(&moto, "f1", "alice", 2).await;
    let now = T0 + 2 * MINUTE;
    let answer = moto.delete("f1", Some("alice"), now).await;
    let request = request_id(&answer);
    moto.stall("category-voter").await;
    assert!(moto.pump(now + 100).await.is_empty());
    // Before the deadline the sweeper finds nothing due.
    let early = moto.sweep(now + 4 * MINUTE).await;
    assert_eq!(early["decided"], serde_json::json!([]), "{early}");
    assert!(moto.decisions().await.is_empty());
    let late = moto.sweep(now + 5 * MINUTE + 1).await;
    assert_eq!(late["decided"], serde_json::json!([request]), "{late}");
    assert!(moto.pump(now + 5 * MINUTE + 100).await.is_empty());
    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains(
            "file=f1 denied cause=timeout by=[category_manager] votes=[analytics_manager:proceed]"
        ),
        "{decisions:?}"
    );
    assert_eq!(what_is_left(&moto, "f1", "alice").await, (2, true, true));
    // A second tick finds nothing more to do.
    let again = moto.sweep(now + 6 * MINUTE).await;
    assert_eq!(again["decided"], serde_json::json!([]), "{again}");
}

/// Every delivery twice and every message redelivered once more, late:
/// one decision, the file deleted once, file.deleted audited once.
#[tokio::test]
async fn a_duplicate_laden_delivery_decides_and_deletes_once() {
    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 5, None, T0).await;
    assert!(moto.pump_duplicating(T0 + 100).await.is_empty());
    let now = T0 + 2 * MINUTE;
    let answer = moto.delete("f1", Some("alice"), now).await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let failures = moto.pump_duplicating(now + 100).await;
    assert!(failures.is_empty(), "{failures:?}");
    let decisions = moto.decisions().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0].contains("file=f1 approved cause=all_proceeded"),
        "{decisions:?}"
    );
    assert_eq!(what_is_left(&moto, "f1", "alice").await, (0, false, false));
    use tally_core::ports::AuditLog;
    let audited = moto.ports().entries(0, i64::MAX).await.unwrap();
    let count = |t: &str| audited.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count("file.deleted"), 1, "{audited:#?}");
    assert_eq!(count("file.deletion.approved"), 1);
    assert_eq!(count("file.deletion.requested"), 1);
}

/// A rule may target a function directly (no queue): the function then
/// takes the delivered envelope itself, handles it as from a queue, and
/// fails the invocation on a bad one, so that EventBridge's retry policy
/// and the rule's dead-letter queue take over.
#[tokio::test]
async fn functions_take_events_straight_from_eventbridge() {
    use tally_aws::lambda::Answer;
    use tally_core::ports::RecordStore;
    let moto = Moto::fresh().await;
    uploaded(&moto, "f1", "alice", 2).await;
    let answer = moto.delete("f1", Some("alice"), T0 + MINUTE).await;
    let request = request_id(&answer);
    let envelopes = moto.drain("aggregator").await;
    assert_eq!(envelopes.len(), 1);
    let aggregator = moto.app("aggregator");
    match aggregator.invoke(&envelopes[0], T0 + MINUTE + 50).await {
        Answer::Ok(_) => {}
        Answer::Failed(e) => panic!("a good envelope failed: {e}"),
    }
    let rec = moto
        .ports()
        .load(&request)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(rec.required, ["analytics_manager", "category_manager"]);
    let mut broken: serde_json::Value = serde_json::from_str(&envelopes[0]).unwrap();
    broken["detail-type"] = serde_json::json!(7);
    let broken = broken.to_string();
    match aggregator.invoke(&broken, T0 + MINUTE + 60).await {
        Answer::Failed(e) => {
            assert!(!e.is_transient(), "{e}");
            assert!(e.to_string().contains("detail-type"), "{e}");
        }
        Answer::Ok(v) => panic!("a broken envelope was taken: {v}"),
    }
}
