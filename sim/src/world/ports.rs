//! The world as every port: the in-memory tables behind a little simulated
//! latency (so concurrent invocations interleave and conditional writes
//! really race) and the fault points — throttling, and a handler dying
//! before or after a write or a publish. A dying handler is a failed
//! invocation, which the bus retries: exactly what Lambda does.

use super::World;
use std::time::Duration;
use tally_core::coordination::Record;
use tally_core::event::Event;
use tally_core::ports::*;
use tally_core::time::Millis;

impl World {
    /// One store round trip: a few virtual milliseconds, maybe throttled.
    async fn io(&self, what: &str) -> Result<(), PortError> {
        madsim::time::sleep(Duration::from_micros(self.draw(200, 5_000))).await;
        if self.fault(self.mix.store_error_rate) {
            return Err(PortError::Transient(format!(
                "simulated throttling on {what}"
            )));
        }
        // Drawn only when on, so that runs without it draw as before.
        if self.mix.permanent_error_rate > 0.0 && self.fault(self.mix.permanent_error_rate) {
            return Err(PortError::Permanent(format!(
                "simulated access denied on {what}"
            )));
        }
        Ok(())
    }

    /// A crash point: the handler dies here with half the crash rate
    /// (each operation has two points, before and after).
    fn crash(&self) -> bool {
        let dies = self.fault(self.mix.crash_rate / 2.0);
        if dies {
            self.observations().crashes += 1;
        }
        dies
    }
}

impl RecordStore for World {
    async fn load(&self, id: &str) -> Result<Option<Record>, PortError> {
        self.io("records.load").await?;
        self.crash_before("records.load")?;
        self.mem.load(id).await
    }

    async fn save(&self, record: &Record, expected: u64) -> Result<(), PortError> {
        self.io("records.save").await?;
        if self.crash() {
            return Err(PortError::Transient(
                "simulated crash before the write".into(),
            ));
        }
        self.mem.save(record, expected).await?;
        if self.crash() {
            self.observations()
                .coverage
                .add(crate::observe::Behaviour::CrashAfterWrite, 1);
            return Err(PortError::Transient(
                "simulated crash after the write".into(),
            ));
        }
        Ok(())
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        self.io("records.due").await?;
        self.mem.due(now, limit).await
    }
}

impl Publisher for World {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let all = || (0..events.len()).collect::<Vec<_>>();
        madsim::time::sleep(Duration::from_micros(self.draw(200, 5_000))).await;
        if self.crash() {
            self.observations()
                .coverage
                .add(crate::observe::Behaviour::CrashBeforePublish, 1);
            return Err(PublishError {
                failed: all(),
                error: PortError::Transient("simulated crash before the publish".into()),
            });
        }
        if self.fault(self.mix.publish_failure_rate) {
            return Err(PublishError {
                failed: all(),
                error: PortError::Transient("simulated PutEvents failure".into()),
            });
        }
        for e in events {
            self.put_event(e);
        }
        if self.crash() {
            return Err(PublishError {
                failed: Vec::new(),
                error: PortError::Transient("simulated crash after the publish".into()),
            });
        }
        Ok(())
    }
}

impl World {
    /// The crash points around one store call: before it (so a crash lands
    /// in every window between a handler's port calls), and after it when
    /// it wrote (the write is durable, the handler never learns it).
    fn crash_before(&self, what: &str) -> Result<(), PortError> {
        if self.crash() {
            return Err(PortError::Transient(format!(
                "simulated crash before {what}"
            )));
        }
        Ok(())
    }

    fn crash_after(&self, what: &str, wrote: bool) -> Result<(), PortError> {
        if wrote && self.crash() {
            self.observations()
                .coverage
                .add(crate::observe::Behaviour::CrashAfterWrite, 1);
            return Err(PortError::Transient(format!(
                "simulated crash after {what}"
            )));
        }
        Ok(())
    }
}

/// The voter faults of the run's mix, while faults are on: a stalled voter
/// stays silent (the failure the deadline exists for), a slow one answers
/// after up to one and a half deadlines, a denying one objects to
/// everything; and in a scenario that scripts every vote, no voter answers
/// by itself.
impl VoterConduct for World {
    async fn conduct(&self, target: &str, voter: &str, now: Millis) -> (Conduct, Millis) {
        if !self.deployed.automatic_voters {
            return (Conduct::Silent, now);
        }
        let named = |v: &Option<String>| self.faults_on() && v.as_deref() == Some(voter);
        if named(&self.mix.stalled_voter) {
            return (Conduct::Silent, now);
        }
        if named(&self.mix.slow_voter) {
            let pause = self.policy.voting.deadline_ms as u64 * 3 / 2;
            madsim::time::sleep(Duration::from_millis(self.draw(pause / 2, pause))).await;
        }
        let conduct = if named(&self.mix.denying_voter) {
            Conduct::Object("simulated objection".to_owned())
        } else {
            Conduct::OwnWork
        };
        (conduct, self.clock(target).max(now))
    }
}

// Each store call as the world makes it: latency and throttling, then the
// crash points (`write` calls have one after the call as well).
crate::interpose::store_ports!(World);

impl World {
    async fn before(&self, what: &'static str, _write: bool) -> Result<(), PortError> {
        self.io(what).await?;
        self.crash_before(what)
    }

    fn after<T>(
        &self,
        what: &'static str,
        wrote: bool,
        out: &Result<T, PortError>,
    ) -> Result<(), PortError> {
        // A call the store refused wrote nothing to crash after.
        if out.is_err() {
            return Ok(());
        }
        self.crash_after(what, wrote)
    }

    fn store(&self) -> &tally_core::ports::memory::Memory {
        &self.mem
    }
}
