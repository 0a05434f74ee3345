//! The deployment end to end, on moto's server: the API publishes to
//! EventBridge, EventBridge routes by the rules file into each function's
//! SQS queue, the functions run the core's handlers over DynamoDB and S3.

mod support;

use support::{Moto, T0};
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
