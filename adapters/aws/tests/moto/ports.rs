//! Each port of `AwsPorts` against moto's server, one store at a time:
//! the semantics the core's handlers rely on (versioned writes, claims
//! that only the first caller wins, exactly-once audit, by-file queries,
//! S3 presence, PutEvents batching and per-entry failure) hold over the
//! real SDK calls, not only over the in-memory ports.

use crate::support::{Moto, T0};
use std::collections::BTreeSet;
use tally_core::coordination::{Flavour, Record, Status};
use tally_core::domain::{AuditEntry, Transaction};
use tally_core::event::{samples, sources, EventData, EventKind};
use tally_core::ports::{
    AuditLog, ContentStore, IdempotencyStore, PortError, Publisher, RecordStore, TransactionStore,
};

const DAY: i64 = 24 * 60 * 60 * 1000;

fn record(id: &str, version: u64) -> Record {
    let mut r = Record::new(id, Flavour::Voting, T0, DAY);
    r.version = version;
    r
}

/// A record saved on version 0 loads back equal; a write on the version
/// read succeeds, a second write on that (now stale) version, or a second
/// creation, is a `PortError::Conflict` and leaves the stored record as is.
#[tokio::test]
async fn records_are_written_on_the_version_read() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    assert_eq!(ports.load("req-1").await.unwrap(), None);

    let mut r = record("req-1", 1);
    r.required = vec!["analytics_manager".into(), "category_manager".into()];
    r.deadline = Some(T0 + 300_000);
    ports.save(&r, 0).await.unwrap();
    assert_eq!(ports.load("req-1").await.unwrap(), Some(r.clone()));

    let again = ports.save(&record("req-1", 1), 0).await.unwrap_err();
    assert!(matches!(again, PortError::Conflict(_)), "{again:?}");

    let mut next = r.clone();
    next.version = 2;
    next.status = Status::Denied;
    ports.save(&next, 1).await.unwrap();

    let mut stale = r.clone();
    stale.version = 2;
    stale.status = Status::Approved;
    let e = ports.save(&stale, 1).await.unwrap_err();
    assert!(matches!(e, PortError::Conflict(_)), "{e:?}");
    assert!(e.to_string().contains("req-1"), "{e}");
    assert_eq!(ports.load("req-1").await.unwrap(), Some(next));
}

/// `due` lists a waiting record only once its deadline has passed, a
/// record with unpublished events at once, and a decided record with an
/// empty outbox never; `limit` caps the answer.
#[tokio::test]
async fn due_lists_what_the_sweeper_must_visit() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    let deadline = T0 + 300_000;

    let mut waiting = record("req-waiting", 1);
    waiting.deadline = Some(deadline);
    ports.save(&waiting, 0).await.unwrap();

    let mut stuck = record("req-stuck", 1);
    stuck.status = Status::Approved;
    stuck.deadline = Some(deadline);
    stuck.outbox = vec![samples::sample(
        EventKind::DeletionApproved,
        sources::DELETION_AGGREGATOR,
    )];
    ports.save(&stuck, 0).await.unwrap();

    let mut done = record("req-done", 1);
    done.status = Status::Denied;
    done.deadline = Some(deadline);
    ports.save(&done, 0).await.unwrap();

    let ids = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        ids(ports.due(T0, 10).await.unwrap()),
        ids(vec!["req-stuck".into()])
    );
    assert_eq!(
        ids(ports.due(deadline - 1, 10).await.unwrap()),
        ids(vec!["req-stuck".into()])
    );
    assert_eq!(
        ids(ports.due(deadline, 10).await.unwrap()),
        ids(vec!["req-stuck".into(), "req-waiting".into()])
    );
    assert_eq!(ports.due(deadline + DAY, 1).await.unwrap().len(), 1);

    // Once decided and published, the waiting record leaves the index.
    let mut decided = waiting.clone();
    decided.status = Status::Approved;
    decided.version = 2;
    ports.save(&decided, 1).await.unwrap();
    assert_eq!(
        ids(ports.due(deadline + DAY, 10).await.unwrap()),
        ids(vec!["req-stuck".into()])
    );
}

/// A claim is true for the first caller only, per consumer; a released
/// claim can be claimed again.
#[tokio::test]
async fn idempotency_claims_and_releases() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    let until = T0 + DAY;
    assert!(ports.claim("executor", "evt-1", until).await.unwrap());
    assert!(!ports.claim("executor", "evt-1", until).await.unwrap());
    assert!(ports.claim("analytics", "evt-1", until).await.unwrap());
    ports.release("executor", "evt-1").await.unwrap();
    assert!(ports.claim("executor", "evt-1", until).await.unwrap());
    assert!(!ports.claim("executor", "evt-1", until).await.unwrap());
    // Releasing what nobody holds is not an error.
    ports.release("executor", "evt-never").await.unwrap();
}

/// A remembered value is write-once: the first caller keeps its value, and
/// every later caller, whatever it asks to keep, reads that one back (a
/// consistent read after the refused put); the key is per consumer.
#[tokio::test]
async fn idempotency_remembers_the_first_value_only() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    let until = T0 + DAY;
    let first = ports
        .remember(
            "category_manager/vote",
            "vote-1",
            r#"{"decision":"proceed"}"#,
            until,
        )
        .await
        .unwrap();
    assert!(first.first);
    assert_eq!(first.value, r#"{"decision":"proceed"}"#);
    let later = ports
        .remember(
            "category_manager/vote",
            "vote-1",
            r#"{"decision":"error"}"#,
            until,
        )
        .await
        .unwrap();
    assert!(!later.first);
    assert_eq!(later.value, r#"{"decision":"proceed"}"#);
    let other = ports
        .remember("analytics_manager/vote", "vote-1", "x", until)
        .await
        .unwrap();
    assert!(other.first);
    // A claim under the same key holds no value: that is said, not hidden.
    assert!(ports.claim("c", "k", until).await.unwrap());
    let err = ports.remember("c", "k", "v", until).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Permanent(m) if m.contains("expected a string")),
        "{err:?}"
    );
}

fn entry(id: &str, at: i64) -> AuditEntry {
    AuditEntry {
        event_id: id.into(),
        event_type: "file.uploaded".into(),
        source: "file.service".into(),
        timestamp: at,
        delivered: format!("{{\"id\": \"{id}\",  \"kept\":  \"as is\"}}"),
    }
}

/// An event is audited once (append true, then false, the first text
/// kept), and `entries` answers the half-open time range in time order.
#[tokio::test]
async fn audit_appends_once_and_answers_by_time() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    for (id, at) in [("e3", T0 + 3000), ("e1", T0 + 1000), ("e2", T0 + 2000)] {
        assert!(ports.append(&entry(id, at)).await.unwrap());
    }
    let mut changed = entry("e1", T0 + 1000);
    changed.delivered = "other".into();
    assert!(!ports.append(&changed).await.unwrap());

    let all = ports.entries(T0, T0 + 10_000).await.unwrap();
    assert_eq!(
        all,
        vec![
            entry("e1", T0 + 1000),
            entry("e2", T0 + 2000),
            entry("e3", T0 + 3000)
        ]
    );
    let some = ports.entries(T0 + 1000, T0 + 3000).await.unwrap();
    let ids: Vec<&str> = some.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2"]);
    assert!(ports
        .entries(T0 + 5000, T0 + 6000)
        .await
        .unwrap()
        .is_empty());
}

fn tx(id: &str, file: &str) -> Transaction {
    Transaction {
        transaction_id: id.into(),
        user_id: "alice".into(),
        file_id: file.into(),
        account_id: "acc-alice".into(),
        date: "2025-01-02".into(),
        description: format!("GROCER {id}"),
        amount_cents: -1234,
        category_id: None,
    }
}

/// `put_new_transactions` counts only the new ones and never overwrites;
/// the by-file and by-user queries answer one file's or one user's
/// transactions sorted by id;
/// `set_category` on a missing transaction is a `Conflict` (nothing is
/// created); deleting a file's transactions returns their ids, then none.
#[tokio::test]
async fn transactions_by_file_and_by_user() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    let first = [tx("t3", "f1"), tx("t1", "f1"), tx("u1", "f2")];
    assert_eq!(ports.put_new_transactions(&first).await.unwrap(), 3);
    let mut renamed = tx("t1", "f1");
    renamed.description = "overwritten?".into();
    assert_eq!(
        ports
            .put_new_transactions(&[renamed, tx("t2", "f1"), tx("t3", "f1")])
            .await
            .unwrap(),
        1
    );
    let of_f1 = ports.transactions_of_file("f1").await.unwrap();
    let ids: Vec<&str> = of_f1.iter().map(|t| t.transaction_id.as_str()).collect();
    assert_eq!(ids, ["t1", "t2", "t3"]);
    assert_eq!(of_f1[0], tx("t1", "f1"));
    let mut bobs = tx("b1", "f3");
    bobs.user_id = "bob".into();
    ports.put_new_transactions(&[bobs.clone()]).await.unwrap();
    let of_alice = ports.transactions_of_user("alice").await.unwrap();
    let ids: Vec<&str> = of_alice.iter().map(|t| t.transaction_id.as_str()).collect();
    assert_eq!(ids, ["t1", "t2", "t3", "u1"]);
    assert_eq!(ports.transactions_of_user("bob").await.unwrap(), [bobs]);
    assert!(ports
        .transactions_of_user("carol")
        .await
        .unwrap()
        .is_empty());

    ports.set_category("t2", "cat-groceries").await.unwrap();
    let got = ports
        .get_transactions(&["t2".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].category_id.as_deref(), Some("cat-groceries"));

    let e = ports.set_category("t-missing", "cat-x").await.unwrap_err();
    assert!(matches!(e, PortError::Conflict(_)), "{e:?}");
    assert!(ports
        .get_transactions(&["t-missing".into()])
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        ports.delete_transactions_of_file("f1").await.unwrap(),
        ["t1", "t2", "t3"]
    );
    assert!(ports
        .delete_transactions_of_file("f1")
        .await
        .unwrap()
        .is_empty());
    assert!(ports.transactions_of_file("f1").await.unwrap().is_empty());
    assert_eq!(ports.transactions_of_file("f2").await.unwrap().len(), 1);
}

/// S3 content round-trips byte for byte (keys with spaces and non-ASCII
/// included); a missing key reads as None; delete is true once, then false.
#[tokio::test]
async fn content_in_s3() {
    let moto = Moto::fresh().await;
    let ports = moto.ports();
    let key = "alice/f1/my file é.csv";
    let bytes = b"date,description,amount\n\xff\x00binary";
    assert_eq!(ports.get_content(key).await.unwrap(), None);
    ports.put_content(key, bytes).await.unwrap();
    assert_eq!(
        ports.get_content(key).await.unwrap().as_deref(),
        Some(&bytes[..])
    );
    assert!(ports.delete_content(key).await.unwrap());
    assert!(!ports.delete_content(key).await.unwrap());
    assert_eq!(ports.get_content(key).await.unwrap(), None);
    assert!(!ports.delete_content("never/was/there").await.unwrap());
}

fn uploaded(n: usize, file_name_bytes: usize) -> tally_core::event::Event {
    let mut e = samples::sample(EventKind::FileUploaded, sources::FILE_SERVICE);
    e.event_id = format!("evt-pub-{n:02}");
    if let EventData::FileUploaded(d) = &mut e.data {
        d.file_id = format!("f{n}");
        if file_name_bytes > 0 {
            d.file_name = "x".repeat(file_name_bytes);
        }
    }
    e
}

/// The event ids that reached the audit queue (its rule takes every event).
async fn audited_ids(moto: &Moto) -> BTreeSet<String> {
    moto.drain("audit")
        .await
        .iter()
        .map(|b| {
            let body: serde_json::Value = serde_json::from_str(b).unwrap();
            body["detail"]["eventId"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// 25 events (three PutEvents batches) all reach the bus and its rules.
#[tokio::test]
async fn the_publisher_sends_every_event() {
    let moto = Moto::fresh().await;
    let events: Vec<_> = (0..25).map(|n| uploaded(n, 0)).collect();
    moto.ports().publish(&events).await.unwrap();
    let want: BTreeSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(audited_ids(&moto).await, want);
}

/// An event over EventBridge's 256 KB entry limit is refused before
/// sending and reported by its index in `PublishError.failed`, as a
/// permanent error naming the limit; the other events still go.
#[tokio::test]
async fn an_oversized_event_is_reported_by_index_and_the_rest_go() {
    let moto = Moto::fresh().await;
    let mut events: Vec<_> = (0..12).map(|n| uploaded(n, 0)).collect();
    events[7] = uploaded(7, 300 * 1024);
    let e = moto.ports().publish(&events).await.unwrap_err();
    assert_eq!(e.failed, vec![7]);
    assert!(
        matches!(&e.error, PortError::Permanent(m) if m.contains("262144") && m.contains("evt-pub-07")),
        "{e}"
    );
    let want: BTreeSet<String> = events
        .iter()
        .filter(|e| e.event_id != "evt-pub-07")
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(audited_ids(&moto).await, want);
}

/// A service's refusal is reported in the service's words: the operation
/// and what it named, the error code, the HTTP status and the message, and
/// not the raw HTTP response; a missing table is permanent.
#[tokio::test]
async fn a_missing_table_is_reported_in_the_services_words() {
    let moto = Moto::fresh().await;
    let mut ports = moto.ports();
    ports.tables = tally_aws::config::Tables::new([("Audit", "no-such-table".to_owned())]);
    let err = ports.entries(0, 1).await.unwrap_err();
    let tally_core::ports::PortError::Permanent(text) = err else {
        panic!("{err:?}")
    };
    assert!(
        text.starts_with(
            "Query of no-such-table's by-time index: ResourceNotFoundException (HTTP 400): "
        ),
        "{text}"
    );
    assert!(!text.contains("Response {"), "{text}");
}
