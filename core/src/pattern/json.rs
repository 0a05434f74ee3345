//! A small strict JSON parser for pattern text.
//!
//! serde_json's `Value` sorts keys and drops duplicates; EventBridge reads a
//! pattern as a token stream, so keys keep their document order and a key
//! that appears twice is processed twice (for a leaf, the later one wins; two
//! objects under one key merge). This parser keeps every entry in order.

use super::error::PatternError;

pub(crate) const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PVal {
    Null,
    Bool(bool),
    /// The number's text exactly as written.
    Number(String),
    String(String),
    Array(Vec<PVal>),
    /// Entries in document order, duplicates kept.
    Object(Vec<(String, PVal)>),
}

impl PVal {
    /// Compact JSON text of the value (for messages and identities).
    pub(crate) fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }

    fn write_json(&self, out: &mut String) {
        match self {
            PVal::Null => out.push_str("null"),
            PVal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            PVal::Number(n) => out.push_str(n),
            PVal::String(s) => write_json_string(s, out),
            PVal::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            PVal::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// Converts to serde_json (duplicate keys: the later one wins, like serde_json).
    pub(crate) fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            PVal::Null => Value::Null,
            PVal::Bool(b) => Value::Bool(*b),
            PVal::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(n.clone())),
            PVal::String(s) => Value::String(s.clone()),
            PVal::Array(items) => Value::Array(items.iter().map(PVal::to_serde).collect()),
            PVal::Object(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), v.to_serde());
                }
                Value::Object(map)
            }
        }
    }

    /// Converts from serde_json (its map order; duplicates are already gone).
    pub(crate) fn from_serde(v: &serde_json::Value) -> PVal {
        use serde_json::Value;
        match v {
            Value::Null => PVal::Null,
            Value::Bool(b) => PVal::Bool(*b),
            Value::Number(n) => PVal::Number(n.to_string()),
            Value::String(s) => PVal::String(s.clone()),
            Value::Array(items) => PVal::Array(items.iter().map(PVal::from_serde).collect()),
            Value::Object(map) => PVal::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), PVal::from_serde(v)))
                    .collect(),
            ),
        }
    }
}

pub(crate) fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses pattern text. Errors name the byte offset.
pub(crate) fn parse(text: &str) -> Result<PVal, PatternError> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("end of the pattern"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, expected: &str) -> PatternError {
        let found = match self.b.get(self.i) {
            None => "end of input".to_string(),
            Some(_) => {
                let end = (self.i + 12).min(self.b.len());
                String::from_utf8_lossy(&self.b[self.i..end]).into_owned()
            }
        };
        PatternError::new(
            "",
            found.clone(),
            expected,
            format!(
                "malformed JSON at byte {}: expected {expected}, found {found:?}",
                self.i
            ),
        )
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<PVal, PatternError> {
        if depth > MAX_DEPTH {
            return Err(self.err("less deeply nested JSON"));
        }
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(PVal::Object(entries));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.err("a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.err("':'"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(PVal::Object(entries));
                        }
                        _ => return Err(self.err("',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(PVal::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(PVal::Array(items));
                        }
                        _ => return Err(self.err("',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(PVal::String(self.string()?)),
            Some(b't') => self.literal(b"true", PVal::Bool(true)),
            Some(b'f') => self.literal(b"false", PVal::Bool(false)),
            Some(b'n') => self.literal(b"null", PVal::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                match super::number::scan_number(self.b, self.i) {
                    Some(end) => {
                        self.i = end;
                        // The slice is ASCII by construction.
                        Ok(PVal::Number(
                            String::from_utf8_lossy(&self.b[start..end]).into_owned(),
                        ))
                    }
                    None => Err(self.err("a number")),
                }
            }
            _ => Err(self.err("a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: PVal) -> Result<PVal, PatternError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("true, false or null"))
        }
    }

    fn string(&mut self) -> Result<String, PatternError> {
        // at '"'
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        match super::unescape::unescape_into(self.b, self.i, &mut out) {
            Ok(end) => {
                self.i = end;
                String::from_utf8(out).map_err(|_| self.err("valid UTF-8"))
            }
            Err(at) => {
                self.i = at;
                Err(self.err("a valid string"))
            }
        }
    }
}
