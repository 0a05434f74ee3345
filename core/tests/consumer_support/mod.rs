//! Fixtures shared by the consumer suites (consumers.rs,
//! mutants_consumers.rs): every port over `Memory` with named operations
//! that fail on demand, and a file's metadata.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use tally_core::coordination::Record;
use tally_core::domain::{
    AnalyticsJob, AuditEntry, CategoryRule, FileMeta, Notification, Transaction,
};
use tally_core::event::Event;
use tally_core::ports::memory::Memory;
use tally_core::ports::*;
use tally_core::time::Millis;

/// Every port over `Memory`; the operations named by `fail` fail
/// transiently, those named by `break_` permanently, until `heal`, and
/// every claim taken is logged.
#[derive(Default)]
pub struct Flaky {
    pub mem: Memory,
    failing: Mutex<BTreeSet<&'static str>>,
    broken: Mutex<BTreeSet<&'static str>>,
    crashing: Mutex<BTreeSet<&'static str>>,
    /// Every claim taken: (consumer, key, expiry).
    pub claims: Mutex<Vec<(String, String, Millis)>>,
}

impl Flaky {
    pub fn fail(&self, op: &'static str) {
        self.failing.lock().unwrap().insert(op);
    }

    /// Makes `op` fail permanently (access denied) until `heal`.
    pub fn break_(&self, op: &'static str) {
        self.broken.lock().unwrap().insert(op);
    }

    /// Makes `op` do its write and then fail transiently, as a handler
    /// that dies just after a write does, until `heal`.
    pub fn crash_after(&self, op: &'static str) {
        self.crashing.lock().unwrap().insert(op);
    }

    pub fn heal(&self, op: &'static str) {
        self.failing.lock().unwrap().remove(op);
        self.broken.lock().unwrap().remove(op);
        self.crashing.lock().unwrap().remove(op);
    }

    fn after(&self, op: &'static str) -> Result<(), PortError> {
        if self.crashing.lock().unwrap().contains(op) {
            Err(PortError::Transient(format!(
                "{op}: crashed after the write"
            )))
        } else {
            Ok(())
        }
    }

    fn check(&self, op: &'static str) -> Result<(), PortError> {
        if self.broken.lock().unwrap().contains(op) {
            Err(PortError::Permanent(format!("{op}: access denied")))
        } else if self.failing.lock().unwrap().contains(op) {
            Err(PortError::Transient(format!("{op}: throttled")))
        } else {
            Ok(())
        }
    }
}

impl RecordStore for Flaky {
    async fn load(&self, id: &str) -> Result<Option<Record>, PortError> {
        self.check("load")?;
        self.mem.load(id).await
    }
    async fn save(&self, r: &Record, v: u64) -> Result<(), PortError> {
        self.check("save")?;
        self.mem.save(r, v).await
    }
    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        self.mem.due(now, limit).await
    }
}

impl Publisher for Flaky {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        self.check("publish").map_err(|error| PublishError {
            failed: (0..events.len()).collect(),
            error,
        })?;
        self.mem.publish(events).await
    }
}

impl IdempotencyStore for Flaky {
    async fn claim(&self, c: &str, id: &str, exp: Millis) -> Result<bool, PortError> {
        self.check("claim")?;
        self.claims
            .lock()
            .unwrap()
            .push((c.to_owned(), id.to_owned(), exp));
        self.mem.claim(c, id, exp).await
    }
    async fn release(&self, c: &str, id: &str) -> Result<(), PortError> {
        self.check("release")?;
        self.mem.release(c, id).await
    }
    async fn remember(
        &self,
        c: &str,
        key: &str,
        value: &str,
        exp: Millis,
    ) -> Result<Remembered, PortError> {
        self.check("remember")?;
        self.mem.remember(c, key, value, exp).await
    }
    async fn recall(&self, c: &str, key: &str) -> Result<Option<String>, PortError> {
        self.check("recall")?;
        self.mem.recall(c, key).await
    }
}

impl FileStore for Flaky {
    async fn get_file(&self, id: &str) -> Result<Option<FileMeta>, PortError> {
        self.check("get_file")?;
        self.mem.get_file(id).await
    }
    async fn put_file(&self, f: &FileMeta) -> Result<(), PortError> {
        self.check("put_file")?;
        self.mem.put_file(f).await
    }
    async fn update_file(&self, f: &FileMeta) -> Result<bool, PortError> {
        self.check("put_file")?;
        self.mem.update_file(f).await
    }
    async fn delete_file(&self, id: &str) -> Result<bool, PortError> {
        self.check("delete_file")?;
        let existed = self.mem.delete_file(id).await?;
        self.after("delete_file")?;
        Ok(existed)
    }
}

impl TransactionStore for Flaky {
    async fn transactions_of_file(&self, id: &str) -> Result<Vec<Transaction>, PortError> {
        self.check("transactions_of_file")?;
        self.mem.transactions_of_file(id).await
    }
    async fn transactions_of_user(&self, id: &str) -> Result<Vec<Transaction>, PortError> {
        self.check("transactions_of_user")?;
        self.mem.transactions_of_user(id).await
    }
    async fn get_transactions(&self, ids: &[String]) -> Result<Vec<Transaction>, PortError> {
        self.check("get_transactions")?;
        self.mem.get_transactions(ids).await
    }
    async fn put_new_transactions(&self, txs: &[Transaction]) -> Result<usize, PortError> {
        self.check("put_new_transactions")?;
        let new = self.mem.put_new_transactions(txs).await?;
        self.after("put_new_transactions")?;
        Ok(new)
    }
    async fn set_category(&self, t: &str, c: &str) -> Result<(), PortError> {
        self.check("set_category")?;
        self.mem.set_category(t, c).await
    }
    async fn delete_transactions_of_file(&self, id: &str) -> Result<Vec<String>, PortError> {
        self.check("delete_transactions_of_file")?;
        self.mem.delete_transactions_of_file(id).await
    }
}

impl ContentStore for Flaky {
    async fn get_content(&self, k: &str) -> Result<Option<Vec<u8>>, PortError> {
        self.check("get_content")?;
        self.mem.get_content(k).await
    }
    async fn put_content(&self, k: &str, b: &[u8]) -> Result<(), PortError> {
        self.mem.put_content(k, b).await
    }
    async fn delete_content(&self, k: &str) -> Result<bool, PortError> {
        self.check("delete_content")?;
        self.mem.delete_content(k).await
    }
}

impl AnalyticsStore for Flaky {
    async fn pending_job(&self, u: &str) -> Result<Option<AnalyticsJob>, PortError> {
        self.check("pending_job")?;
        self.mem.pending_job(u).await
    }
    async fn put_job(&self, j: &AnalyticsJob) -> Result<(), PortError> {
        self.check("put_job")?;
        self.mem.put_job(j).await
    }
}

impl CategoryRuleStore for Flaky {
    async fn rules_of_user(&self, u: &str) -> Result<Vec<CategoryRule>, PortError> {
        self.check("rules_of_user")?;
        self.mem.rules_of_user(u).await
    }
}

impl AuditLog for Flaky {
    async fn append(&self, e: &AuditEntry) -> Result<bool, PortError> {
        self.check("append")?;
        self.mem.append(e).await
    }
    async fn entries(&self, s: Millis, u: Millis) -> Result<Vec<AuditEntry>, PortError> {
        self.mem.entries(s, u).await
    }
}

impl Notifier for Flaky {
    async fn notify(&self, n: &Notification) -> Result<(), PortError> {
        self.check("notify")?;
        self.mem.notify(n).await
    }
}

pub fn meta(file_id: &str, user: &str) -> FileMeta {
    FileMeta {
        file_id: file_id.to_owned(),
        user_id: user.to_owned(),
        account_id: "acc-1".to_owned(),
        account_type: None,
        file_name: "statement.csv".to_owned(),
        s3_key: format!("{user}/{file_id}/statement.csv"),
        transaction_count: 0,
    }
}
