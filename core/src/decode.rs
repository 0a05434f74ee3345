//! The error every decoder returns, for the typed events (`event`) and for
//! the wire forms that carry them (`wire`). It lives apart from both so
//! that `wire` can build on `event` without `event` reaching back into it.

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
