//! EventBridge's wire forms: the PutEvents entry a publisher sends, the
//! event a target receives, and that event inside an SQS message body.
//! Every decoder returns an error naming the field path, the value seen and
//! what was expected; none panics on any input.

pub mod delivered;
pub mod putevents;
pub mod sqs;

pub use delivered::{DeliveredEvent, Delivery};
pub use putevents::{PutEventsEntry, MAX_ENTRY_BYTES};

pub use crate::decode::{describe, DecodeError};
use crate::event::Event;
use crate::time::{in_rfc3339_range, parse_rfc3339, Millis};
use serde_json::Value;

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
