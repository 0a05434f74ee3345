//! The deletion executor.
//!
//! Consumes `file.deletion.approved` (from either flavour). Defence in
//! depth: it loads the coordination record and refuses (permanently, with
//! the reason, so the approval is dead-lettered) unless the record exists,
//! is Approved and is for the same file, and unless the file, if still
//! there, belongs to the requesting user. Then it deletes the file's
//! transactions, its content (FileMeta.s3_key) and its metadata, and
//! publishes `file.deleted` (id derived from the requestId) and, when
//! transactions were deleted, `transactions.deleted` (deletionType bulk,
//! id derived from the requestId). Both from `deletion.executor`. A file
//! that is already gone completes: `file.deleted` with transactionsDeleted
//! 0 and contentDeleted false.
//!
//! Idempotency: claim first, keyed by the requestId (not the event id: two
//! different copies of an approval still delete once), release on failure.
//! A redelivery that finds the claim taken checks whether the deletion
//! really finished: if the file's metadata is gone it did (the metadata is
//! deleted after the transactions and the content) and the delivery is a
//! duplicate; if the metadata is still there, an earlier run crashed after
//! claiming (or is running right now), and this delivery redoes the
//! deletion. Every delete is idempotent and the events carry the same ids,
//! so a concurrent redo is harmless. The one window left is a crash between
//! deleting the metadata and publishing: the deletion is complete, only its
//! announcement is lost. Related: when the publish itself fails after the
//! deletes (the claim is released, the bus retries), the retry finds
//! nothing left to delete and announces `file.deleted` under the same id
//! with zero counts, and no `transactions.deleted`: the counts report what
//! the publishing run deleted. Announcing before deleting would fix the
//! counts but announce deletions that have not happened yet.

use super::{derived, Settings};
use crate::coordination::{Record, Status};
use crate::domain::FileMeta;
use crate::event::{
    sources, DeletionApproved, DeletionType, Event, EventData, FileDeleted, TransactionsDeleted,
};
use crate::handlers::HandlerError;
use crate::ids;
use crate::ports::{
    ContentStore, FileStore, IdempotencyStore, Publisher, RecordStore, TransactionStore,
};
use crate::time::Millis;
use serde::Serialize;

/// The executor's name in idempotency keys.
pub const CONSUMER: &str = "deletion_executor";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Executed {
        request_id: String,
        file_id: String,
        transactions_deleted: u64,
        content_deleted: bool,
        metadata_deleted: bool,
        /// Ids of the events published.
        published: Vec<String>,
        /// An earlier run claimed the request but did not finish.
        resumed: bool,
    },
    /// The request was already executed: nothing done, nothing published.
    AlreadyExecuted {
        request_id: String,
    },
    Ignored {
        event_type: String,
    },
}

/// Whether `record` authorizes executing `approval`: the reason it does
/// not, if it does not.
pub fn check_approval(record: Option<&Record>, approval: &DeletionApproved) -> Result<(), String> {
    let id = &approval.request_id;
    let Some(record) = record else {
        return Err(format!(
            "refusing to delete file {}: no coordination record exists for request {id}",
            approval.file_id
        ));
    };
    if record.status != Status::Approved {
        return Err(format!(
            "refusing to delete file {}: request {id} is {}, not approved",
            approval.file_id,
            record.status.as_str()
        ));
    }
    match &record.request {
        Some(r) if r.file_id != approval.file_id => Err(format!(
            "refusing to delete file {}: request {id} was approved for file {}",
            approval.file_id, r.file_id
        )),
        None => Err(format!(
            "refusing to delete file {}: request {id} has no registered request",
            approval.file_id
        )),
        Some(_) => Ok(()),
    }
}

pub async fn handle<P>(
    ports: &P,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError>
where
    P: RecordStore + FileStore + TransactionStore + ContentStore + IdempotencyStore + Publisher,
{
    let EventData::DeletionApproved(approval) = &event.data else {
        return Ok(Report::Ignored {
            event_type: event.event_type().to_owned(),
        });
    };
    let record = ports.load(&approval.request_id).await?;
    check_approval(record.as_ref(), approval).map_err(HandlerError::Permanent)?;
    let request = record.and_then(|r| r.request);
    let requester = request.as_ref().map_or("", |r| r.user_id.as_str());
    let account_id = request.as_ref().map_or("", |r| r.account_id.as_str());
    let meta = ports.get_file(&approval.file_id).await?;
    if let Some(m) = &meta {
        if !requester.is_empty() && m.user_id != requester {
            return Err(HandlerError::Permanent(format!(
                "refusing to delete file {}: it belongs to another user than the requester of {}",
                approval.file_id, approval.request_id
            )));
        }
    }

    let key = approval.request_id.as_str();
    let expires = settings.claim_expiry(now);
    let claimed = ports.claim(CONSUMER, key, expires).await?;
    if !claimed && meta.is_none() {
        return Ok(Report::AlreadyExecuted {
            request_id: approval.request_id.clone(),
        });
    }
    match delete(ports, event, approval, meta.as_ref(), account_id, now).await {
        Ok(mut report) => {
            if let Report::Executed { resumed, .. } = &mut report {
                *resumed = !claimed;
            }
            Ok(report)
        }
        // Only the run that took the claim gives it back; a resuming run
        // never held it.
        Err(e) if claimed => match ports.release(CONSUMER, key).await {
            Ok(()) => Err(e),
            Err(r) => Err(HandlerError::Permanent(format!(
                "{e}; and the claim {CONSUMER}/{key} could not be released ({r})"
            ))),
        },
        Err(e) => Err(e),
    }
}

async fn delete<P>(
    ports: &P,
    event: &Event,
    approval: &DeletionApproved,
    meta: Option<&FileMeta>,
    account_id: &str,
    now: Millis,
) -> Result<Report, HandlerError>
where
    P: FileStore + TransactionStore + ContentStore + Publisher,
{
    let file_id = approval.file_id.as_str();
    let request_id = approval.request_id.as_str();
    let tx_ids = ports.delete_transactions_of_file(file_id).await?;
    let content_deleted = match meta {
        Some(m) => ports.delete_content(&m.s3_key).await?,
        None => false,
    };
    let metadata_deleted = ports.delete_file(file_id).await?;

    let mut events = vec![derived(
        event,
        ids::derive("deleted", &[request_id]),
        sources::DELETION_EXECUTOR,
        EventData::FileDeleted(FileDeleted {
            file_id: file_id.to_owned(),
            request_id: request_id.to_owned(),
            transactions_deleted: tx_ids.len() as u64,
            content_deleted,
        }),
        now,
    )];
    if !tx_ids.is_empty() {
        let account = if account_id.is_empty() {
            meta.map_or("", |m| m.account_id.as_str())
        } else {
            account_id
        };
        events.push(derived(
            event,
            ids::derive("tx-deleted", &[request_id]),
            sources::DELETION_EXECUTOR,
            EventData::TransactionsDeleted(TransactionsDeleted {
                transaction_ids: tx_ids.clone(),
                account_ids: if account.is_empty() {
                    Vec::new()
                } else {
                    vec![account.to_owned()]
                },
                deletion_type: DeletionType::Bulk,
            }),
            now,
        ));
    }
    ports.publish(&events).await?;
    Ok(Report::Executed {
        request_id: request_id.to_owned(),
        file_id: file_id.to_owned(),
        transactions_deleted: tx_ids.len() as u64,
        content_deleted,
        metadata_deleted,
        published: events.into_iter().map(|e| e.event_id).collect(),
        resumed: false,
    })
}
