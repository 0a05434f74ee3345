//! The differential target: generated patterns and events, matched by
//! `Pattern`, by a `PatternSet` of all of them (large enough for its path
//! index), by a lazily scanning set, and by the naive [`reference`]
//! matcher. They must agree on which patterns are valid and which match.
//!
//! Values are drawn from small vocabularies chosen to collide: keys that
//! nest and dot (`a`, `a.b`), strings that differ only in case, look like
//! IP addresses or wildcards, numbers spelled several ways and outside the
//! comparable range.

use super::reference::{self, Json};
use crate::pattern::{Pattern, PatternSet};
use arbitrary::{Result, Unstructured};

const KEYS: &[&str] = &["a", "b", "c", "a.b", "prefix", ""];
const STRINGS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "aB",
    "ba",
    "abc",
    "x*y",
    "a\\b",
    "10.0.0.7",
    "10.0.1.7",
    "192.168.0.1",
    "010.0.0.7",
    "ß",
    "É",
    "é",
    "\"q\"",
    "line\nbreak",
    "a.b",
    "300",
];
/// Pattern text for case-insensitive operators: ASCII only (see reference).
const ASCII: &[&str] = &["a", "A", "ab", "AB", "x*y", "", "10.0.0.7", "B"];
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "300",
    "300.0",
    "3.0e2",
    "3E+2",
    "30000e-2",
    "1.5",
    "0.000001",
    "0.0000001",
    "5000000000",
    "5000000001",
    "-5e9",
    "1e400",
    "12345678901234567890",
    "1.0000000",
];
const WILDCARDS: &[&str] = &[
    "a*", "*b", "a*b", "*", "x\\*y", "a**", "*a*", "", "a\\b", "*.*", "1*",
];
const CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.7/31",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "10.0.0.0/32",
    "192.168.0.0/16",
];
const COMPARISONS: &[&str] = &["=", "<", "<=", ">", ">=", "!"];

fn pick(u: &mut Unstructured<'_>, list: &[&str]) -> Result<String> {
    Ok((*u.choose(list)?).to_owned())
}

fn str_(u: &mut Unstructured<'_>, list: &[&str]) -> Result<Json> {
    Ok(Json::Str(pick(u, list)?))
}

fn num(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(Json::Num(pick(u, NUMBERS)?))
}

fn op(name: &str, value: Json) -> Json {
    Json::Object(vec![(name.to_owned(), value)])
}

fn event_value(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let choices = if depth < 3 { 7 } else { 5 };
    Ok(match u.int_in_range(0..=choices - 1)? {
        0 => str_(u, STRINGS)?,
        1 => num(u)?,
        2 => Json::Bool(u.arbitrary()?),
        3 => Json::Null,
        4 => str_(u, STRINGS)?,
        5 => {
            let n = u.int_in_range(0..=3)?;
            Json::Array(
                (0..n)
                    .map(|_| event_value(u, depth + 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ => event_object(u, depth + 1)?,
    })
}

fn event_object(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let n = u.int_in_range(0..=4)?;
    let mut entries: Vec<(String, Json)> = Vec::new();
    for _ in 0..n {
        let k = pick(u, KEYS)?;
        let v = event_value(u, depth)?;
        // No duplicate keys: EventBridge events are JSON objects.
        if !entries.iter().any(|(x, _)| *x == k) {
            entries.push((k, v));
        }
    }
    Ok(Json::Object(entries))
}

fn matcher(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(match u.int_in_range(0..=17)? {
        0 => str_(u, STRINGS)?,
        1 => num(u)?,
        2 => Json::Bool(u.arbitrary()?),
        3 => Json::Null,
        4 => op("prefix", str_(u, STRINGS)?),
        5 => op("suffix", str_(u, STRINGS)?),
        6 => {
            let name = pick(u, &["prefix", "suffix"])?;
            op(&name, op("equals-ignore-case", str_(u, ASCII)?))
        }
        7 => op("equals-ignore-case", str_(u, ASCII)?),
        8 => op("wildcard", str_(u, WILDCARDS)?),
        9 => op("exists", Json::Bool(u.arbitrary()?)),
        10 => op("cidr", str_(u, CIDRS)?),
        11 | 12 => op("numeric", numeric(u)?),
        13..=15 => op("anything-but", anything_but(u)?),
        16 => op("regex", str_(u, STRINGS)?),
        _ => Json::Object(vec![
            ("prefix".into(), str_(u, STRINGS)?),
            ("suffix".into(), str_(u, STRINGS)?),
        ]),
    })
}

fn numeric(u: &mut Unstructured<'_>) -> Result<Json> {
    let n = u.int_in_range(1..=4)?;
    let mut items = Vec::new();
    for i in 0..n {
        items.push(if i % 2 == 0 {
            str_(u, COMPARISONS)?
        } else {
            num(u)?
        });
    }
    Ok(Json::Array(items))
}

fn anything_but(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(match u.int_in_range(0..=8)? {
        0 => str_(u, STRINGS)?,
        1 => num(u)?,
        2 => {
            let n = u.int_in_range(0..=3)?;
            Json::Array((0..n).map(|_| str_(u, STRINGS)).collect::<Result<_>>()?)
        }
        3 => {
            let n = u.int_in_range(1..=3)?;
            Json::Array((0..n).map(|_| num(u)).collect::<Result<_>>()?)
        }
        4 => Json::Array(vec![str_(u, STRINGS)?, num(u)?]),
        5 => {
            let name = pick(u, &["prefix", "suffix"])?;
            op(&name, str_(u, STRINGS)?)
        }
        6 => {
            let n = u.int_in_range(1..=2)?;
            let list = (0..n).map(|_| str_(u, ASCII)).collect::<Result<_>>()?;
            op("equals-ignore-case", Json::Array(list))
        }
        7 => op("wildcard", str_(u, WILDCARDS)?),
        _ => Json::Bool(true),
    })
}

fn pattern_object(u: &mut Unstructured<'_>, depth: usize) -> Result<Json> {
    let n = u.int_in_range(1..=3)?;
    let mut entries = Vec::new();
    for _ in 0..n {
        let roll = u.int_in_range(0..=19)?;
        if roll == 0 && depth < 2 {
            let alternatives = u.int_in_range(1..=3)?;
            let list = (0..alternatives)
                .map(|_| pattern_object(u, depth + 1))
                .collect::<Result<_>>()?;
            entries.push(("$or".to_owned(), Json::Array(list)));
            continue;
        }
        let key = pick(u, KEYS)?;
        let value = match roll {
            1 if depth < 2 => pattern_object(u, depth + 1)?,
            2 => Json::Array(Vec::new()),
            3 => str_(u, STRINGS)?,
            _ => {
                let m = u.int_in_range(1..=3)?;
                Json::Array((0..m).map(|_| matcher(u)).collect::<Result<_>>()?)
            }
        };
        entries.push((key, value));
    }
    Ok(Json::Object(entries))
}

fn no_dotted_keys(v: &Json) -> bool {
    match v {
        Json::Object(e) => e.iter().all(|(k, v)| !k.contains('.') && no_dotted_keys(v)),
        Json::Array(a) => a.iter().all(no_dotted_keys),
        _ => true,
    }
}

/// Runs one generated case; panics on the first disagreement.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(count) = u.int_in_range(1..=18usize) else {
        return;
    };
    let mut patterns = Vec::new();
    for _ in 0..count {
        match pattern_object(&mut u, 0) {
            Ok(p) => patterns.push(p),
            Err(_) => return,
        }
    }
    let Ok(event) = event_object(&mut u, 0) else {
        return;
    };
    check(&patterns, &event);
}

/// Checks the matcher against the reference on these patterns and event.
pub fn check(patterns: &[Json], event: &Json) {
    let event_text = event.to_text();
    let mut set = PatternSet::new();
    let mut lazy = PatternSet::new();
    lazy.set_lazy_scan(true);
    let mut expected = Vec::new();
    for p in patterns {
        let text = p.to_text();
        let ours = Pattern::compile(&text);
        let theirs = reference::compile(p);
        match (&ours, &theirs) {
            (Ok(compiled), Ok(branches)) => {
                let want = reference::matches(branches, event);
                let got = compiled
                    .matches(event_text.as_bytes())
                    .unwrap_or_else(|e| panic!("a generated event was refused: {e}\n{event_text}"));
                assert_eq!(
                    got, want,
                    "matcher says {got}, reference says {want}\npattern: {text}\nevent:   {event_text}"
                );
                let i = set.add(compiled);
                lazy.add(compiled);
                if want {
                    expected.push(i);
                }
            }
            (Err(_), Err(_)) => {}
            (Err(e), Ok(_)) if e.message.contains("too complex") => {}
            (Err(e), Ok(_)) => {
                panic!("the matcher rejects a pattern the reference accepts: {e}\npattern: {text}")
            }
            (Ok(_), Err(why)) => {
                panic!(
                    "the matcher accepts a pattern the reference rejects ({why})\npattern: {text}"
                )
            }
        }
    }
    let got = set
        .matches(event_text.as_bytes())
        .expect("a generated event");
    assert_eq!(
        got, expected,
        "the set disagrees with the patterns alone\nevent: {event_text}"
    );
    if no_dotted_keys(event) {
        let got = lazy
            .matches(event_text.as_bytes())
            .expect("a generated event");
        assert_eq!(got, expected, "the lazy set disagrees\nevent: {event_text}");
    }
}
