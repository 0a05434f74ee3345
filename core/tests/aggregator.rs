//! The aggregator handler over ports: lost races re-read and re-step, and a
//! crash at any point between write, publish and clear loses nothing and
//! duplicates no decision.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tally_core::coordination::{Input, Policy, Record, Status};
use tally_core::event::Event;
use tally_core::handlers::aggregator::{aggregate, sweep};
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::{run_ready, Memory};
use tally_core::ports::{PortError, PublishError, Publisher, RecordStore};
use tally_core::time::Millis;

mod inputs;

use inputs::{proceed, request, T0};

/// Ports over `Memory` that fail on demand: the n-th save, or publishing.
#[derive(Default)]
struct Faulty {
    inner: Memory,
    saves: AtomicUsize,
    fail_save_at: Option<usize>,
    fail_publish: AtomicUsize,
    /// Before the first save, another writer sneaks this input in.
    interloper: Mutex<Option<Input>>,
}

impl RecordStore for Faulty {
    async fn load(&self, id: &str) -> Result<Option<Record>, PortError> {
        self.inner.load(id).await
    }

    async fn save(&self, record: &Record, expected: u64) -> Result<(), PortError> {
        let n = self.saves.fetch_add(1, Ordering::SeqCst);
        let sneaked = self.interloper.lock().unwrap().take();
        if let Some(input) = sneaked {
            aggregate(&self.inner, &self.inner, &input, T0 + 1, &Policy::default())
                .await
                .unwrap();
        }
        if self.fail_save_at == Some(n) {
            return Err(PortError::Transient(
                "injected: the process died before this write".into(),
            ));
        }
        self.inner.save(record, expected).await
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        self.inner.due(now, limit).await
    }
}

impl Publisher for Faulty {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        if self.fail_publish.load(Ordering::SeqCst) > 0 {
            self.fail_publish.fetch_sub(1, Ordering::SeqCst);
            return Err(PublishError {
                failed: (0..events.len()).collect(),
                error: PortError::Transient("injected: PutEvents throttled".into()),
            });
        }
        self.inner.publish(events).await
    }
}

fn distinct_decisions(m: &Memory) -> usize {
    let mut ids: Vec<String> = m.published().into_iter().map(|e| e.event_id).collect();
    ids.sort();
    ids.dedup();
    ids.len()
}

fn handle(p: &Faulty, input: &Input, at: Millis) -> Result<(), HandlerError> {
    run_ready(aggregate(p, p, input, T0 + at, &Policy::default())).map(|_| ())
}

/// Registers request r1 and counts its first vote (at 0 and 1); returns
/// the vote that decides it.
fn one_vote_from_deciding(p: &Faulty) -> Input {
    handle(p, &request("r1"), 0).unwrap();
    handle(
        p,
        &proceed("r1", "analytics_manager", "analytics.service"),
        1,
    )
    .unwrap();
    proceed("r1", "category_manager", "category.service")
}

#[test]
fn a_lost_race_rereads_and_resteps_so_both_votes_count() {
    let p = Faulty::default();
    handle(&p, &request("r1"), 0).unwrap();
    *p.interloper.lock().unwrap() = Some(proceed("r1", "category_manager", "category.service"));
    let h = run_ready(aggregate(
        &p,
        &p,
        &proceed("r1", "analytics_manager", "analytics.service"),
        T0 + 2,
        &Policy::default(),
    ))
    .unwrap();
    assert_eq!(h.races, 1);
    let rec = p.inner.record("r1").unwrap();
    assert_eq!(rec.status, Status::Approved);
    assert_eq!(rec.votes.len(), 2);
    assert!(rec.outbox.is_empty(), "published and cleared");
    assert_eq!(distinct_decisions(&p.inner), 1);
}

#[test]
fn a_failed_publish_keeps_the_outbox_and_the_redelivery_publishes_it() {
    let p = Faulty::default();
    let vote = one_vote_from_deciding(&p);
    p.fail_publish.store(1, Ordering::SeqCst);
    assert!(handle(&p, &vote, 2).unwrap_err().is_transient());
    let rec = p.inner.record("r1").unwrap();
    assert_eq!(
        (rec.status, rec.outbox.len()),
        (Status::Approved, 1),
        "decided and kept in the outbox"
    );
    assert!(p.inner.published().is_empty());
    handle(&p, &vote, 3).unwrap();
    assert_eq!(p.inner.published().len(), 1);
    assert!(p.inner.record("r1").unwrap().outbox.is_empty());
}

#[test]
fn a_crash_after_publishing_but_before_clearing_republishes_the_same_event() {
    // Saves: 0 request, 1 first vote, 2 decision, 3 clearing the outbox.
    let p = Faulty {
        fail_save_at: Some(3),
        ..Default::default()
    };
    let vote = one_vote_from_deciding(&p);
    assert!(handle(&p, &vote, 2).is_err());
    assert_eq!(p.inner.published().len(), 1);
    handle(&p, &vote, 3).unwrap();
    assert_eq!(p.inner.published().len(), 2, "published again...");
    assert_eq!(distinct_decisions(&p.inner), 1, "...as the very same event");
    assert!(p.inner.record("r1").unwrap().outbox.is_empty());
}

#[test]
fn a_crash_before_the_write_changes_nothing_and_the_retry_decides() {
    let p = Faulty {
        fail_save_at: Some(2),
        ..Default::default()
    };
    let vote = one_vote_from_deciding(&p);
    assert!(handle(&p, &vote, 2).is_err());
    assert_eq!(p.inner.record("r1").unwrap().status, Status::Waiting);
    handle(&p, &vote, 3).unwrap();
    assert_eq!(p.inner.record("r1").unwrap().status, Status::Approved);
    assert_eq!(distinct_decisions(&p.inner), 1);
}

#[test]
fn the_sweeper_decides_what_is_due_and_only_that() {
    let m = Memory::new();
    let policy = Policy::default();
    run_ready(aggregate(&m, &m, &request("early"), T0, &policy)).unwrap();
    run_ready(aggregate(&m, &m, &request("later"), T0 + 60_000, &policy)).unwrap();
    let deadline = policy.voting.deadline_ms;
    let decided = run_ready(sweep(&m, &m, T0 + deadline, &policy, 100)).unwrap();
    assert_eq!(
        decided
            .iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        ["early"]
    );
    assert_eq!(m.record("later").unwrap().status, Status::Waiting);
    let again = run_ready(sweep(&m, &m, T0 + deadline, &policy, 100)).unwrap();
    assert!(again.is_empty(), "a decided record is no longer due");
}

#[test]
fn a_timer_decision_whose_publish_died_is_finished_by_the_next_sweep() {
    // Found by the simulator (seed 17): a decision made by the sweeper is
    // never redelivered, so its outbox must be the sweeper's work too.
    let p = Faulty::default();
    handle(&p, &request("r1"), 0).unwrap();
    let policy = Policy::default();
    let deadline = T0 + policy.voting.deadline_ms;
    p.fail_publish.store(1, Ordering::SeqCst);
    assert!(run_ready(sweep(&p, &p, deadline, &policy, 10)).is_err());
    let rec = p.inner.record("r1").unwrap();
    assert_eq!((rec.status, rec.outbox.len()), (Status::Denied, 1));
    let visited = run_ready(sweep(&p, &p, deadline + 60_000, &policy, 10)).unwrap();
    assert_eq!(visited.len(), 1);
    assert_eq!(p.inner.published().len(), 1);
    assert!(p.inner.record("r1").unwrap().outbox.is_empty());
}
