//! The event catalogue and the envelope every event travels in.

pub mod catalogue;
pub mod samples;

pub use catalogue::*;

use crate::decode::DecodeError;
use crate::time::{parse_rfc3339, Millis};
use serde_json::{Map, Value};

/// The envelope version this build writes.
pub const CURRENT_VERSION: &str = "1.0";

/// The envelope of the event-catalogue notes, with typed data.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub event_version: String,
    /// Milliseconds since the epoch, set by the publisher.
    pub timestamp: Millis,
    pub source: String,
    pub user_id: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub data: EventData,
    pub metadata: Option<Map<String, Value>>,
}

/// What the outer wire form knows when the detail itself does not say
/// (the flat detail of the deletion-voting note carries no envelope).
#[derive(Debug, Clone, Default)]
pub struct Outer<'a> {
    /// EventBridge's own event id, when the event was delivered.
    pub id: Option<&'a str>,
    /// The wire form's `time`, already parsed.
    pub time: Option<Millis>,
}

impl Event {
    pub fn event_type(&self) -> &str {
        self.data.event_type()
    }

    pub fn kind(&self) -> Option<EventKind> {
        self.data.kind()
    }

    /// The envelope minus `source` and `eventType`, which travel beside it
    /// as EventBridge's `source` and `detail-type`.
    pub fn to_detail(&self) -> Value {
        let mut m = Map::new();
        m.insert("eventId".into(), self.event_id.clone().into());
        m.insert("eventVersion".into(), self.event_version.clone().into());
        m.insert("timestamp".into(), self.timestamp.into());
        m.insert("userId".into(), self.user_id.clone().into());
        if let Some(c) = &self.correlation_id {
            m.insert("correlationId".into(), c.clone().into());
        }
        if let Some(c) = &self.causation_id {
            m.insert("causationId".into(), c.clone().into());
        }
        m.insert("data".into(), self.data.to_value());
        if let Some(md) = &self.metadata {
            m.insert("metadata".into(), Value::Object(md.clone()));
        }
        Value::Object(m)
    }

    /// Reads a detail in either form: the envelope of the event-catalogue
    /// notes (`eventId`, ..., `data`), or the flat detail of the
    /// deletion-voting note (the data fields directly in detail). Error paths
    /// start at `detail`.
    pub fn from_detail(
        event_type: &str,
        source: &str,
        detail: &Value,
        outer: &Outer<'_>,
    ) -> Result<Event, DecodeError> {
        let obj = detail
            .as_object()
            .ok_or_else(|| DecodeError::field("detail", "a JSON object", detail))?;
        let enveloped =
            obj.get("data").is_some_and(Value::is_object) && obj.contains_key("eventId");
        if enveloped {
            Self::from_envelope(event_type, source, obj)
        } else {
            Self::from_flat(event_type, source, detail, obj, outer)
        }
    }

    fn from_envelope(
        event_type: &str,
        source: &str,
        obj: &Map<String, Value>,
    ) -> Result<Event, DecodeError> {
        let event_id = req_str(obj, "eventId", "detail")?;
        let event_version = match obj.get("eventVersion") {
            None => CURRENT_VERSION.to_owned(),
            Some(_) => req_str(obj, "eventVersion", "detail")?,
        };
        check_version(event_type, &event_version, "detail.eventVersion")?;
        let timestamp = match obj.get("timestamp") {
            Some(v) => timestamp_of(v, "detail.timestamp")?,
            None => {
                return Err(DecodeError::missing(
                    "detail.timestamp",
                    "milliseconds since the epoch",
                ))
            }
        };
        let user_id = opt_str(obj, "userId", "detail")?.unwrap_or_default();
        let data = decode_data(event_type, &obj["data"], "detail.data")?;
        let metadata = match obj.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                return Err(DecodeError::field(
                    "detail.metadata",
                    "a JSON object",
                    other,
                ))
            }
        };
        Ok(Event {
            event_id,
            event_version,
            timestamp,
            source: source.to_owned(),
            user_id,
            correlation_id: opt_str(obj, "correlationId", "detail")?,
            causation_id: opt_str(obj, "causationId", "detail")?,
            data,
            metadata,
        })
    }

    fn from_flat(
        event_type: &str,
        source: &str,
        detail: &Value,
        obj: &Map<String, Value>,
        outer: &Outer<'_>,
    ) -> Result<Event, DecodeError> {
        let event_version =
            opt_str(obj, "eventVersion", "detail")?.unwrap_or_else(|| CURRENT_VERSION.to_owned());
        check_version(event_type, &event_version, "detail.eventVersion")?;
        let timestamp = match (obj.get("timestamp"), outer.time) {
            (Some(v), _) => timestamp_of(v, "detail.timestamp")?,
            (None, Some(t)) => t,
            (None, None) => {
                return Err(DecodeError::missing(
                    "detail.timestamp",
                    "a time (the detail and the entry both lack one)",
                ))
            }
        };
        let event_id = match (opt_str(obj, "eventId", "detail")?, outer.id) {
            (Some(id), _) => id,
            (None, Some(id)) => id.to_owned(),
            // No id anywhere: derive one from the content, so the same entry
            // read twice is the same event.
            (None, None) => crate::ids::derive("flat", &[event_type, source, &detail.to_string()]),
        };
        let data = decode_data(event_type, detail, "detail")?;
        Ok(Event {
            event_id,
            event_version,
            timestamp,
            source: source.to_owned(),
            user_id: opt_str(obj, "userId", "detail")?.unwrap_or_default(),
            correlation_id: opt_str(obj, "correlationId", "detail")?,
            causation_id: opt_str(obj, "causationId", "detail")?,
            data,
            metadata: None,
        })
    }
}

/// Known types are read at major version 1; an unknown type's version is
/// kept as it came, since nothing here interprets its data.
fn check_version(event_type: &str, version: &str, path: &str) -> Result<(), DecodeError> {
    if EventKind::parse(event_type).is_none() {
        return Ok(());
    }
    let major = version.split('.').next().unwrap_or("");
    if major == "1"
        && version
            .split('.')
            .skip(1)
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion {
            path: path.to_owned(),
            event_type: event_type.to_owned(),
            found: version.to_owned(),
            supported: "1.x",
        })
    }
}

fn decode_data(event_type: &str, data: &Value, path: &str) -> Result<EventData, DecodeError> {
    EventData::decode(event_type, data).map_err(|e| {
        let inner = e.path().to_string();
        let mut full = if inner == "." {
            path.to_owned()
        } else {
            format!("{path}.{inner}")
        };
        let mut message = e.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        if let Some(rest) = message.strip_prefix("missing field `") {
            if let Some(name) = rest.strip_suffix('`') {
                full = format!("{full}.{name}");
                message = "required field is missing".to_owned();
            }
        }
        DecodeError::Data {
            path: full,
            message,
        }
    })
}

fn timestamp_of(v: &Value, path: &str) -> Result<Millis, DecodeError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| DecodeError::field(path, "integer milliseconds since the epoch", v)),
        Value::String(s) => parse_rfc3339(s).ok_or_else(|| {
            DecodeError::field(path, "milliseconds since the epoch or an RFC 3339 time", v)
        }),
        _ => Err(DecodeError::field(
            path,
            "milliseconds since the epoch or an RFC 3339 time",
            v,
        )),
    }
}

pub(crate) fn req_str(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<String, DecodeError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(DecodeError::field(
            &format!("{at}.{key}"),
            "a string",
            other,
        )),
        None => Err(DecodeError::missing(&format!("{at}.{key}"), "a string")),
    }
}

pub(crate) fn opt_str(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(DecodeError::field(
            &format!("{at}.{key}"),
            "a string",
            other,
        )),
    }
}

/// Stored form of an event (in a record's outbox, in the audit log): the
/// same three parts a PutEvents entry carries, with the detail as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEvent {
    source: String,
    detail_type: String,
    detail: Value,
}

impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredEvent {
            source: self.source.clone(),
            detail_type: self.event_type().to_owned(),
            detail: self.to_detail(),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        let stored = StoredEvent::deserialize(d)?;
        Event::from_detail(
            &stored.detail_type,
            &stored.source,
            &stored.detail,
            &Outer::default(),
        )
        .map_err(serde::de::Error::custom)
    }
}
