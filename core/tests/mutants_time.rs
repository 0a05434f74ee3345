//! Tests added to catch the time-conversion mutants that cargo-mutants
//! found surviving (see docs/mutants.md). The expected instants were
//! computed independently (Python's datetime), not from this code.

use tally_core::time::{parse_rfc3339, to_rfc3339_millis, to_rfc3339_seconds, Millis};

const DAY: Millis = 86_400_000;

/// Instants far from today, across century and 400-year boundaries where the
/// Gregorian leap rules differ, format as the calendar says.
#[test]
fn instants_across_centuries_format_as_the_calendar_says() {
    let known: [(Millis, &str); 11] = [
        (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
        (-11_670_998_400_000, "1600-02-29T00:00:00Z"),
        (-8_515_238_400_000, "1700-03-01T00:00:00Z"),
        (-2_208_988_801_000, "1899-12-31T23:59:59Z"),
        (-2_203_891_200_000, "1900-03-01T00:00:00Z"),
        (951_782_400_000, "2000-02-29T00:00:00Z"),
        (4_107_456_000_000, "2100-02-28T00:00:00Z"),
        (4_107_542_400_000, "2100-03-01T00:00:00Z"),
        (13_569_465_599_000, "2399-12-31T23:59:59Z"),
        (13_574_563_200_000, "2400-02-29T00:00:00Z"),
        (253_402_300_799_000, "9999-12-31T23:59:59Z"),
    ];
    for (ms, text) in known {
        assert_eq!(to_rfc3339_seconds(ms), text, "{ms}");
        assert_eq!(parse_rfc3339(text), Some(ms), "{text}");
    }
}

/// Formatting then parsing gives back every day's instant over a whole
/// 400-year cycle and more, so the two directions agree on every date.
#[test]
fn every_day_of_a_gregorian_cycle_round_trips() {
    let first = -2_203_891_200_000 / DAY; // 1900-03-01
    for day in first..first + 146_097 + 800 {
        let ms = day * DAY + 45_296_789; // 12:34:56.789
        assert_eq!(parse_rfc3339(&to_rfc3339_millis(ms)), Some(ms), "{ms}");
    }
}

/// Every separator must be in its place: dashes in the date, `T` (or `t`,
/// or a space) between date and time, colons in the time.
#[test]
fn misplaced_separators_are_refused() {
    assert!(parse_rfc3339("2025-01-15T10:30:00Z").is_some());
    assert!(parse_rfc3339("2025-01-15t10:30:00Z").is_some());
    assert!(parse_rfc3339("2025-01-15 10:30:00Z").is_some());
    for bad in [
        "2025/01-15T10:30:00Z",
        "2025-01/15T10:30:00Z",
        "2025-01-15X10:30:00Z",
        "2025-01-15T10-30:00Z",
        "2025-01-15T10:30-00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

/// Each numeric field is digits only: a sign inside a field is refused.
#[test]
fn signed_fields_are_refused() {
    for bad in [
        "+025-01-15T10:30:00Z",
        "2025-+1-15T10:30:00Z",
        "2025-01-+5T10:30:00Z",
        "2025-01-15T+1:30:00Z",
        "2025-01-15T10:+3:00Z",
        "2025-01-15T10:30:+0Z",
        "2025-01-15T10:30:00++1:00",
        "2025-01-15T10:30:00+01:+0",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

/// Hours run 00-23, minutes 00-59 and seconds 00-60 (a leap second); each
/// bound is checked on its own.
#[test]
fn clock_fields_are_bounded_one_by_one() {
    let t0 = 1_736_899_200_000; // 2025-01-15T00:00:00Z
    assert_eq!(parse_rfc3339("2025-01-15T00:00:00Z"), Some(t0));
    assert_eq!(parse_rfc3339("2025-01-15T23:59:59Z"), Some(t0 + DAY - 1000));
    assert_eq!(parse_rfc3339("2025-01-15T23:59:60Z"), Some(t0 + DAY));
    assert_eq!(
        parse_rfc3339("2025-01-15T22:58:58Z"),
        Some(t0 + DAY - 3_662_000)
    );
    for bad in [
        "2025-01-15T24:00:00Z",
        "2025-01-15T00:60:00Z",
        "2025-01-15T00:00:61Z",
        "2025-01-32T00:00:00Z",
        "2025-00-10T00:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

/// Fractions of a second keep their first three digits (milliseconds) and
/// ignore the rest.
#[test]
fn fractions_keep_milliseconds_only() {
    let t = 1_736_937_000_000; // 2025-01-15T10:30:00Z
    assert_eq!(parse_rfc3339("2025-01-15T10:30:00.1Z"), Some(t + 100));
    assert_eq!(parse_rfc3339("2025-01-15T10:30:00.12Z"), Some(t + 120));
    assert_eq!(parse_rfc3339("2025-01-15T10:30:00.123Z"), Some(t + 123));
    assert_eq!(parse_rfc3339("2025-01-15T10:30:00.123456Z"), Some(t + 123));
    assert_eq!(
        parse_rfc3339("2025-01-15T10:30:00.987654321+01:00"),
        Some(t - 3_600_000 + 987)
    );
}

/// An offset is exactly `±HH:MM` at the very end: anything after it, or
/// another separator, is refused.
#[test]
fn offsets_are_exactly_sign_hours_colon_minutes_at_the_end() {
    let t = 1_736_937_000_000; // 2025-01-15T10:30:00Z
    assert_eq!(parse_rfc3339("2025-01-15T11:30:00+01:00"), Some(t));
    assert_eq!(parse_rfc3339("2025-01-15T09:00:00-01:30"), Some(t));
    assert_eq!(
        parse_rfc3339("2025-01-15T11:30:00.250+01:00"),
        Some(t + 250)
    );
    // The extreme offsets, 23 hours 59 minutes either way.
    assert_eq!(
        parse_rfc3339("2025-01-15T10:30:00+23:59"),
        Some(t - 86_340_000)
    );
    assert_eq!(
        parse_rfc3339("2025-01-15T10:30:00-23:59"),
        Some(t + 86_340_000)
    );
    for bad in [
        "2025-01-15T11:30:00+01:00x",
        "2025-01-15T11:30:00+01-00",
        "2025-01-15T11:30:00+0100",
        "2025-01-15T11:30:00+01:0",
        "2025-01-15T11:30:00.5+01-00",
        "2025-01-15T11:30:00+24:00",
        "2025-01-15T11:30:00+01:60",
        "2025-01-15T11:30:00+00:60",
        "2025-01-15T11:30:00-24:00",
        "2025-01-15T10:30:00Zx",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

/// A date's day must exist in its month: 30-day months stop at 30 and
/// February at 28, or 29 in a leap year.
#[test]
fn days_must_exist_in_their_month() {
    for ok in [
        "2025-04-30T00:00:00Z",
        "2025-06-30T00:00:00Z",
        "2025-09-30T00:00:00Z",
        "2025-11-30T00:00:00Z",
        "2025-12-31T00:00:00Z",
        "2025-02-28T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
    ] {
        assert!(parse_rfc3339(ok).is_some(), "{ok}");
    }
    for bad in [
        "2025-04-31T00:00:00Z",
        "2025-06-31T00:00:00Z",
        "2025-09-31T00:00:00Z",
        "2025-11-31T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}
