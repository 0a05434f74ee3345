//! The file API: `DELETE /files/{id}`.
//!
//! Checks that the caller owns the file: a missing file and another user's
//! file both answer 404 (never 403), so a file's existence does not leak.
//! Then, with event publishing on, answers 202 with an unguessable
//! requestId (a UUID v4 made from entropy the caller passes in) and
//! publishes, from file.service, either `file.deletion.requested` (the
//! voting flavour, carrying accountType, transactionCount and fileName) or
//! `file.delete_requested` with the requestId as coordinationId (the
//! completion flavour). With publishing off (ENABLE_EVENT_PUBLISHING=false)
//! it falls back to deleting directly: transactions, content, metadata,
//! and answers 200 with transactionsDeleted.
//!
//! Idempotency: none is needed, and none would be right. Every call is a
//! new request with a fresh requestId; the published event's id derives
//! from that requestId and its correlationId is the requestId. A client
//! that retries after a lost response starts a second coordination for the
//! same file; whichever executes second finds the file gone and completes
//! without error (or the retry gets 404 if the first already deleted it).
//! The direct deletion is idempotent (deletes of what is gone are no-ops).
//!
//! Port errors are returned as [`HandlerError`]; [`ApiResponse::from_error`]
//! turns one into a 503 or 500 without leaking its text.

use super::root;
use crate::coordination::Flavour;
use crate::domain::FileMeta;
use crate::event::{sources, DeleteRequested, DeletionRequested, EventData};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{ContentStore, FileStore, Publisher, TransactionStore};
use crate::time::Millis;
use serde::Serialize;
use serde_json::{json, Value};

/// An HTTP request, as much of it as matters: the AWS adapter maps API
/// Gateway's proxy event onto it (`caller` from the authorizer's claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    /// The authenticated user, `None` when the request carried none.
    pub caller: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
}

impl ApiResponse {
    fn new(status: u16, body: Value) -> ApiResponse {
        ApiResponse { status, body }
    }

    fn message(status: u16, message: &str) -> ApiResponse {
        ApiResponse::new(status, json!({ "message": message }))
    }

    /// The answer for a failed handler: 503 (retry later) for a transient
    /// failure, 500 otherwise; the error text goes to the logs, not here.
    pub fn from_error(e: &HandlerError) -> ApiResponse {
        if e.is_transient() {
            ApiResponse::message(503, "Service temporarily unavailable, please retry")
        } else {
            ApiResponse::message(500, "Internal server error")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// ENABLE_EVENT_PUBLISHING: false deletes directly.
    pub publishing_enabled: bool,
    /// Which coordination a deletion request starts.
    pub flavour: Flavour,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            publishing_enabled: true,
            flavour: Flavour::Voting,
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    DeleteFile { file_id: String },
    MethodNotAllowed,
    NotFound,
}

pub fn route(method: &str, path: &str) -> Route {
    let Some(id) = path.strip_prefix("/files/") else {
        return Route::NotFound;
    };
    let id = id.strip_suffix('/').unwrap_or(id);
    if id.is_empty() || id.contains('/') {
        return Route::NotFound;
    }
    if method.eq_ignore_ascii_case("DELETE") {
        Route::DeleteFile {
            file_id: id.to_owned(),
        }
    } else {
        Route::MethodNotAllowed
    }
}

/// A UUID v4 (RFC 9562) from 16 random bytes: the version and variant bits
/// are set, the other 122 bits are the entropy's.
pub fn uuid_v4(entropy: [u8; 16]) -> String {
    let mut b = entropy;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub async fn handle<P>(
    ports: &P,
    req: &ApiRequest,
    now: Millis,
    entropy: [u8; 16],
    cfg: &ApiConfig,
) -> Result<ApiResponse, HandlerError>
where
    P: FileStore + TransactionStore + ContentStore + Publisher,
{
    let file_id = match route(&req.method, &req.path) {
        Route::DeleteFile { file_id } => file_id,
        Route::MethodNotAllowed => return Ok(ApiResponse::message(405, "Method not allowed")),
        Route::NotFound => return Ok(ApiResponse::message(404, "Not found")),
    };
    let Some(caller) = req.caller.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(ApiResponse::message(401, "Unauthorized"));
    };
    let meta = match ports.get_file(&file_id).await? {
        Some(m) if m.user_id == caller => m,
        // Missing and not yours look the same.
        _ => return Ok(ApiResponse::message(404, "File not found")),
    };
    if !cfg.publishing_enabled {
        return delete_directly(ports, &meta).await;
    }
    let transaction_count = ports.transactions_of_file(&file_id).await?.len() as u64;
    let request_id = uuid_v4(entropy);
    let (event_id, data) = match cfg.flavour {
        Flavour::Voting => (
            ids::derive("deletion-requested", &[&request_id]),
            EventData::DeletionRequested(DeletionRequested {
                file_id: file_id.clone(),
                user_id: caller.to_owned(),
                account_id: meta.account_id.clone(),
                account_type: meta.account_type.clone(),
                file_name: meta.file_name.clone(),
                transaction_count,
                request_id: request_id.clone(),
            }),
        ),
        Flavour::Completion => (
            ids::derive("delete-requested", &[&request_id]),
            EventData::DeleteRequested(DeleteRequested {
                file_id: file_id.clone(),
                coordination_id: request_id.clone(),
                account_id: meta.account_id.clone(),
                file_name: meta.file_name.clone(),
                transaction_count,
            }),
        ),
    };
    let event = root(
        event_id,
        sources::FILE_SERVICE,
        caller,
        Some(request_id.clone()),
        data,
        now,
    );
    ports.publish(std::slice::from_ref(&event)).await?;
    let metadata = json!({ "transactionCount": transaction_count, "status": "deletion_requested" });
    let body = match cfg.flavour {
        Flavour::Voting => json!({
            "message": "File deletion requested",
            "fileId": file_id,
            "requestId": request_id,
            "metadata": metadata,
        }),
        Flavour::Completion => json!({
            "message": "File deletion initiated successfully",
            "fileId": file_id,
            "requestId": request_id,
            "coordinationId": request_id,
            "metadata": metadata,
        }),
    };
    Ok(ApiResponse::new(202, body))
}

/// The fallback without events: the old synchronous deletion.
async fn delete_directly<P>(ports: &P, meta: &FileMeta) -> Result<ApiResponse, HandlerError>
where
    P: FileStore + TransactionStore + ContentStore,
{
    let deleted = ports.delete_transactions_of_file(&meta.file_id).await?;
    ports.delete_content(&meta.s3_key).await?;
    ports.delete_file(&meta.file_id).await?;
    Ok(ApiResponse::new(
        200,
        json!({
            "message": "File deleted successfully",
            "fileId": meta.file_id,
            "metadata": { "transactionsDeleted": deleted.len() },
        }),
    ))
}
