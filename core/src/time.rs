//! Instants as the core sees them: milliseconds since the Unix epoch, passed
//! in by whoever drives the core. The core never reads a clock; this module
//! only converts between milliseconds and the RFC 3339 text that
//! EventBridge puts in `time`.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// The first instant RFC 3339's four-digit year can write,
/// `0000-01-01T00:00:00.000Z`.
pub const MIN_RFC3339: Millis = -62_167_219_200_000;

/// The last instant RFC 3339's four-digit year can write,
/// `9999-12-31T23:59:59.999Z`.
pub const MAX_RFC3339: Millis = 253_402_300_799_999;

/// Whether `ms` lies in years 0000 to 9999, so that `to_rfc3339_seconds`
/// writes it as a `time` that `parse_rfc3339` reads back. The wire decoders
/// refuse timestamps outside this range; the stored form keeps any `i64`.
pub fn in_rfc3339_range(ms: Millis) -> bool {
    (MIN_RFC3339..=MAX_RFC3339).contains(&ms)
}

/// Days since the epoch to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2025-01-15T10:30:00Z`: second precision, as EventBridge writes `time`.
pub fn to_rfc3339_seconds(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// `2025-01-15T10:30:00.123Z`: millisecond precision, for logs and reports.
pub fn to_rfc3339_millis(ms: Millis) -> String {
    let base = to_rfc3339_seconds(ms);
    format!("{}.{:03}Z", &base[..base.len() - 1], ms.rem_euclid(1000))
}

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`) into milliseconds.
/// Returns `None` on anything else; callers turn that into an error that
/// names their field.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &text[start..i.min(start + 3)];
        frac_ms = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    secs.checked_mul(1000)?.checked_add(frac_ms)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A duration as people write it: whole milliseconds (`250`), or text with
/// units as humantime reads it (`500ms`, `90s`, `5m`, `1h 30m`). Policies
/// and scenarios read every duration through this one function.
pub fn parse_duration(text: &str) -> Result<Millis, String> {
    let t = text.trim();
    let millis = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<Millis>().ok()
    } else {
        humantime::parse_duration(t)
            .ok()
            .and_then(|d| Millis::try_from(d.as_millis()).ok())
    };
    millis.ok_or_else(|| format!("{text:?}: expected {}", DurationVisitor::ANY.expected()))
}

/// Reads a duration field (serde's `deserialize_with`): an integer of
/// milliseconds or [`parse_duration`]'s text. Any integer is read; the
/// caller's validation says which are meaningful.
pub fn deserialize_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    d.deserialize_any(DurationVisitor::ANY)
}

/// The serde visitor behind [`deserialize_duration`], with the least
/// number of milliseconds it accepts.
#[derive(Debug, Clone, Copy)]
pub struct DurationVisitor {
    pub min: Millis,
}

impl DurationVisitor {
    pub const ANY: DurationVisitor = DurationVisitor { min: Millis::MIN };
    pub const NON_NEGATIVE: DurationVisitor = DurationVisitor { min: 0 };

    fn expected(self) -> String {
        let bound = match self.min {
            Millis::MIN => String::new(),
            0 => " (0 or more)".to_owned(),
            n => format!(" ({n} or more)"),
        };
        format!("milliseconds{bound} or a duration such as 500ms, 90s, 5m, 1h 30m")
    }
}

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Millis;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.expected())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Millis, E> {
        if v < self.min {
            return Err(E::custom(format!("{v}: expected {}", self.expected())));
        }
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Millis, E> {
        Millis::try_from(v).map_err(|_| E::custom(format!("{v}: too many milliseconds")))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Millis, E> {
        let ms = parse_duration(v)
            .map_err(|_| E::custom(format!("{v:?}: expected {}", self.expected())))?;
        self.visit_i64(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250"), Ok(250));
        assert_eq!(
            parse_duration("5 parsecs"),
            Err(
                "\"5 parsecs\": expected milliseconds or a duration such as 500ms, 90s, 5m, 1h 30m"
                    .to_owned()
            )
        );
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(to_rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            to_rfc3339_seconds(1_736_937_000_000),
            "2025-01-15T10:30:00Z"
        );
        assert_eq!(
            to_rfc3339_millis(1_736_937_000_123),
            "2025-01-15T10:30:00.123Z"
        );
        assert_eq!(to_rfc3339_seconds(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for ms in [
            0,
            1_736_937_000_000,
            951_782_400_000,
            4_102_444_800_000,
            -86_400_000,
        ] {
            assert_eq!(parse_rfc3339(&to_rfc3339_seconds(ms)), Some(ms));
            assert_eq!(parse_rfc3339(&to_rfc3339_millis(ms + 7)), Some(ms + 7));
        }
        assert_eq!(
            parse_rfc3339("2025-01-15T11:30:00+01:00"),
            Some(1_736_937_000_000)
        );
        assert_eq!(
            parse_rfc3339("2025-01-15T10:30:00.5Z"),
            Some(1_736_937_000_500)
        );
    }

    #[test]
    fn the_rfc3339_range_is_years_0000_to_9999() {
        assert_eq!(to_rfc3339_millis(MIN_RFC3339), "0000-01-01T00:00:00.000Z");
        assert_eq!(to_rfc3339_millis(MAX_RFC3339), "9999-12-31T23:59:59.999Z");
        for ms in [MIN_RFC3339, MAX_RFC3339, 0] {
            assert!(in_rfc3339_range(ms));
            let back = parse_rfc3339(&to_rfc3339_seconds(ms));
            assert_eq!(back, Some(ms - ms.rem_euclid(1000)));
        }
        for ms in [MIN_RFC3339 - 1, MAX_RFC3339 + 1, i64::MIN, i64::MAX] {
            assert!(!in_rfc3339_range(ms));
            assert_eq!(parse_rfc3339(&to_rfc3339_seconds(ms)), None, "{ms}");
        }
        // Offsets reach just past the years written.
        let early = parse_rfc3339("0000-01-01T00:00:00+01:00").unwrap();
        let late = parse_rfc3339("9999-12-31T23:59:59-01:00").unwrap();
        assert!(!in_rfc3339_range(early) && !in_rfc3339_range(late));
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "2025-01-15",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-01-15T10:30:00",
            "2025-01-15T10:30:00Zjunk",
            "yyyy-01-15T10:30:00Z",
            "2025-01-15T10:30:00.Z",
            "２０２5-01-15T10:30:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
