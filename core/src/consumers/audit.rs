//! The audit consumer.
//!
//! Consumes every event (its rule matches everything), including types the
//! catalogue does not know and details that do not decode: its input is the
//! delivered event itself (or its raw JSON text), not only a typed event.
//! It stores one [`AuditEntry`] per event whose `delivered` is the
//! delivered JSON text unchanged, so the log exports as a replayable trace.
//! Publishes nothing.
//!
//! The key is the envelope's `eventId` (what the publisher set, and what a
//! re-published event keeps), falling back to EventBridge's delivery `id`
//! for a flat detail without one: EventBridge gives every PutEvents call a
//! new delivery id, so keying by it would audit a re-published event twice.
//!
//! Idempotency: none needed beyond the log itself, whose append is a
//! put-if-absent on the key: a redelivery appends nothing and reports a
//! duplicate. A failed append is returned as the port's error (transient:
//! retried).

use crate::domain::AuditEntry;
use crate::event::Event;
use crate::failure::HandlerError;
use crate::ports::AuditLog;
use crate::time::{parse_rfc3339, Millis};
use crate::wire::DeliveredEvent;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Stored {
        event_id: String,
        event_type: String,
    },
    Duplicate {
        event_id: String,
        event_type: String,
    },
}

/// The entry for a delivered event whose JSON text is `text`. `now` stands
/// in for the timestamp only when neither the detail nor `time` has one.
pub fn entry_of(delivered: &DeliveredEvent, text: &str, now: Millis) -> AuditEntry {
    let decoded = delivered.decode().ok();
    entry_of_read(delivered, decoded.as_ref(), text, now)
}

/// `entry_of` for an envelope already decoded: `decoded` is what
/// `delivered.decode()` gave, if it decoded.
pub fn entry_of_read(
    delivered: &DeliveredEvent,
    decoded: Option<&Event>,
    text: &str,
    now: Millis,
) -> AuditEntry {
    let detail = delivered.detail.as_object();
    let envelope_id = detail
        .and_then(|d| d.get("eventId"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let timestamp = decoded
        .map(|e| e.timestamp)
        .or_else(|| {
            detail
                .and_then(|d| d.get("timestamp"))
                .and_then(Value::as_i64)
        })
        .or_else(|| parse_rfc3339(&delivered.time))
        .unwrap_or(now);
    AuditEntry {
        event_id: envelope_id.unwrap_or(&delivered.id).to_owned(),
        event_type: delivered.detail_type.clone(),
        source: delivered.source.clone(),
        timestamp,
        delivered: text.to_owned(),
    }
}

/// Audits the delivered event given as its raw JSON text (kept byte for
/// byte). Text that is not a delivered event at all is dead-lettered.
pub async fn handle_text<L: AuditLog>(
    log: &L,
    text: &str,
    now: Millis,
) -> Result<Report, HandlerError> {
    let delivered = DeliveredEvent::from_json(text)
        .map_err(|e| HandlerError::Permanent(format!("cannot audit: {e}")))?;
    append(log, entry_of(&delivered, text, now)).await
}

/// Audits an already parsed delivered event (its canonical JSON is kept).
pub async fn handle_delivered<L: AuditLog>(
    log: &L,
    delivered: &DeliveredEvent,
    now: Millis,
) -> Result<Report, HandlerError> {
    append(log, entry_of(delivered, &delivered.to_json(), now)).await
}

/// Appends one entry: stored, or a duplicate of one kept before.
pub async fn append<L: AuditLog>(log: &L, entry: AuditEntry) -> Result<Report, HandlerError> {
    let first = log.append(&entry).await?;
    let (event_id, event_type) = (entry.event_id, entry.event_type);
    Ok(if first {
        Report::Stored {
            event_id,
            event_type,
        }
    } else {
        Report::Duplicate {
            event_id,
            event_type,
        }
    })
}
