//! A naive reference matcher for EventBridge patterns, written for clarity,
//! not speed: the differential target checks `pattern::Pattern` and
//! `pattern::PatternSet` against it.
//!
//! It works on [`Json`], a JSON tree that keeps object keys in document
//! order (duplicates too) and numbers as their text, because the semantics
//! depend on both (a later key replaces an earlier one; numbers outside
//! EventBridge's comparable range match only by their text), and
//! `serde_json::Value` keeps neither. The event is flattened into leaves,
//! each a (path, value, array trail); the pattern is expanded into branches
//! of per-path fields; a branch matches when each field, taken in path
//! order, is satisfied by a leaf consistent with the array elements
//! already chosen (or, for `exists: false`, by no consistent leaf at all).
//! Every operator is evaluated literally from the semantics documented in
//! `pattern/mod.rs`.
//!
//! Scope: IPv4 only (the generator makes no IPv6 text), and case-insensitive
//! operators on ASCII pattern text only (the generator's). The reference
//! does not model the wildcard complexity limit: a pattern the matcher
//! rejects as too complex is not a disagreement.

use std::collections::BTreeMap;

/// JSON with ordered keys and number texts.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text, as it appears in the document.
    Num(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(t) => out.push_str(t),
            Json::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Json::Array(items) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    it.write(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

// ------------------------------------------------------------------ numbers

/// The largest comparable magnitude: 5e9, in millionths.
const LIMIT_MICROS: i128 = 5_000_000_000 * 1_000_000;

/// A JSON number's exact value in millionths, when it is an exact multiple
/// of a millionth within [-5e9, 5e9] (EventBridge's comparable numbers).
pub fn micros(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent_text) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };
    let all_digits = format!("{int_part}{frac_part}");
    let significant = all_digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0); // zero, whatever its exponent
    }
    let exponent: i128 = match exponent_text {
        None => 0,
        Some(e) => match e.trim_start_matches('+').parse::<i64>() {
            Ok(e) => e as i128,
            Err(_) => return None, // an exponent too large either way
        },
    };
    // value = digits * 10^scale
    let digits = significant.trim_end_matches('0');
    let scale = exponent - frac_part.len() as i128 + (significant.len() - digits.len()) as i128;
    let shift = scale + 6; // millionths = digits * 10^shift
    if shift < 0 || digits.len() as i128 + shift > 17 {
        return None;
    }
    let value = digits.parse::<i128>().ok()? * 10i128.pow(shift as u32);
    if value > LIMIT_MICROS {
        return None;
    }
    Some(if negative { -value } else { value })
}

// ------------------------------------------------------------------ strings

fn ipv4(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

/// A wildcard's pieces: `Some(byte)` a literal, `None` a star.
fn parse_wildcard(w: &str) -> Result<Vec<Option<u8>>, String> {
    let b = w.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' if b.get(i + 1) == Some(&b'*') => return Err("consecutive stars".into()),
            b'*' => out.push(None),
            b'\\' => match b.get(i + 1) {
                Some(&c) if c == b'*' || c == b'\\' => {
                    out.push(Some(c));
                    i += 1;
                }
                _ => return Err("bad escape".into()),
            },
            c => out.push(Some(c)),
        }
        i += 1;
    }
    Ok(out)
}

fn glob(pattern: &[Option<u8>], s: &[u8]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((None, rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((Some(c), rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

// ---------------------------------------------------------------- operators

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A literal: string, number text, true, false or null.
    Literal(Json),
    Prefix(String),
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Vec<Option<u8>>),
    Numeric {
        lo: Option<(i128, bool)>,
        hi: Option<(i128, bool)>,
    },
    Cidr {
        lo: u32,
        hi: u32,
    },
    Exists,
    ButStrings(Vec<String>),
    ButNumbers(Vec<i128>),
    ButPrefix(Vec<String>),
    ButSuffix(Vec<String>),
    ButIgnoreCase(Vec<String>),
    ButWildcard(Vec<Vec<Option<u8>>>),
}

impl Op {
    /// Whether a leaf value satisfies this operator.
    pub fn accepts(&self, leaf: &Json) -> bool {
        let string = match leaf {
            Json::Str(s) => Some(s.as_str()),
            _ => None,
        };
        let number = match leaf {
            Json::Num(t) => Some(t.as_str()),
            _ => None,
        };
        match self {
            Op::Literal(Json::Str(want)) => match (ipv4(want), string) {
                // A pattern string that is an IP address matches the address.
                (Some(ip), Some(s)) => ipv4(s) == Some(ip),
                (None, Some(s)) => s == want,
                _ => false,
            },
            Op::Literal(Json::Num(want)) => match number {
                Some(t) => {
                    t == want || matches!((micros(want), micros(t)), (Some(a), Some(b)) if a == b)
                }
                None => false,
            },
            Op::Literal(other) => leaf == other,
            Op::Prefix(p) => string.is_some_and(|s| s.starts_with(p.as_str())),
            Op::Suffix(p) => string.is_some_and(|s| s.ends_with(p.as_str())),
            // ASCII pattern text: byte for byte, ignoring ASCII case.
            Op::PrefixIgnoreCase(p) => string.is_some_and(|s| {
                s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }),
            Op::SuffixIgnoreCase(p) => string.is_some_and(|s| {
                s.len() >= p.len()
                    && s.as_bytes()[s.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }),
            Op::EqualsIgnoreCase(p) => string.is_some_and(|s| lower(s) == lower(p)),
            Op::Wildcard(w) => string.is_some_and(|s| glob(w, s.as_bytes())),
            Op::Numeric { lo, hi } => match number.and_then(micros) {
                Some(n) => {
                    lo.is_none_or(|(b, inclusive)| if inclusive { n >= b } else { n > b })
                        && hi.is_none_or(|(t, inclusive)| if inclusive { n <= t } else { n < t })
                }
                None => false,
            },
            Op::Cidr { lo, hi } => string
                .and_then(ipv4)
                .is_some_and(|ip| *lo <= ip && ip <= *hi),
            Op::Exists => true,
            Op::ButStrings(set) => !string.is_some_and(|s| set.iter().any(|x| x == s)),
            Op::ButNumbers(set) => !number.and_then(micros).is_some_and(|n| set.contains(&n)),
            Op::ButPrefix(set) => {
                !string.is_some_and(|s| set.iter().any(|p| s.starts_with(p.as_str())))
            }
            Op::ButSuffix(set) => {
                !string.is_some_and(|s| set.iter().any(|p| s.ends_with(p.as_str())))
            }
            Op::ButIgnoreCase(set) => {
                !string.is_some_and(|s| set.iter().any(|p| lower(s) == lower(p)))
            }
            Op::ButWildcard(set) => {
                !string.is_some_and(|s| set.iter().any(|w| glob(w, s.as_bytes())))
            }
        }
    }
}

// ------------------------------------------------------------------ pattern

/// One field of a branch: its alternatives, and whether `exists: false` is
/// among them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Field {
    pub ops: Vec<Op>,
    pub absent: bool,
}

/// A conjunction of fields, by path (a `BTreeMap` orders paths as bytes).
pub type Branch = BTreeMap<String, Field>;

const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// The pattern's branches, or why EventBridge would reject it.
pub fn compile(pattern: &Json) -> Result<Vec<Branch>, String> {
    let Json::Object(entries) = pattern else {
        return Err("a pattern is an object".into());
    };
    let mut branches = vec![Branch::new()];
    walk(&mut branches, "", entries, false)?;
    Ok(branches)
}

/// Reads an object's entries in document order into every branch; `$or`
/// forks the branches built so far, one copy per alternative.
fn walk(
    branches: &mut Vec<Branch>,
    path: &str,
    entries: &[(String, Json)],
    in_or: bool,
) -> Result<(), String> {
    if entries.is_empty() {
        return Err("empty object".into());
    }
    for (key, value) in entries {
        if key == "$or" {
            let Json::Array(alternatives) = value else {
                return Err("$or takes an array".into());
            };
            if alternatives.len() < 2 {
                return Err("$or needs two objects".into());
            }
            let current = std::mem::take(branches);
            for alt in alternatives {
                let Json::Object(alt_entries) = alt else {
                    return Err("$or takes objects".into());
                };
                let mut fork = current.clone();
                walk(&mut fork, path, alt_entries, true)?;
                branches.extend(fork);
                if branches.len() > 1024 {
                    return Err("too many branches".into());
                }
            }
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return Err(format!("{key} is reserved inside $or"));
        }
        let full = join_under(path, key);
        match value {
            Json::Object(inner) => walk(branches, &full.nested, inner, in_or)?,
            Json::Array(items) => {
                let field = field(items)?;
                for b in branches.iter_mut() {
                    b.insert(full.path.clone(), field.clone());
                }
            }
            _ => return Err(format!("{key} must be an object or an array")),
        }
    }
    Ok(())
}

/// A key's path, and the prefix its children's paths start with (the path
/// and a dot). `parent` is such a prefix, or empty at the top level.
struct Joined {
    path: String,
    nested: String,
}

fn join_under(parent: &str, key: &str) -> Joined {
    let path = format!("{parent}{key}");
    Joined {
        nested: format!("{path}."),
        path,
    }
}

fn field(items: &[Json]) -> Result<Field, String> {
    if items.is_empty() {
        return Err("empty array".into());
    }
    let mut f = Field::default();
    for item in items {
        match item {
            Json::Object(op) => match operator(op)? {
                Some(op) => f.ops.push(op),
                None => f.absent = true,
            },
            Json::Array(_) => return Err("an array inside a field's list".into()),
            literal => f.ops.push(Op::Literal(literal.clone())),
        }
    }
    Ok(f)
}

fn comparable(v: &Json) -> Result<i128, String> {
    match v {
        Json::Num(t) => micros(t).ok_or_else(|| format!("{t} is not comparable")),
        _ => Err("a number was expected".into()),
    }
}

fn string(v: &Json) -> Result<String, String> {
    match v {
        Json::Str(s) => Ok(s.clone()),
        _ => Err("a string was expected".into()),
    }
}

/// An operator object; `None` for `exists: false`.
fn operator(entries: &[(String, Json)]) -> Result<Option<Op>, String> {
    let [(name, value)] = entries else {
        return Err("an operator object has exactly one key".into());
    };
    Ok(Some(match name.as_str() {
        "prefix" | "suffix" => {
            let ic = match value {
                Json::Object(inner) => match inner.as_slice() {
                    [(k, v)] if k == "equals-ignore-case" => Some(string(v)?),
                    _ => return Err("prefix/suffix take a string or equals-ignore-case".into()),
                },
                _ => None,
            };
            match (name.as_str(), ic) {
                ("prefix", Some(s)) => Op::PrefixIgnoreCase(s),
                ("suffix", Some(s)) => Op::SuffixIgnoreCase(s),
                ("prefix", None) => Op::Prefix(string(value)?),
                _ => Op::Suffix(string(value)?),
            }
        }
        "equals-ignore-case" => Op::EqualsIgnoreCase(string(value)?),
        "wildcard" => Op::Wildcard(parse_wildcard(&string(value)?)?),
        "exists" => match value {
            Json::Bool(true) => Op::Exists,
            Json::Bool(false) => return Ok(None),
            _ => return Err("exists takes true or false".into()),
        },
        "cidr" => {
            let text = string(value)?;
            let (ip, mask) = text.split_once('/').ok_or("one '/' required")?;
            let ip = ipv4(ip).ok_or("not an IPv4 address")?;
            let mask: u32 = mask.parse().map_err(|_| "mask bits must be an integer")?;
            if mask >= 32 {
                return Err("IPv4 mask bits must be < 32".into());
            }
            Op::Cidr {
                lo: ip,
                hi: ip | ((1u64 << (32 - mask)) - 1) as u32,
            }
        }
        "numeric" => numeric(value)?,
        "anything-but" => anything_but(value)?,
        other => return Err(format!("unknown operator {other}")),
    }))
}

fn numeric(value: &Json) -> Result<Op, String> {
    let Json::Array(items) = value else {
        return Err("numeric takes an array".into());
    };
    let op = |i: usize| match items.get(i) {
        Some(Json::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let num = |i: usize| {
        items
            .get(i)
            .ok_or("missing number".to_owned())
            .and_then(comparable)
    };
    match (op(0), items.len()) {
        (Some("="), 2) => {
            let v = num(1)?;
            Ok(Op::Numeric {
                lo: Some((v, true)),
                hi: Some((v, true)),
            })
        }
        (Some(o @ ("<" | "<=")), 2) => Ok(Op::Numeric {
            lo: None,
            hi: Some((num(1)?, o == "<=")),
        }),
        (Some(o @ (">" | ">=")), 2) => Ok(Op::Numeric {
            lo: Some((num(1)?, o == ">=")),
            hi: None,
        }),
        (Some(o @ (">" | ">=")), 4) => {
            let lo = num(1)?;
            let hi = num(3)?;
            let upper = match op(2) {
                Some(u @ ("<" | "<=")) => u,
                _ => return Err("a range's second operator is < or <=".into()),
            };
            if lo >= hi {
                return Err("bottom must be less than top".into());
            }
            Ok(Op::Numeric {
                lo: Some((lo, o == ">=")),
                hi: Some((hi, upper == "<=")),
            })
        }
        _ => Err("not a numeric expression".into()),
    }
}

fn anything_but(value: &Json) -> Result<Op, String> {
    match value {
        Json::Str(s) => Ok(Op::ButStrings(vec![s.clone()])),
        Json::Num(_) => Ok(Op::ButNumbers(vec![comparable(value)?])),
        Json::Array(items) => {
            if !items.is_empty() && items.iter().all(|i| matches!(i, Json::Str(_))) {
                Ok(Op::ButStrings(
                    items.iter().map(string).collect::<Result<_, _>>()?,
                ))
            } else if !items.is_empty() && items.iter().all(|i| matches!(i, Json::Num(_))) {
                Ok(Op::ButNumbers(
                    items.iter().map(comparable).collect::<Result<_, _>>()?,
                ))
            } else {
                Err("anything-but lists hold only strings or only numbers".into())
            }
        }
        Json::Object(inner) => {
            let [(name, v)] = inner.as_slice() else {
                return Err("anything-but takes one operator".into());
            };
            let texts: Vec<String> = match v {
                Json::Str(s) => vec![s.clone()],
                Json::Array(items) => items.iter().map(string).collect::<Result<_, _>>()?,
                _ => return Err("anything-but operators take strings".into()),
            };
            match name.as_str() {
                "prefix" | "suffix" if texts.iter().any(String::is_empty) => {
                    Err("empty prefix/suffix".into())
                }
                "prefix" => Ok(Op::ButPrefix(texts)),
                "suffix" => Ok(Op::ButSuffix(texts)),
                "equals-ignore-case" => Ok(Op::ButIgnoreCase(texts)),
                "wildcard" => Ok(Op::ButWildcard(
                    texts
                        .iter()
                        .map(|t| parse_wildcard(t))
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(format!("unsupported anything-but operator {other}")),
            }
        }
        _ => Err("anything-but takes strings or numbers".into()),
    }
}

// -------------------------------------------------------------------- event

/// A leaf of the event: its path, its value, and the (array, index) of
/// every array it sits in.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub path: String,
    pub value: Json,
    pub trail: Vec<(usize, usize)>,
}

/// Every leaf value (not objects, not arrays) of an event object.
pub fn leaves(event: &Json) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut arrays = 0;
    if let Json::Object(entries) = event {
        for (k, v) in entries {
            collect(v, k.clone(), &mut Vec::new(), &mut arrays, &mut out);
        }
    }
    out
}

fn collect(
    v: &Json,
    path: String,
    trail: &mut Vec<(usize, usize)>,
    arrays: &mut usize,
    out: &mut Vec<Leaf>,
) {
    match v {
        Json::Object(entries) => {
            for (k, child) in entries {
                collect(child, format!("{path}.{k}"), trail, arrays, out);
            }
        }
        Json::Array(items) => {
            let id = *arrays;
            *arrays += 1;
            for (i, item) in items.iter().enumerate() {
                trail.push((id, i));
                collect(item, path.clone(), trail, arrays, out);
                trail.pop();
            }
        }
        scalar => out.push(Leaf {
            path,
            value: scalar.clone(),
            trail: trail.clone(),
        }),
    }
}

fn consistent(trail: &[(usize, usize)], chosen: &[(usize, usize)]) -> bool {
    trail
        .iter()
        .all(|&(a, i)| chosen.iter().all(|&(b, j)| a != b || i == j))
}

/// Whether the branch's fields, from the `k`-th on, are satisfied given the
/// array elements already chosen.
fn satisfied(
    fields: &[(&String, &Field)],
    k: usize,
    leaves: &[Leaf],
    chosen: &[(usize, usize)],
) -> bool {
    let Some((path, field)) = fields.get(k) else {
        return true;
    };
    let candidates: Vec<&Leaf> = leaves
        .iter()
        .filter(|l| &l.path == *path && consistent(&l.trail, chosen))
        .collect();
    for leaf in &candidates {
        if field.ops.iter().any(|op| op.accepts(&leaf.value)) {
            let mut next = chosen.to_vec();
            for &(a, i) in &leaf.trail {
                if !next.iter().any(|&(b, _)| b == a) {
                    next.push((a, i));
                }
            }
            if satisfied(fields, k + 1, leaves, &next) {
                return true;
            }
        }
    }
    field.absent && candidates.is_empty() && satisfied(fields, k + 1, leaves, chosen)
}

/// Whether a compiled reference pattern matches the event.
pub fn matches(branches: &[Branch], event: &Json) -> bool {
    let leaves = leaves(event);
    branches.iter().any(|b| {
        let fields: Vec<(&String, &Field)> = b.iter().collect();
        satisfied(&fields, 0, &leaves, &[])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_as_decimals() {
        assert_eq!(micros("300"), Some(300_000_000));
        assert_eq!(micros("3.0e2"), micros("300.0"));
        assert_eq!(micros("3E+2"), micros("30000e-2"));
        assert_eq!(micros("-0"), Some(0));
        assert_eq!(micros("0.000001"), Some(1));
        assert_eq!(micros("0.0000001"), None);
        assert_eq!(micros("1.0000000"), Some(1_000_000));
        assert_eq!(micros("5000000000"), Some(LIMIT_MICROS));
        assert_eq!(micros("5000000001"), None);
        assert_eq!(micros("1e400"), None);
        assert_eq!(micros("0e99999999999999999999"), Some(0));
    }

    #[test]
    fn wildcards() {
        let w = parse_wildcard("a*b").unwrap();
        assert!(glob(&w, b"ab") && glob(&w, b"axxb") && !glob(&w, b"abx"));
        assert!(parse_wildcard("a**").is_err());
        assert!(glob(&parse_wildcard("x\\*y").unwrap(), b"x*y"));
    }
}
