//! The publisher on EventBridge's PutEvents. Entries are encoded by the
//! core's wire form and checked against the 256 KB limit before anything
//! is sent; they go in batches of at most 10 entries and 256 KB; only the
//! entries that failed are sent again, with backoff; what still failed is
//! reported by index so the handler retries exactly those.

use super::AwsPorts;
use crate::error::classify;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use std::time::Duration;
use tally_core::event::Event;
use tally_core::ports::{PortError, PublishError, Publisher};
use tally_core::wire::putevents::PutEventsEntry;

/// PutEvents takes at most 10 entries a call...
pub const MAX_BATCH_ENTRIES: usize = 10;
/// ...and at most 256 KB in all.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Attempts for the failed entries of a batch, the first included.
const ATTEMPTS: u32 = 4;
const BACKOFF_MS: u64 = 50;

/// Splits entries (given by their sizes) into batches that respect both
/// limits, keeping order. An entry over the limit by itself is never in
/// a batch (the caller refuses it before).
pub fn batches(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let fits = out
            .last()
            .is_some_and(|b| b.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_REQUEST_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        out.last_mut().expect("pushed above").push(i);
        bytes += size;
    }
    out
}

fn sdk_entry(e: &PutEventsEntry) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source(&e.source)
        .detail_type(&e.detail_type)
        .detail(&e.detail)
        .set_event_bus_name(e.event_bus_name.clone())
        .set_resources((!e.resources.is_empty()).then(|| e.resources.clone()))
        .set_time(
            e.time
                .as_deref()
                .and_then(tally_core::time::parse_rfc3339)
                .map(aws_smithy_types::DateTime::from_millis),
        )
        .build()
}

impl Publisher for AwsPorts {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let mut failed: Vec<usize> = Vec::new();
        let mut last_error: Option<PortError> = None;
        let mut encoded: Vec<(usize, PutEventsEntry)> = Vec::new();
        for (i, event) in events.iter().enumerate() {
            match PutEventsEntry::encode(event, &self.bus) {
                Ok(e) => encoded.push((i, e)),
                Err(e) => {
                    failed.push(i);
                    last_error = Some(PortError::Permanent(format!(
                        "event {} ({}): {e}",
                        event.event_id,
                        event.event_type()
                    )));
                }
            }
        }
        let sizes: Vec<usize> = encoded.iter().map(|(_, e)| e.size()).collect();
        for batch in batches(&sizes) {
            let mut pending: Vec<usize> = batch;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(BACKOFF_MS << (2 * (attempt - 1))))
                        .await;
                }
                let entries: Vec<PutEventsRequestEntry> =
                    pending.iter().map(|&j| sdk_entry(&encoded[j].1)).collect();
                let out = match self
                    .clients
                    .events
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                {
                    Ok(out) => out,
                    Err(e) => {
                        let err = classify("PutEvents", e);
                        let permanent = matches!(err, PortError::Permanent(_));
                        last_error = Some(err);
                        if permanent {
                            break;
                        }
                        continue;
                    }
                };
                // Results come back one per entry, in order; an entry with
                // an error code did not go.
                let results = out.entries.unwrap_or_default();
                let mut still = Vec::new();
                for (k, &j) in pending.iter().enumerate() {
                    match results.get(k) {
                        Some(r) if r.error_code.is_none() && r.event_id.is_some() => {}
                        Some(r) => {
                            let code = r.error_code.clone().unwrap_or_default();
                            let msg = r.error_message.clone().unwrap_or_default();
                            let text = format!(
                                "PutEvents entry {}: {code}: {msg}",
                                events[encoded[j].0].event_id
                            );
                            last_error =
                                Some(if code.contains("Throttl") || code.contains("Internal") {
                                    PortError::Transient(text)
                                } else {
                                    PortError::Permanent(text)
                                });
                            still.push(j);
                        }
                        None => {
                            last_error = Some(PortError::Transient(format!(
                                "PutEvents answered {} results for {} entries",
                                results.len(),
                                pending.len()
                            )));
                            still.push(j);
                        }
                    }
                }
                pending = still;
                if pending.is_empty() {
                    break;
                }
            }
            failed.extend(pending.iter().map(|&j| encoded[j].0));
        }
        if failed.is_empty() {
            return Ok(());
        }
        failed.sort_unstable();
        Err(PublishError {
            failed,
            error: last_error.unwrap_or_else(|| PortError::Transient("PutEvents failed".into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(sizes: &[usize], out: &[Vec<usize>]) {
        let flat: Vec<usize> = out.iter().flatten().copied().collect();
        assert_eq!(
            flat,
            (0..sizes.len()).collect::<Vec<_>>(),
            "order or coverage"
        );
        for b in out {
            assert!(!b.is_empty(), "an empty batch");
            assert!(b.len() <= MAX_BATCH_ENTRIES, "{} entries", b.len());
            let bytes: usize = b.iter().map(|&i| sizes[i]).sum();
            assert!(bytes <= MAX_REQUEST_BYTES, "{bytes} bytes");
        }
    }

    /// Ten entries fill a batch; the limit in bytes splits earlier.
    #[test]
    fn limits_split_batches() {
        let out = batches(&[1; 25]);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        check(&[1; 25], &out);
        let big = MAX_REQUEST_BYTES / 2;
        let sizes = [big, big, 1, big];
        let out = batches(&sizes);
        assert_eq!(out, vec![vec![0, 1], vec![2, 3]]);
        check(&sizes, &out);
        assert!(batches(&[]).is_empty());
        let exact = [MAX_REQUEST_BYTES];
        assert_eq!(batches(&exact), vec![vec![0]]);
    }

    // Invariant: for entries each within the 256 KB limit, every index
    // appears exactly once and in order, and no batch is empty, holds more
    // than 10 entries or more than 256 KB.
    proptest! {
        #[test]
        fn batches_respect_both_limits(
            sizes in proptest::collection::vec(
                prop_oneof![1usize..2_000, 20_000usize..140_000, Just(MAX_REQUEST_BYTES)],
                0..60,
            )
        ) {
            check(&sizes, &batches(&sizes));
        }
    }
}
