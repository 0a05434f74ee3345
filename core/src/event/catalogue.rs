//! Every event type the design notes name, with its data fields and the
//! sources that publish it. One table (the `catalogue!` invocation below)
//! drives the typed enum, decoding, encoding and the lists that the rules
//! linter and the samples read, so a new type cannot be half-added.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Sources that publish events, as they appear in EventBridge's `source`.
pub mod sources {
    pub const FILE_SERVICE: &str = "file.service";
    pub const TRANSACTION_SERVICE: &str = "transaction.service";
    pub const ACCOUNT_SERVICE: &str = "account.service";
    pub const CATEGORY_SERVICE: &str = "category.service";
    pub const ANALYTICS_SERVICE: &str = "analytics.service";
    pub const BACKUP_SERVICE: &str = "backup.service";
    pub const COMPLIANCE_SERVICE: &str = "compliance.service";
    pub const DELETION_AGGREGATOR: &str = "deletion.aggregator";
    pub const DELETION_EXECUTOR: &str = "deletion.executor";
}
use sources::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateRange {
    pub start_date: String,
    pub end_date: String,
}

/// One field edit, as `transaction.updated` and `account.updated` carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    #[serde(default)]
    pub old_value: Value,
    #[serde(default)]
    pub new_value: Value,
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// How a file's processing ended.
    ProcessingStatus { Success = "success", Partial = "partial", Failed = "failed" }
);
string_enum!(DeletionType { Single = "single", Bulk = "bulk", FileReprocessing = "file_reprocessing" });
string_enum!(AssignmentType { Manual = "manual", RuleBased = "rule_based", Suggested = "suggested" });
string_enum!(ApplicationType { Manual = "manual", Bulk = "bulk", Automated = "automated" });
string_enum!(
    /// A voter's answer. `error` says the voter could not do its own work;
    /// the policy's error outcome decides what that means.
    VoteDecision { Proceed = "proceed", Deny = "deny", Error = "error" }
);
string_enum!(
    /// A consumer's report in the completion flavour.
    CompletionStatus { Done = "done", Failed = "failed" }
);
string_enum!(
    /// Why a coordination ended the way it did.
    DecisionCause { AllProceeded = "all_proceeded", Vetoed = "vetoed", Timeout = "timeout", VoterError = "voter_error" }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUploaded {
    pub file_id: String,
    pub file_name: String,
    pub file_size: u64,
    pub s3_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileProcessed {
    pub file_id: String,
    #[serde(default)]
    pub account_id: String,
    pub transaction_count: u64,
    #[serde(default)]
    pub duplicate_count: u64,
    #[serde(default)]
    pub transaction_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRange>,
    pub processing_status: ProcessingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAssociated {
    pub file_id: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_account_id: Option<String>,
}

/// Superseded by `file.processed` (which now carries the ids); still read
/// so that old traces replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsCreated {
    pub file_id: String,
    pub account_id: String,
    pub transaction_ids: Vec<String>,
    pub transaction_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionUpdated {
    pub transaction_id: String,
    pub account_id: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsDeleted {
    pub transaction_ids: Vec<String>,
    pub account_ids: Vec<String>,
    pub deletion_type: DeletionType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionCategorized {
    pub transaction_id: String,
    pub account_id: String,
    pub category_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category_id: Option<String>,
    pub confidence: f64,
    pub assignment_type: AssignmentType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCreated {
    pub account_id: String,
    pub account_name: String,
    pub account_type: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdated {
    pub account_id: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDeleted {
    pub account_id: String,
    pub transaction_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRulesApplied {
    pub category_id: String,
    pub rule_ids: Vec<String>,
    pub transaction_ids: Vec<String>,
    pub application_type: ApplicationType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryRuleCreated {
    pub category_id: String,
    pub rule_id: String,
    pub rule_pattern: String,
    pub auto_apply: bool,
}

/// A field the coordination does not need, read as its default when it is
/// absent or null: the system these notes describe sends `accountId: null`
/// and keeps userId in the envelope only.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionRequested {
    pub file_id: String,
    /// Empty when only the envelope carries it (the coordination then takes
    /// the envelope's).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub account_id: String,
    /// `business` makes compliance_manager a required voter by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub file_name: String,
    /// 0 when absent, as the notes' aggregator reads it: only the large-file
    /// voter depends on it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub transaction_count: u64,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionVote {
    pub file_id: String,
    pub request_id: String,
    pub voter: String,
    pub decision: VoteDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One vote as the decision events list it under `allVotes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteRecord {
    pub decision: VoteDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the aggregator received it (ms since the epoch).
    pub timestamp: i64,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionApproved {
    pub file_id: String,
    pub request_id: String,
    pub approved_by: Vec<String>,
    pub all_votes: std::collections::BTreeMap<String, VoteRecord>,
    pub cause: DecisionCause,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionDenied {
    pub file_id: String,
    pub request_id: String,
    pub denied_by: Vec<String>,
    pub all_votes: std::collections::BTreeMap<String, VoteRecord>,
    pub cause: DecisionCause,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDeleted {
    pub file_id: String,
    pub request_id: String,
    pub transactions_deleted: u64,
    /// False when the file was already gone: the deletion still completes.
    pub content_deleted: bool,
}

/// The completion flavour's request (seed 001's FileDeleteRequestedEvent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRequested {
    pub file_id: String,
    pub coordination_id: String,
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub file_name: String,
    pub transaction_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerCompletion {
    pub coordination_id: String,
    pub file_id: String,
    pub consumer: String,
    pub status: CompletionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

macro_rules! catalogue {
    ($( $variant:ident($data:ty) = $text:literal from [$($src:expr),+] ),+ $(,)?) => {
        /// The event types the catalogue knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventKind { $($variant),+ }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),+];

            /// The `eventType` / `detail-type` text.
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<EventKind> {
                match text { $($text => Some(EventKind::$variant),)+ _ => None }
            }

            /// Sources that publish this type; the first is the usual one.
            pub fn publishers(self) -> &'static [&'static str] {
                match self { $(EventKind::$variant => &[$($src),+]),+ }
            }
        }

        /// An event's data, typed when the catalogue knows its type. An
        /// unknown type keeps its data as JSON: it is still routed and
        /// audited, never dropped.
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventData {
            $($variant($data),)+
            Unknown { event_type: String, data: Value },
        }

        impl EventData {
            pub fn kind(&self) -> Option<EventKind> {
                match self { $(EventData::$variant(_) => Some(EventKind::$variant),)+ EventData::Unknown { .. } => None }
            }

            pub fn event_type(&self) -> &str {
                match self { $(EventData::$variant(_) => $text,)+ EventData::Unknown { event_type, .. } => event_type }
            }

            /// Decodes `data` for `event_type`; the error's path is relative
            /// to `data` and the caller prefixes where `data` sat.
            pub(crate) fn decode(event_type: &str, data: &Value) -> Result<EventData, serde_path_to_error::Error<serde_json::Error>> {
                Ok(match EventKind::parse(event_type) {
                    $(Some(EventKind::$variant) => EventData::$variant(serde_path_to_error::deserialize(data)?),)+
                    None => EventData::Unknown { event_type: event_type.to_owned(), data: data.clone() },
                })
            }

            pub fn to_value(&self) -> Value {
                // Serializing these plain structs into a Value cannot fail:
                // every key is a string and every number finite or integral.
                let v = match self {
                    $(EventData::$variant(d) => serde_json::to_value(d),)+
                    EventData::Unknown { data, .. } => Ok(data.clone()),
                };
                v.unwrap_or_else(|_| Value::Object(Map::new()))
            }
        }
    };
}

catalogue! {
    FileUploaded(FileUploaded) = "file.uploaded" from [FILE_SERVICE],
    FileProcessed(FileProcessed) = "file.processed" from [FILE_SERVICE],
    FileAssociated(FileAssociated) = "file.associated" from [FILE_SERVICE],
    TransactionsCreated(TransactionsCreated) = "transactions.created" from [TRANSACTION_SERVICE],
    TransactionUpdated(TransactionUpdated) = "transaction.updated" from [TRANSACTION_SERVICE],
    TransactionsDeleted(TransactionsDeleted) = "transactions.deleted" from [TRANSACTION_SERVICE, DELETION_EXECUTOR],
    TransactionCategorized(TransactionCategorized) = "transaction.categorized" from [CATEGORY_SERVICE],
    AccountCreated(AccountCreated) = "account.created" from [ACCOUNT_SERVICE],
    AccountUpdated(AccountUpdated) = "account.updated" from [ACCOUNT_SERVICE],
    AccountDeleted(AccountDeleted) = "account.deleted" from [ACCOUNT_SERVICE],
    CategoryRulesApplied(CategoryRulesApplied) = "category.rules_applied" from [CATEGORY_SERVICE],
    CategoryRuleCreated(CategoryRuleCreated) = "category.rule_created" from [CATEGORY_SERVICE],
    DeletionRequested(DeletionRequested) = "file.deletion.requested" from [FILE_SERVICE],
    DeletionVote(DeletionVote) = "file.deletion.vote" from [ANALYTICS_SERVICE, CATEGORY_SERVICE, BACKUP_SERVICE, COMPLIANCE_SERVICE],
    DeletionApproved(DeletionApproved) = "file.deletion.approved" from [DELETION_AGGREGATOR],
    DeletionDenied(DeletionDenied) = "file.deletion.denied" from [DELETION_AGGREGATOR],
    FileDeleted(FileDeleted) = "file.deleted" from [DELETION_EXECUTOR],
    DeleteRequested(DeleteRequested) = "file.delete_requested" from [FILE_SERVICE],
    ConsumerCompletion(ConsumerCompletion) = "consumer.completion" from [ANALYTICS_SERVICE, CATEGORY_SERVICE],
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every source some known type is published from, sorted, without repeats.
pub fn all_publishers() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = EventKind::ALL
        .iter()
        .flat_map(|k| k.publishers().iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}
