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
//!
//! Before deleting anything the executor writes a [`DeletionPlan`] into the
//! file's metadata: the transactions it is about to delete (and, once done,
//! that it deleted the content). It announces from the plan, and deletes
//! the metadata only after announcing. So every run of the same request
//! announces the same counts under the same event ids, whichever run it is
//! and whatever failed before it: a publish that fails after the deletes
//! leaves the metadata and its plan, and the retry announces what the
//! first run deleted. A redelivery that finds the claim taken checks the
//! metadata: gone means the deletion finished and was announced (the
//! delivery is a duplicate); still there means an earlier run crashed
//! after claiming, or is running now, and this delivery resumes it. Every
//! delete is idempotent and the events carry the same ids, so a concurrent
//! resume is harmless. A file whose metadata is already gone has no plan:
//! its run deletes what transactions are left and announces those.

use super::{derived, Settings};
use crate::coordination::{Record, Status};
use crate::domain::{DeletionPlan, FileMeta};
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
use std::collections::BTreeSet;

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
    let (tx_ids, content_deleted) = match meta {
        Some(m) => {
            let mut m = m.clone();
            let mut plan = planned(ports, &mut m, request_id).await?;
            let before = plan.clone();
            // A transaction added since the plan was made is deleted too,
            // and joins the plan before it is announced.
            let known: BTreeSet<String> = plan.transaction_ids.iter().cloned().collect();
            for id in ports.delete_transactions_of_file(file_id).await? {
                if !known.contains(&id) {
                    plan.transaction_ids.push(id);
                }
            }
            plan.content_deleted |= ports.delete_content(&m.s3_key).await?;
            if plan != before {
                m.deletion = Some(plan.clone());
                ports.put_file(&m).await?;
            }
            (plan.transaction_ids, plan.content_deleted)
        }
        None => (ports.delete_transactions_of_file(file_id).await?, false),
    };

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
    // Last: while the metadata is there, a retry finds the plan.
    let metadata_deleted = ports.delete_file(file_id).await?;
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

/// The plan of `request_id` in `meta`, written there first if it has none.
async fn planned<P: FileStore + TransactionStore>(
    ports: &P,
    meta: &mut FileMeta,
    request_id: &str,
) -> Result<DeletionPlan, HandlerError> {
    if let Some(plan) = meta
        .deletion
        .as_ref()
        .filter(|p| p.request_id == request_id)
    {
        return Ok(plan.clone());
    }
    let plan = DeletionPlan {
        request_id: request_id.to_owned(),
        transaction_ids: ports
            .transactions_of_file(&meta.file_id)
            .await?
            .into_iter()
            .map(|t| t.transaction_id)
            .collect(),
        content_deleted: false,
    };
    meta.deletion = Some(plan.clone());
    ports.put_file(meta).await?;
    Ok(plan)
}
