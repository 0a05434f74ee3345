//! What the handlers need from the world, as traits. The simulator gives
//! them simulated implementations (with faults), the AWS adapter gives them
//! DynamoDB, EventBridge and S3, and `memory` gives the in-memory ones used
//! by local runs and tests. Methods return `Send` futures so one handler
//! body serves a Lambda on tokio and a node in madsim alike; the core
//! itself never runs a future.

pub mod memory;

use crate::coordination::Record;
use crate::domain::{AnalyticsJob, AuditEntry, CategoryRule, FileMeta, Notification, Transaction};
use crate::event::Event;
use crate::time::Millis;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: someone else wrote first. Re-read, re-step.
    #[error("condition failed: {0}")]
    Conflict(String),
    /// Worth retrying (throttling, a timeout, a 5xx).
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help (bad data, access denied, too large).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// How a voter's (or a completion consumer's) function answers one
/// request. A deployed one does its own work; a simulated one may be
/// silent (stalled: the failure the deadline exists for), late, or object
/// to everything. The dispatch honours it, so the voter's code is the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conduct {
    OwnWork,
    Object(String),
    Silent,
}

/// Where a voter's conduct comes from: always its own work, unless the
/// ports say otherwise (the simulator's voter faults and scripted votes).
pub trait VoterConduct: Send + Sync {
    /// How the function of `target` answers as `voter` a delivery that
    /// arrived at `now`, and when it answers (a slow voter answers later).
    fn conduct(
        &self,
        target: &str,
        voter: &str,
        now: Millis,
    ) -> impl Future<Output = (Conduct, Millis)> + Send {
        let _ = (target, voter);
        std::future::ready((Conduct::OwnWork, now))
    }
}

/// Coordination records with DynamoDB's semantics: a write succeeds only if
/// the stored version is the one the writer read (0 means "absent").
pub trait RecordStore: Send + Sync {
    fn load(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<Record>, PortError>> + Send;
    fn save(
        &self,
        record: &Record,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The records the sweeper must visit, at most `limit`, oldest first:
    /// waiting records whose deadline is at or before `now`, and records
    /// holding unpublished events (a handler died between its write and its
    /// publish, and no redelivery may ever come: a timer is not redelivered).
    fn due(
        &self,
        now: Millis,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// The event bus. A publish may fail partway: the error says which events
/// (by index) did not go, so only those are retried.
pub trait Publisher: Send + Sync {
    fn publish(&self, events: &[Event]) -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of the events were not published: {error}", failed.len())]
pub struct PublishError {
    pub failed: Vec<usize>,
    pub error: PortError,
}

/// Durable idempotency, keyed by consumer and event id, with a TTL:
/// `claim` is a conditional put that is true only for the first caller.
pub trait IdempotencyStore: Send + Sync {
    fn claim(
        &self,
        consumer: &str,
        event_id: &str,
        expires_at: Millis,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Gives a claim back, when the work it guarded failed and must be redone.
    fn release(
        &self,
        consumer: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Write-once memory: keeps `value` under (consumer, key) unless a value
    /// is kept there already, and answers with the value kept (an earlier
    /// run's, if there was one). What a consumer announces under a derived
    /// id is read back from here, so every run that re-emits the id
    /// announces what the first run decided. Never released.
    fn remember(
        &self,
        consumer: &str,
        key: &str,
        value: &str,
        expires_at: Millis,
    ) -> impl Future<Output = Result<Remembered, PortError>> + Send;
    /// What [`remember`](IdempotencyStore::remember) kept under (consumer,
    /// key), if anything (a consistent read).
    fn recall(
        &self,
        consumer: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
}

/// What [`IdempotencyStore::remember`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The value kept under the key.
    pub value: String,
    /// This call put it there (no earlier run had).
    pub first: bool,
}

pub trait FileStore: Send + Sync {
    fn get_file(
        &self,
        file_id: &str,
    ) -> impl Future<Output = Result<Option<FileMeta>, PortError>> + Send;
    fn put_file(&self, file: &FileMeta) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Writes `file` only if metadata with its id is there now: false when
    /// it is gone (deleted since it was read), so that a late writer never
    /// resurrects a deleted file.
    fn update_file(&self, file: &FileMeta) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// True if it existed.
    fn delete_file(&self, file_id: &str) -> impl Future<Output = Result<bool, PortError>> + Send;
}

pub trait TransactionStore: Send + Sync {
    fn transactions_of_file(
        &self,
        file_id: &str,
    ) -> impl Future<Output = Result<Vec<Transaction>, PortError>> + Send;
    /// Every transaction of `user_id` (a new category rule is applied to
    /// them), in transaction id order.
    fn transactions_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Transaction>, PortError>> + Send;
    fn get_transactions(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Transaction>, PortError>> + Send;
    /// Writes each transaction unless one with its id exists; returns how
    /// many were new.
    fn put_new_transactions(
        &self,
        txs: &[Transaction],
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
    fn set_category(
        &self,
        transaction_id: &str,
        category_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Returns the ids deleted (none when already gone).
    fn delete_transactions_of_file(
        &self,
        file_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// File content (S3).
pub trait ContentStore: Send + Sync {
    fn get_content(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, PortError>> + Send;
    fn put_content(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// True if it existed.
    fn delete_content(&self, key: &str) -> impl Future<Output = Result<bool, PortError>> + Send;
}

pub trait AnalyticsStore: Send + Sync {
    fn pending_job(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<AnalyticsJob>, PortError>> + Send;
    fn put_job(&self, job: &AnalyticsJob) -> impl Future<Output = Result<(), PortError>> + Send;
}

pub trait CategoryRuleStore: Send + Sync {
    fn rules_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<CategoryRule>, PortError>> + Send;
}

/// The audit table: `append` is a conditional put on the event id, true
/// only the first time.
pub trait AuditLog: Send + Sync {
    fn append(&self, entry: &AuditEntry) -> impl Future<Output = Result<bool, PortError>> + Send;
    fn entries(
        &self,
        since: Millis,
        until: Millis,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, PortError>> + Send;
}

pub trait Notifier: Send + Sync {
    fn notify(&self, n: &Notification) -> impl Future<Output = Result<(), PortError>> + Send;
}
