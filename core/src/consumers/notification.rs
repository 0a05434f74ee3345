//! The notification consumer.
//!
//! Consumes `file.processed`, `transactions.deleted` and `account.deleted`
//! and sends one [`Notification`] per event id with a human message.
//! Publishes nothing; every other type is ignored.
//!
//! Idempotency: claim first (consumer + event id), release on failure.
//! Sending is the one effect here that cannot be undone or repeated
//! invisibly (a user would get the message twice), so the claim gates it.
//! If the send fails the claim is given back and the error returned, so
//! the retry sends. The residual window, a crash after the claim and before
//! the send, costs one notification: at most once is the right side to err
//! on for a courtesy message. (The notification carries the event id, so a
//! notifier that dedupes by it may send after the claim without harm.)

use super::{claim_then, Settings};
use crate::domain::Notification;
use crate::event::{Event, EventData, ProcessingStatus};
use crate::failure::HandlerError;
use crate::ports::{IdempotencyStore, Notifier};
use crate::time::Millis;
use serde::Serialize;

/// The consumer's name in idempotency keys.
pub const CONSUMER: &str = "notification_consumer";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Sent {
        event_id: String,
        message: String,
    },
    /// Already sent for this event id.
    Duplicate {
        event_id: String,
    },
    Ignored {
        event_type: String,
    },
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The message an event deserves, `None` for a type that gets none.
pub fn message(event: &Event) -> Option<String> {
    Some(match &event.data {
        EventData::FileProcessed(p) => {
            let imported = plural(p.transaction_count, "transaction", "transactions");
            let dups = match p.duplicate_count {
                0 => String::new(),
                d => format!(", {} skipped", plural(d, "duplicate", "duplicates")),
            };
            match p.processing_status {
                ProcessingStatus::Success => {
                    format!(
                        "Your file {} was processed: {imported} found{dups}.",
                        p.file_id
                    )
                }
                ProcessingStatus::Partial => format!(
                    "Your file {} was partly processed: {imported} found{dups}; {}.",
                    p.file_id,
                    p.error_message
                        .as_deref()
                        .unwrap_or("some lines could not be read")
                ),
                ProcessingStatus::Failed => format!(
                    "Your file {} could not be processed: {}.",
                    p.file_id,
                    p.error_message.as_deref().unwrap_or("unknown error")
                ),
            }
        }
        EventData::TransactionsDeleted(d) => format!(
            "{} deleted ({}).",
            plural(
                d.transaction_ids.len() as u64,
                "transaction was",
                "transactions were"
            ),
            d.deletion_type
        ),
        EventData::AccountDeleted(a) => format!(
            "Account {} was deleted, with {}.",
            a.account_id,
            plural(a.transaction_count, "transaction", "transactions")
        ),
        _ => return None,
    })
}

pub async fn handle<P: Notifier + IdempotencyStore>(
    ports: &P,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError> {
    let Some(text) = message(event) else {
        return Ok(Report::Ignored {
            event_type: event.event_type().to_owned(),
        });
    };
    let n = Notification {
        event_id: event.event_id.clone(),
        user_id: event.user_id.clone(),
        message: text,
        at: now,
    };
    let sent = claim_then(
        ports,
        CONSUMER,
        &event.event_id,
        settings.claim_expiry(now),
        async { Ok(ports.notify(&n).await?) },
    )
    .await?;
    Ok(match sent {
        Some(()) => Report::Sent {
            event_id: n.event_id,
            message: n.message,
        },
        None => Report::Duplicate {
            event_id: event.event_id.clone(),
        },
    })
}
