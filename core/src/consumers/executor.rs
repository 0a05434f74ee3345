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
//! Idempotency: idempotent work, done last, keyed by the requestId (not
//! the event id: two different copies of an approval still delete once).
//! Every delete is idempotent and the announcement is the plan's, so any
//! run may redo all of it; a finished run keeps `deletion_executor/done`,
//! and a later copy that finds it does nothing (`AlreadyExecuted`). There
//! is no claim to give back: a run that dies anywhere leaves nothing that
//! stops the retry. (A claim taken first once could outlive a crash, and a
//! retry that then found the file gone, deleted by another request for the
//! same file, took the deletion for done and never announced it.)
//!
//! Before deleting anything the executor makes a [`DeletionPlan`] (the
//! file's transactions, and its content key while the metadata names one)
//! and keeps it write-once in the idempotency store
//! ([`IdempotencyStore::remember`], key `deletion_executor/plan` +
//! requestId): the first run's plan is every run's plan. It announces from
//! the plan, so every run of the same request, concurrent or retried,
//! whatever failed or was deleted before it, publishes the same
//! `file.deleted` and `transactions.deleted` under the same ids. (The plan
//! used to live in the file's metadata, which a run deletes last: a run
//! that came after that, or a concurrent run that had read the metadata
//! before the plan was written, announced other counts under the same id.)
//! A transaction that appears after the plan (a late write of the file
//! processor) is deleted too and announced in a `transactions.deleted` of
//! its own, whose id derives from the request and those ids.
//!
//! A run that finds a plan kept but no `done` resumes it (`resumed`): an
//! earlier run died part way, or one is running now; a concurrent resume
//! deletes nothing twice and announces the same events. A file whose
//! metadata is already gone has no content to delete: its plan names what
//! transactions are left.

use super::{derived, remember_as, Settings};
use crate::coordination::{Record, Status};
use crate::domain::{DeletionPlan, FileMeta};
use crate::event::{
    sources, DeletionApproved, DeletionType, Event, EventData, FileDeleted, TransactionsDeleted,
};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{
    ContentStore, FileStore, IdempotencyStore, Publisher, RecordStore, TransactionStore,
};
use crate::time::Millis;
use serde::Serialize;
use std::collections::BTreeSet;

/// Where its plans are kept (by requestId).
pub const PLANS: &str = "deletion_executor/plan";
/// Where it keeps, by requestId, that a deletion finished: announced and
/// the metadata deleted.
pub const DONE: &str = "deletion_executor/done";

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
    // What the executor announces follows from the decision of record, not
    // from the event in hand: any approval of an approved request (the
    // aggregator's, or another with its words) then announces the same
    // deletion under the same ids with the same content.
    let cause = record
        .as_ref()
        .map_or_else(|| event.clone(), |r| decision_event(r, event));
    let event = &cause;
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
    if ports.recall(DONE, key).await?.is_some() {
        return Ok(Report::AlreadyExecuted {
            request_id: approval.request_id.clone(),
        });
    }
    let report = delete(
        ports,
        event,
        approval,
        meta.as_ref(),
        account_id,
        now,
        settings,
    )
    .await?;
    // Last: what every later copy of the approval reads to do nothing.
    ports
        .remember(DONE, key, "done", settings.claim_expiry(now))
        .await?;
    Ok(report)
}

/// The approval as the aggregator published it for `record`: its decision
/// event's id, and the requester and correlation it took from the request.
fn decision_event(record: &Record, event: &Event) -> Event {
    let mut cause = event.clone();
    if let Some(d) = &record.decision {
        cause.event_id = d.event_id.clone();
    }
    if let Some(req) = &record.request {
        cause.user_id = req.user_id.clone();
        cause.correlation_id = Some(
            req.correlation_id
                .clone()
                .unwrap_or_else(|| req.request_id.clone()),
        );
    }
    cause
}

async fn delete<P>(
    ports: &P,
    event: &Event,
    approval: &DeletionApproved,
    meta: Option<&FileMeta>,
    account_id: &str,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError>
where
    P: FileStore + TransactionStore + ContentStore + IdempotencyStore + Publisher,
{
    let file_id = approval.file_id.as_str();
    let request_id = approval.request_id.as_str();
    let (plan, first) =
        planned(ports, meta, file_id, request_id, settings.claim_expiry(now)).await?;
    let planned_ids: BTreeSet<&str> = plan.transaction_ids.iter().map(String::as_str).collect();
    let mut late: Vec<String> = ports
        .delete_transactions_of_file(file_id)
        .await?
        .into_iter()
        .filter(|id| !planned_ids.contains(id.as_str()))
        .collect();
    late.sort();
    if let Some(key) = &plan.content_key {
        ports.delete_content(key).await?;
    }

    let content_deleted = plan.content_key.is_some();
    let mut events = vec![derived(
        event,
        ids::derive("deleted", &[request_id]),
        sources::DELETION_EXECUTOR,
        EventData::FileDeleted(FileDeleted {
            file_id: file_id.to_owned(),
            request_id: request_id.to_owned(),
            transactions_deleted: plan.transaction_ids.len() as u64,
            content_deleted,
        }),
        now,
    )];
    let account = if account_id.is_empty() {
        meta.map_or("", |m| m.account_id.as_str())
    } else {
        account_id
    };
    let transactions_deleted = |event_id: String, transaction_ids: &[String]| {
        derived(
            event,
            event_id,
            sources::DELETION_EXECUTOR,
            EventData::TransactionsDeleted(TransactionsDeleted {
                transaction_ids: transaction_ids.to_vec(),
                account_ids: if account.is_empty() {
                    Vec::new()
                } else {
                    vec![account.to_owned()]
                },
                deletion_type: DeletionType::Bulk,
            }),
            now,
        )
    };
    if !plan.transaction_ids.is_empty() {
        events.push(transactions_deleted(
            ids::derive("tx-deleted", &[request_id]),
            &plan.transaction_ids,
        ));
    }
    if !late.is_empty() {
        let mut parts: Vec<&str> = vec![request_id];
        parts.extend(late.iter().map(String::as_str));
        events.push(transactions_deleted(
            ids::derive("tx-deleted-late", &parts),
            &late,
        ));
    }
    ports.publish(&events).await?;
    // Last: while the metadata is there, a redelivery resumes.
    let metadata_deleted = ports.delete_file(file_id).await?;
    // A file processor still at work may have written transactions since
    // the sweep above; from here on it finds no metadata and removes what
    // it writes itself, so one more sweep leaves nothing behind.
    ports.delete_transactions_of_file(file_id).await?;
    Ok(Report::Executed {
        request_id: request_id.to_owned(),
        file_id: file_id.to_owned(),
        transactions_deleted: (plan.transaction_ids.len() + late.len()) as u64,
        content_deleted,
        metadata_deleted,
        published: events.into_iter().map(|e| e.event_id).collect(),
        resumed: !first,
    })
}

/// The plan of `request_id`: the one an earlier run kept, or else the one
/// this run makes now (the file's transactions and content) and keeps.
async fn planned<P: TransactionStore + IdempotencyStore>(
    ports: &P,
    meta: Option<&FileMeta>,
    file_id: &str,
    request_id: &str,
    expires_at: Millis,
) -> Result<(DeletionPlan, bool), HandlerError> {
    let candidate = DeletionPlan {
        request_id: request_id.to_owned(),
        transaction_ids: ports
            .transactions_of_file(file_id)
            .await?
            .into_iter()
            .map(|t| t.transaction_id)
            .collect(),
        content_key: meta.map(|m| m.s3_key.clone()).filter(|k| !k.is_empty()),
    };
    remember_as(ports, PLANS, request_id, &candidate, expires_at).await
}
