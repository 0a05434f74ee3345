//! The world as every port: the in-memory tables behind a little simulated
//! latency (so concurrent invocations interleave and conditional writes
//! really race) and the fault points — throttling, and a handler dying
//! before or after a write or a publish. A dying handler is a failed
//! invocation, which the bus retries: exactly what Lambda does.

use super::World;
use std::time::Duration;
use tally_core::coordination::Record;
use tally_core::domain::{
    AnalyticsJob, AuditEntry, CategoryRule, FileMeta, Notification, Transaction,
};
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

macro_rules! delegate {
    ($trait:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* }) => {
        impl $trait for World {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.io(concat!(stringify!($trait), ".", stringify!($name))).await?;
                    self.mem.$name($($arg),*).await
                }
            )*
        }
    };
}

delegate!(IdempotencyStore {
    fn claim(&self, consumer: &str, event_id: &str, expires_at: Millis) -> Result<bool, PortError>;
    fn release(&self, consumer: &str, event_id: &str) -> Result<(), PortError>;
    fn remember(&self, consumer: &str, key: &str, value: &str, expires_at: Millis) -> Result<Remembered, PortError>;
});
delegate!(FileStore {
    fn get_file(&self, file_id: &str) -> Result<Option<FileMeta>, PortError>;
    fn put_file(&self, file: &FileMeta) -> Result<(), PortError>;
    fn update_file(&self, file: &FileMeta) -> Result<bool, PortError>;
    fn delete_file(&self, file_id: &str) -> Result<bool, PortError>;
});
delegate!(TransactionStore {
    fn transactions_of_file(&self, file_id: &str) -> Result<Vec<Transaction>, PortError>;
    fn transactions_of_user(&self, user_id: &str) -> Result<Vec<Transaction>, PortError>;
    fn get_transactions(&self, ids: &[String]) -> Result<Vec<Transaction>, PortError>;
    fn put_new_transactions(&self, txs: &[Transaction]) -> Result<usize, PortError>;
    fn set_category(&self, transaction_id: &str, category_id: &str) -> Result<(), PortError>;
    fn delete_transactions_of_file(&self, file_id: &str) -> Result<Vec<String>, PortError>;
});
delegate!(ContentStore {
    fn get_content(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;
    fn put_content(&self, key: &str, bytes: &[u8]) -> Result<(), PortError>;
    fn delete_content(&self, key: &str) -> Result<bool, PortError>;
});
delegate!(AnalyticsStore {
    fn pending_job(&self, user_id: &str) -> Result<Option<AnalyticsJob>, PortError>;
    fn put_job(&self, job: &AnalyticsJob) -> Result<(), PortError>;
});
delegate!(CategoryRuleStore {
    fn rules_of_user(&self, user_id: &str) -> Result<Vec<CategoryRule>, PortError>;
});
delegate!(AuditLog {
    fn append(&self, entry: &AuditEntry) -> Result<bool, PortError>;
    fn entries(&self, since: Millis, until: Millis) -> Result<Vec<AuditEntry>, PortError>;
});
delegate!(Notifier {
    fn notify(&self, n: &Notification) -> Result<(), PortError>;
});
