//! A fast read of a delivered event's top level: `detail-type`, `time`,
//! and whether `detail` is there, without building or validating the
//! detail it skips (the trace reader decodes in full only the events the
//! coordination reads). Anything unusual — escapes in those fields, odd
//! structure — answers `None`, and the caller falls back to serde_json,
//! which then names the problem precisely.

pub struct Top<'a> {
    pub detail_type: &'a str,
    pub time: &'a str,
    /// Empty when absent or escaped (only the simulator's reports read it).
    #[cfg_attr(not(madsim), allow(dead_code))]
    pub source: &'a str,
    pub has_detail: bool,
    /// The raw JSON text of the top-level `receivedAt` (when the consumer
    /// received the event), if the line has one.
    pub received: Option<&'a str>,
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end (one past the closing quote) of the string starting at `i`
/// (which is the opening quote), and whether it held an escape.
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'\\' {
            escaped = true;
            j = k + 2;
        } else {
            return Some((k + 1, escaped));
        }
    }
}

/// One past the end of the JSON value starting at `i`, checking its
/// grammar as it goes (without building anything); `None` when it is not
/// JSON, or nests deeper than a trace line ever should.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    value(b, i, 0)
}

fn value(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    if depth > 256 {
        return None;
    }
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(e, _)| e),
        b'{' => {
            let mut j = ws(b, i + 1);
            if b.get(j) == Some(&b'}') {
                return Some(j + 1);
            }
            loop {
                if b.get(j) != Some(&b'"') {
                    return None;
                }
                j = ws(b, string_end(b, j)?.0);
                if b.get(j) != Some(&b':') {
                    return None;
                }
                j = ws(b, value(b, ws(b, j + 1), depth + 1)?);
                match b.get(j)? {
                    b',' => j = ws(b, j + 1),
                    b'}' => return Some(j + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            let mut j = ws(b, i + 1);
            if b.get(j) == Some(&b']') {
                return Some(j + 1);
            }
            loop {
                j = ws(b, value(b, j, depth + 1)?);
                match b.get(j)? {
                    b',' => j = ws(b, j + 1),
                    b']' => return Some(j + 1),
                    _ => return None,
                }
            }
        }
        b't' => b.get(i..i + 4).filter(|w| *w == b"true").map(|_| i + 4),
        b'f' => b.get(i..i + 5).filter(|w| *w == b"false").map(|_| i + 5),
        b'n' => b.get(i..i + 4).filter(|w| *w == b"null").map(|_| i + 4),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => None,
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = if b.get(i) == Some(&b'0') {
        i + 1
    } else {
        digits(b, i)?
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

pub fn top(text: &str) -> Option<Top<'_>> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let (mut detail_type, mut time, mut has_detail, mut source) = (None, None, false, "");
    let mut received = None;
    loop {
        i = ws(b, i);
        if b.get(i) == Some(&b'}') {
            break;
        }
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (kend, kesc) = string_end(b, i)?;
        if kesc {
            return None;
        }
        let key = &text[i + 1..kend - 1];
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let vend = skip_value(b, i)?;
        match key {
            "detail-type" | "time" => {
                if b[i] != b'"' || string_end(b, i)?.1 {
                    return None;
                }
                let v = &text[i + 1..vend - 1];
                if key == "time" {
                    time = Some(v);
                } else {
                    detail_type = Some(v);
                }
            }
            "detail" => has_detail = true,
            "receivedAt" => received = Some(&text[i..vend]),
            "source" if b[i] == b'"' && !string_end(b, i)?.1 => source = &text[i + 1..vend - 1],
            _ => {}
        }
        i = ws(b, vend);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => break,
            _ => return None,
        }
    }
    if ws(b, i + 1) != b.len() {
        return None;
    }
    Some(Top {
        detail_type: detail_type?,
        time: time?,
        source,
        has_detail,
        received,
    })
}

#[cfg(test)]
mod tests {
    use super::top;

    #[test]
    fn reads_the_top_level_and_skips_the_rest() {
        let t = top(r#" {"version":"0","detail":{"a":[1,{"time":"x"},"}"],"b":"\"","receivedAt":1},"detail-type":"file.deleted","time":"2025-01-15T10:30:00Z"} "#).unwrap();
        assert_eq!(
            (t.detail_type, t.time, t.has_detail, t.received),
            ("file.deleted", "2025-01-15T10:30:00Z", true, None)
        );
        let t = top(r#"{"receivedAt":1736937000123,"detail-type":"a","time":"t","detail":{}}"#)
            .unwrap();
        assert_eq!(t.received, Some("1736937000123"));
    }

    #[test]
    fn odd_input_falls_back() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"time":"t"}"#,
            r#"{"detail-type":"a\"b","time":"t"}"#,
            r#"{"detail-type":"a","time":"t","detail":{"x":[1}}"#,
            r#"{"detail-type":"a","time":"t"} trailing"#,
        ] {
            assert!(top(bad).is_none(), "{bad}");
        }
    }
}
