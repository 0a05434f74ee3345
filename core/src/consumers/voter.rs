//! The deletion voters: analytics_manager (analytics.service),
//! category_manager (category.service), backup_manager (backup.service) and
//! compliance_manager (compliance.service).
//!
//! Consumes `file.deletion.requested`; does the voter's own work and ALWAYS
//! publishes one `file.deletion.vote` (id derived from requestId and voter,
//! from the voter's own source), also when there is nothing to process. A
//! voter that returns without voting would stall the request until its
//! deadline, so when the voter's own work fails permanently the vote is
//! `error` with the error text as reason (the aggregator's policy decides
//! what an error means) and the handler succeeds: the vote is the answer.
//! A transient failure (a throttled read, a 5xx, a lost race) fails the
//! delivery instead, so the bus retries it with backoff: one throttled read
//! must not veto a deletion. A voter whose store stays unavailable past
//! the rule's retry budget is dead-lettered and never votes; the request
//! then ends at its deadline with the policy's timeout outcome.
//!
//! * analytics_manager: queues an analytics recompute for the user through
//!   the analytics consumer's merge ([`analytics::queue`]); "Nothing to
//!   process" when the file has no transactions.
//! * category_manager: counts the file's transactions that an active rule
//!   categorized; reads only.
//! * backup_manager, compliance_manager: check that the file's metadata is
//!   readable; read only.
//!
//! Idempotency: the work is idempotent (reads, or the analytics queue with
//! its own claim-first key `<voter>/recompute` + event id), so every
//! delivery may redo it. What the vote says is not re-derived: the first
//! run's decision, reason and timestamp are kept write-once
//! ([`IdempotencyStore::remember`], key `<voter>/vote` + vote id) before
//! the vote is published, and every run publishes what is kept. So one
//! vote id always carries one content, even when a later run would have
//! decided otherwise (the file's transactions changed, a permanent error
//! came or went). Any crash makes the retry vote again; none loses the
//! vote.

use super::analytics::{self, Queued};
use super::{derived, remember_as, Settings};
use crate::domain::{CategoryRule, Transaction};
use crate::event::{DeletionRequested, DeletionVote, Event, EventData, VoteDecision};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{
    AnalyticsStore, CategoryRuleStore, FileStore, IdempotencyStore, Publisher, TransactionStore,
};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

pub use crate::targets::Voter;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Voted {
        voter: Voter,
        request_id: String,
        decision: VoteDecision,
        reason: String,
        vote_id: String,
        /// An earlier run had decided this vote: this delivery re-published
        /// it as that run decided.
        redelivery: bool,
    },
    Ignored {
        voter: Voter,
        event_type: String,
    },
}

/// How many of `txs` carry the category of an active rule that matches
/// them (the category_manager's count).
pub fn categorized_by_active_rules(rules: &[CategoryRule], txs: &[Transaction]) -> usize {
    txs.iter()
        .filter(|t| {
            t.category_id.as_deref().is_some_and(|c| {
                rules
                    .iter()
                    .any(|r| r.active && r.category_id == c && r.matches(t))
            })
        })
        .count()
}

/// The category_manager's reason for a count.
pub fn category_reason(count: usize) -> String {
    match count {
        0 => "No active categorization rules affected".to_owned(),
        1 => "1 transaction categorized by active rules; recorded".to_owned(),
        n => format!("{n} transactions categorized by active rules; recorded"),
    }
}

/// Every port a voter uses.
pub trait VoterPorts:
    FileStore + TransactionStore + CategoryRuleStore + AnalyticsStore + IdempotencyStore + Publisher
{
}

impl<P> VoterPorts for P where
    P: FileStore
        + TransactionStore
        + CategoryRuleStore
        + AnalyticsStore
        + IdempotencyStore
        + Publisher
{
}

/// How a voter answers: by its own work, or (a voter that objects to
/// everything, as the simulator's denying-voter fault deploys one) with a
/// deny. Either way the first answer is kept and is every run's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    OwnWork,
    Object(&'a str),
}

pub async fn handle<P>(
    ports: &P,
    voter: Voter,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError>
where
    P: VoterPorts,
{
    answer(
        ports,
        voter,
        voter.source(),
        event,
        now,
        settings,
        Answer::OwnWork,
    )
    .await
}

/// Answers `event` as `voter`, publishing the vote from `source` (the
/// source the deployed policy binds the voter to).
pub async fn answer<P>(
    ports: &P,
    voter: Voter,
    source: &str,
    event: &Event,
    now: Millis,
    settings: &Settings,
    how: Answer<'_>,
) -> Result<Report, HandlerError>
where
    P: VoterPorts,
{
    let EventData::DeletionRequested(req) = &event.data else {
        return Ok(Report::Ignored {
            voter,
            event_type: event.event_type().to_owned(),
        });
    };
    let user_id = if req.user_id.is_empty() {
        event.user_id.as_str()
    } else {
        req.user_id.as_str()
    };
    let vote_id = ids::derive("vote", &[&req.request_id, voter.name()]);
    let work = match how {
        Answer::Object(reason) => Err(reason.to_owned()),
        Answer::OwnWork => Ok(own_work(ports, voter, event, req, user_id, now, settings).await),
    };
    let decided = match work {
        Err(objection) => Decided {
            decision: VoteDecision::Deny,
            reason: objection,
            at: now,
        },
        Ok(Ok(reason)) => Decided {
            decision: VoteDecision::Proceed,
            reason,
            at: now,
        },
        // A throttled read or a 5xx says nothing about the file: the
        // delivery fails and the bus retries it. Only work that cannot
        // succeed becomes an error vote.
        Ok(Err(e @ HandlerError::Transient(_))) => return Err(e),
        Ok(Err(e @ HandlerError::Permanent(_))) => Decided {
            decision: VoteDecision::Error,
            reason: e.to_string(),
            at: now,
        },
    };
    // The first run's vote is the vote: a later run (a redelivery, a
    // concurrent copy) may have seen other data, but it re-publishes the
    // id with what was decided first.
    let (decided, first) = remember_as(
        ports,
        &format!("{}/vote", voter.name()),
        &vote_id,
        &decided,
        settings.claim_expiry(now),
    )
    .await?;
    let mut vote = derived(
        event,
        vote_id,
        source,
        EventData::DeletionVote(DeletionVote {
            file_id: req.file_id.clone(),
            request_id: req.request_id.clone(),
            voter: voter.name().to_owned(),
            decision: decided.decision,
            reason: Some(decided.reason.clone()),
        }),
        decided.at,
    );
    if vote.user_id.is_empty() {
        vote.user_id = user_id.to_owned();
    }
    ports.publish(std::slice::from_ref(&vote)).await?;
    Ok(Report::Voted {
        voter,
        request_id: req.request_id.clone(),
        decision: decided.decision,
        reason: decided.reason,
        vote_id: vote.event_id,
        redelivery: !first,
    })
}

/// What a voter decided the first time it answered a request, kept
/// write-once in the idempotency store under the vote's id.
#[derive(Debug, Serialize, Deserialize)]
struct Decided {
    decision: VoteDecision,
    reason: String,
    /// The vote's timestamp: kept too, so a re-published vote is the same
    /// event to the byte.
    at: Millis,
}

/// The voter's own work; its reason on success.
async fn own_work<P>(
    ports: &P,
    voter: Voter,
    event: &Event,
    req: &DeletionRequested,
    user_id: &str,
    now: Millis,
    settings: &Settings,
) -> Result<String, HandlerError>
where
    P: FileStore + TransactionStore + CategoryRuleStore + AnalyticsStore + IdempotencyStore,
{
    match voter {
        Voter::AnalyticsManager => {
            let txs = ports.transactions_of_file(&req.file_id).await?;
            if txs.is_empty() {
                return Ok("Nothing to process".to_owned());
            }
            let key = format!("{}/recompute", voter.name());
            let queued = analytics::queue(
                ports,
                &key,
                &event.event_id,
                user_id,
                &analytics::deletion_trigger(),
                now,
                settings,
            )
            .await?;
            Ok(match queued {
                Queued::NothingToRecompute => "Nothing to process".to_owned(),
                Queued::Job { .. } | Queued::Duplicate => "Analytics recompute queued".to_owned(),
            })
        }
        Voter::CategoryManager => {
            let rules = ports.rules_of_user(user_id).await?;
            let txs = ports.transactions_of_file(&req.file_id).await?;
            Ok(category_reason(categorized_by_active_rules(&rules, &txs)))
        }
        Voter::BackupManager | Voter::ComplianceManager => {
            Ok(match ports.get_file(&req.file_id).await? {
                Some(_) => "File metadata readable; nothing to hold".to_owned(),
                None => "File metadata already gone; nothing to hold".to_owned(),
            })
        }
    }
}
