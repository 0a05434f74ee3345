//! Idempotency claims: pk `<consumer>#<eventId>`, a conditional put that
//! only the first caller wins, kept until the TTL.

use super::{classify, key, s, ttl_seconds, AwsPorts};
use std::collections::HashMap;
use tally_core::ports::{IdempotencyStore, PortError};
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
}
