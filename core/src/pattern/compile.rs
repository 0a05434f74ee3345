//! From pattern JSON to branches of field matchers, with EventBridge's checks.
//!
//! The walk follows event-ruler's JsonRuleCompiler: keys are read in document
//! order; nested objects join their keys with `.`; a leaf array becomes the
//! matcher list of its path (a later occurrence of the same path replaces an
//! earlier one); `$or` multiplies the branches built so far by its
//! alternatives. Each branch is a conjunction of fields; a pattern matches
//! when any branch does.

use super::error::PatternError;
use super::ip::{self, Ip, IpRange};
use super::json::PVal;
use super::number::{self, NotComparable};
use super::text::{self, IgnoreCase, WTok, Wildcard};

/// Most branches a pattern may expand to through `$or` (our guard, so that a
/// nest of `$or`s cannot blow up memory; EventBridge's own limit is lower in
/// practice through its 2048-character pattern size).
pub(crate) const MAX_BRANCHES: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    ExactStr(Box<[u8]>),
    /// A number: equal when both are comparable and equal, or the texts are equal.
    ExactNum {
        text: Box<[u8]>,
        cmp: Option<i64>,
    },
    ExactTrue,
    ExactFalse,
    ExactNull,
    /// A string in the pattern that reads as an IP address matches that address.
    IpExact(Ip),
    Prefix(Box<[u8]>),
    PrefixIc(IgnoreCase),
    Suffix(Box<[u8]>),
    SuffixIc(IgnoreCase),
    EqIc(IgnoreCase),
    Wildcard(Wildcard),
    /// Bounds in millionths, `(value, inclusive)`.
    Numeric {
        lo: Option<(i64, bool)>,
        hi: Option<(i64, bool)>,
    },
    Cidr(IpRange),
    Exists,
    ButStr(Vec<Box<[u8]>>),
    ButNum(Vec<i64>),
    ButIc(Vec<IgnoreCase>),
    ButPrefix(Vec<Box<[u8]>>),
    ButSuffix(Vec<Box<[u8]>>),
    ButWildcard(Vec<Wildcard>),
}

/// One field of a branch: its path, its alternatives, and whether
/// `{"exists": false}` is among them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CField {
    pub path: String,
    pub matchers: Vec<Matcher>,
    pub absent: bool,
    /// Compact JSON of the field's value list (an identity for the
    /// complexity grouping).
    pub ident: String,
    /// Wildcards of this field (plain and anything-but), for the complexity check.
    pub wildcards: Vec<Vec<WTok>>,
}

pub(crate) type CBranch = Vec<CField>;

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

/// Compiles a parsed pattern into branches (each sorted by path).
pub(crate) fn compile(root: &PVal) -> Result<Vec<CBranch>, PatternError> {
    let entries = match root {
        PVal::Object(e) => e,
        other => {
            return Err(PatternError::new(
                "",
                other.to_json(),
                "a JSON object",
                "Filter is not an object",
            ))
        }
    };
    let mut rules: Vec<CBranch> = Vec::new();
    let mut path: Vec<&str> = Vec::new();
    parse_object(&mut rules, &mut path, entries, false)?;
    for branch in &mut rules {
        branch.sort_by(|a, b| a.path.cmp(&b.path));
    }
    check_wildcard_complexity(&rules)?;
    Ok(rules)
}

fn join(path: &[&str], key: &str) -> String {
    let mut s = String::new();
    for p in path {
        s.push_str(p);
        s.push('.');
    }
    s.push_str(key);
    s
}

fn parse_object<'a>(
    rules: &mut Vec<CBranch>,
    path: &mut Vec<&'a str>,
    entries: &'a [(String, PVal)],
    in_or: bool,
) -> Result<(), PatternError> {
    if entries.is_empty() {
        return Err(PatternError::new(
            path.join("."),
            "{}",
            "an object with at least one field",
            "Empty objects are not allowed",
        ));
    }
    for (key, val) in entries {
        if key == "$or" {
            parse_or(rules, path, val)?;
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return Err(PatternError::new(
                join(path, key),
                format!("\"{key}\""),
                "a field name",
                format!("{key} is Ruler reserved fieldName which cannot be used inside $or."),
            ));
        }
        match val {
            PVal::Object(inner) => {
                path.push(key);
                let r = parse_object(rules, path, inner, in_or);
                path.pop();
                r?;
            }
            PVal::Array(items) => write_field(rules, join(path, key), items)?,
            other => {
                return Err(PatternError::new(
                    join(path, key),
                    other.to_json(),
                    "an object or an array",
                    format!("\"{key}\" must be an object or an array"),
                ))
            }
        }
    }
    Ok(())
}

fn parse_or<'a>(
    rules: &mut Vec<CBranch>,
    path: &mut Vec<&'a str>,
    val: &'a PVal,
) -> Result<(), PatternError> {
    let at = join(path, "$or");
    let items = match val {
        PVal::Array(items) => items,
        other => {
            return Err(PatternError::new(
                at,
                other.to_json(),
                "an array of objects",
                "It must be an Array followed with $or.",
            ))
        }
    };
    let current = std::mem::take(rules);
    for item in items {
        match item {
            PVal::Object(entries) => {
                let mut fork = current.clone();
                if fork.is_empty() {
                    fork.push(Vec::new());
                }
                parse_object(&mut fork, path, entries, true)?;
                rules.extend(fork);
                if rules.len() > MAX_BRANCHES {
                    return Err(PatternError::new(
                        at,
                        "",
                        format!("at most {MAX_BRANCHES} combinations"),
                        format!("$or expands to more than {MAX_BRANCHES} combinations"),
                    ));
                }
            }
            other => {
                return Err(PatternError::new(
                    at,
                    other.to_json(),
                    "an object",
                    "Only JSON object is allowed in array of $or relationship.",
                ))
            }
        }
    }
    if items.len() < 2 {
        return Err(PatternError::new(
            at,
            val.to_json(),
            "at least 2 objects",
            "There must have at least 2 Objects in $or relationship.",
        ));
    }
    Ok(())
}

fn write_field(rules: &mut Vec<CBranch>, path: String, items: &[PVal]) -> Result<(), PatternError> {
    let mut matchers = Vec::with_capacity(items.len());
    let mut absent = false;
    let mut wildcards = Vec::new();
    for item in items {
        match item {
            PVal::Object(entries) => match_expression(
                &path,
                entries,
                item,
                &mut matchers,
                &mut absent,
                &mut wildcards,
            )?,
            PVal::String(s) => match ip::parse_ip(s.as_bytes()) {
                Some(ip) if ip::looks_like_ip(s.as_bytes()) => matchers.push(Matcher::IpExact(ip)),
                _ => matchers.push(Matcher::ExactStr(s.as_bytes().into())),
            },
            PVal::Number(n) => matchers.push(Matcher::ExactNum {
                text: n.as_bytes().into(),
                cmp: number::comparable(n.as_bytes()).ok(),
            }),
            PVal::Bool(true) => matchers.push(Matcher::ExactTrue),
            PVal::Bool(false) => matchers.push(Matcher::ExactFalse),
            PVal::Null => matchers.push(Matcher::ExactNull),
            PVal::Array(_) => {
                return Err(PatternError::new(
                    path,
                    item.to_json(),
                    "a string, number, true, false, null or an operator object",
                    "Match value must be String, number, true, false, or null",
                ))
            }
        }
    }
    if items.is_empty() {
        return Err(PatternError::new(
            path,
            "[]",
            "a non-empty array",
            "Empty arrays are not allowed",
        ));
    }
    let field = CField {
        ident: PVal::Array(items.to_vec()).to_json(),
        path,
        matchers,
        absent,
        wildcards,
    };
    if rules.is_empty() {
        rules.push(Vec::new());
    }
    for rule in rules.iter_mut() {
        match rule.iter_mut().find(|f| f.path == field.path) {
            Some(existing) => *existing = field.clone(),
            None => rule.push(field.clone()),
        }
    }
    Ok(())
}

fn bad(path: &str, found: &PVal, expected: &str, message: impl Into<String>) -> PatternError {
    PatternError::new(path, found.to_json(), expected, message)
}

fn not_comparable_msg(e: NotComparable) -> &'static str {
    match e {
        NotComparable::TooManyDecimals => "Only values upto 6 decimals are supported",
        NotComparable::OutOfRange => "Value must be between -5000000000 and 5000000000, inclusive",
    }
}

fn comparable_of(path: &str, v: &PVal) -> Result<i64, PatternError> {
    match v {
        PVal::Number(n) => number::comparable(n.as_bytes()).map_err(|e| {
            bad(
                path,
                v,
                "a number in [-5e9, 5e9] with at most 6 decimals",
                not_comparable_msg(e),
            )
        }),
        _ => Err(bad(path, v, "a number", "numeric value expected")),
    }
}

fn match_expression(
    path: &str,
    entries: &[(String, PVal)],
    whole: &PVal,
    out: &mut Vec<Matcher>,
    absent: &mut bool,
    wildcards: &mut Vec<Vec<WTok>>,
) -> Result<(), PatternError> {
    let (op, val) = match entries.first() {
        Some((k, v)) => (k.as_str(), v),
        None => {
            return Err(bad(
                path,
                whole,
                "an operator object such as {\"prefix\": \"...\"}",
                "Match expression name not found",
            ))
        }
    };
    if entries.len() > 1 {
        return Err(bad(
            path,
            whole,
            "exactly one operator key",
            "Only one key allowed in match expression",
        ));
    }
    let string_of = |what: &str| -> Result<&str, PatternError> {
        match val {
            PVal::String(s) => Ok(s.as_str()),
            other => Err(bad(
                path,
                other,
                "a string",
                format!("{what} match pattern must be a string"),
            )),
        }
    };
    match op {
        "prefix" | "suffix" => {
            if let PVal::Object(inner) = val {
                let (iop, ival) = match inner.first() {
                    Some((k, v)) => (k.as_str(), v),
                    None => return Err(bad(path, val, "{\"equals-ignore-case\": \"...\"}", format!("{} expression name not found", capital(op)))),
                };
                if iop != "equals-ignore-case" {
                    return Err(bad(path, val, "{\"equals-ignore-case\": \"...\"}", format!("Unsupported {op} pattern: {iop}")));
                }
                if inner.len() > 1 {
                    return Err(bad(path, val, "exactly one key", "Only one key allowed in match expression"));
                }
                let s = match ival {
                    PVal::String(s) => s,
                    other => return Err(bad(path, other, "a string", "equals-ignore-case match pattern must be a string")),
                };
                let ic = IgnoreCase::new(s);
                out.push(if op == "prefix" { Matcher::PrefixIc(ic) } else { Matcher::SuffixIc(ic) });
                return Ok(());
            }
            let s = string_of(op)?;
            out.push(if op == "prefix" {
                Matcher::Prefix(s.as_bytes().into())
            } else {
                Matcher::Suffix(s.as_bytes().into())
            });
        }
        "equals-ignore-case" => {
            let s = string_of("equals-ignore-case")?;
            out.push(Matcher::EqIc(IgnoreCase::new(s)));
        }
        "wildcard" => {
            let s = string_of("wildcard")?;
            let toks = text::parse_wildcard(s).map_err(|m| bad(path, val, "a wildcard without '**' or bad escapes", m))?;
            out.push(Matcher::Wildcard(Wildcard::new(&toks)));
            wildcards.push(toks);
        }
        "exists" => match val {
            PVal::Bool(true) => out.push(Matcher::Exists),
            PVal::Bool(false) => *absent = true,
            other => return Err(bad(path, other, "true or false", "exists match pattern must be either true or false.")),
        },
        "cidr" => {
            let s = string_of("cidr")?;
            let r = ip::parse_cidr(s).map_err(|m| bad(path, val, "an IPv4 or IPv6 CIDR block such as \"10.0.0.0/24\"", m))?;
            out.push(Matcher::Cidr(r));
        }
        "numeric" => out.push(numeric(path, val)?),
        "anything-but" => out.push(anything_but(path, val, wildcards)?),
        other => {
            return Err(PatternError::new(
                path,
                format!("\"{other}\""),
                "one of prefix, suffix, equals-ignore-case, anything-but, numeric, exists, wildcard, cidr",
                format!("Unrecognized match type: \"{other}\" is not a valid operator"),
            ))
        }
    }
    Ok(())
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn numeric(path: &str, val: &PVal) -> Result<Matcher, PatternError> {
    let items = match val {
        PVal::Array(items) => items,
        other => {
            return Err(bad(
                path,
                other,
                "an array such as [\">\", 0, \"<=\", 5]",
                "Value of numeric must be an array.",
            ))
        }
    };
    let expected =
        "[\"=\", n], [\"<\"|\"<=\", n], [\">\"|\">=\", n] or [\">\"|\">=\", n, \"<\"|\"<=\", m]";
    let op_at = |i: usize| -> Option<&str> {
        match items.get(i) {
            Some(PVal::String(s)) => Some(s.as_str()),
            _ => None,
        }
    };
    let num_at = |i: usize, op: &str| -> Result<i64, PatternError> {
        match items.get(i) {
            Some(v @ PVal::Number(_)) => comparable_of(path, v),
            Some(v) => Err(bad(
                path,
                v,
                expected,
                format!("Value of {op} must be numeric"),
            )),
            None => Err(bad(
                path,
                val,
                expected,
                format!("Value of {op} must be numeric"),
            )),
        }
    };
    let first = match op_at(0) {
        Some(op) => op,
        None => {
            let shown = items
                .first()
                .map(PVal::to_json)
                .unwrap_or_else(|| "]".into());
            return Err(bad(
                path,
                val,
                expected,
                format!("Invalid member in numeric match: {shown}"),
            ));
        }
    };
    let too_many = || {
        bad(
            path,
            val,
            expected,
            "Too many elements in numeric expression",
        )
    };
    match first {
        "=" => {
            let v = num_at(1, "equals")?;
            if items.len() > 2 {
                return Err(too_many());
            }
            Ok(Matcher::Numeric {
                lo: Some((v, true)),
                hi: Some((v, true)),
            })
        }
        "<" | "<=" => {
            let v = num_at(1, first)?;
            if items.len() > 2 {
                return Err(too_many());
            }
            Ok(Matcher::Numeric {
                lo: None,
                hi: Some((v, first == "<=")),
            })
        }
        ">" | ">=" => {
            let lo = num_at(1, first)?;
            let lo_incl = first == ">=";
            if items.len() == 2 {
                return Ok(Matcher::Numeric {
                    lo: Some((lo, lo_incl)),
                    hi: None,
                });
            }
            let second = match items.get(2) {
                Some(PVal::String(s)) => s.as_str(),
                Some(v) => {
                    return Err(bad(
                        path,
                        v,
                        expected,
                        format!("Bad value in numeric range: {}", v.to_json()),
                    ))
                }
                None => unreachable!("len > 2"),
            };
            if second != "<" && second != "<=" {
                return Err(bad(
                    path,
                    &items[2],
                    expected,
                    format!("Bad numeric range operator: {second}"),
                ));
            }
            let hi = num_at(3, second)?;
            if items.len() > 4 {
                return Err(bad(
                    path,
                    val,
                    expected,
                    "Too many terms in numeric range expression",
                ));
            }
            if lo >= hi {
                return Err(bad(
                    path,
                    val,
                    "a lower bound below the upper bound",
                    "Bottom must be less than top",
                ));
            }
            Ok(Matcher::Numeric {
                lo: Some((lo, lo_incl)),
                hi: Some((hi, second == "<=")),
            })
        }
        other => Err(bad(
            path,
            &items[0],
            expected,
            format!("Unrecognized numeric range operator: {other}"),
        )),
    }
}

fn anything_but(
    path: &str,
    val: &PVal,
    wildcards: &mut Vec<Vec<WTok>>,
) -> Result<Matcher, PatternError> {
    let single_or_list = "a string, a number, or a list of strings or of numbers";
    if let PVal::Object(inner) = val {
        let (op, v) = match inner.first() {
            Some((k, v)) => (k.as_str(), v),
            None => {
                return Err(bad(
                    path,
                    val,
                    "{\"prefix\"|\"suffix\"|\"equals-ignore-case\"|\"wildcard\": ...}",
                    "Anything-But expression name not found",
                ))
            }
        };
        if !matches!(op, "equals-ignore-case" | "prefix" | "suffix" | "wildcard") {
            return Err(bad(
                path,
                val,
                "prefix, suffix, equals-ignore-case or wildcard",
                format!("Unsupported anything-but pattern: {op}"),
            ));
        }
        if inner.len() > 1 {
            return Err(bad(
                path,
                val,
                "exactly one key",
                "Too many elements in numeric expression",
            ));
        }
        let strings: Vec<&PVal> = match v {
            PVal::Array(items) => items.iter().collect(),
            PVal::String(_) => vec![v],
            PVal::Number(_) | PVal::Null | PVal::Bool(_) => {
                return Err(bad(path, v, "a string or a list of strings", type_msg(op)));
            }
            PVal::Object(_) => {
                return Err(bad(
                    path,
                    v,
                    single_or_list,
                    "Value of anything-but must be an array or single string/number value.",
                ));
            }
        };
        let mut texts: Vec<&str> = Vec::with_capacity(strings.len());
        for s in strings {
            match s {
                PVal::String(t) => {
                    if (op == "prefix" || op == "suffix") && t.is_empty() {
                        return Err(bad(
                            path,
                            s,
                            "a non-empty string",
                            "Null prefix/suffix not allowed",
                        ));
                    }
                    texts.push(t);
                }
                other => return Err(bad(path, other, "a string", type_msg(op))),
            }
        }
        return Ok(match op {
            "equals-ignore-case" => {
                Matcher::ButIc(texts.iter().map(|t| IgnoreCase::new(t)).collect())
            }
            "prefix" => Matcher::ButPrefix(texts.iter().map(|t| t.as_bytes().into()).collect()),
            "suffix" => Matcher::ButSuffix(texts.iter().map(|t| t.as_bytes().into()).collect()),
            _ => {
                let mut ws = Vec::with_capacity(texts.len());
                for t in texts {
                    let toks = text::parse_wildcard(t)
                        .map_err(|m| bad(path, v, "a wildcard without '**' or bad escapes", m))?;
                    ws.push(Wildcard::new(&toks));
                    wildcards.push(toks);
                }
                Matcher::ButWildcard(ws)
            }
        });
    }
    match val {
        PVal::String(s) => Ok(Matcher::ButStr(vec![s.as_bytes().into()])),
        PVal::Number(_) => Ok(Matcher::ButNum(vec![comparable_of(path, val)?])),
        PVal::Array(items) => {
            let mut strs = Vec::new();
            let mut nums = Vec::new();
            for it in items {
                match it {
                    PVal::String(s) => strs.push(s.as_bytes().into()),
                    PVal::Number(_) => nums.push(comparable_of(path, it)?),
                    other => {
                        return Err(bad(
                            path,
                            other,
                            single_or_list,
                            "Inside anything but list, start|null|boolean is not supported.",
                        ))
                    }
                }
            }
            if strs.is_empty() == nums.is_empty() {
                return Err(bad(path, val, single_or_list, "Inside anything but list, either all values are number or string, mixed type is not supported"));
            }
            Ok(if nums.is_empty() {
                Matcher::ButStr(strs)
            } else {
                Matcher::ButNum(nums)
            })
        }
        other => Err(bad(
            path,
            other,
            single_or_list,
            "Inside anything-but list, start|null|boolean is not supported.",
        )),
    }
}

fn type_msg(op: &str) -> &'static str {
    match op {
        "equals-ignore-case" => "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        "wildcard" => "wildcard match pattern must be a string",
        _ => "prefix/suffix match pattern must be a string",
    }
}

/// Groups the wildcards of each field the way event-ruler's machine would
/// share them (same field reached through the same earlier fields) and
/// rejects a group whose complexity exceeds the limit.
fn check_wildcard_complexity(rules: &[CBranch]) -> Result<(), PatternError> {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<String, Vec<Vec<WTok>>> = BTreeMap::new();
    for branch in rules {
        let mut key = String::new();
        for f in branch {
            if !f.wildcards.is_empty() {
                let g = groups.entry(format!("{key}\u{0}{}", f.path)).or_default();
                g.extend(f.wildcards.iter().cloned());
            }
            key.push_str(&f.path);
            key.push('\u{1}');
            key.push_str(&f.ident);
            key.push('\u{2}');
        }
    }
    for (key, pats) in groups {
        if text::complexity(&pats).is_none() {
            let path = key.rsplit('\u{0}').next().unwrap_or("").to_string();
            return Err(PatternError::new(
                path,
                "",
                format!("wildcards that one value can match in at most {} ways at once", text::MAX_WILDCARD_COMPLEXITY),
                "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character",
            ));
        }
    }
    Ok(())
}
