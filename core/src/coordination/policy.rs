//! What the coordination decides with: who must vote, which source each
//! voter must publish from, how long to wait, and what a timeout or a
//! voter's error means. Configuration, not code: it reads from TOML and
//! every field has the notes' default.

use super::input::Flavour;
use crate::event::{sources, DeletionRequested};
use crate::targets::{COMPLETION_CONSUMERS, VOTERS};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a timeout, an error or a failure turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Proceed,
    Deny,
}

impl Outcome {
    /// The status a decision with this outcome leaves a record in.
    pub fn status(self) -> super::Status {
        match self {
            Outcome::Proceed => super::Status::Approved,
            Outcome::Deny => super::Status::Denied,
        }
    }
}

/// The rules of one coordination flavour over the shared state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlavourPolicy {
    /// Voters (or consumers) every request waits for.
    pub required: Vec<String>,
    /// Requests with more transactions than this also wait for `large_file_voters`.
    pub large_file_threshold: u64,
    pub large_file_voters: Vec<String>,
    /// accountType -> voters added for requests on such accounts.
    pub account_type_voters: BTreeMap<String, Vec<String>>,
    /// How long after the request the deadline falls: milliseconds, or
    /// a duration with units (`"5m"`).
    #[serde(deserialize_with = "crate::time::deserialize_duration")]
    pub deadline_ms: Millis,
    /// What an expired deadline decides.
    pub timeout_outcome: Outcome,
    /// What a voter's `error` (or a consumer's `failed`) decides.
    pub error_outcome: Outcome,
}

impl FlavourPolicy {
    /// The deletion-voting note: any deny vetoes, timeout and error deny.
    pub fn voting() -> Self {
        FlavourPolicy {
            required: vec!["analytics_manager".into(), "category_manager".into()],
            large_file_threshold: 1000,
            large_file_voters: vec!["backup_manager".into()],
            account_type_voters: BTreeMap::from([(
                "business".into(),
                vec!["compliance_manager".into()],
            )]),
            deadline_ms: 5 * 60 * 1000,
            timeout_outcome: Outcome::Deny,
            error_outcome: Outcome::Deny,
        }
    }

    /// The completion-coordination note: wait for the consumers, but a
    /// timeout or a failure never blocks the deletion.
    pub fn completion() -> Self {
        FlavourPolicy {
            required: vec![
                "analytics_consumer".into(),
                "categorization_consumer".into(),
            ],
            large_file_threshold: u64::MAX,
            large_file_voters: Vec::new(),
            account_type_voters: BTreeMap::new(),
            deadline_ms: 5 * 60 * 1000,
            timeout_outcome: Outcome::Proceed,
            error_outcome: Outcome::Proceed,
        }
    }

    /// The voters a request must hear from, sorted. The notes' three sets:
    /// the default, plus backup_manager for large files, plus
    /// compliance_manager for business accounts (both when both apply).
    pub fn required_for(&self, transaction_count: u64, account_type: Option<&str>) -> Vec<String> {
        let mut set: BTreeSet<String> = self.required.iter().cloned().collect();
        if transaction_count > self.large_file_threshold {
            set.extend(self.large_file_voters.iter().cloned());
        }
        if let Some(extra) = account_type.and_then(|t| self.account_type_voters.get(t)) {
            set.extend(extra.iter().cloned());
        }
        set.into_iter().collect()
    }

    pub fn required_for_request(&self, r: &DeletionRequested) -> Vec<String> {
        self.required_for(r.transaction_count, r.account_type.as_deref())
    }
}

impl Default for FlavourPolicy {
    fn default() -> Self {
        FlavourPolicy::voting()
    }
}

/// Both flavours, the voter-to-source bindings and the record's lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub voting: FlavourPolicy,
    pub completion: FlavourPolicy,
    /// voter -> the only source its votes count from.
    pub voter_sources: BTreeMap<String, String>,
    /// The source the aggregator publishes its decisions as.
    pub aggregator_source: String,
    /// How long a record lives after creation (DynamoDB TTL): milliseconds,
    /// or a duration with units (`"24h"`).
    #[serde(deserialize_with = "crate::time::deserialize_duration")]
    pub ttl_ms: Millis,
}

impl Default for Policy {
    fn default() -> Self {
        let bind = |v: &str, s: &str| (v.to_owned(), s.to_owned());
        Policy {
            voting: FlavourPolicy::voting(),
            completion: FlavourPolicy::completion(),
            voter_sources: VOTERS
                .iter()
                .map(|e| (e.name, e.source))
                .chain(COMPLETION_CONSUMERS.iter().copied())
                .map(|(v, s)| bind(v, s))
                .collect(),
            aggregator_source: sources::DELETION_AGGREGATOR.to_owned(),
            ttl_ms: 24 * 60 * 60 * 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub message: String,
}

impl Policy {
    /// Reads a policy file (TOML); anything not given keeps its default.
    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        p.validate().map_err(|message| PolicyError {
            file: file.to_owned(),
            message,
        })?;
        Ok(p)
    }

    /// The rules of one flavour.
    pub fn of(&self, flavour: Flavour) -> &FlavourPolicy {
        match flavour {
            Flavour::Voting => &self.voting,
            Flavour::Completion => &self.completion,
        }
    }

    /// Whether `voter` must vote on this request. A voter the request does
    /// not require stays silent: its vote would only be refused.
    pub fn requires(&self, voter: &str, r: &DeletionRequested) -> bool {
        self.voting
            .required_for_request(r)
            .iter()
            .any(|v| v == voter)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, f) in [("voting", &self.voting), ("completion", &self.completion)] {
            if f.required.is_empty() {
                return Err(format!(
                    "{name}.required: at least one voter is needed, found none"
                ));
            }
            if f.deadline_ms <= 0 {
                return Err(format!(
                    "{name}.deadline_ms: expected a positive number of milliseconds, found {}",
                    f.deadline_ms
                ));
            }
            let all = f
                .required
                .iter()
                .chain(&f.large_file_voters)
                .chain(f.account_type_voters.values().flatten());
            for v in all {
                if !self.voter_sources.contains_key(v) {
                    return Err(format!("{name}: voter {v:?} has no entry in voter_sources, so none of its votes could count"));
                }
            }
        }
        if self.ttl_ms <= self.voting.deadline_ms.max(self.completion.deadline_ms) {
            return Err(format!("ttl_ms: {} must be longer than every deadline, or records vanish before they are decided", self.ttl_ms));
        }
        Ok(())
    }
}
