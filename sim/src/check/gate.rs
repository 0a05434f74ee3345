//! The ports of a checked deployment: the in-memory stores behind a gate
//! that stops an invocation before each of its port calls. The checker
//! polls invocations by hand, so a stop is where it chooses who goes next:
//! another invocation, a crash of this one, a new delivery, the sweeper or
//! the deadline.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tally_core::coordination::Record;
use tally_core::event::Event;
use tally_core::ports::memory::Memory;
use tally_core::ports::{Conduct, PortError, PublishError, Publisher, RecordStore, VoterConduct};
use tally_core::time::Millis;

/// Pending once, then ready: the stop before a port call.
#[derive(Default)]
struct Stop(bool);

impl Future for Stop {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        Poll::Pending
    }
}

/// Where an invocation stopped: before which port call, on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub what: &'static str,
    /// The item, where the call names one (a record's requestId).
    pub key: Option<String>,
    pub write: bool,
}

impl At {
    pub const START: At = At {
        what: "start",
        key: None,
        write: false,
    };

    /// Whether the two calls commute: other tables, other items, or both
    /// reads. A publish commutes with everything (the bus keeps a set,
    /// and no handler reads it back).
    pub fn independent(&self, other: &At) -> bool {
        let table = |a: &At| a.what.split('.').next().unwrap_or_default();
        if table(self) == "Publisher" || table(other) == "Publisher" {
            return true;
        }
        table(self) != table(other)
            || !(self.write || other.write)
            || matches!((&self.key, &other.key), (Some(a), Some(b)) if a != b)
    }
}

/// One invocation's view of the deployment: the shared stores, and how a
/// voter invoked this time answers (the checker's choice).
pub struct Gate {
    pub mem: Arc<Memory>,
    pub conduct: Conduct,
    /// The port call the invocation stopped before (for the schedule's log).
    pub at: Arc<Mutex<At>>,
    /// Set by the checker while the invocation is stopped: the call it
    /// stopped before fails as throttled, and the store is not touched.
    pub fail: Arc<AtomicBool>,
    /// A hash of every call the invocation made and what it got back: a
    /// handler is deterministic, so this and where it stopped are its state.
    pub seen: Arc<Mutex<u64>>,
}

/// The checker's transient fault: what a throttled call or a 5xx says.
fn throttled() -> PortError {
    PortError::Transient("throttled (the checker's transient fault)".to_owned())
}

impl Gate {
    async fn before(&self, what: &'static str, write: bool) -> Result<(), PortError> {
        self.stop(At {
            what,
            key: None,
            write,
        })
        .await
    }

    /// Stops before a call; on going on, the call fails if the checker
    /// chose so while it was stopped.
    async fn stop(&self, at: At) -> Result<(), PortError> {
        *self.at.lock().unwrap_or_else(|p| p.into_inner()) = at;
        Stop::default().await;
        if self.fail.swap(false, Ordering::Relaxed) {
            return Err(throttled());
        }
        Ok(())
    }

    fn after<T: std::fmt::Debug>(
        &self,
        what: &'static str,
        _wrote: bool,
        out: &Result<T, PortError>,
    ) -> Result<(), PortError> {
        self.saw(what, out);
        Ok(())
    }

    /// Folds a call and its result into what the invocation has seen.
    fn saw(&self, what: &'static str, out: &impl std::fmt::Debug) {
        self.saw_with(what, |h| tally_core::ports::memory::debug_hash(h, out));
    }

    fn saw_with(&self, what: &'static str, feed: impl FnOnce(&mut std::hash::DefaultHasher)) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut h = std::hash::DefaultHasher::new();
        (*seen, what).hash(&mut h);
        feed(&mut h);
        *seen = h.finish();
    }

    fn store(&self) -> &Memory {
        &self.mem
    }
}

crate::interpose::store_ports!(Gate);

impl RecordStore for Gate {
    async fn load(&self, id: &str) -> Result<Option<Record>, PortError> {
        self.stop(At {
            what: "RecordStore.load",
            key: Some(id.to_owned()),
            write: false,
        })
        .await?;
        let out = self.mem.load(id).await;
        // A record by its wire form: its Debug text costs several times more.
        self.saw_with("RecordStore.load", |h| match &out {
            Ok(r) => tally_core::ports::memory::content_hash(h, r),
            Err(e) => tally_core::ports::memory::debug_hash(h, e),
        });
        out
    }

    async fn save(&self, record: &Record, expected: u64) -> Result<(), PortError> {
        let key = Some(record.request_id.clone());
        self.stop(At {
            what: "RecordStore.save",
            key,
            write: true,
        })
        .await?;
        let out = self.mem.save(record, expected).await;
        self.saw("RecordStore.save", &out);
        out
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        self.stop(At {
            what: "RecordStore.due",
            key: None,
            write: false,
        })
        .await?;
        let out = self.mem.due(now, limit).await;
        self.saw("RecordStore.due", &out);
        out
    }
}

impl Publisher for Gate {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        self.stop(At {
            what: "Publisher.publish",
            key: None,
            write: true,
        })
        .await
        .map_err(|error| PublishError {
            failed: (0..events.len()).collect(),
            error,
        })?;
        let out = self.mem.publish(events).await;
        self.saw("Publisher.publish", &out);
        out
    }
}

impl VoterConduct for Gate {
    async fn conduct(&self, _target: &str, _voter: &str, now: Millis) -> (Conduct, Millis) {
        (self.conduct.clone(), now)
    }
}
