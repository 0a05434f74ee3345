//! The core's ports over AWS: one `AwsPorts` value implements every port
//! trait, each in the module named for the store it talks to.

mod audit;
mod content;
mod domain;
mod idempotency;
mod publisher;
mod records;

use crate::config::Tables;
use crate::error::classify;
use crate::Clients;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use tally_core::ports::PortError;
use tally_core::time::Millis;

pub use publisher::{batches, MAX_BATCH_ENTRIES, MAX_REQUEST_BYTES};

#[derive(Debug, Clone)]
pub struct AwsPorts {
    pub clients: Clients,
    pub bus: String,
    pub bucket: Option<String>,
    pub tables: Tables,
}

type Item = HashMap<String, AttributeValue>;

impl AwsPorts {
    pub fn new(clients: Clients, cfg: &crate::Config) -> AwsPorts {
        AwsPorts {
            clients,
            bus: cfg.bus.clone(),
            bucket: cfg.bucket.clone(),
            tables: cfg.tables.clone(),
        }
    }

    fn table(&self, logical: &str) -> Result<&str, PortError> {
        self.tables.name(logical).map_err(PortError::Permanent)
    }

    fn bucket(&self) -> Result<&str, PortError> {
        self.bucket
            .as_deref()
            .ok_or_else(|| PortError::Permanent("this function has no CONTENT_BUCKET".into()))
    }

    /// An unconditional PutItem.
    async fn put(&self, logical: &str, item: Item, what: &str) -> Result<(), PortError> {
        let table = self.table(logical)?;
        self.clients
            .dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("PutItem of {what}"), e))
    }

    /// A PutItem only the first writer of `key_attr` wins: false when an
    /// item with that key is already there.
    async fn put_new(
        &self,
        logical: &str,
        item: Item,
        key_attr: &str,
        what: &str,
    ) -> Result<bool, PortError> {
        let condition = format!("attribute_not_exists({key_attr})");
        self.put_if(logical, item, &condition, what).await
    }

    /// A PutItem under `condition`: false when the condition failed.
    async fn put_if(
        &self,
        logical: &str,
        item: Item,
        condition: &str,
        what: &str,
    ) -> Result<bool, PortError> {
        let table = self.table(logical)?;
        let put = self
            .clients
            .dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) => match classify(&format!("PutItem of {what}"), e) {
                PortError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Every item a query finds, across its pages.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        what: &str,
    ) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        self.query_pages(query, what, |page| {
            items.extend(page);
            Ok::<_, PortError>(())
        })
        .await?;
        Ok(items)
    }

    /// Hands each page of a query's items to `each` as it arrives, so that
    /// a large answer is never held whole; `each` may fail with errors of
    /// its own (a capture's writes), which stop the query.
    async fn query_pages<E: From<PortError>>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        what: &str,
        mut each: impl FnMut(Vec<Item>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(&format!("Query of {what}"), e))?;
            each(page.items.unwrap_or_default())?;
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(()),
            }
        }
    }

    /// A strongly consistent GetItem by partition key.
    async fn get_item(&self, logical: &str, key: Item) -> Result<Option<Item>, PortError> {
        let table = self.table(logical)?;
        let out = self
            .clients
            .dynamo
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&format!("GetItem on {table}"), e))?;
        Ok(out.item)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(name: &str, value: &str) -> Item {
    HashMap::from([(name.to_owned(), s(value))])
}

/// Epoch seconds, as DynamoDB's TTL wants them.
fn ttl_seconds(at: Millis) -> AttributeValue {
    n(at.div_euclid(1000).max(0))
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        other => Err(PortError::Permanent(format!(
            "item attribute {name}: expected a string, found {other:?}"
        ))),
    }
}

fn to_item<T: serde::Serialize>(what: &str, value: &T) -> Result<Item, PortError> {
    serde_dynamo::to_item(value).map_err(|e| PortError::Permanent(format!("{what}: {e}")))
}

fn from_item<T: serde::de::DeserializeOwned>(what: &str, item: Item) -> Result<T, PortError> {
    serde_dynamo::from_item(item).map_err(|e| PortError::Permanent(format!("{what}: {e}")))
}
