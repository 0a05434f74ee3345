//! What a record may hold. DynamoDB refuses an item over 400 KB, and a
//! write refused is an input lost: a veto that cannot be written is a veto
//! lost, and with a `proceed` timeout the file is deleted anyway. So no
//! input, and no flood of inputs, may grow a record without bound:
//!
//! - an input whose identifiers are long, or carry control characters, is
//!   refused before it touches the record;
//! - a reason is cut to [`MAX_REASON_BYTES`] (`bounded_reason`, when the
//!   input is read from its event);
//! - once the history holds [`MAX_HISTORY`] inputs, an input is recorded
//!   only if it changes the coordination (registers the request, counts a
//!   vote, decides, or holds a voter's first early vote); any other one is
//!   refused without being recorded, so a redelivery is refused again.
//!
//! Together they keep a record's JSON under [`MAX_RECORD_JSON_BYTES`] for
//! any inputs (a property in `core/tests/coordination_props.rs` and a check
//! of the coordination fuzz target hold them to it).

use super::input::Input;
pub use super::limits::{MAX_HISTORY, MAX_ID_BYTES, MAX_REASON_BYTES, MAX_RECORD_JSON_BYTES};
use super::record::{Disposition, Record};

/// Why `input` is refused before it reaches a record, if it is: an
/// identifier too long, or with control characters in it.
pub fn oversized(input: &Input) -> Option<String> {
    // Arrays, not a Vec: every step asks this, and it should allocate
    // nothing unless it refuses.
    match input {
        Input::Request(r) => first_oversized(&[
            ("eventId", &r.event_id),
            ("requestId", &r.request_id),
            ("fileId", &r.file_id),
            ("userId", &r.user_id),
            ("accountId", &r.account_id),
            ("accountType", r.account_type.as_deref().unwrap_or("")),
            ("correlationId", r.correlation_id.as_deref().unwrap_or("")),
        ]),
        Input::Vote(v) => first_oversized(&[
            ("eventId", &v.event_id),
            ("requestId", &v.request_id),
            ("fileId", &v.file_id),
            ("voter", &v.voter),
            ("source", &v.source),
        ]),
        Input::Timer { .. } | Input::Published { .. } => None,
    }
}

fn first_oversized(fields: &[(&str, &str)]) -> Option<String> {
    fields.iter().find_map(|&(field, value)| {
        if value.len() > MAX_ID_BYTES {
            Some(format!(
                "{field} {:?} is {} bytes; an identifier is at most {MAX_ID_BYTES}",
                cut(value),
                value.len()
            ))
        } else if has_control(value) {
            Some(format!(
                "{field} {value:?} has a control character; an identifier has none"
            ))
        } else {
            None
        }
    })
}

/// Whether `s` holds a control character (`char::is_control`: U+0000 to
/// U+001F and U+007F to U+009F). Every step asks it of every identifier,
/// and identifiers are printable ASCII: those bytes are read as bytes, and
/// only a string with other bytes is decoded.
fn has_control(s: &str) -> bool {
    let printable = |b: &u8| (0x20..0x7f).contains(b);
    !s.as_bytes().iter().all(printable) && s.chars().any(char::is_control)
}

/// `s` cut to at most [`MAX_ID_BYTES`] at a character boundary, marked
/// when cut: how an over-long identifier is named in a refusal.
pub fn cut(s: &str) -> String {
    if s.len() <= MAX_ID_BYTES {
        return s.to_owned();
    }
    let mut end = MAX_ID_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Whether a record whose history is full may take the step from `before`
/// to `after`: only if the step changes the coordination itself.
pub fn admits(before: &Record, after: &Record) -> bool {
    if after.status != before.status || after.request.is_some() != before.request.is_some() {
        return true;
    }
    after.history[before.history.len()..]
        .iter()
        .any(|h| match h.disposition {
            Disposition::Registered | Disposition::Counted => true,
            // A voter's first early vote must wait for its request, or the
            // flood would have silenced it; its later ones may not.
            Disposition::Held => !before.held.iter().any(|(_, v)| v.voter == h.who),
            _ => false,
        })
}

/// Why a full record refuses an input that would change nothing.
pub fn full(record: &Record) -> String {
    format!(
        "the record of request {} already holds {} inputs, and this one changes nothing: refused, not recorded",
        record.request_id,
        record.history.len()
    )
}

#[cfg(test)]
mod tests {
    use super::has_control;

    /// The byte-wise fast path answers as `char::is_control` does, at each
    /// edge of the two control ranges and past ASCII.
    #[test]
    fn control_characters_are_those_of_char_is_control() {
        let edges = [
            '\u{0}',
            '\u{1f}',
            ' ',
            '~',
            '\u{7f}',
            '\u{80}',
            '\u{9f}',
            '\u{a0}',
            '\u{e9}',
            '\u{2028}',
            '\u{fffd}',
            '\u{1f600}',
        ];
        for c in edges {
            for s in [c.to_string(), format!("evt-{c}-1"), format!("{c}{c}")] {
                assert_eq!(has_control(&s), c.is_control(), "{s:?}");
            }
        }
        assert!(!has_control("evt-analytics_manager-42"));
        assert!(!has_control(""));
    }
}
