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
