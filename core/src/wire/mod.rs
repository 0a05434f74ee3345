//! EventBridge's wire forms: the PutEvents entry a publisher sends, the
//! event a target receives, and that event inside an SQS message body.
//! Every decoder returns an error naming the field path, the value seen and
//! what was expected; none panics on any input.

pub mod delivered;
pub mod putevents;
pub mod sqs;

pub use delivered::{DeliveredEvent, Delivery};
pub use putevents::{PutEventsEntry, MAX_ENTRY_BYTES};

use crate::event::Event;
use crate::time::{in_rfc3339_range, parse_rfc3339, Millis};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{what} is not valid JSON: {message}")]
    Syntax { what: String, message: String },
    #[error("{path}: expected {expected}, found {found}")]
    Field {
        path: String,
        expected: String,
        found: String,
    },
    #[error("{path}: {message}")]
    Data { path: String, message: String },
    #[error("{path}: eventVersion {found:?} of {event_type} cannot be read by this build, which reads {supported}")]
    UnsupportedVersion {
        path: String,
        event_type: String,
        found: String,
        supported: &'static str,
    },
    #[error("entry is {size} bytes; EventBridge refuses entries over {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

impl DecodeError {
    pub fn field(path: &str, expected: &str, found: &Value) -> Self {
        DecodeError::Field {
            path: path.to_owned(),
            expected: expected.to_owned(),
            found: describe(found),
        }
    }

    pub fn missing(path: &str, expected: &str) -> Self {
        DecodeError::Field {
            path: path.to_owned(),
            expected: expected.to_owned(),
            found: "nothing (the field is missing)".to_owned(),
        }
    }

    pub fn syntax(what: &str, err: &serde_json::Error) -> Self {
        DecodeError::Syntax {
            what: what.to_owned(),
            message: err.to_string(),
        }
    }
}

/// A short, human description of a JSON value for error messages: its
/// type and, for scalars, the value itself (long strings are cut).
pub fn describe(v: &Value) -> String {
    const MAX: usize = 60;
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > MAX => {
            let cut: String = s.chars().take(MAX).collect();
            format!("string {cut:?}... ({} bytes)", s.len())
        }
        Value::String(s) => format!("string {s:?}"),
        Value::Array(a) => format!("an array of {} elements", a.len()),
        Value::Object(o) => format!("an object with {} keys", o.len()),
    }
}

/// An optional array of strings (EventBridge's `resources`), naming the
/// element at fault.
pub(crate) fn string_list(
    obj: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Vec<String>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| DecodeError::field(&format!("{key}[{i}]"), "a string", r))
            })
            .collect(),
        Some(other) => Err(DecodeError::field(key, "an array of strings", other)),
    }
}

/// What a wire form's `time` must be: RFC 3339 text whose instant lies in
/// years 0000 to 9999 (an offset can push a written `0000` or `9999` past them).
pub const TIME_EXPECTED: &str = "an RFC 3339 time in years 0000 to 9999";

/// What a decoded event's `detail.timestamp` must be on the wire.
pub const TIMESTAMP_EXPECTED: &str = "a time in years 0000 to 9999 (milliseconds since the epoch from -62167219200000 to 253402300799999)";

/// Parses a wire form's own time field (`time`, `Time`), refusing text that
/// is not RFC 3339 and instants outside years 0000 to 9999, naming `path`.
pub(crate) fn wire_time(path: &str, text: &str) -> Result<Millis, DecodeError> {
    let found = || Value::String(text.to_owned());
    let ms = parse_rfc3339(text)
        .ok_or_else(|| DecodeError::field(path, "an RFC 3339 time", &found()))?;
    if !in_rfc3339_range(ms) {
        return Err(DecodeError::field(path, TIME_EXPECTED, &found()));
    }
    Ok(ms)
}

/// Refuses a decoded event whose timestamp lies outside years 0000 to 9999:
/// sent on, its `time` would carry a year `parse_rfc3339` refuses, so it
/// would not read back. Only the wire decoders call this; the stored form
/// (`Event`'s serde) keeps any timestamp. The wire's own time was checked
/// by [`wire_time`] already, so a timestamp out of range came from the
/// detail's `timestamp`.
pub(crate) fn in_wire_range(event: Event, detail: &Value) -> Result<Event, DecodeError> {
    if in_rfc3339_range(event.timestamp) {
        return Ok(event);
    }
    let found = detail
        .get("timestamp")
        .cloned()
        .unwrap_or_else(|| Value::from(event.timestamp));
    Err(DecodeError::field(
        "detail.timestamp",
        TIMESTAMP_EXPECTED,
        &found,
    ))
}

pub(crate) fn parse_json(what: &str, text: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(text).map_err(|e| DecodeError::syntax(what, &e))
}
