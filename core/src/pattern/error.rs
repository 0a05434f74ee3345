//! Errors of the pattern compiler and of the event scanner.

use thiserror::Error;

/// A pattern that EventBridge would reject.
///
/// `path` is the dotted field path where the problem was found (empty at the
/// top level), `found` the offending JSON value and `expected` a short
/// description of what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Event pattern is not valid. Reason: {message}{}", at_path(.path))]
pub struct PatternError {
    /// Dotted field path of the problem ("" at the top level).
    pub path: String,
    /// The offending value, as JSON text (may be empty).
    pub found: String,
    /// What would have been accepted.
    pub expected: String,
    /// The reason, phrased like EventBridge's.
    pub message: String,
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at \"{path}\"")
    }
}

impl PatternError {
    pub(crate) fn new(
        path: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PatternError {
            path: path.into(),
            found: found.into(),
            expected: expected.into(),
            message: message.into(),
        }
    }
}

/// An event that is not well-formed JSON (or nests deeper than the scanner allows).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event is not valid JSON at byte {offset}: expected {expected}, found {found}")]
pub struct EventJsonError {
    /// Byte offset in the event where the problem was seen.
    pub offset: usize,
    /// What the scanner expected there.
    pub expected: &'static str,
    /// What it found (a short, printable description).
    pub found: String,
}

impl EventJsonError {
    pub(crate) fn at(bytes: &[u8], offset: usize, expected: &'static str) -> Self {
        let found = match bytes.get(offset) {
            None => "end of input".to_string(),
            Some(&b) if b.is_ascii_graphic() || b == b' ' => format!("'{}'", b as char),
            Some(&b) => format!("byte 0x{b:02x}"),
        };
        EventJsonError {
            offset,
            expected,
            found,
        }
    }
}
