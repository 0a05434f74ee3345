//! JSON string unescaping shared by the pattern parser and the event scanner.

/// Reads a JSON string body starting at `start` (just after the opening
/// quote), appends the unescaped bytes to `out` and returns the offset just
/// after the closing quote. On error returns the offset of the problem.
///
/// `\uXXXX` escapes are decoded, surrogate pairs are joined; a lone
/// surrogate or a raw control character is an error.
pub(crate) fn unescape_into(b: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize, usize> {
    let mut i = start;
    loop {
        let rel = match memchr::memchr2(b'"', b'\\', &b[i.min(b.len())..]) {
            Some(r) => r,
            None => return Err(b.len()),
        };
        let chunk = &b[i..i + rel];
        if let Some(bad) = chunk.iter().position(|&c| c < 0x20) {
            return Err(i + bad);
        }
        out.extend_from_slice(chunk);
        i += rel;
        if b[i] == b'"' {
            return Ok(i + 1);
        }
        // backslash
        let esc = match b.get(i + 1) {
            Some(&e) => e,
            None => return Err(i),
        };
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(b, i).ok_or(i)?;
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                        return Err(i);
                    }
                    let lo = hex4(b, i + 2).ok_or(i + 2)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(i + 2);
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(i - 4);
                } else {
                    hi
                };
                let c = char::from_u32(cp).ok_or(i)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(i - 1),
        }
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v * 16 + d as u32;
    }
    Some(v)
}
