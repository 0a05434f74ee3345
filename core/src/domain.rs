//! The personal-finance data the consumers act on: files, transactions,
//! category rules, analytics work, notifications and the audit log.

use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMeta {
    pub file_id: String,
    pub user_id: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    pub file_name: String,
    /// Where the content lives in the content store (S3 key).
    pub s3_key: String,
    pub transaction_count: u64,
}

/// What an approved deletion removes, and so what it announces: made by
/// the executor's first run before it deletes anything and kept
/// write-once (see `consumers::executor`), so every run announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPlan {
    pub request_id: String,
    /// The file's transactions when the plan was made.
    pub transaction_ids: Vec<String>,
    /// The file's content, when its metadata still named it.
    #[serde(default)]
    pub content_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub transaction_id: String,
    pub user_id: String,
    pub file_id: String,
    pub account_id: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub description: String,
    /// In cents, so that sums are exact.
    pub amount_cents: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRule {
    pub rule_id: String,
    pub user_id: String,
    pub category_id: String,
    /// Matched case-insensitively as a substring of the description.
    pub pattern: String,
    pub active: bool,
}

impl CategoryRule {
    pub fn matches(&self, t: &Transaction) -> bool {
        self.active
            && !self.pattern.is_empty()
            && t.description
                .to_lowercase()
                .contains(&self.pattern.to_lowercase())
    }
}

/// Analytics that one user needs recomputed (the analytics consumer's
/// AnalyticsProcessingStatus): triggers within the debounce window merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsJob {
    pub user_id: String,
    pub analytic_types: BTreeSet<String>,
    /// 1 is the highest.
    pub priority: u8,
    pub first_triggered_at: Millis,
    pub last_triggered_at: Millis,
    pub triggers: u32,
    /// The triggers merged into this job (`<consumer>/<eventId>`): a run
    /// that merged and died before it could say so finds its trigger here
    /// and does not count it twice.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub merged: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub event_id: String,
    pub user_id: String,
    pub message: String,
    pub at: Millis,
}

/// One audited event: kept exactly once by event id, exportable as a
/// replayable trace line (the delivered event, unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub timestamp: Millis,
    /// The delivered event's JSON text, byte for byte as it arrived.
    pub delivered: String,
}
