//! Numbers: JSON number grammar and EventBridge's comparable form.
//!
//! EventBridge (event-ruler) compares numbers exactly, as decimals, when they
//! lie in [-5e9, 5e9] and have at most six digits after the decimal point;
//! such a number is held here as an integer count of millionths. Numbers
//! outside that set are not comparable: numeric operators never match them
//! and in a pattern they are rejected; exact matching falls back to the text.

/// Largest comparable magnitude, in millionths (5e9 * 1e6).
pub(crate) const MAX_MICROS: i64 = 5_000_000_000_000_000;

/// Returns the end offset of a JSON number starting at `i`, if well formed.
pub(crate) fn scan_number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            i += 1;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    Some(i)
}

/// Why a number is not comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotComparable {
    TooManyDecimals,
    OutOfRange,
}

/// Converts well-formed JSON number text to millionths, exactly.
#[inline]
pub(crate) fn comparable(text: &[u8]) -> Result<i64, NotComparable> {
    // Fast path: up to ten integer digits, up to six decimals, no exponent.
    let (neg, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let mut int: i64 = 0;
    let mut k = 0;
    while k < body.len() && k <= 10 && body[k].is_ascii_digit() {
        int = int * 10 + (body[k] - b'0') as i64;
        k += 1;
    }
    if k > 0 && k <= 10 {
        let mut frac: i64 = 0;
        let mut scale: i64 = 1_000_000;
        let mut ok = true;
        if k < body.len() {
            if body[k] == b'.' {
                for (d, &c) in body[k + 1..].iter().enumerate() {
                    if !c.is_ascii_digit() || d == 6 {
                        ok = false;
                        break;
                    }
                    scale /= 10;
                    frac += (c - b'0') as i64 * scale;
                }
            } else {
                ok = false;
            }
        }
        if ok {
            let m = int * 1_000_000 + frac;
            if m <= MAX_MICROS {
                return Ok(if neg { -m } else { m });
            }
        }
    }
    comparable_slow(text)
}

fn comparable_slow(text: &[u8]) -> Result<i64, NotComparable> {
    let mut i = 0;
    let neg = text.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    // Significant digits (leading zeros dropped) and a decimal exponent.
    let mut digits: u128 = 0;
    let mut ndigits: i32 = 0; // significant digits kept in `digits`
    let mut exp: i64 = 0;
    let mut dropped_nonzero = false;
    let mut in_frac = false;
    while i < text.len() {
        let c = text[i];
        match c {
            b'0'..=b'9' => {
                let d = (c - b'0') as u128;
                if ndigits == 0 && d == 0 {
                    // leading zero: contributes nothing, but fraction digits shift
                } else if ndigits < 36 {
                    digits = digits * 10 + d;
                    ndigits += 1;
                } else {
                    // too many digits to hold: remember the scale only
                    if d != 0 {
                        dropped_nonzero = true;
                    }
                    if !in_frac {
                        exp += 1;
                    }
                    i += 1;
                    continue;
                }
                if in_frac {
                    exp -= 1;
                }
            }
            b'.' => in_frac = true,
            b'e' | b'E' => {
                let rest = std::str::from_utf8(&text[i + 1..]).unwrap_or("0");
                let e: i64 = match rest.trim_start_matches('+').parse::<i64>() {
                    Ok(e) => e,
                    Err(_) => {
                        // absurd exponent
                        if digits == 0 {
                            return Ok(0);
                        }
                        return Err(if rest.starts_with('-') {
                            NotComparable::TooManyDecimals
                        } else {
                            NotComparable::OutOfRange
                        });
                    }
                };
                exp = exp.saturating_add(e);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    if digits == 0 && !dropped_nonzero {
        return Ok(0);
    }
    if dropped_nonzero {
        return Err(NotComparable::OutOfRange);
    }
    // strip trailing zeros
    while digits.is_multiple_of(10) {
        digits /= 10;
        exp = exp.saturating_add(1);
    }
    // Saturating: an exponent near i64's ends is simply out of range.
    let scale = exp.saturating_add(6); // micros = digits * 10^scale
    if scale < 0 {
        return Err(NotComparable::TooManyDecimals);
    }
    if scale > 22 {
        return Err(NotComparable::OutOfRange);
    }
    let micros = digits
        .checked_mul(10u128.pow(scale as u32))
        .ok_or(NotComparable::OutOfRange)?;
    if micros > MAX_MICROS as u128 {
        return Err(NotComparable::OutOfRange);
    }
    let m = micros as i64;
    Ok(if neg { -m } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_agree() {
        let a = comparable(b"300").unwrap();
        assert_eq!(comparable(b"300.0").unwrap(), a);
        assert_eq!(comparable(b"3.0e2").unwrap(), a);
        assert_eq!(comparable(b"3E+2").unwrap(), a);
        assert_eq!(comparable(b"30000e-2").unwrap(), a);
        assert_eq!(comparable(b"-0").unwrap(), 0);
        assert_eq!(comparable(b"0.000001").unwrap(), 1);
        assert_eq!(comparable(b"-5e9").unwrap(), -MAX_MICROS);
        assert_eq!(
            comparable(b"0.0000001"),
            Err(NotComparable::TooManyDecimals)
        );
        assert_eq!(comparable(b"5000000001"), Err(NotComparable::OutOfRange));
        assert_eq!(comparable(b"1e400"), Err(NotComparable::OutOfRange));
        assert_eq!(comparable(b"0e400").unwrap(), 0);
        for t in [
            "1234.56",
            "-0.5",
            "5000000000",
            "5000000000.000001",
            "12.1234567",
            "1.0000000",
            "0.000001",
            "99",
        ] {
            assert_eq!(
                comparable(t.as_bytes()),
                comparable_slow(t.as_bytes()),
                "{t}"
            );
        }
    }

    #[test]
    fn grammar() {
        assert_eq!(scan_number(b"-0.5e+3,", 0), Some(7));
        assert_eq!(scan_number(b"01", 0), Some(1));
        assert_eq!(scan_number(b"1.", 0), None);
        assert_eq!(scan_number(b"-", 0), None);
        assert_eq!(scan_number(b"1e", 0), None);
    }
}
