//! Coordination records. One item per coordination: pk `REQUEST#<requestId>`,
//! sk `VOTES`, the whole record as JSON in `body`, its `version` (every
//! write is conditional on the version read), `fileId`, `status` and the
//! TTL. Records the sweeper must visit (waiting with a deadline, or with
//! unpublished events) also carry `dueShard`/`dueAt`, the keys of the
//! sparse `due` index; other records leave the index.
//!
//! Keyed by requestId alone, not `FILE#<fileId>#<requestId>` as the notes
//! had it: the port loads by requestId (a vote that names the wrong file
//! must find its request's record and be refused there, not start a
//! record of its own), and the requestId is a UUID, unique by itself.

use super::{classify, n, s, string_attr, ttl_seconds, AwsPorts, Item};
use std::collections::HashMap;
use tally_core::coordination::Record;
use tally_core::ports::{PortError, RecordStore};
use tally_core::time::Millis;
use tally_deploy::layout::{DUE_INDEX, TTL_ATTRIBUTE};

const TABLE: &str = "Records";
const SORT: &str = "VOTES";
const DUE_SHARD: &str = "due";

pub fn partition_key(request_id: &str) -> String {
    format!("REQUEST#{request_id}")
}

fn item_of(r: &Record) -> Result<Item, PortError> {
    let body = serde_json::to_string(r)
        .map_err(|e| PortError::Permanent(format!("record {}: {e}", r.request_id)))?;
    let mut item = HashMap::from([
        ("pk".to_owned(), s(partition_key(&r.request_id))),
        ("sk".to_owned(), s(SORT)),
        ("requestId".to_owned(), s(&r.request_id)),
        ("version".to_owned(), n(r.version)),
        ("status".to_owned(), s(r.status.as_str())),
        ("body".to_owned(), s(body)),
        (TTL_ATTRIBUTE.to_owned(), ttl_seconds(r.expires_at)),
    ]);
    if let Some(req) = &r.request {
        item.insert("fileId".to_owned(), s(&req.file_id));
    }
    if let Some(at) = r.next_wakeup() {
        item.insert("dueShard".to_owned(), s(DUE_SHARD));
        item.insert("dueAt".to_owned(), n(at));
    }
    Ok(item)
}

fn record_of(item: &Item) -> Result<Record, PortError> {
    let body = string_attr(item, "body")?;
    serde_json::from_str(body)
        .map_err(|e| PortError::Permanent(format!("stored record is unreadable: {e}")))
}

impl RecordStore for AwsPorts {
    async fn load(&self, request_id: &str) -> Result<Option<Record>, PortError> {
        let key = HashMap::from([
            ("pk".to_owned(), s(partition_key(request_id))),
            ("sk".to_owned(), s(SORT)),
        ]);
        self.get_item(TABLE, key)
            .await?
            .map(|item| record_of(&item))
            .transpose()
    }

    async fn save(&self, record: &Record, expected_version: u64) -> Result<(), PortError> {
        let table = self.table(TABLE)?;
        let put = self
            .clients
            .dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item_of(record)?));
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(expected_version))
        };
        put.send().await.map(|_| ()).map_err(|e| {
            classify(
                &format!(
                    "PutItem of record {} on version {expected_version}",
                    record.request_id
                ),
                e,
            )
        })
    }

    async fn due(&self, now: Millis, limit: usize) -> Result<Vec<String>, PortError> {
        let table = self.table(TABLE)?;
        let mut ids = Vec::new();
        let mut start = None;
        while ids.len() < limit {
            let out = self
                .clients
                .dynamo
                .query()
                .table_name(table)
                .index_name(DUE_INDEX)
                .key_condition_expression("dueShard = :shard AND dueAt <= :now")
                .expression_attribute_values(":shard", s(DUE_SHARD))
                .expression_attribute_values(":now", n(now))
                .limit(i32::try_from(limit - ids.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(&format!("Query of {table}'s {DUE_INDEX} index"), e))?;
            for item in out.items() {
                ids.push(string_attr(item, "requestId")?.to_owned());
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        ids.truncate(limit);
        Ok(ids)
    }
}
