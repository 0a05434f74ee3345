//! The PutEvents request entry: `DetailType` carries the event type and
//! `Detail` (JSON text) the rest of the envelope.

use super::{in_wire_range, parse_json, wire_time, DecodeError};
use crate::event::{Event, Outer};
use crate::time::to_rfc3339_seconds;
use serde::{Deserialize, Serialize};

/// EventBridge refuses a PutEvents entry larger than 256 KB.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsEntry {
    pub source: String,
    pub detail_type: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

impl PutEventsEntry {
    /// The entry's size as EventBridge counts it against the 256 KB limit:
    /// the UTF-8 bytes of Source, DetailType, Detail and each resource, plus
    /// 14 bytes when Time is set.
    pub fn size(&self) -> usize {
        self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
            + if self.time.is_some() { 14 } else { 0 }
    }

    /// Builds the entry for `event` on `bus`, refusing it before it is sent
    /// when it is over EventBridge's limit.
    pub fn encode(event: &Event, bus: &str) -> Result<PutEventsEntry, DecodeError> {
        let entry = PutEventsEntry {
            source: event.source.clone(),
            detail_type: event.event_type().to_owned(),
            detail: event.to_detail().to_string(),
            event_bus_name: Some(bus.to_owned()),
            time: Some(to_rfc3339_seconds(event.timestamp)),
            resources: Vec::new(),
        };
        entry.check_size()?;
        Ok(entry)
    }

    pub fn check_size(&self) -> Result<(), DecodeError> {
        let size = self.size();
        if size > MAX_ENTRY_BYTES {
            return Err(DecodeError::TooLarge {
                size,
                limit: MAX_ENTRY_BYTES,
            });
        }
        Ok(())
    }

    /// Reads the event back. Error paths name the entry's own fields
    /// (`Detail`, `Time`) and then paths inside the detail. Times outside
    /// years 0000 to 9999 (`Time` or `detail.timestamp`) are refused.
    pub fn decode(&self) -> Result<Event, DecodeError> {
        self.check_size()?;
        let time = match &self.time {
            None => None,
            Some(t) => Some(wire_time("Time", t)?),
        };
        let detail = parse_json("Detail", &self.detail)?;
        let event = Event::from_detail(
            &self.detail_type,
            &self.source,
            &detail,
            &Outer { id: None, time },
        )?;
        in_wire_range(event, &detail)
    }

    /// Reads an entry from its JSON text (as `aws events put-events
    /// --entries` takes it).
    pub fn from_json(text: &str) -> Result<PutEventsEntry, DecodeError> {
        let v = parse_json("the PutEvents entry", text)?;
        let obj = v
            .as_object()
            .ok_or_else(|| DecodeError::field("(entry)", "a JSON object", &v))?;
        let req = |k: &str| crate::event::req_str(obj, k, "(entry)").map_err(strip_root);
        let opt = |k: &str| crate::event::opt_str(obj, k, "(entry)").map_err(strip_root);
        let resources = super::string_list(obj, "Resources")?;
        Ok(PutEventsEntry {
            source: req("Source")?,
            detail_type: req("DetailType")?,
            detail: req("Detail")?,
            event_bus_name: opt("EventBusName")?,
            time: opt("Time")?,
            resources,
        })
    }

    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn strip_root(e: DecodeError) -> DecodeError {
    match e {
        DecodeError::Field {
            path,
            expected,
            found,
        } => DecodeError::Field {
            path: path.trim_start_matches("(entry).").to_owned(),
            expected,
            found,
        },
        other => other,
    }
}
