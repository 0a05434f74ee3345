//! Idempotency claims: pk `<consumer>#<eventId>`, a conditional put that
//! only the first caller wins, kept until the TTL. Remembered values live
//! in the same table under their own consumer names (`<voter>/vote`,
//! `deletion_executor/plan`), with the value in `value`: a conditional put,
//! and on losing it a consistent read of the value that won.

use super::{classify, key, s, ttl_seconds, AwsPorts};
use std::collections::HashMap;
use tally_core::ports::{IdempotencyStore, PortError, Remembered};
use tally_core::time::Millis;
use tally_deploy::layout::TTL_ATTRIBUTE;

const TABLE: &str = "Idempotency";

fn claim_key(consumer: &str, event_id: &str) -> String {
    format!("{consumer}#{event_id}")
}

impl IdempotencyStore for AwsPorts {
    async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
        expires_at: Millis,
    ) -> Result<bool, PortError> {
        let item = HashMap::from([
            ("pk".to_owned(), s(claim_key(consumer, event_id))),
            ("consumer".to_owned(), s(consumer)),
            ("eventId".to_owned(), s(event_id)),
            (TTL_ATTRIBUTE.to_owned(), ttl_seconds(expires_at)),
        ]);
        self.put_new(TABLE, item, "pk", &format!("claim {consumer}#{event_id}"))
            .await
    }

    async fn release(&self, consumer: &str, event_id: &str) -> Result<(), PortError> {
        let table = self.table(TABLE)?;
        self.clients
            .dynamo
            .delete_item()
            .table_name(table)
            .set_key(Some(key("pk", &claim_key(consumer, event_id))))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&format!("release of {consumer}#{event_id}"), e))
    }

    async fn remember(
        &self,
        consumer: &str,
        key_value: &str,
        value: &str,
        expires_at: Millis,
    ) -> Result<Remembered, PortError> {
        let pk = claim_key(consumer, key_value);
        let item = HashMap::from([
            ("pk".to_owned(), s(pk.clone())),
            ("consumer".to_owned(), s(consumer)),
            ("eventId".to_owned(), s(key_value)),
            ("value".to_owned(), s(value)),
            (TTL_ATTRIBUTE.to_owned(), ttl_seconds(expires_at)),
        ]);
        if self
            .put_new(TABLE, item, "pk", &format!("value {pk}"))
            .await?
        {
            return Ok(Remembered {
                value: value.to_owned(),
                first: true,
            });
        }
        // Lost the put: the winner's value is the one kept.
        match self.recall(consumer, key_value).await? {
            Some(kept) => Ok(Remembered {
                value: kept,
                first: false,
            }),
            // Only the TTL can have removed the winner's item since, long
            // after any retry of the same input.
            None => Err(PortError::Transient(format!(
                "the value kept under {pk} vanished after its put was refused"
            ))),
        }
    }

    async fn recall(&self, consumer: &str, key_value: &str) -> Result<Option<String>, PortError> {
        let pk = claim_key(consumer, key_value);
        let Some(item) = self.get_item(TABLE, key("pk", &pk)).await? else {
            return Ok(None);
        };
        match item.get("value") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(v)) => Ok(Some(v.clone())),
            other => Err(PortError::Permanent(format!(
                "{pk} in {TABLE}: attribute value is {other:?}, expected a string (a claim under a remembered value's key?)"
            ))),
        }
    }
}
