//! The event consumers: the code behind each Lambda that reacts to an
//! event (or, for `api` and `file_processor::object_created`, to an HTTP
//! request or an S3 notification). Each module is callable on its own and
//! generic over exactly the ports it needs; none reads a clock or draws
//! randomness (`now` and any entropy are parameters).
//!
//! # Idempotency under at-least-once delivery
//!
//! The ports offer `IdempotencyStore::claim` (a conditional put, true only
//! for the first caller) and `release`; there is no "peek". That leaves two
//! safe orders, and each consumer names the one it uses:
//!
//! * **Idempotent work, claim last.** Every effect is idempotent by
//!   construction (put-if-absent, deletes, "only if uncategorized", events
//!   with ids derived from their cause), so a redelivery may simply redo
//!   it. The claim is taken after the effects are durable and published; it
//!   is the durable record that the input was handled, and its answer only
//!   tells the report whether this was a redelivery. A crash anywhere makes
//!   the retry redo the work, never lose it. Where a run's announcement
//!   depends on what it saw, the first run's is kept write-once
//!   (`IdempotencyStore::remember`) and every run publishes that; where
//!   redoing must not count twice, "done" is kept last and read first
//!   (`recall`). (voter, completion reports, categorization, executor,
//!   the analytics queue.)
//! * **Claim first, release on failure.** Where redoing would change
//!   something visible (a second notification, a trigger counted twice, a
//!   `file.processed` with a different duplicate count, a second deletion
//!   report) the claim gates the work; if the work fails the claim is given
//!   back before the error is returned, so the bus's retry redoes it. The
//!   residual window is a crash between the claim and the effect (or a
//!   give-back that fails): each documents what it would cost.
//!   (notification, file processor.)
//!
//! The audit log needs no claim: its append is itself put-if-absent.

pub mod analytics;
pub mod api;
pub mod audit;
pub mod categorization;
pub mod executor;
pub mod file_processor;
pub mod notification;
pub mod voter;

use crate::event::{
    CompletionStatus, ConsumerCompletion, DeleteRequested, Event, EventData, CURRENT_VERSION,
};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{IdempotencyStore, Publisher};
use crate::time::Millis;
use std::future::Future;

/// Knobs shared by the consumers; every field has the notes' default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long an idempotency claim is kept (the table's TTL). Longer than
    /// the bus's retry horizon (EventBridge retries for up to 24 hours).
    pub claim_ttl_ms: Millis,
    /// ANALYTICS_DEBOUNCE_WINDOW: triggers for one user within this long
    /// of the job's first trigger merge into that job.
    pub analytics_debounce_ms: Millis,
    /// CATEGORIZATION_BATCH_SIZE.
    pub categorization_batch_size: usize,
}

/// Seven days: well past EventBridge's 24-hour retry horizon and any
/// dead-letter redrive a human is likely to do.
pub const DEFAULT_CLAIM_TTL_MS: Millis = 7 * 24 * 60 * 60 * 1000;
/// ANALYTICS_DEBOUNCE_WINDOW = 300 seconds.
pub const ANALYTICS_DEBOUNCE_MS: Millis = 300 * 1000;
/// CATEGORIZATION_BATCH_SIZE = 100.
pub const CATEGORIZATION_BATCH_SIZE: usize = 100;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            claim_ttl_ms: DEFAULT_CLAIM_TTL_MS,
            analytics_debounce_ms: ANALYTICS_DEBOUNCE_MS,
            categorization_batch_size: CATEGORIZATION_BATCH_SIZE,
        }
    }
}

impl Settings {
    pub(crate) fn claim_expiry(&self, now: Millis) -> Millis {
        now.saturating_add(self.claim_ttl_ms)
    }
}

/// An event caused by `cause`: causation is the cause's id, correlation and
/// user are carried over (a cause without a correlation id starts the chain
/// with its own id), version is current and the timestamp is `now`.
pub(crate) fn derived(
    cause: &Event,
    event_id: String,
    source: &str,
    data: EventData,
    now: Millis,
) -> Event {
    Event {
        event_id,
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: now,
        source: source.to_owned(),
        user_id: cause.user_id.clone(),
        correlation_id: Some(
            cause
                .correlation_id
                .clone()
                .unwrap_or_else(|| cause.event_id.clone()),
        ),
        causation_id: Some(cause.event_id.clone()),
        data,
        metadata: None,
    }
}

/// What a consumer's part in a completion-flavour coordination came to,
/// once its report is published.
pub(crate) struct Completed<T> {
    pub status: CompletionStatus,
    pub error: Option<String>,
    /// What the work did, when it succeeded.
    pub work: Option<T>,
    pub completion_id: String,
}

/// Publishes `consumer`'s completion report for `req`: done with the
/// work's result, or failed with its error when the work failed
/// permanently (a failed part is reported, not retried: the coordination
/// decides what a failure means). A transient failure (throttling, a 5xx)
/// fails the delivery instead, so the bus retries it: it says nothing
/// about the part. Its id is derived from (coordinationId, consumer): one
/// report per consumer per coordination, whatever the deliveries, and its
/// status, error and time are kept write-once before it is published, so
/// every delivery re-publishes what the first one reported.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn report_completion<P: Publisher + IdempotencyStore, T>(
    ports: &P,
    cause: &Event,
    req: &DeleteRequested,
    consumer: &str,
    source: &str,
    outcome: Result<T, HandlerError>,
    now: Millis,
    settings: &Settings,
) -> Result<Completed<T>, HandlerError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Reported {
        status: CompletionStatus,
        error: Option<String>,
        at: Millis,
    }
    let (reported, work) = match outcome {
        Ok(w) => (
            Reported {
                status: CompletionStatus::Done,
                error: None,
                at: now,
            },
            Some(w),
        ),
        Err(e @ HandlerError::Transient(_)) => return Err(e),
        Err(e @ HandlerError::Permanent(_)) => (
            Reported {
                status: CompletionStatus::Failed,
                error: Some(e.to_string()),
                at: now,
            },
            None,
        ),
    };
    let completion_id = ids::derive("completion", &[&req.coordination_id, consumer]);
    let (reported, _) = remember_as(
        ports,
        &format!("{consumer}/completion"),
        &completion_id,
        &reported,
        settings.claim_expiry(now),
    )
    .await?;
    let completion = derived(
        cause,
        completion_id,
        source,
        EventData::ConsumerCompletion(ConsumerCompletion {
            coordination_id: req.coordination_id.clone(),
            file_id: req.file_id.clone(),
            consumer: consumer.to_owned(),
            status: reported.status,
            error_message: reported.error.clone(),
        }),
        reported.at,
    );
    ports.publish(std::slice::from_ref(&completion)).await?;
    Ok(Completed {
        status: reported.status,
        error: reported.error,
        // What this run's work did counts only if the report says done.
        work: work.filter(|_| reported.status == CompletionStatus::Done),
        completion_id: completion.event_id,
    })
}

/// Keeps `value` write-once under (consumer, key) and answers with the
/// value kept (an earlier run's, if any; see
/// [`IdempotencyStore::remember`]), and whether this call kept it.
pub(crate) async fn remember_as<I, T>(
    ids: &I,
    consumer: &str,
    key: &str,
    value: &T,
    expires_at: Millis,
) -> Result<(T, bool), HandlerError>
where
    I: IdempotencyStore,
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(value).expect("a kept value serializes");
    let kept = ids.remember(consumer, key, &text, expires_at).await?;
    let value = serde_json::from_str(&kept.value).map_err(|e| {
        HandlerError::Permanent(format!(
            "the value kept under {consumer}/{key} cannot be read ({e}): {}",
            kept.value
        ))
    })?;
    Ok((value, kept.first))
}

/// A root event (one no other event caused): its correlation id is its own
/// id unless the caller has a better one (the API's request id).
pub(crate) fn root(
    event_id: String,
    source: &str,
    user_id: &str,
    correlation_id: Option<String>,
    data: EventData,
    now: Millis,
) -> Event {
    Event {
        correlation_id: Some(correlation_id.unwrap_or_else(|| event_id.clone())),
        event_id,
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: now,
        source: source.to_owned(),
        user_id: user_id.to_owned(),
        causation_id: None,
        data,
        metadata: None,
    }
}

/// Claim first, release on failure: runs `work` only if this call wins the
/// claim (`None` when another delivery already holds it). If `work` fails,
/// the claim is given back before the error is returned, so the retry the
/// error asks for redoes the work. If even the release fails, both errors
/// are reported: the claim then stays and a human has to look.
pub(crate) async fn claim_then<I, T, F>(
    ids: &I,
    consumer: &str,
    key: &str,
    expires_at: Millis,
    work: F,
) -> Result<Option<T>, HandlerError>
where
    I: IdempotencyStore,
    F: Future<Output = Result<T, HandlerError>>,
{
    if !ids.claim(consumer, key, expires_at).await? {
        return Ok(None);
    }
    match work.await {
        Ok(t) => Ok(Some(t)),
        Err(e) => match ids.release(consumer, key).await {
            Ok(()) => Err(e),
            Err(r) => Err(HandlerError::Permanent(format!(
                "{e}; and the idempotency claim {consumer}/{key} could not be released ({r}), \
                 so a retry would skip the work"
            ))),
        },
    }
}

/// Claim last: records that `key` was fully handled, after the (idempotent)
/// work is durable. True the first time; false tells a redelivery.
pub(crate) async fn mark_done<I: IdempotencyStore>(
    ids: &I,
    consumer: &str,
    key: &str,
    expires_at: Millis,
) -> Result<bool, HandlerError> {
    Ok(ids.claim(consumer, key, expires_at).await?)
}
