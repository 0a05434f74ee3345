//! Tests added to catch the handler mutants that cargo-mutants found
//! surviving (see docs/mutants.md): how the aggregator clears its outbox
//! when another writer moved the record, and how errors are classified.

use std::sync::Mutex;
use tally_core::consumers::api::ApiResponse;
use tally_core::coordination::{step, Policy, Record};
use tally_core::handlers::aggregator::{aggregate, flush_outbox};
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::{run_ready, Memory};
use tally_core::ports::{PortError, PublishError, Publisher, RecordStore};
use tally_core::time::Millis;

mod inputs;

use inputs::{proceed, request, T0};

/// A record decided by the pure step, its approval still in the outbox.
fn decided(id: &str) -> Record {
    let policy = Policy::default();
    let mut rec = None;
    for (i, input) in [
        request(id),
        proceed(id, "analytics_manager", "analytics.service"),
        proceed(id, "category_manager", "category.service"),
    ]
    .iter()
    .enumerate()
    {
        rec = step(rec, input, T0 + i as i64, &policy).record;
    }
    let rec = rec.unwrap();
    assert_eq!(rec.outbox.len(), 1);
    rec
}

/// A record store over `Memory` that logs every successful write as
/// (expected version, written version) and, before the next save, can let
/// another writer store its own version of the record first.
#[derive(Default)]
struct Watched {
    inner: Memory,
    writes: Mutex<Vec<(u64, u64)>>,
    interloper: Mutex<Option<Record>>,
}

impl RecordStore for Watched {
    async fn load(&self, id: &str) -> Result<Option<Record>, PortError> {
        self.inner.load(id).await
    }

    async fn save(&self, r: &Record, expected: u64) -> Result<(), PortError> {
        let other = self.interloper.lock().unwrap().take();
        if let Some(other) = other {
            let stored = self
                .inner
                .load(&other.request_id)
                .await?
                .map_or(0, |s| s.version);
            self.inner.save(&other, stored).await?;
        }
        self.inner.save(r, expected).await?;
        self.writes.lock().unwrap().push((expected, r.version));
        Ok(())
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        self.inner.due(now, limit).await
    }
}

impl Publisher for Watched {
    async fn publish(&self, events: &[tally_core::event::Event]) -> Result<(), PublishError> {
        self.inner.publish(events).await
    }
}

/// Every write the aggregator makes, the outbox clearing included, moves the
/// record's version up by exactly one, so a writer holding an older version
/// can never overwrite it.
#[test]
fn every_write_bumps_the_version_by_one() {
    let store = Watched::default();
    let policy = Policy::default();
    for (i, input) in [
        request("r1"),
        proceed("r1", "analytics_manager", "analytics.service"),
        proceed("r1", "category_manager", "category.service"),
    ]
    .iter()
    .enumerate()
    {
        run_ready(aggregate(&store, &store, input, T0 + i as i64, &policy)).unwrap();
    }
    let writes = store.writes.lock().unwrap().clone();
    // Three steps and one outbox clearing.
    assert_eq!(writes.len(), 4, "{writes:?}");
    for (expected, written) in &writes {
        assert_eq!(*written, expected + 1, "{writes:?}");
    }
    let stored = run_ready(store.load("r1")).unwrap().unwrap();
    assert!(stored.outbox.is_empty());
    assert_eq!(stored.version, writes.last().unwrap().1);
}

/// When another writer moved the record but it still holds the events just
/// published, the flush clears them from that newer version and keeps the
/// other writer's change.
#[test]
fn a_flush_that_loses_a_race_clears_the_newer_version() {
    let store = Watched::default();
    let rec = decided("r2");
    run_ready(store.inner.save(&rec, 0)).unwrap();
    let mut other = rec.clone();
    other.version += 1;
    let mut late = other.history[0].clone();
    late.event_id = "evt-late-duplicate".into();
    other.history.push(late);
    *store.interloper.lock().unwrap() = Some(other.clone());

    let out = run_ready(flush_outbox(
        &store,
        &store,
        rec.clone(),
        0,
        &Policy::default(),
    ))
    .unwrap();
    let stored = run_ready(store.load("r2")).unwrap().unwrap();
    assert!(stored.outbox.is_empty(), "{:?}", stored.outbox);
    assert_eq!(stored.history, other.history, "the newer write is kept");
    assert!(stored.version > other.version);
    assert_eq!(out, stored);
    assert_eq!(store.inner.published().len(), 1);
}

/// When another writer already cleared the outbox, the flush returns that
/// writer's record and writes nothing more.
#[test]
fn a_flush_that_finds_the_outbox_already_cleared_writes_nothing() {
    let store = Watched::default();
    let rec = decided("r3");
    run_ready(store.inner.save(&rec, 0)).unwrap();
    let mut other = rec.clone();
    other.version += 1;
    other.outbox.clear();
    *store.interloper.lock().unwrap() = Some(other.clone());

    let out = run_ready(flush_outbox(&store, &store, rec, 0, &Policy::default())).unwrap();
    assert_eq!(out, other);
    assert_eq!(run_ready(store.load("r3")).unwrap().unwrap(), other);
    assert!(
        store.writes.lock().unwrap().is_empty(),
        "no write of the flush itself succeeds"
    );
}

/// Only a transient error asks for a retry: a permanent one is not
/// transient, and the API answers it with 500, not 503.
#[test]
fn permanent_errors_are_not_transient() {
    let permanent = HandlerError::Permanent("bad".into());
    let transient = HandlerError::Transient("busy".into());
    assert!(!permanent.is_transient());
    assert!(transient.is_transient());
    assert_eq!(ApiResponse::from_error(&permanent).status, 500);
    assert_eq!(ApiResponse::from_error(&transient).status, 503);
}
