//! The personal-finance data in DynamoDB: files, transactions (with the
//! `by-file` and `by-user` indexes), pending analytics jobs, category rules and
//! notifications. Items are the core's domain types, attribute for field.

use super::{classify, from_item, key, s, to_item, ttl_seconds, AwsPorts, Item};
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue};
use std::collections::HashMap;
use tally_core::domain::{AnalyticsJob, CategoryRule, FileMeta, Notification, Transaction};
use tally_core::ports::{
    AnalyticsStore, CategoryRuleStore, FileStore, Notifier, PortError, TransactionStore,
};
use tally_deploy::layout::{TRANSACTIONS_FILE_INDEX, TRANSACTIONS_USER_INDEX, TTL_ATTRIBUTE};

/// BatchGetItem's limit on keys per call.
const BATCH_GET_KEYS: usize = 100;
/// How long a notification is kept: 30 days.
const NOTIFICATION_RETENTION_MS: i64 = 30 * 24 * 60 * 60 * 1000;

impl FileStore for AwsPorts {
    async fn get_file(&self, file_id: &str) -> Result<Option<FileMeta>, PortError> {
        self.get_item("Files", key("fileId", file_id))
            .await?
            .map(|item| from_item("file", item))
            .transpose()
    }

    async fn put_file(&self, file: &FileMeta) -> Result<(), PortError> {
        let what = format!("file {}", file.file_id);
        self.put("Files", to_item("file", file)?, &what).await
    }

    async fn update_file(&self, file: &FileMeta) -> Result<bool, PortError> {
        let what = format!("file {} (if it exists)", file.file_id);
        self.put_if(
            "Files",
            to_item("file", file)?,
            "attribute_exists(fileId)",
            &what,
        )
        .await
    }

    async fn delete_file(&self, file_id: &str) -> Result<bool, PortError> {
        let table = self.table("Files")?;
        let out = self
            .clients
            .dynamo
            .delete_item()
            .table_name(table)
            .set_key(Some(key("fileId", file_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify(&format!("DeleteItem of file {file_id}"), e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

impl AwsPorts {
    async fn query_transactions(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<Transaction>, PortError> {
        let table = self.table("Transactions")?;
        let query = self
            .clients
            .dynamo
            .query()
            .table_name(table)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", attribute)
            .expression_attribute_values(":v", s(value));
        let items = self
            .query_all(query, &format!("transactions of {attribute} {value}"))
            .await?;
        let txs = items
            .into_iter()
            .map(|i| from_item("transaction", i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(sorted(txs))
    }
}

fn sorted(mut txs: Vec<Transaction>) -> Vec<Transaction> {
    // The index returns no particular order; the core's memory store
    // answers by id, and decisions must not depend on the store.
    txs.sort_by(|a, b| a.transaction_id.cmp(&b.transaction_id));
    txs
}

impl TransactionStore for AwsPorts {
    async fn transactions_of_file(&self, file_id: &str) -> Result<Vec<Transaction>, PortError> {
        self.query_transactions(TRANSACTIONS_FILE_INDEX, "fileId", file_id)
            .await
    }

    async fn transactions_of_user(&self, user_id: &str) -> Result<Vec<Transaction>, PortError> {
        self.query_transactions(TRANSACTIONS_USER_INDEX, "userId", user_id)
            .await
    }

    async fn get_transactions(&self, ids: &[String]) -> Result<Vec<Transaction>, PortError> {
        let table = self.table("Transactions")?;
        let mut found: HashMap<String, Transaction> = HashMap::new();
        let mut unique: Vec<&String> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(BATCH_GET_KEYS) {
            let keys: Vec<Item> = chunk.iter().map(|id| key("transactionId", id)).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| PortError::Permanent(format!("BatchGetItem: {e}")))?,
            );
            // Unprocessed keys come back under throttling: ask again for them.
            for attempt in 0.. {
                let Some(req) = request.take() else { break };
                if attempt > 8 {
                    return Err(PortError::Transient(format!(
                        "BatchGetItem on {table}: keys still unprocessed after {attempt} attempts"
                    )));
                }
                let out = self
                    .clients
                    .dynamo
                    .batch_get_item()
                    .request_items(table, req)
                    .send()
                    .await
                    .map_err(|e| classify(&format!("BatchGetItem on {table}"), e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default()
                {
                    let t: Transaction = from_item("transaction", item)?;
                    found.insert(t.transaction_id.clone(), t);
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(table))
                    .filter(|k| !k.keys.is_empty());
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5)))
                        .await;
                }
            }
        }
        // In the order asked for, as the memory store answers.
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    async fn put_new_transactions(&self, txs: &[Transaction]) -> Result<usize, PortError> {
        let mut added = 0;
        for t in txs {
            let what = format!("transaction {}", t.transaction_id);
            if self
                .put_new(
                    "Transactions",
                    to_item("transaction", t)?,
                    "transactionId",
                    &what,
                )
                .await?
            {
                added += 1;
            }
        }
        Ok(added)
    }

    async fn set_category(&self, transaction_id: &str, category_id: &str) -> Result<(), PortError> {
        let table = self.table("Transactions")?;
        self.clients
            .dynamo
            .update_item()
            .table_name(table)
            .set_key(Some(key("transactionId", transaction_id)))
            .update_expression("SET categoryId = :c")
            .condition_expression("attribute_exists(transactionId)")
            .expression_attribute_values(":c", s(category_id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("UpdateItem of transaction {transaction_id}"), e))
    }

    async fn delete_transactions_of_file(&self, file_id: &str) -> Result<Vec<String>, PortError> {
        let table = self.table("Transactions")?;
        let mut deleted = Vec::new();
        for tx in self.transactions_of_file(file_id).await? {
            let id = tx.transaction_id;
            let out = self
                .clients
                .dynamo
                .delete_item()
                .table_name(table)
                .set_key(Some(key("transactionId", &id)))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| classify(&format!("DeleteItem of transaction {id}"), e))?;
            // A concurrent delete may have taken it first: count only ours.
            if out.attributes.is_some_and(|a| !a.is_empty()) {
                deleted.push(id);
            }
        }
        deleted.sort();
        Ok(deleted)
    }
}

impl AnalyticsStore for AwsPorts {
    async fn pending_job(&self, user_id: &str) -> Result<Option<AnalyticsJob>, PortError> {
        self.get_item("Analytics", key("userId", user_id))
            .await?
            .map(|item| from_item("analytics job", item))
            .transpose()
    }

    async fn put_job(&self, job: &AnalyticsJob) -> Result<(), PortError> {
        let what = format!("analytics job of {}", job.user_id);
        self.put("Analytics", to_item("analytics job", job)?, &what)
            .await
    }
}

impl CategoryRuleStore for AwsPorts {
    async fn rules_of_user(&self, user_id: &str) -> Result<Vec<CategoryRule>, PortError> {
        let table = self.table("CategoryRules")?;
        let query = self
            .clients
            .dynamo
            .query()
            .table_name(table)
            .key_condition_expression("userId = :u")
            .expression_attribute_values(":u", s(user_id))
            .consistent_read(true);
        self.query_all(query, &format!("category rules of {user_id}"))
            .await?
            .into_iter()
            .map(|item| from_item::<CategoryRule>("category rule", item))
            .collect()
    }
}

impl AwsPorts {
    /// Writes a category rule (how rules reach the table; the tests seed
    /// users with it).
    pub async fn put_rule(&self, rule: &CategoryRule) -> Result<(), PortError> {
        let what = format!("category rule {}", rule.rule_id);
        self.put("CategoryRules", to_item("category rule", rule)?, &what)
            .await
    }
}

/// Deployed voters always do their own work.
impl tally_core::ports::VoterConduct for AwsPorts {}

impl Notifier for AwsPorts {
    async fn notify(&self, note: &Notification) -> Result<(), PortError> {
        let mut item = to_item("notification", note)?;
        item.insert(
            TTL_ATTRIBUTE.into(),
            ttl_seconds(note.at.saturating_add(NOTIFICATION_RETENTION_MS)),
        );
        let what = format!("notification {}", note.event_id);
        self.put("Notifications", item, &what).await
    }
}
