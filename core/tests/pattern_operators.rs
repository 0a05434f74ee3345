//! Operator-by-operator tests of the EventBridge pattern matcher.

use serde_json::json;
use tally_core::pattern::{conformance, Pattern, PatternSet, Scratch};

fn m(pattern: &str, event: &str) -> bool {
    Pattern::compile(pattern)
        .unwrap_or_else(|e| panic!("{pattern} should compile: {e}"))
        .matches(event.as_bytes())
        .unwrap_or_else(|e| panic!("{event} should scan: {e}"))
}

fn invalid(pattern: &str) -> String {
    match Pattern::compile(pattern) {
        Ok(_) => panic!("{pattern} should be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn exact_values() {
    assert!(m(r#"{"a":["x"]}"#, r#"{"a":"x"}"#));
    assert!(!m(r#"{"a":["x"]}"#, r#"{"a":"X"}"#));
    assert!(!m(r#"{"a":["x"]}"#, r#"{"b":"x"}"#));
    assert!(m(r#"{"a":[true]}"#, r#"{"a":true}"#));
    assert!(!m(r#"{"a":[true]}"#, r#"{"a":"true"}"#));
    assert!(m(r#"{"a":[null]}"#, r#"{"a":null}"#));
    assert!(!m(r#"{"a":[null]}"#, r#"{"a":"null"}"#));
    assert!(!m(r#"{"a":[null]}"#, r#"{}"#));
    assert!(m(r#"{"a":[""]}"#, r#"{"a":""}"#));
    // fields AND, values OR
    assert!(m(r#"{"a":["x","y"],"b":[1]}"#, r#"{"a":"y","b":1}"#));
    assert!(!m(r#"{"a":["x","y"],"b":[1]}"#, r#"{"a":"y","b":2}"#));
    // an IP-looking exact value matches the same address spelled otherwise
    assert!(m(
        r#"{"ip":["2001:db8::1"]}"#,
        r#"{"ip":"2001:DB8:0:0:0:0:0:1"}"#
    ));
    assert!(m(r#"{"ip":["10.0.0.1"]}"#, r#"{"ip":"10.0.0.1"}"#));
    assert!(!m(r#"{"ip":["10.0.0.1"]}"#, r#"{"ip":"10.0.0.2"}"#));
}

#[test]
fn numbers_across_spellings() {
    for spelled in ["300", "300.0", "3.0e2", "3E2", "30000e-2", "300.000000"] {
        assert!(
            m(r#"{"n":[300]}"#, &format!(r#"{{"n":{spelled}}}"#)),
            "{spelled}"
        );
        assert!(
            m(r#"{"n":[3.0e2]}"#, &format!(r#"{{"n":{spelled}}}"#)),
            "{spelled}"
        );
    }
    assert!(!m(r#"{"n":[300]}"#, r#"{"n":"300"}"#));
    assert!(!m(r#"{"n":["300"]}"#, r#"{"n":300}"#));
    assert!(!m(r#"{"n":[300]}"#, r#"{"n":300.5}"#));
    // beyond the comparable range numbers match by their text only
    assert!(m(r#"{"acct":[123456789012]}"#, r#"{"acct":123456789012}"#));
    assert!(!m(
        r#"{"acct":[123456789012]}"#,
        r#"{"acct":123456789012.0}"#
    ));
    assert!(m(r#"{"n":[-0]}"#, r#"{"n":0}"#));
}

#[test]
fn prefix_and_suffix() {
    assert!(m(r#"{"t":[{"prefix":"2022-"}]}"#, r#"{"t":"2022-07-13"}"#));
    assert!(!m(r#"{"t":[{"prefix":"2023-"}]}"#, r#"{"t":"2022-07-13"}"#));
    assert!(!m(r#"{"t":[{"prefix":"12"}]}"#, r#"{"t":123}"#));
    assert!(m(r#"{"t":[{"prefix":""}]}"#, r#"{"t":"anything"}"#));
    assert!(m(r#"{"f":[{"suffix":".png"}]}"#, r#"{"f":"a.png"}"#));
    assert!(!m(r#"{"f":[{"suffix":".png"}]}"#, r#"{"f":"a.PNG"}"#));
    assert!(m(
        r#"{"f":[{"suffix":{"equals-ignore-case":".png"}}]}"#,
        r#"{"f":"a.PNG"}"#
    ));
    assert!(m(
        r#"{"s":[{"prefix":{"equals-ignore-case":"EventB"}}]}"#,
        r#"{"s":"eventbridge"}"#
    ));
    assert!(!m(
        r#"{"s":[{"prefix":{"equals-ignore-case":"EventB"}}]}"#,
        r#"{"s":"event"}"#
    ));
    assert!(invalid(r#"{"t":[{"prefix":123}]}"#).contains("must be a string"));
    invalid(r#"{"t":[{"prefix":["a"]}]}"#);
    invalid(r#"{"t":[{"suffix":{"prefix":"a"}}]}"#);
    invalid(r#"{"t":[{"suffix":{"equals-ignore-case":1}}]}"#);
}

#[test]
fn equals_ignore_case() {
    assert!(m(
        r#"{"a":[{"equals-ignore-case":"HeLLo"}]}"#,
        r#"{"a":"hello"}"#
    ));
    assert!(!m(
        r#"{"a":[{"equals-ignore-case":"HeLLo"}]}"#,
        r#"{"a":"hello!"}"#
    ));
    assert!(m(
        r#"{"a":[{"equals-ignore-case":"ÉTÉ"}]}"#,
        r#"{"a":"été"}"#
    ));
    assert!(m(
        r#"{"a":[{"equals-ignore-case":"straße"}]}"#,
        r#"{"a":"STRASSE"}"#
    ));
    assert!(!m(r#"{"a":[{"equals-ignore-case":"1"}]}"#, r#"{"a":1}"#));
    invalid(r#"{"a":[{"equals-ignore-case":["x"]}]}"#);
    invalid(r#"{"a":[{"equals-ignore-case":5}]}"#);
}

#[test]
fn anything_but() {
    let p = r#"{"s":[{"anything-but":["stopped","overloaded"]}]}"#;
    assert!(m(p, r#"{"s":"running"}"#));
    assert!(!m(p, r#"{"s":"stopped"}"#));
    assert!(!m(p, r#"{}"#), "never matches a missing field");
    assert!(m(p, r#"{"s":null}"#), "matches null");
    assert!(m(p, r#"{"s":5}"#), "matches another type");
    let n = r#"{"x":[{"anything-but":[100,200]}]}"#;
    assert!(!m(n, r#"{"x":100.0}"#));
    assert!(m(n, r#"{"x":"100"}"#));
    assert!(m(n, r#"{"x":101}"#));
    assert!(m(
        r#"{"s":[{"anything-but":{"prefix":"init"}}]}"#,
        r#"{"s":"running"}"#
    ));
    assert!(!m(
        r#"{"s":[{"anything-but":{"prefix":"init"}}]}"#,
        r#"{"s":"initial"}"#
    ));
    assert!(m(
        r#"{"s":[{"anything-but":{"prefix":"init"}}]}"#,
        r#"{"s":12}"#
    ));
    assert!(!m(
        r#"{"f":[{"anything-but":{"suffix":[".txt",".jpg"]}}]}"#,
        r#"{"f":"a.jpg"}"#
    ));
    assert!(!m(
        r#"{"s":[{"anything-but":{"equals-ignore-case":["A","b"]}}]}"#,
        r#"{"s":"B"}"#
    ));
    assert!(m(
        r#"{"s":[{"anything-but":{"equals-ignore-case":"a"}}]}"#,
        r#"{"s":"c"}"#
    ));
    assert!(!m(
        r#"{"p":[{"anything-but":{"wildcard":"*/dir/*"}}]}"#,
        r#"{"p":"a/dir/b"}"#
    ));
    assert!(m(
        r#"{"p":[{"anything-but":{"wildcard":["*/x/*","*/y/*"]}}]}"#,
        r#"{"p":"a/dir/b"}"#
    ));
    for bad in [
        r#"{"s":[{"anything-but":null}]}"#,
        r#"{"s":[{"anything-but":["a",null]}]}"#,
        r#"{"s":[{"anything-but":["a",1]}]}"#,
        r#"{"s":[{"anything-but":{"prefix":""}}]}"#,
        r#"{"s":[{"anything-but":{"suffix":[1]}}]}"#,
        r#"{"s":[{"anything-but":{"prefix":{"equals-ignore-case":"a"}}}]}"#,
        r#"{"s":[{"anything-but":{"equals-ignore-case":123}}]}"#,
        r#"{"s":[{"anything-but":{"wildcard":123}}]}"#,
        r#"{"s":[{"anything-but":{"numeric":[">",1]}}]}"#,
        r#"{"s":[{"anything-but":[0.0000001]}]}"#,
    ] {
        invalid(bad);
    }
}

#[test]
fn numeric_ranges() {
    let p = r#"{"c":[{"numeric":[">",0,"<=",5]}]}"#;
    assert!(m(p, r#"{"c":5}"#));
    assert!(m(p, r#"{"c":0.000001}"#));
    assert!(!m(p, r#"{"c":0}"#));
    assert!(!m(p, r#"{"c":5.000001}"#));
    assert!(!m(p, r#"{"c":"3"}"#));
    assert!(!m(p, r#"{"c":null}"#));
    assert!(m(r#"{"c":[{"numeric":["=",301.8]}]}"#, r#"{"c":3.018e2}"#));
    assert!(m(r#"{"c":[{"numeric":["<",-1]}]}"#, r#"{"c":-1.5}"#));
    assert!(m(r#"{"c":[{"numeric":[">=",10]}]}"#, r#"{"c":10}"#));
    assert!(
        !m(r#"{"c":[{"numeric":[">",0]}]}"#, r#"{"c":1e10}"#),
        "out of range"
    );
    for bad in [
        r#"{"c":[{"numeric":[">",0,">",0]}]}"#,
        r#"{"c":[{"numeric":[">",0,"<"]}]}"#,
        r#"{"c":[{"numeric":10}]}"#,
        r#"{"c":[{"numeric":[]}]}"#,
        r#"{"c":[{"numeric":["=","5"]}]}"#,
        r#"{"c":[{"numeric":["<",5,">",1]}]}"#,
        r#"{"c":[{"numeric":[">",5,"<",5]}]}"#,
        r#"{"c":[{"numeric":["==",5]}]}"#,
        r#"{"c":[{"numeric":[">",6e9]}]}"#,
        r#"{"c":[{"numeric":[">",1.0000001]}]}"#,
        r#"{"c":[{"NUMERIC":["=",5]}]}"#,
    ] {
        invalid(bad);
    }
}

#[test]
fn exists() {
    let t = r#"{"a":{"b":[{"exists":true}]}}"#;
    let f = r#"{"a":{"b":[{"exists":false}]}}"#;
    assert!(m(t, r#"{"a":{"b":1}}"#));
    assert!(m(t, r#"{"a":{"b":null}}"#));
    assert!(
        !m(t, r#"{"a":{"b":{"c":1}}}"#),
        "object values do not exist"
    );
    assert!(!m(t, r#"{"a":{"b":[]}}"#), "empty arrays do not exist");
    assert!(m(t, r#"{"a":{"b":[1]}}"#));
    assert!(m(f, r#"{"a":{}}"#));
    assert!(m(f, r#"{"a":{"b":[]}}"#));
    assert!(m(f, r#"{"x":1}"#));
    assert!(!m(f, r#"{"a":{"b":"x"}}"#));
    invalid(r#"{"a":[{"exists":"yes"}]}"#);
    invalid(r#"{"a":[{"EXISTS":true}]}"#);
}

#[test]
fn wildcard() {
    let p = r#"{"f":[{"wildcard":"/Users/*/doc.txt"}]}"#;
    assert!(m(p, r#"{"f":"/Users/me/doc.txt"}"#));
    assert!(!m(p, r#"{"f":"/Users/me/doc.txt.bak"}"#));
    assert!(!m(p, r#"{"f":5}"#));
    assert!(m(r#"{"f":[{"wildcard":"a\\*b"}]}"#, r#"{"f":"a*b"}"#));
    assert!(!m(r#"{"f":[{"wildcard":"a\\*b"}]}"#, r#"{"f":"axb"}"#));
    assert!(m(r#"{"f":[{"wildcard":"a\\\\b*"}]}"#, r#"{"f":"a\\bc"}"#));
    assert!(!m(r#"{"f":[{"wildcard":""}]}"#, r#"{"f":"x"}"#));
    assert!(invalid(r#"{"f":[{"wildcard":"a**"}]}"#).contains("Consecutive wildcard"));
    assert!(invalid(r#"{"f":[{"wildcard":"a\\nb"}]}"#).contains("Invalid escape"));
    invalid(r#"{"f":[{"wildcard":["a*"]}]}"#);
    let e = invalid(r#"{"b":[{"wildcard":"*:*:*:*:*:event-bus/*"}]}"#);
    assert!(e.contains("too complex"), "{e}");
    // complexity is per field: many wildcards on one field add up
    invalid(
        r#"{"k":[{"wildcard":"*/d/*.bif"},{"wildcard":"*/d/*.tif"},{"wildcard":"*/d/*.tiff"},{"wildcard":"*/d/*.svs"}]}"#,
    );
    assert!(m(
        r#"{"k":[{"wildcard":"*/d/*.bif"},{"wildcard":"*/d/*.tif"}]}"#,
        r#"{"k":"x/d/y.tif"}"#
    ));
}

#[test]
fn cidr() {
    let p = r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#;
    assert!(m(p, r#"{"ip":"10.0.0.255"}"#));
    assert!(!m(p, r#"{"ip":"10.0.1.0"}"#));
    assert!(!m(p, r#"{"ip":"not an ip"}"#));
    assert!(!m(p, r#"{"ip":167772161}"#));
    let p6 = r#"{"ip":[{"cidr":"2001:db8:1234:1a00::/64"}]}"#;
    assert!(m(p6, r#"{"ip":"2001:db8:1234:1a00::dead"}"#));
    assert!(!m(p6, r#"{"ip":"2001:db8:1234:1a01::"}"#));
    assert!(!m(p6, r#"{"ip":"10.0.0.1"}"#));
    for bad in [
        "bad-filter",
        "xx.11.xx/8",
        "bad-/64filter",
        "10.0.0.0/33",
        "10.0.0.0/x",
        "1.2.3.4/32",
        "::/128",
    ] {
        invalid(&format!(r#"{{"ip":[{{"cidr":"{bad}"}}]}}"#));
    }
    invalid(r#"{"ip":[{"cidr":["10.0.0.0/8"]}]}"#);
}

#[test]
fn or_at_any_level() {
    let p = r#"{"source":["a"],"detail":{"$or":[{"x":[1]},{"y":{"z":[2]}}]}}"#;
    assert!(m(p, r#"{"source":"a","detail":{"x":1}}"#));
    assert!(m(p, r#"{"source":"a","detail":{"y":{"z":2}}}"#));
    assert!(!m(p, r#"{"source":"b","detail":{"x":1}}"#));
    assert!(!m(p, r#"{"source":"a","detail":{"x":2}}"#));
    let nested = r#"{"$or":[{"a":[1]},{"$or":[{"b":[2]},{"c":[3]}]}]}"#;
    assert!(m(nested, r#"{"c":3}"#));
    assert!(!m(nested, r#"{"d":3}"#));
    invalid(r#"{"$or":[{"a":[1]}]}"#);
    invalid(r#"{"$or":{"a":[1]}}"#);
    invalid(r#"{"$or":[{"a":[1]},[1]]}"#);
    invalid(r#"{"$or":[{"a":[1]},{"prefix":[1]}]}"#);
}

#[test]
fn structure_errors() {
    for bad in [
        r#"{"a":"x"}"#,
        r#"{"a":42}"#,
        r#"{"a":[]}"#,
        r#"{"a":{}}"#,
        r#"{}"#,
        r#"[1]"#,
        r#"{"a":[[1]]}"#,
        r#"{"a":[{}]}"#,
        r#"{"a":[{"prefix":"x","suffix":"y"}]}"#,
        r#"{"a":[{"contains":"x"}]}"#,
        r#"{"a":["x"]"#,
        "not json",
    ] {
        invalid(bad);
    }
    let e = Pattern::compile(r#"{"detail":{"equal":[{"NUMERIC":["=",5]}]}}"#).unwrap_err();
    assert_eq!(e.path, "detail.equal");
    assert_eq!(e.found, "\"NUMERIC\"");
    assert!(
        e.to_string()
            .starts_with("Event pattern is not valid. Reason: "),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("\"NUMERIC\" is not a valid operator at \"detail.equal\""),
        "{e}"
    );
}

#[test]
fn duplicate_keys_last_wins_and_objects_merge() {
    let p = r#"{"a":[{"prefix":"us-"}],"a":[{"anything-but":"us-east"}]}"#;
    assert!(m(p, r#"{"a":"eu-west"}"#));
    let merged = r#"{"d":{"x":[1]},"d":{"y":[2]}}"#;
    assert!(m(merged, r#"{"d":{"x":1,"y":2}}"#));
    assert!(!m(merged, r#"{"d":{"x":1}}"#));
}

#[test]
fn dotted_keys_join_paths() {
    let p = r#"{"detail":{"state.status":["running"]}}"#;
    assert!(m(p, r#"{"detail":{"state":{"status":"running"}}}"#));
    assert!(m(p, r#"{"detail.state":{"status":"running"}}"#));
    assert!(m(
        r#"{"detail":{"state":{"status":["running"]}}}"#,
        r#"{"detail":{"state.status":"running"}}"#
    ));
    assert!(!m(p, r#"{"detail":{"state":"running"}}"#));
}

#[test]
fn arrays_any_element_and_consistency() {
    assert!(m(r#"{"r":["b"]}"#, r#"{"r":["a","b"]}"#));
    assert!(!m(r#"{"r":["c"]}"#, r#"{"r":["a","b"]}"#));
    assert!(
        m(r#"{"r":[1]}"#, r#"{"r":[[0,[1]]]}"#),
        "nested arrays flatten"
    );
    let p = r#"{"a":{"b":[1],"c":[2]}}"#;
    assert!(!m(p, r#"{"a":[{"b":1,"c":3},{"b":4,"c":2}]}"#));
    assert!(m(p, r#"{"a":[{"b":1,"c":3},{"b":1,"c":2}]}"#));
    // different arrays are independent
    assert!(m(
        r#"{"x":{"v":[1]},"y":{"v":[2]}}"#,
        r#"{"x":[{"v":0},{"v":1}],"y":[{"v":2}]}"#
    ));
    // exists:false is checked within the element chosen so far
    let f = r#"{"a":{"b":[1],"c":[{"exists":false}]}}"#;
    assert!(m(f, r#"{"a":[{"b":1},{"c":2}]}"#));
    assert!(!m(f, r#"{"a":[{"b":1,"c":2}]}"#));
}

#[test]
fn escapes_and_unicode() {
    assert!(m(r#"{"s":["a\"b"]}"#, r#"{"s":"a\"b"}"#));
    assert!(m(r#"{"s":["\\"]}"#, r#"{"s":"\\"}"#));
    assert!(m(r#"{"s":["é"]}"#, r#"{"s":"\u00e9"}"#));
    assert!(m(r#"{"s":["🚀"]}"#, r#"{"s":"\ud83d\ude80"}"#));
    assert!(m(r#"{"s":["\ud83d\ude80"]}"#, r#"{"s":"🚀"}"#));
    assert!(m(r#"{"k\u0065y":["v"]}"#, r#"{"key":"v"}"#));
    assert!(m(r#"{"key":["v"]}"#, r#"{"k\u0065y":"v"}"#));
    assert!(m(
        r#"{"s":[{"prefix":"🚀"}]}"#,
        r#"{"s":"\ud83d\ude80 launch"}"#
    ));
    // a lone surrogate is not valid
    let p = Pattern::compile(r#"{"s":["x"]}"#).unwrap();
    assert!(p.matches(br#"{"s":"\ud83d"}"#).is_err());
    invalid(r#"{"s":["\ud83d"]}"#);
}

#[test]
fn malformed_events_are_errors() {
    let p = Pattern::compile(r#"{"a":["x"]}"#).unwrap();
    for bad in [
        &b""[..],
        b"   ",
        b"[]",
        b"\"a\"",
        b"{",
        b"{\"a\"",
        b"{\"a\":",
        b"{\"a\":\"x\"",
        b"{\"a\":\"x\",}",
        b"{\"a\":\"x\"}}",
        b"{\"a\":\"x\" \"b\":1}",
        b"{\"b\":[1,2}",
        b"{\"b\":{\"c\":[}]}",
        b"{\"b\":\"unterminated}",
        b"{\"a\":tru}",
        b"{\"a\":01}",
        b"{\"a\":\"x\x01\"}",
        b"{\"a\":\"\\q\"}",
        b"{a:1}",
        b"{\"b\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        b"\xff\xfe",
    ] {
        assert!(
            p.matches(bad).is_err(),
            "{:?} should be an error",
            String::from_utf8_lossy(bad)
        );
    }
    let deep = format!("{{\"b\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(p.matches(deep.as_bytes()).is_err());
    let deep_on_path = format!(
        "{{\"a\":{}\"x\"{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(p.matches(deep_on_path.as_bytes()).is_err());
}

/// A tiny deterministic generator for the no-panic test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_events_never_panic_and_valid_json_always_scans() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/eventbridge-patterns.jsonl"
    ))
    .unwrap();
    let cases: Vec<_> = conformance::parse_cases(&text)
        .into_iter()
        .flatten()
        .collect();
    let mut set = PatternSet::new();
    for c in &cases {
        if let Ok(p) = Pattern::compile(&c.pattern) {
            set.add(&p);
        }
    }
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let alphabet = b"{}[]\":,\\ 0123456789-.eEtrufalsn\x00\xff";
    for c in &cases {
        let base = c.event.as_bytes().to_vec();
        for _ in 0..200 {
            let mut ev = base.clone();
            for _ in 0..(1 + rng.next() % 3) {
                let at = (rng.next() as usize) % (ev.len() + 1);
                match rng.next() % 3 {
                    0 if at < ev.len() => {
                        ev.remove(at);
                    }
                    1 if at < ev.len() => ev[at] = alphabet[(rng.next() as usize) % alphabet.len()],
                    _ => ev.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]),
                }
            }
            out.clear();
            let ours = set.matches_into(&ev, &mut scratch, &mut out);
            let valid = serde_json::from_slice::<serde_json::Value>(&ev)
                .map(|v| v.is_object())
                .unwrap_or(false);
            if valid {
                assert!(
                    ours.is_ok(),
                    "valid JSON rejected: {}",
                    String::from_utf8_lossy(&ev)
                );
            }
        }
    }
}

#[test]
fn pattern_set_reports_rule_indexes_and_lazy_scan_agrees() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/eventbridge-patterns.jsonl"
    ))
    .unwrap();
    for c in conformance::parse_cases(&text).into_iter().flatten() {
        let Ok(p) = Pattern::compile(&c.pattern) else {
            continue;
        };
        let mut set = PatternSet::new();
        assert_eq!(set.add(&p), 0);
        let full = set.matches(c.event.as_bytes()).unwrap();
        set.set_lazy_scan(true);
        let lazy = set.matches(c.event.as_bytes()).unwrap();
        assert_eq!(full, lazy, "{}", c.name);
        assert_eq!(!full.is_empty(), p.matches(c.event.as_bytes()).unwrap());
    }
    let mut set = PatternSet::new();
    let a = set.add(&Pattern::compile(r#"{"a":[1]}"#).unwrap());
    let b = set.add(&Pattern::compile(r#"{"b":[{"exists":true}]}"#).unwrap());
    let c = set.add(&Pattern::compile(r#"{"a":[{"numeric":[">",0]}]}"#).unwrap());
    assert_eq!((a, b, c), (0, 1, 2));
    assert_eq!(set.matches(br#"{"a":1,"b":null}"#).unwrap(), vec![0, 1, 2]);
    assert_eq!(set.matches(br#"{"a":2}"#).unwrap(), vec![2]);
    assert!(set.matches(br#"{"c":2}"#).unwrap().is_empty());
}

#[test]
fn source_and_from_value() {
    let p = Pattern::compile(r#"{"source":["a"],"detail":{"n":[{"numeric":[">",1]}]}}"#).unwrap();
    assert_eq!(
        p.source(),
        &json!({"source":["a"],"detail":{"n":[{"numeric":[">",1]}]}})
    );
    let q = Pattern::from_value(p.source()).unwrap();
    assert!(q.matches(br#"{"source":"a","detail":{"n":2}}"#).unwrap());
    assert!(Pattern::from_value(&json!({"a": "x"})).is_err());
}

#[test]
fn mutated_patterns_never_panic() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/eventbridge-patterns.jsonl"
    ))
    .unwrap();
    let cases: Vec<_> = conformance::parse_cases(&text)
        .into_iter()
        .flatten()
        .collect();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let alphabet = b"{}[]\":,\\ *.$0123456789-eEtrufalsn";
    let mut compiled = 0;
    for c in &cases {
        for _ in 0..100 {
            let mut pat = c.pattern.as_bytes().to_vec();
            for _ in 0..(1 + rng.next() % 3) {
                let at = (rng.next() as usize) % (pat.len() + 1);
                match rng.next() % 3 {
                    0 if at < pat.len() => {
                        pat.remove(at);
                    }
                    1 if at < pat.len() => {
                        pat[at] = alphabet[(rng.next() as usize) % alphabet.len()]
                    }
                    _ => pat.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]),
                }
            }
            let Ok(text) = String::from_utf8(pat) else {
                continue;
            };
            if let Ok(p) = Pattern::compile(&text) {
                compiled += 1;
                let _ = p.matches(c.event.as_bytes());
            }
        }
    }
    assert!(
        compiled > 1000,
        "mutations should often stay valid ({compiled})"
    );
}

#[test]
fn adversarial_inputs_stay_bounded() {
    // nested $or cannot blow up
    let mut p = String::from(r#"{"a":[1]}"#);
    for k in 0..12 {
        p = format!(r#"{{"$or":[{p},{{"k{k}":[1]}}],"$or":[{{"x{k}":[1]}},{{"y{k}":[1]}}]}}"#);
    }
    assert!(Pattern::compile(&p).is_err());
    // long wildcards are judged quickly
    let w = "*a".repeat(2000);
    invalid(&format!(r#"{{"f":[{{"wildcard":"{w}"}}]}}"#));
    let lit = "ab".repeat(2000);
    assert!(m(
        &format!(r#"{{"f":[{{"wildcard":"{lit}*"}}]}}"#),
        &format!(r#"{{"f":"{lit}x"}}"#)
    ));
    // a repeating sequence after a star is what AWS calls too complex
    invalid(&format!(r#"{{"f":[{{"wildcard":"*{lit}"}}]}}"#));
    // many array elements with an unsatisfiable combination
    let elems: Vec<String> = (0..300)
        .map(|k| format!(r#"{{"b":{k},"c":{}}}"#, k + 1))
        .collect();
    let ev = format!(r#"{{"a":[{}],"z":[{}]}}"#, elems.join(","), elems.join(","));
    assert!(!m(
        r#"{"a":{"b":[{"numeric":[">=",0]}],"c":[0]},"z":{"b":[{"exists":true}]}}"#,
        &ev
    ));
}

#[test]
fn large_sets_use_the_path_index_and_agree_with_single_patterns() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/eventbridge-patterns.jsonl"
    ))
    .unwrap();
    let cases: Vec<_> = conformance::parse_cases(&text)
        .into_iter()
        .flatten()
        .collect();
    let patterns: Vec<Pattern> = cases
        .iter()
        .filter_map(|c| Pattern::compile(&c.pattern).ok())
        .collect();
    assert!(patterns.len() > 16);
    let mut set = PatternSet::new();
    for p in &patterns {
        set.add(p);
    }
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    for c in &cases {
        out.clear();
        set.matches_into(c.event.as_bytes(), &mut scratch, &mut out)
            .unwrap();
        let want: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(c.event.as_bytes()).unwrap())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(out, want, "{}", c.name);
    }
}
