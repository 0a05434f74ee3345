//! The event as a target receives it (EventBridge's delivery envelope):
//! version, id, detail-type, source, account, time, region, resources,
//! detail. The same shape arrives directly, in an SQS body, in an archive
//! replay and in a captured trace.

use super::{in_wire_range, parse_json, wire_time, DecodeError};
use crate::event::{Event, Outer};
use crate::time::to_rfc3339_seconds;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredEvent {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    /// moto's EventBridge omits it; EventBridge always sets it.
    #[serde(default)]
    pub account: String,
    pub time: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: Value,
}

/// Where a delivery happened: what EventBridge adds around the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub account: String,
    pub region: String,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            account: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
        }
    }
}

impl DeliveredEvent {
    /// The event as EventBridge would deliver it, with `id` the bus's own
    /// event id (EventBridge assigns it; the simulator derives it).
    pub fn wrap(event: &Event, id: &str, at: &Delivery) -> DeliveredEvent {
        DeliveredEvent {
            version: "0".to_owned(),
            id: id.to_owned(),
            detail_type: event.event_type().to_owned(),
            source: event.source.clone(),
            account: at.account.clone(),
            time: to_rfc3339_seconds(event.timestamp),
            region: at.region.clone(),
            resources: Vec::new(),
            detail: event.to_detail(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the delivery envelope from JSON text, naming the field at fault.
    pub fn from_json(text: &str) -> Result<DeliveredEvent, DecodeError> {
        Self::from_value(&parse_json("the delivered event", text)?)
    }

    pub fn from_value(v: &Value) -> Result<DeliveredEvent, DecodeError> {
        let obj = v
            .as_object()
            .ok_or_else(|| DecodeError::field("(event)", "a JSON object", v))?;
        let s = |k: &str| -> Result<String, DecodeError> {
            match obj.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(DecodeError::field(k, "a string", other)),
                None => Err(DecodeError::missing(k, "a string")),
            }
        };
        let opt = |k: &str| -> Result<String, DecodeError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(_) => s(k),
            }
        };
        let resources = super::string_list(obj, "resources")?;
        let version = match obj.get("version") {
            None => "0".to_owned(),
            Some(_) => s("version")?,
        };
        Ok(DeliveredEvent {
            version,
            id: s("id")?,
            detail_type: s("detail-type")?,
            source: s("source")?,
            account: opt("account")?,
            time: s("time")?,
            region: opt("region")?,
            resources,
            detail: obj
                .get("detail")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
        })
    }

    /// The typed event inside. A detail without an envelope takes its id
    /// from the delivery and its time from `time`. Times outside years 0000
    /// to 9999 (`time` or `detail.timestamp`) are refused.
    pub fn decode(&self) -> Result<Event, DecodeError> {
        let time = wire_time("time", &self.time)?;
        let event = Event::from_detail(
            &self.detail_type,
            &self.source,
            &self.detail,
            &Outer {
                id: Some(&self.id),
                time: Some(time),
            },
        )?;
        in_wire_range(event, &self.detail)
    }
}
