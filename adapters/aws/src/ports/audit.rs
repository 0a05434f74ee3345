//! The audit table: one item per event id (a conditional put, so a
//! redelivery is not audited twice), findable by time through the
//! `by-time` index (`auditShard`, `at`), kept until the TTL.

use super::{from_item, n, s, to_item, ttl_seconds, AwsPorts};
use tally_core::domain::AuditEntry;
use tally_core::ports::{AuditLog, PortError};
use tally_core::time::Millis;
use tally_deploy::layout::{AUDIT_TIME_INDEX, TTL_ATTRIBUTE};

const TABLE: &str = "Audit";
const SHARD: &str = "audit";
/// How long audit entries are kept: a year.
pub const AUDIT_RETENTION_MS: Millis = 365 * 24 * 60 * 60 * 1000;

impl AuditLog for AwsPorts {
    async fn append(&self, entry: &AuditEntry) -> Result<bool, PortError> {
        let mut item = to_item("audit entry", entry)?;
        item.insert("auditShard".into(), s(SHARD));
        item.insert("at".into(), n(entry.timestamp));
        item.insert(
            TTL_ATTRIBUTE.into(),
            ttl_seconds(entry.timestamp.saturating_add(AUDIT_RETENTION_MS)),
        );
        self.put_new(
            TABLE,
            item,
            "eventId",
            &format!("audit entry {}", entry.event_id),
        )
        .await
    }

    async fn entries(&self, since: Millis, until: Millis) -> Result<Vec<AuditEntry>, PortError> {
        let mut out = Vec::new();
        self.audit_pages(since, until, None, |page| {
            out.extend(page);
            Ok::<_, PortError>(())
        })
        .await?;
        out.sort_by(by_time);
        Ok(out)
    }
}

impl AwsPorts {
    /// The audited events with `since <= timestamp < until`, a page (of
    /// at most `page_items`, and DynamoDB's 1 MB) at a time, in time order
    /// (the `by-time` index's sort key), each page sorted by (timestamp,
    /// event id).
    pub async fn audit_pages<E: From<PortError>>(
        &self,
        since: Millis,
        until: Millis,
        page_items: Option<i32>,
        mut each: impl FnMut(Vec<AuditEntry>) -> Result<(), E>,
    ) -> Result<(), E> {
        let table = self.table(TABLE)?;
        let query = self
            .clients
            .dynamo
            .query()
            .table_name(table)
            .index_name(AUDIT_TIME_INDEX)
            .key_condition_expression("auditShard = :shard AND #at BETWEEN :since AND :last")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":shard", s(SHARD))
            .expression_attribute_values(":since", n(since))
            .expression_attribute_values(":last", n(until.saturating_sub(1)))
            .set_limit(page_items);
        self.query_pages(
            query,
            &format!("{table}'s {AUDIT_TIME_INDEX} index"),
            |items| {
                let mut page = items
                    .into_iter()
                    .map(|item| from_item::<AuditEntry>("audit entry", item))
                    .collect::<Result<Vec<_>, _>>()?;
                page.sort_by(by_time);
                each(page)
            },
        )
        .await
    }
}

/// The order of a trace: by time, then by event id.
fn by_time(a: &AuditEntry, b: &AuditEntry) -> std::cmp::Ordering {
    (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id))
}
