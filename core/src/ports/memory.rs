//! In-memory implementations of every port, with DynamoDB's condition
//! semantics (versioned puts, put-if-absent). Local runs and tests use
//! them; the simulator wraps them with faults. Ordered maps only, so
//! nothing here depends on hash iteration order.

use super::*;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Every port in one value; each trait reaches its own table.
#[derive(Debug, Default)]
pub struct Memory {
    records: Mutex<BTreeMap<String, Record>>,
    published: Mutex<Vec<Event>>,
    claims: Mutex<BTreeMap<(String, String), Millis>>,
    memos: Mutex<BTreeMap<(String, String), String>>,
    files: Mutex<BTreeMap<String, FileMeta>>,
    transactions: Mutex<Transactions>,
    content: Mutex<BTreeMap<String, Vec<u8>>>,
    jobs: Mutex<BTreeMap<String, AnalyticsJob>>,
    rules: Mutex<BTreeMap<String, Vec<CategoryRule>>>,
    audit: Mutex<BTreeMap<String, AuditEntry>>,
    notifications: Mutex<Vec<Notification>>,
}

/// The transactions table and its by-file index (as DynamoDB's `by-file`
/// index, kept with every write): a file's transactions are read without
/// scanning every other file's.
#[derive(Debug, Default, Clone)]
struct Transactions {
    items: BTreeMap<String, Transaction>,
    by_file: BTreeMap<String, std::collections::BTreeSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Everything published so far, in order.
    pub fn published(&self) -> Vec<Event> {
        lock(&self.published).clone()
    }

    /// Takes what was published since the last call (a bus drains it).
    pub fn drain_published(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.published))
    }

    pub fn record(&self, request_id: &str) -> Option<Record> {
        lock(&self.records).get(request_id).cloned()
    }

    pub fn records(&self) -> Vec<Record> {
        lock(&self.records).values().cloned().collect()
    }

    /// `f` over every record in place, in request-id order (the table is
    /// locked meanwhile: `f` must not call back into this store). A reader
    /// that needs a few fields copies those, not whole records.
    pub fn with_records<R>(
        &self,
        f: impl FnOnce(std::collections::btree_map::Values<'_, String, Record>) -> R,
    ) -> R {
        f(lock(&self.records).values())
    }

    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.notifications).clone()
    }

    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        lock(&self.audit).values().cloned().collect()
    }

    pub fn add_rule(&self, rule: CategoryRule) {
        lock(&self.rules)
            .entry(rule.user_id.clone())
            .or_default()
            .push(rule);
    }

    pub fn all_transactions(&self) -> Vec<Transaction> {
        lock(&self.transactions).items.values().cloned().collect()
    }

    /// How many transactions each file has (files with none are absent),
    /// counted in place: a check that needs only the counts copies no
    /// transaction.
    pub fn transactions_per_file(&self) -> BTreeMap<String, usize> {
        lock(&self.transactions)
            .by_file
            .iter()
            .map(|(file, ids)| (file.clone(), ids.len()))
            .collect()
    }

    /// Whether content is stored under `key`, without copying it.
    pub fn has_content(&self, key: &str) -> bool {
        lock(&self.content).contains_key(key)
    }

    pub fn job(&self, user_id: &str) -> Option<AnalyticsJob> {
        lock(&self.jobs).get(user_id).cloned()
    }

    /// A copy of every table, for a model checker that branches from a
    /// state instead of replaying its way back to it.
    pub fn snapshot(&self) -> Memory {
        Memory {
            records: Mutex::new(lock(&self.records).clone()),
            published: Mutex::new(lock(&self.published).clone()),
            claims: Mutex::new(lock(&self.claims).clone()),
            memos: Mutex::new(lock(&self.memos).clone()),
            files: Mutex::new(lock(&self.files).clone()),
            transactions: Mutex::new(lock(&self.transactions).clone()),
            content: Mutex::new(lock(&self.content).clone()),
            jobs: Mutex::new(lock(&self.jobs).clone()),
            rules: Mutex::new(lock(&self.rules).clone()),
            audit: Mutex::new(lock(&self.audit).clone()),
            notifications: Mutex::new(lock(&self.notifications).clone()),
        }
    }

    /// A digest of every stored table (what was published and notified
    /// aside: those are logs, not state a handler reads back). Two stores
    /// with the same digest hold the same items, so a model checker can
    /// tell a state it has seen.
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        content_hash(&mut h, &*lock(&self.records));
        lock(&self.claims).hash(&mut h);
        lock(&self.memos).hash(&mut h);
        content_hash(&mut h, &*lock(&self.files));
        content_hash(&mut h, &lock(&self.transactions).items);
        lock(&self.content).hash(&mut h);
        content_hash(&mut h, &*lock(&self.jobs));
        content_hash(&mut h, &*lock(&self.rules));
        content_hash(&mut h, &*lock(&self.audit));
        h.finish()
    }
}

/// Feeds `value`'s JSON to `h` as it is written: a hash of its content
/// without building the text (a model checker hashes every state it
/// reaches, and a table's text is kilobytes). JSON, not Debug: the wire
/// form is lossless for these types and several times cheaper to write.
pub fn content_hash(h: &mut impl std::hash::Hasher, value: &impl serde::Serialize) {
    struct Feed<'h, H>(&'h mut H);
    impl<H: std::hash::Hasher> std::io::Write for Feed<'_, H> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.write(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Writing to a hasher cannot fail, and these types always encode.
    let _ = serde_json::to_writer(&mut Feed(h), value);
    // The end of one value, so that two values' texts cannot run together.
    h.write_u8(0xff);
}

/// Feeds `value`'s Debug text to `h` piece by piece, as it is written
/// (for values that have no wire form, such as a port's result).
pub fn debug_hash(h: &mut impl std::hash::Hasher, value: &impl std::fmt::Debug) {
    struct Feed<'h, H>(&'h mut H);
    impl<H: std::hash::Hasher> std::fmt::Write for Feed<'_, H> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    // Writing to a hasher cannot fail.
    let _ = std::fmt::Write::write_fmt(&mut Feed(h), format_args!("{value:?}"));
    h.write_u8(0xff);
}

impl RecordStore for Memory {
    async fn load(&self, request_id: &str) -> Result<Option<Record>, PortError> {
        Ok(lock(&self.records).get(request_id).cloned())
    }

    async fn save(&self, record: &Record, expected_version: u64) -> Result<(), PortError> {
        let mut records = lock(&self.records);
        let stored = records.get(&record.request_id).map_or(0, |r| r.version);
        if stored != expected_version {
            return Err(PortError::Conflict(format!(
                "record {} is at version {stored}, not {expected_version}",
                record.request_id
            )));
        }
        records.insert(record.request_id.clone(), record.clone());
        Ok(())
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        let records = lock(&self.records);
        let mut due: Vec<(Millis, String)> = records
            .values()
            .filter_map(|r| {
                let at = r.next_wakeup().filter(|at| *at <= now)?;
                Some((at, r.request_id.clone()))
            })
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }
}

impl Publisher for Memory {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        lock(&self.published).extend(events.iter().cloned());
        Ok(())
    }
}

impl IdempotencyStore for Memory {
    async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
        expires_at: Millis,
    ) -> Result<bool, PortError> {
        let mut claims = lock(&self.claims);
        let key = (consumer.to_owned(), event_id.to_owned());
        if claims.contains_key(&key) {
            return Ok(false);
        }
        claims.insert(key, expires_at);
        Ok(true)
    }

    async fn release(&self, consumer: &str, event_id: &str) -> Result<(), PortError> {
        lock(&self.claims).remove(&(consumer.to_owned(), event_id.to_owned()));
        Ok(())
    }

    async fn remember(
        &self,
        consumer: &str,
        key: &str,
        value: &str,
        _expires_at: Millis,
    ) -> Result<Remembered, PortError> {
        let mut memos = lock(&self.memos);
        let key = (consumer.to_owned(), key.to_owned());
        if let Some(kept) = memos.get(&key) {
            return Ok(Remembered {
                value: kept.clone(),
                first: false,
            });
        }
        memos.insert(key, value.to_owned());
        Ok(Remembered {
            value: value.to_owned(),
            first: true,
        })
    }

    async fn recall(&self, consumer: &str, key: &str) -> Result<Option<String>, PortError> {
        Ok(lock(&self.memos)
            .get(&(consumer.to_owned(), key.to_owned()))
            .cloned())
    }
}

impl FileStore for Memory {
    async fn get_file(&self, file_id: &str) -> Result<Option<FileMeta>, PortError> {
        Ok(lock(&self.files).get(file_id).cloned())
    }

    async fn put_file(&self, file: &FileMeta) -> Result<(), PortError> {
        lock(&self.files).insert(file.file_id.clone(), file.clone());
        Ok(())
    }

    async fn update_file(&self, file: &FileMeta) -> Result<bool, PortError> {
        let mut files = lock(&self.files);
        match files.get_mut(&file.file_id) {
            Some(kept) => {
                *kept = file.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_file(&self, file_id: &str) -> Result<bool, PortError> {
        Ok(lock(&self.files).remove(file_id).is_some())
    }
}

impl TransactionStore for Memory {
    async fn transactions_of_file(&self, file_id: &str) -> Result<Vec<Transaction>, PortError> {
        let txs = lock(&self.transactions);
        Ok(txs.by_file.get(file_id).map_or_else(Vec::new, |ids| {
            ids.iter()
                .filter_map(|id| txs.items.get(id).cloned())
                .collect()
        }))
    }

    async fn transactions_of_user(&self, user_id: &str) -> Result<Vec<Transaction>, PortError> {
        Ok(lock(&self.transactions)
            .items
            .values()
            .filter(|t| t.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn get_transactions(&self, ids: &[String]) -> Result<Vec<Transaction>, PortError> {
        let txs = lock(&self.transactions);
        Ok(ids
            .iter()
            .filter_map(|id| txs.items.get(id).cloned())
            .collect())
    }

    async fn put_new_transactions(&self, new: &[Transaction]) -> Result<usize, PortError> {
        let mut txs = lock(&self.transactions);
        let mut added = 0;
        for t in new {
            if !txs.items.contains_key(&t.transaction_id) {
                txs.items.insert(t.transaction_id.clone(), t.clone());
                txs.by_file
                    .entry(t.file_id.clone())
                    .or_default()
                    .insert(t.transaction_id.clone());
                added += 1;
            }
        }
        Ok(added)
    }

    async fn set_category(&self, transaction_id: &str, category_id: &str) -> Result<(), PortError> {
        match lock(&self.transactions).items.get_mut(transaction_id) {
            Some(t) => {
                t.category_id = Some(category_id.to_owned());
                Ok(())
            }
            None => Err(PortError::Conflict(format!(
                "transaction {transaction_id} does not exist"
            ))),
        }
    }

    async fn delete_transactions_of_file(&self, file_id: &str) -> Result<Vec<String>, PortError> {
        let mut txs = lock(&self.transactions);
        let ids: Vec<String> = txs
            .by_file
            .remove(file_id)
            .map_or_else(Vec::new, |ids| ids.into_iter().collect());
        for id in &ids {
            txs.items.remove(id);
        }
        Ok(ids)
    }
}

impl ContentStore for Memory {
    async fn get_content(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(lock(&self.content).get(key).cloned())
    }

    async fn put_content(&self, key: &str, bytes: &[u8]) -> Result<(), PortError> {
        lock(&self.content).insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }

    async fn delete_content(&self, key: &str) -> Result<bool, PortError> {
        Ok(lock(&self.content).remove(key).is_some())
    }
}

impl AnalyticsStore for Memory {
    async fn pending_job(&self, user_id: &str) -> Result<Option<AnalyticsJob>, PortError> {
        Ok(lock(&self.jobs).get(user_id).cloned())
    }

    async fn put_job(&self, job: &AnalyticsJob) -> Result<(), PortError> {
        lock(&self.jobs).insert(job.user_id.clone(), job.clone());
        Ok(())
    }
}

impl CategoryRuleStore for Memory {
    async fn rules_of_user(&self, user_id: &str) -> Result<Vec<CategoryRule>, PortError> {
        Ok(lock(&self.rules).get(user_id).cloned().unwrap_or_default())
    }
}

impl AuditLog for Memory {
    async fn append(&self, entry: &AuditEntry) -> Result<bool, PortError> {
        let mut audit = lock(&self.audit);
        if audit.contains_key(&entry.event_id) {
            return Ok(false);
        }
        audit.insert(entry.event_id.clone(), entry.clone());
        Ok(true)
    }

    async fn entries(&self, since: Millis, until: Millis) -> Result<Vec<AuditEntry>, PortError> {
        let mut out: Vec<AuditEntry> = lock(&self.audit)
            .values()
            .filter(|e| e.timestamp >= since && e.timestamp < until)
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)));
        Ok(out)
    }
}

impl VoterConduct for Memory {}

impl Notifier for Memory {
    async fn notify(&self, n: &Notification) -> Result<(), PortError> {
        lock(&self.notifications).push(n.clone());
        Ok(())
    }
}

/// Drives a future over in-memory ports to completion on the calling
/// thread. Those ports never wait, so a future that is still pending after
/// a poll is waiting on something else entirely: that is a bug, and it
/// panics rather than spin.
pub fn run_ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => {
            panic!("run_ready: the future waited on something other than the in-memory ports")
        }
    }
}
