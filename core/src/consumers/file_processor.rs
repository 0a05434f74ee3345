//! The file processor consumer and the S3 object-created handler.
//!
//! [`handle`] consumes `file.uploaded`: reads the content (ContentStore, by
//! s3Key), parses CSV lines `date,description,amount` (header optional;
//! amounts like `-12.50` become cents), writes the transactions (ids
//! derived from file id and line number, put-if-absent: those already there
//! are the duplicateCount), records the count in the file's metadata and
//! publishes `file.processed` from file.service: `success` (every line
//! read), `partial` (some lines bad: errorMessage names the first bad line
//! and why) or `failed` (content missing, not text, or no line read), with
//! transactionIds, transactionCount (lines read), duplicateCount and
//! dateRange. The metadata is created from the upload when none exists, so
//! that the file can later be found, owned and deleted.
//!
//! Idempotency: claim first (consumer + event id), release on failure. The
//! writes themselves are idempotent, but a redone run would find its own
//! transactions and count them as duplicates: so the report (duplicates
//! are the transactions there before the first run wrote any) is made and
//! kept write-once before anything is written, and every run, a retry
//! after a failed write or publish included, publishes the kept report
//! under the same id. A crash after the claim and before the publish
//! leaves the transactions written but unannounced; re-uploading (a new
//! `file.uploaded`) processes the file again, counting them as duplicates.
//!
//! [`object_created`] turns an S3 object-created notification into
//! `file.uploaded` (key layout `<userId>/<fileId>/<fileName>`). It skips
//! restore packages: keys under the `restore/` prefix or ending in
//! `.restore.zip` (any case), which the restore flow reads itself and which
//! hold no statement to import. A key that does not fit the layout is
//! reported and skipped, not an error: retrying would not make it fit. Its
//! event id derives from bucket, key, size and the S3 sequencer, so S3's
//! own redeliveries re-publish the same event while a re-upload (a new
//! sequencer) is a new one; it needs no claim.

use super::{claim_then, derived, remember_as, root, Settings};
use crate::domain::{FileMeta, Transaction};
use crate::event::{
    sources, DateRange, Event, EventData, FileProcessed, FileUploaded, ProcessingStatus,
};
use crate::failure::HandlerError;
use crate::ids;
use crate::ports::{ContentStore, FileStore, IdempotencyStore, Publisher, TransactionStore};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// The consumer's name in idempotency keys.
pub const CONSUMER: &str = "file_processor_consumer";

/// One transaction line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// 1-based line number in the file.
    pub line: usize,
    pub date: String,
    pub description: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub bad: Vec<BadLine>,
    /// The first non-blank line was a header (its first field is `date`).
    pub header: bool,
}

/// Parses the CSV text. Blank lines are skipped; the first non-blank line
/// is a header when its first field is `date` (any case). The date is the
/// first field, the amount the last, and the description everything
/// between (so it may hold commas; surrounding double quotes are removed).
pub fn parse_csv(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen_content = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        let first_content = !seen_content;
        seen_content = true;
        let first_field = unquote(l.split(',').next().unwrap_or(""));
        if first_content && first_field.eq_ignore_ascii_case("date") {
            parsed.header = true;
            continue;
        }
        match parse_line(l) {
            Ok((date, description, amount_cents)) => parsed.rows.push(Row {
                line,
                date,
                description,
                amount_cents,
            }),
            Err(reason) => parsed.bad.push(BadLine { line, reason }),
        }
    }
    parsed
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_owned(),
    }
}

fn parse_line(l: &str) -> Result<(String, String, i64), String> {
    let (Some(first), Some(last)) = (l.find(','), l.rfind(',')) else {
        return Err("expected date,description,amount".to_owned());
    };
    if first == last {
        return Err("expected date,description,amount".to_owned());
    }
    let date = unquote(&l[..first]);
    let description = unquote(&l[first + 1..last]);
    let amount = unquote(&l[last + 1..]);
    parse_date(&date)?;
    let cents = parse_amount(&amount)?;
    Ok((date, description, cents))
}

/// `YYYY-MM-DD`, a real calendar day.
pub fn parse_date(s: &str) -> Result<(), String> {
    let bad = || Err(format!("date {s:?} is not YYYY-MM-DD"));
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return bad();
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return bad();
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("date {s:?} has no month {m}")),
    };
    if d == 0 || d > days {
        return Err(format!("date {s:?} has no day {d}"));
    }
    Ok(())
}

/// A decimal amount with at most two decimals (`-12.50`, `+3`, `.5`) in
/// cents.
pub fn parse_amount(s: &str) -> Result<i64, String> {
    let bad = |why: &str| Err(format!("amount {s:?} {why}"));
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return bad("is not a number");
    }
    if !whole.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return bad("is not a number");
    }
    if frac.len() > 2 {
        return bad("has more than two decimals");
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        match whole.parse() {
            Ok(w) => w,
            Err(_) => return bad("is too large"),
        }
    };
    let f: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    let cents = w
        .checked_mul(100)
        .and_then(|c| c.checked_add(f))
        .ok_or(())
        .or_else(|()| bad("is too large"))?;
    Ok(if neg { -cents } else { cents })
}

/// The status and error message a parse earns.
pub fn outcome(parsed: &Parsed) -> (ProcessingStatus, Option<String>) {
    let first_bad = parsed.bad.first().map(|b| {
        let more = match parsed.bad.len() - 1 {
            0 => String::new(),
            1 => " (and 1 more bad line)".to_owned(),
            n => format!(" (and {n} more bad lines)"),
        };
        format!("line {}: {}{more}", b.line, b.reason)
    });
    match (parsed.rows.is_empty(), first_bad) {
        (true, None) => (
            ProcessingStatus::Failed,
            Some("no transaction lines".to_owned()),
        ),
        (true, Some(m)) => (ProcessingStatus::Failed, Some(m)),
        (false, Some(m)) => (ProcessingStatus::Partial, Some(m)),
        (false, None) => (ProcessingStatus::Success, None),
    }
}

/// The id of the transaction on `line` of `file_id`.
pub fn transaction_id(file_id: &str, line: usize) -> String {
    ids::derive("tx", &[file_id, &line.to_string()])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    Processed {
        file_id: String,
        status: ProcessingStatus,
        transaction_count: u64,
        new: u64,
        duplicate_count: u64,
        bad_lines: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_message: Option<String>,
        processed_id: String,
    },
    /// This upload was already processed (a redelivery).
    Duplicate {
        event_id: String,
    },
    Ignored {
        event_type: String,
    },
}

pub async fn handle<P>(
    ports: &P,
    event: &Event,
    now: Millis,
    settings: &Settings,
) -> Result<Report, HandlerError>
where
    P: ContentStore + TransactionStore + FileStore + IdempotencyStore + Publisher,
{
    let EventData::FileUploaded(up) = &event.data else {
        return Ok(Report::Ignored {
            event_type: event.event_type().to_owned(),
        });
    };
    let done = claim_then(
        ports,
        CONSUMER,
        &event.event_id,
        settings.claim_expiry(now),
        process(ports, event, up, now, settings.claim_expiry(now)),
    )
    .await?;
    Ok(done.unwrap_or_else(|| Report::Duplicate {
        event_id: event.event_id.clone(),
    }))
}

/// A `file.processed` as its first run made it, kept write-once.
#[derive(Serialize, Deserialize)]
struct Kept {
    data: FileProcessed,
    at: Millis,
}

async fn process<P>(
    ports: &P,
    event: &Event,
    up: &FileUploaded,
    now: Millis,
    expires_at: Millis,
) -> Result<Report, HandlerError>
where
    P: ContentStore + TransactionStore + FileStore + IdempotencyStore + Publisher,
{
    let user_id = event.user_id.as_str();
    let existing = ports.get_file(&up.file_id).await?;
    if let Some(m) = &existing {
        if m.user_id != user_id {
            return Err(HandlerError::Permanent(format!(
                "file {} belongs to another user than the uploader",
                up.file_id
            )));
        }
    }
    let account_id = up
        .account_id
        .clone()
        .or_else(|| existing.as_ref().map(|m| m.account_id.clone()))
        .unwrap_or_default();

    let content = ports.get_content(&up.s3_key).await?;
    let content_missing = content.is_none();
    let parsed = match content {
        None => Err(format!("content missing at {}", up.s3_key)),
        Some(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(parse_csv(text.strip_prefix('\u{feff}').unwrap_or(&text))),
            Err(_) => Err("content is not UTF-8 text".to_owned()),
        },
    };
    let (parsed, status, error_message) = match parsed {
        Ok(p) => {
            let (status, msg) = outcome(&p);
            (p, status, msg)
        }
        Err(why) => (Parsed::default(), ProcessingStatus::Failed, Some(why)),
    };

    let txs: Vec<Transaction> = parsed
        .rows
        .iter()
        .map(|r| Transaction {
            transaction_id: transaction_id(&up.file_id, r.line),
            user_id: user_id.to_owned(),
            file_id: up.file_id.clone(),
            account_id: account_id.clone(),
            date: r.date.clone(),
            description: r.description.clone(),
            amount_cents: r.amount_cents,
            category_id: None,
        })
        .collect();
    let count = txs.len() as u64;

    let created = existing.is_none();
    let meta = match existing {
        Some(mut m) => {
            m.transaction_count = count;
            Some(m)
        }
        // No metadata and no content: the file was deleted (or never
        // landed). Creating its metadata now would resurrect a deleted
        // file that nothing will ever delete again.
        None if content_missing => None,
        None => Some(FileMeta {
            file_id: up.file_id.clone(),
            user_id: user_id.to_owned(),
            account_id: account_id.clone(),
            account_type: None,
            file_name: up.file_name.clone(),
            s3_key: up.s3_key.clone(),
            transaction_count: count,
        }),
    };
    // Dates are YYYY-MM-DD, so text order is date order.
    let date_range = match (
        txs.iter().map(|t| &t.date).min(),
        txs.iter().map(|t| &t.date).max(),
    ) {
        (Some(a), Some(b)) => Some(DateRange {
            start_date: a.clone(),
            end_date: b.clone(),
        }),
        _ => None,
    };
    // The duplicates are the transactions there before this upload's first
    // run wrote any: the report is made and kept before the writes, so a
    // retry (the claim is released when a write or the publish fails)
    // re-publishes it instead of counting the first run's writes as
    // duplicates under the same id.
    let ids_of: Vec<String> = txs.iter().map(|t| t.transaction_id.clone()).collect();
    let before = if ids_of.is_empty() {
        0
    } else {
        ports.get_transactions(&ids_of).await?.len() as u64
    };
    let processed_id = ids::derive("processed", &[&event.event_id]);
    let (kept, _) = remember_as(
        ports,
        &format!("{CONSUMER}/processed"),
        &processed_id,
        &Kept {
            data: FileProcessed {
                file_id: up.file_id.clone(),
                account_id,
                transaction_count: count,
                duplicate_count: before,
                transaction_ids: ids_of,
                date_range,
                processing_status: status,
                error_message: error_message.clone(),
            },
            at: now,
        },
        expires_at,
    )
    .await?;
    let new = if txs.is_empty() {
        0
    } else {
        ports.put_new_transactions(&txs).await? as u64
    };
    match (&meta, created) {
        // Metadata that was there when this run read it is updated only
        // if it still is: the file may have been deleted meanwhile.
        (Some(meta), false) => {
            if !ports.update_file(meta).await? {
                // Deleted while this run worked: what it wrote would
                // outlive the file, so it goes too.
                ports.delete_transactions_of_file(&up.file_id).await?;
            }
        }
        (Some(meta), true) => ports.put_file(meta).await?,
        (None, _) => {}
    }
    let processed = derived(
        event,
        processed_id,
        sources::FILE_SERVICE,
        EventData::FileProcessed(kept.data.clone()),
        kept.at,
    );
    ports.publish(std::slice::from_ref(&processed)).await?;
    Ok(Report::Processed {
        file_id: up.file_id.clone(),
        status: kept.data.processing_status,
        transaction_count: kept.data.transaction_count,
        new,
        duplicate_count: kept.data.duplicate_count,
        bad_lines: parsed.bad.len(),
        error_message: kept.data.error_message,
        processed_id: processed.event_id,
    })
}

/// An S3 object-created notification, as much of it as matters here. The
/// AWS adapter maps each record of aws_lambda_events' S3 event onto one:
/// `key` must be the URL-decoded key (S3 sends it form-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// S3's per-key ordering token: differs for every write of the key.
    pub sequencer: Option<String>,
}

/// Where a key points, if it is an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadKey {
    pub user_id: String,
    pub file_id: String,
    pub file_name: String,
}

/// Why a key is not an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "skip")]
pub enum NotAnUpload {
    /// Under `restore/` or named `*.restore.zip`.
    RestorePackage,
    /// Not `<userId>/<fileId>/<fileName>`.
    Layout { reason: String },
}

/// The pure classification of an object key.
pub fn classify_key(key: &str) -> Result<UploadKey, NotAnUpload> {
    if key.starts_with("restore/") || key.to_ascii_lowercase().ends_with(".restore.zip") {
        return Err(NotAnUpload::RestorePackage);
    }
    let parts: Vec<&str> = key.split('/').collect();
    let reason = match parts.as_slice() {
        [u, f, n] if !u.is_empty() && !f.is_empty() && !n.is_empty() => {
            return Ok(UploadKey {
                user_id: (*u).to_owned(),
                file_id: (*f).to_owned(),
                file_name: (*n).to_owned(),
            })
        }
        [_, _, _] => "an empty segment".to_owned(),
        p => format!("{} segments", p.len()),
    };
    Err(NotAnUpload::Layout {
        reason: format!("key {key:?} has {reason}, not <userId>/<fileId>/<fileName>"),
    })
}

/// The lowercase extension of a file name, when it looks like one.
pub fn file_format(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| ext.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum ObjectReport {
    Published {
        event_id: String,
        user_id: String,
        file_id: String,
        file_name: String,
    },
    Skipped {
        key: String,
        #[serde(flatten)]
        why: NotAnUpload,
    },
}

pub async fn object_created<P: Publisher>(
    ports: &P,
    obj: &ObjectCreated,
    now: Millis,
) -> Result<ObjectReport, HandlerError> {
    let up = match classify_key(&obj.key) {
        Ok(up) => up,
        Err(why) => {
            return Ok(ObjectReport::Skipped {
                key: obj.key.clone(),
                why,
            })
        }
    };
    let event_id = ids::derive(
        "uploaded",
        &[
            &obj.bucket,
            &obj.key,
            &obj.size.to_string(),
            obj.sequencer.as_deref().unwrap_or(""),
        ],
    );
    let event = root(
        event_id,
        sources::FILE_SERVICE,
        &up.user_id,
        None,
        EventData::FileUploaded(FileUploaded {
            file_id: up.file_id.clone(),
            file_name: up.file_name.clone(),
            file_size: obj.size,
            s3_key: obj.key.clone(),
            account_id: None,
            file_format: file_format(&up.file_name),
        }),
        now,
    );
    ports.publish(std::slice::from_ref(&event)).await?;
    Ok(ObjectReport::Published {
        event_id: event.event_id,
        user_id: up.user_id,
        file_id: up.file_id,
        file_name: up.file_name,
    })
}
