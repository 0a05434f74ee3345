//! A trace captured from the audit table replays to the decisions that
//! were made in AWS: what `tally-aws capture --table` writes, `tally
//! replay` reads and decides the same.

use crate::support::{Moto, T0};
use tally_core::coordination::Policy;
use tally_sim::trace::{self, BadLines};

#[tokio::test]
async fn a_captured_trace_replays_to_the_same_decisions() {
    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 3, None, T0).await;
    moto.upload("f2", "alice", 2, None, T0).await;
    assert!(moto.pump(T0 + 100).await.is_empty());
    moto.delete("f1", Some("alice"), T0 + 60_000).await;
    assert!(moto.pump(T0 + 60_100).await.is_empty());
    moto.delete("f2", Some("alice"), T0 + 120_000).await;
    moto.stall("category-voter").await;
    assert!(moto.pump(T0 + 120_100).await.is_empty());
    moto.sweep(T0 + 120_000 + 6 * 60_000).await;
    assert!(moto.pump(T0 + 130_000 + 6 * 60_000).await.is_empty());

    // Pages of 7 entries: the capture is streamed page by page, in time
    // order, with the running count after each page, and loses nothing.
    let mut out = Vec::new();
    let mut counts = Vec::new();
    let n = tally_aws::capture::capture(&moto.ports(), i64::MIN, i64::MAX, 7, &mut out, |c| {
        counts.push(c)
    })
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), n);
    assert!(counts.len() > 2, "{counts:?}");
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1] && w[1] - w[0] <= 7),
        "{counts:?}"
    );
    assert_eq!(counts.last(), Some(&n));
    use tally_core::ports::AuditLog;
    let whole = moto.ports().entries(i64::MIN, i64::MAX).await.unwrap();
    let at: std::collections::BTreeMap<&str, i64> = whole
        .iter()
        .map(|e| (e.delivered.as_str(), e.timestamp))
        .collect();
    let times: Vec<i64> = text.lines().map(|l| at[l]).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let mut lines: Vec<&str> = text.lines().collect();
    let mut expected: Vec<&str> = whole.iter().map(|e| e.delivered.as_str()).collect();
    lines.sort();
    expected.sort();
    assert_eq!(lines, expected, "the pages together are the whole table");
    let captured = trace::read(&text, BadLines::Fatal).expect("every captured line reads");
    let replayed = tally_sim::replay::replay(&captured, &Policy::default());
    let mut made: Vec<String> = moto
        .records()
        .await
        .iter()
        .filter_map(|r| {
            r.decision
                .as_ref()
                .map(|d| format!("{} {} {}", r.request_id, d.status.as_str(), d.cause))
        })
        .collect();
    made.sort();
    let mut again: Vec<String> = replayed
        .decisions
        .iter()
        .map(|d| format!("{} {} {}", d.request_id, d.outcome, d.cause))
        .collect();
    again.sort();
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(again, made);
}

/// An event store in the layout of the notes' system's audit consumer
/// (`eventId, eventType, eventVersion, source, originalTimestamp,
/// auditTimestamp, userId, correlationId, causationId, eventData,
/// eventMetadata`), holding its own traffic: `tally-aws capture --layout
/// event-store` turns it, page by page, into a trace that replays with
/// the example policy to every decision its aggregator recorded; an item
/// that is not an event (its audit consumer's error record) is reported,
/// not dropped; `--since` keeps to the range.
#[tokio::test]
async fn an_event_store_in_the_notes_layout_captures_to_a_trace_that_replays() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use std::collections::HashMap;
    use tally_aws::capture::{capture_event_store, Layout, RECEIVED_AT};
    use tally_sim::housef3::Deletion;

    assert_eq!(RECEIVED_AT, trace::RECEIVED_AT);
    let moto = Moto::fresh().await;
    let table = "housef3-dev-event-store";
    moto.clients
        .dynamo
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("eventId")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("eventId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deletions: Vec<Deletion> = (0..5)
        .map(|n| Deletion {
            n,
            deny: n == 3,
            at: T0 + n as i64 * 60_000,
        })
        .collect();
    let put = |item: serde_json::Value| {
        let item: HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(item).unwrap();
        moto.clients
            .dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
    };
    let mut events = 0;
    for d in &deletions {
        for e in d.events() {
            // Audited a little after it was published.
            put(e.event_store_item(e.timestamp + 150)).await.unwrap();
            events += 1;
        }
    }
    // What its audit consumer writes when building the record failed.
    put(
        serde_json::json!({"eventId": "evt-broken", "eventType": "file.uploaded",
        "auditTimestamp": T0, "processingStatus": "error", "errorMessage": "boom"}),
    )
    .await
    .unwrap();

    let layout = Layout::event_store();
    let mut out = Vec::new();
    let mut counts = Vec::new();
    let got = capture_event_store(
        &moto.ports(),
        table,
        &layout,
        i64::MIN,
        i64::MAX,
        4,
        &mut out,
        |n| counts.push(n),
    )
    .await
    .unwrap();
    assert_eq!(got.written, events);
    assert_eq!(
        got.unreadable,
        vec!["item evt-broken: attribute originalTimestamp: expected milliseconds since the epoch, found nothing"]
    );
    assert!(counts.len() > 2, "streamed a page at a time: {counts:?}");
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), events);
    assert!(text.lines().all(|l| l.contains("\"receivedAt\":")));
    let captured = trace::read(&text, BadLines::Fatal).expect("every captured line reads");
    assert!(captured
        .events
        .iter()
        .all(|t| t.received == Some(t.at + 150)));
    let policy_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/housef3.policy.toml"
    );
    let policy =
        Policy::parse(policy_file, &std::fs::read_to_string(policy_file).unwrap()).unwrap();
    let recorded = trace::recognise(&captured, &policy);
    assert_eq!(recorded.decisions.len(), deletions.len());
    let replayed = tally_sim::replay::replay(&captured, &policy);
    let cmp = tally_sim::compare::compare(&recorded.decisions, &replayed.records, &captured);
    assert_eq!((cmp.compared, cmp.agreeing), (5, 5), "{:#?}", cmp.differing);

    // From the third request on: its upload, half a minute before it, too.
    let mut out = Vec::new();
    let since = deletions[2].at - 30_000;
    let got = capture_event_store(
        &moto.ports(),
        table,
        &layout,
        since,
        i64::MAX,
        4,
        &mut out,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(got.written, 3 * 5);
    assert_eq!(
        got.unreadable.len(),
        1,
        "an item without a time is never left out unsaid"
    );
}
