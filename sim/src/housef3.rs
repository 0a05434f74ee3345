//! The wire shapes of the system the design notes describe, as built (the
//! public repository mazerunner70/housef3, in Python): its `BaseEvent`
//! envelope as `to_eventbridge_format` sends it and a target receives it,
//! its voters' votes, its aggregator's decisions, and the item its audit
//! consumer writes to the event store. Made here from the shapes alone, so
//! that tests (and anyone checking a capture by hand) build traffic exactly
//! as that system sends it.

use serde_json::{json, Value};
use tally_core::time::{to_rfc3339_millis, to_rfc3339_seconds, Millis};

/// The source its voters publish from: `category_manager` publishes as
/// `category.manager.service`.
pub fn voter_source(voter: &str) -> String {
    format!("{}.service", voter.replace('_', "."))
}

/// The source its aggregator publishes decisions from.
pub const AGGREGATOR_SOURCE: &str = "vote.aggregator";

/// `datetime.now().isoformat()` on Lambda: UTC, microseconds, no offset
/// (how the aggregator stamps each vote it records).
pub fn isoformat(at: Millis) -> String {
    format!("{}000", to_rfc3339_millis(at).trim_end_matches('Z'))
}

/// Its `BaseEvent`: correlationId and causationId are never set by the
/// event classes, userId travels in the envelope only.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseEvent {
    pub event_id: String,
    pub event_type: String,
    pub timestamp: Millis,
    pub source: String,
    pub user_id: String,
    pub data: Value,
}

impl BaseEvent {
    /// The `Detail` of its PutEvents entry.
    pub fn detail(&self) -> Value {
        json!({
            "eventId": self.event_id, "eventVersion": "1.0", "timestamp": self.timestamp,
            "userId": self.user_id, "correlationId": null, "causationId": null,
            "data": self.data, "metadata": {}
        })
    }

    /// The event as a target receives it, one line.
    pub fn delivered(&self) -> String {
        json!({
            "version": "0", "id": format!("eb-{}", self.event_id),
            "detail-type": self.event_type, "source": self.source,
            "account": "123456789012", "time": to_rfc3339_seconds(self.timestamp),
            "region": "us-east-1", "resources": [], "detail": self.detail()
        })
        .to_string()
    }

    /// The item its audit consumer puts in the event store, received at
    /// `audit_timestamp`.
    pub fn event_store_item(&self, audit_timestamp: Millis) -> Value {
        json!({
            "eventId": self.event_id, "eventType": self.event_type, "eventVersion": "1.0",
            "source": self.source, "originalTimestamp": self.timestamp,
            "auditTimestamp": audit_timestamp, "userId": self.user_id,
            "correlationId": null, "causationId": null,
            "eventData": self.data, "eventMetadata": {},
            "auditVersion": "1.0", "processingStatus": "success",
            "consumerInfo": {"consumerName": "audit_consumer", "lambdaRequestId": "lambda-1",
                             "lambdaFunction": "housef3-dev-audit-consumer", "lambdaVersion": "$LATEST"}
        })
    }
}

/// The reason its category voter gives for a deny.
pub const DENY_REASON: &str = "Active categorization rules affected";

/// One deletion request of a file and what that system publishes around it:
/// the upload before, the request, a vote from analytics_manager and from
/// category_manager (a deny when `deny`), and the aggregator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    pub n: usize,
    pub deny: bool,
    /// When the request is published.
    pub at: Millis,
}

impl Deletion {
    pub fn request_id(&self) -> String {
        format!("req-{}", self.n)
    }

    pub fn file_id(&self) -> String {
        format!("file-{}", self.n)
    }

    pub fn user_id(&self) -> String {
        format!("user-{}", self.n % 3)
    }

    fn event(
        &self,
        what: &str,
        event_type: &str,
        source: &str,
        at: Millis,
        data: Value,
    ) -> BaseEvent {
        BaseEvent {
            event_id: format!("evt-{}-{what}", self.n),
            event_type: event_type.to_owned(),
            timestamp: at,
            source: source.to_owned(),
            user_id: self.user_id(),
            data,
        }
    }

    /// `FileUploadedEvent`, half a minute before the request.
    pub fn upload(&self) -> BaseEvent {
        let data = json!({"fileId": self.file_id(), "fileName": "t.csv", "fileSize": 2048,
            "s3Key": format!("{}/t.csv", self.user_id()), "accountId": null, "fileFormat": null});
        self.event(
            "upload",
            "file.uploaded",
            "transaction.service",
            self.at - 30_000,
            data,
        )
    }

    fn request_data(&self) -> Value {
        json!({"fileId": self.file_id(), "requestId": self.request_id(), "fileName": "t.csv",
               "transactionCount": 150, "accountId": null})
    }

    pub fn request(&self) -> BaseEvent {
        let data = self.request_data();
        self.event(
            "request",
            "file.deletion.requested",
            "file.service",
            self.at,
            data,
        )
    }

    /// A vote `after` ms after the request, from the voter's own source.
    pub fn vote(&self, voter: &str, after: Millis, deny: bool) -> BaseEvent {
        let (decision, reason) = if deny {
            ("deny", json!(DENY_REASON))
        } else {
            // The voters pass no reason when they proceed.
            ("proceed", Value::Null)
        };
        let data = json!({"fileId": self.file_id(), "requestId": self.request_id(),
            "voter": voter, "decision": decision, "reason": reason});
        self.event(
            voter,
            "file.deletion.vote",
            &voter_source(voter),
            self.at + after,
            data,
        )
    }

    pub fn votes(&self) -> [BaseEvent; 2] {
        [
            self.vote("analytics_manager", 2_000, false),
            self.vote("category_manager", 3_000, self.deny),
        ]
    }

    /// What `_publish_approval` or `_publish_denial` publishes: no cause,
    /// `deniedBy` the one voter, every vote stamped when recorded.
    pub fn decision(&self) -> BaseEvent {
        let entry = |decision: &str, reason: &str, at: Millis| json!({"decision": decision, "reason": reason, "timestamp": isoformat(self.at + at)});
        let category = if self.deny {
            entry("deny", DENY_REASON, 3_100)
        } else {
            entry("proceed", "", 3_100)
        };
        let mut data = json!({"entityId": self.file_id(), "requestId": self.request_id(),
            "workflowType": "file.deletion",
            "allVotes": {"analytics_manager": entry("proceed", "", 2_100), "category_manager": category},
            "context": self.request_data(), "fileId": self.file_id()});
        let event_type = if self.deny {
            data["deniedBy"] = json!("category_manager");
            data["reason"] = json!(DENY_REASON);
            "file.deletion.denied"
        } else {
            data["approvedBy"] = json!(["analytics_manager", "category_manager"]);
            "file.deletion.approved"
        };
        self.event(
            "decision",
            event_type,
            AGGREGATOR_SOURCE,
            self.at + 3_200,
            data,
        )
    }

    /// Everything above, in time order.
    pub fn events(&self) -> Vec<BaseEvent> {
        let [a, c] = self.votes();
        vec![self.upload(), self.request(), a, c, self.decision()]
    }
}
