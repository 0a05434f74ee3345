//! The analytics consumer.
//!
//! Consumes the seven types of the notes' `PRIORITY_MAP` (file.processed,
//! transactions.created, transaction.updated, transactions.deleted,
//! account.created, account.updated, account.deleted) and records, per
//! user, which analytics need recomputing at which priority (an
//! [`AnalyticsJob`] in the [`AnalyticsStore`]); the analytics processor picks
//! the job up. Triggers for one user within the debounce window (300 s from
//! the job's first trigger) collapse into one job: the types are united,
//! the highest priority (lowest number) is kept and the triggers counted.
//! After the window a new job starts.
//!
//! Completion flavour: on `file.delete_requested` it queues the recompute
//! that the coming deletion calls for and publishes `consumer.completion`
//! (consumer `analytics_consumer`, source `analytics.service`): `done`, or
//! `failed` with the error text when its work failed. Publishes nothing
//! else.
//!
//! Idempotency: idempotent work, done last (keyed by consumer and event
//! id). Merging a trigger twice would count it twice and could start a
//! second job, so the job remembers the triggers merged into it, and a
//! finished run keeps `<consumer>/queued`: a redelivery that finds either
//! merges nothing. There is no claim to give back, so a failure anywhere
//! (a throttled write, and a throttled release after it, once made the
//! analytics_manager voter vote `error`, which denies) is simply retried.
//! A run that merged, died, and is retried only after its job was picked
//! up and a new one started would merge the trigger again: one recompute
//! too many, never one too few. The completion
//! report itself has an id derived from (coordinationId, consumer) and is
//! re-published on every delivery: the aggregator keeps the first.

use super::{report_completion, Settings};
use crate::domain::AnalyticsJob;
use crate::event::{sources, CompletionStatus, Event, EventData};
use crate::failure::HandlerError;
use crate::ports::{AnalyticsStore, IdempotencyStore, Publisher};
use crate::time::Millis;
use serde::Serialize;
use std::collections::BTreeSet;

/// The consumer's name: in idempotency keys and completion reports.
pub const CONSUMER: &str = "analytics_consumer";

/// The notes' PRIORITY_MAP (seed 004): 1 is the highest priority.
pub const PRIORITY_MAP: [(&str, u8); 7] = [
    ("file.processed", 2),
    ("transactions.created", 2),
    ("transaction.updated", 3),
    ("transactions.deleted", 2),
    ("account.created", 3),
    ("account.updated", 3),
    ("account.deleted", 1),
];

const MAJOR: &[&str] = &["cash_flow", "category_trends", "financial_health"];

/// The notes' ANALYTICS_TYPE_MAP (seed 004).
pub const ANALYTICS_TYPE_MAP: [(&str, &[&str]); 7] = [
    ("file.processed", MAJOR),
    ("transactions.created", MAJOR),
    // Minimal impact.
    ("transaction.updated", &["cash_flow"]),
    ("transactions.deleted", MAJOR),
    // No analytics until transactions exist.
    ("account.created", &[]),
    // Metadata only.
    ("account.updated", &[]),
    ("account.deleted", MAJOR),
];

pub fn priority_of(event_type: &str) -> Option<u8> {
    PRIORITY_MAP
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, p)| *p)
}

pub fn analytic_types_of(event_type: &str) -> Option<&'static [&'static str]> {
    ANALYTICS_TYPE_MAP
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, ts)| *ts)
}

/// What one event asks of the analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub priority: u8,
    pub analytic_types: BTreeSet<String>,
}

/// The trigger of an event type the maps list, `None` for any other type.
pub fn trigger_for(event_type: &str) -> Option<Trigger> {
    Some(Trigger {
        priority: priority_of(event_type)?,
        analytic_types: analytic_types_of(event_type)?
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    })
}

/// What a coming file deletion asks: the file's transactions are about to
/// be deleted, so the same as `transactions.deleted`.
pub fn deletion_trigger() -> Trigger {
    trigger_for("transactions.deleted").unwrap_or(Trigger {
        priority: 2,
        analytic_types: BTreeSet::new(),
    })
}

/// How a trigger landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeKind {
    /// No job was pending: a new one starts.
    Started,
    /// Within the pending job's window: merged into it.
    Merged,
    /// The pending job's window had closed: a new one replaces it.
    Restarted,
}

/// The pure debounce: `existing` is the user's pending job, if any. The
/// window runs from the job's first trigger (a steady stream of triggers
/// cannot postpone a job forever); a trigger at `first + window` or later
/// starts a new job. A trigger stamped before the job's first one (a late
/// delivery) is inside the window.
pub fn merge(
    existing: Option<&AnalyticsJob>,
    user_id: &str,
    trigger: &Trigger,
    now: Millis,
    window_ms: Millis,
) -> (AnalyticsJob, MergeKind) {
    let fresh = || AnalyticsJob {
        user_id: user_id.to_owned(),
        analytic_types: trigger.analytic_types.clone(),
        priority: trigger.priority,
        first_triggered_at: now,
        last_triggered_at: now,
        triggers: 1,
        merged: BTreeSet::new(),
    };
    match existing {
        None => (fresh(), MergeKind::Started),
        Some(job) if now >= job.first_triggered_at.saturating_add(window_ms) => {
            (fresh(), MergeKind::Restarted)
        }
        Some(job) => {
            let mut job = job.clone();
            job.analytic_types
                .extend(trigger.analytic_types.iter().cloned());
            job.priority = job.priority.min(trigger.priority);
            job.first_triggered_at = job.first_triggered_at.min(now);
            job.last_triggered_at = job.last_triggered_at.max(now);
            job.triggers = job.triggers.saturating_add(1);
            (job, MergeKind::Merged)
        }
    }
}

/// What queueing one trigger did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Queued {
    /// The job as written.
    Job {
        kind: MergeKind,
        priority: u8,
        analytic_types: BTreeSet<String>,
        triggers: u32,
    },
    /// This trigger was already merged (a redelivery).
    Duplicate,
    /// The trigger names no analytics (account.created, account.updated):
    /// nothing needs recomputing, nothing is written.
    NothingToRecompute,
}

/// Merges one trigger into `user_id`'s pending job, once per
/// (`consumer`, `key`) (see the module comment). Shared with the
/// analytics_manager voter.
pub async fn queue<P: AnalyticsStore + IdempotencyStore>(
    ports: &P,
    consumer: &str,
    key: &str,
    user_id: &str,
    trigger: &Trigger,
    now: Millis,
    settings: &Settings,
) -> Result<Queued, HandlerError> {
    if trigger.analytic_types.is_empty() {
        return Ok(Queued::NothingToRecompute);
    }
    let done = format!("{consumer}/queued");
    if ports.recall(&done, key).await?.is_some() {
        return Ok(Queued::Duplicate);
    }
    let tag = format!("{consumer}/{key}");
    let pending = ports.pending_job(user_id).await?;
    let queued = if pending.as_ref().is_some_and(|j| j.merged.contains(&tag)) {
        // Merged by a run that died before it could say so.
        Queued::Duplicate
    } else {
        let (mut job, kind) = merge(
            pending.as_ref(),
            user_id,
            trigger,
            now,
            settings.analytics_debounce_ms,
        );
        job.merged.insert(tag);
        ports.put_job(&job).await?;
        Queued::Job {
            kind,
            priority: job.priority,
            analytic_types: job.analytic_types,
            triggers: job.triggers,
        }
    };
    ports
        .remember(&done, key, "queued", settings.claim_expiry(now))
        .await?;
    Ok(queued)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    /// A type of the maps: the trigger and what became of it.
    Triggered {
        event_type: String,
        user_id: String,
        trigger: Trigger,
        queued: Queued,
    },
    /// Completion flavour: the work's outcome and the report published.
    Completion {
        coordination_id: String,
        status: CompletionStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        queued: Option<Queued>,
        completion_id: String,
    },
    /// A type this consumer does not handle.
    Ignored { event_type: String },
}

pub async fn handle<P: AnalyticsStore + IdempotencyStore + Publisher>(
    ports: &P,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError> {
    if let EventData::DeleteRequested(req) = &event.data {
        let trigger = deletion_trigger();
        let outcome = queue(
            ports,
            CONSUMER,
            &event.event_id,
            &event.user_id,
            &trigger,
            now,
            settings,
        )
        .await;
        let done = report_completion(
            ports,
            event,
            req,
            CONSUMER,
            sources::ANALYTICS_SERVICE,
            outcome,
            now,
            settings,
        )
        .await?;
        return Ok(Report::Completion {
            coordination_id: req.coordination_id.clone(),
            status: done.status,
            error: done.error,
            queued: done.work,
            completion_id: done.completion_id,
        });
    }
    let event_type = event.event_type();
    let Some(trigger) = trigger_for(event_type) else {
        return Ok(Report::Ignored {
            event_type: event_type.to_owned(),
        });
    };
    let queued = queue(
        ports,
        CONSUMER,
        &event.event_id,
        &event.user_id,
        &trigger,
        now,
        settings,
    )
    .await?;
    Ok(Report::Triggered {
        event_type: event_type.to_owned(),
        user_id: event.user_id.clone(),
        trigger,
        queued,
    })
}
