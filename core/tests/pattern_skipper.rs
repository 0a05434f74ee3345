//! The scanner's container skipper (64-byte blocks, strings found by the
//! parity of their quotes) against a byte-at-a-time reference of what it
//! checks inside values no pattern reads: strings end (escapes honoured),
//! brackets match in kind, nesting stays within 512 levels. Random bytes
//! drawn mostly from JSON's structural characters, in runs long enough to
//! cross blocks, at every alignment.

use proptest::prelude::*;
use tally_core::pattern::{Pattern, PatternSet};

/// Deepest nesting the scanner follows (`MAX_EVENT_DEPTH`).
const MAX_DEPTH: usize = 512;

/// Skips from `i` with `stack` already open; `Ok(end)` just after the
/// bracket that empties it, or the offset and expectation of the error.
fn reference(
    b: &[u8],
    mut i: usize,
    mut stack: Vec<u8>,
    limit: usize,
) -> Result<usize, (usize, &'static str)> {
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err((b.len(), "a closing quote"));
                    }
                    match b[i] {
                        b'"' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
            }
            c @ (b'[' | b'{') => {
                stack.push(c);
                if stack.len() > limit {
                    return Err((i, "less deeply nested JSON"));
                }
            }
            c @ (b']' | b'}') => {
                let want = if c == b']' { b'[' } else { b'{' };
                if stack.pop() != Some(want) {
                    return Err((i, "a matching bracket"));
                }
                if stack.is_empty() {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err((b.len(), "a closing bracket"))
}

fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(b"[]{}\"\\a1,: .".to_vec()).prop_map(|c| vec![c]),
        2 => prop::sample::select(vec![
            &b"\"abc\""[..],
            b"\"x\\\"y\"",
            b"\"\\\\\"",
            b"[-122.512345678901234,37.712345678901234,0.0]",
            b"{\"a\":[1,{\"b\":\"]}\"}]}",
            b"[[[[",
            b"]]]]",
            b"\"{[\"",
            b"          ",
        ])
        .prop_map(|s| s.to_vec()),
        1 => (prop::sample::select(b"[{\"".to_vec()), 1usize..700)
            .prop_map(|(c, n)| vec![c; n]),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(chunk(), 0..40).prop_map(|cs| cs.concat())
}

fn set(pattern: &str, lazy: bool) -> PatternSet {
    let mut s = PatternSet::new();
    s.add(&Pattern::compile(pattern).expect("pattern"));
    s.set_lazy_scan(lazy);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// A value no pattern names, skipped whole from its opening bracket.
    #[test]
    fn skipped_values_agree_with_the_reference(
        pad in 0usize..70,
        open in prop::sample::select(b"[{".to_vec()),
        body in body(),
    ) {
        let mut e = format!("{{\"k\":1,\"s\":{}", " ".repeat(pad)).into_bytes();
        let start = e.len();
        e.push(open);
        e.extend_from_slice(&body);
        e.push(b'}');
        let got = set(r#"{"k":[1]}"#, false).matches(&e);
        // The skipped object sits in the top-level one: depth 1.
        match reference(&e, start, Vec::new(), MAX_DEPTH - 1) {
            Err((offset, expected)) => {
                let err = got.expect_err("the reference refuses");
                prop_assert_eq!((err.offset, err.expected), (offset, expected));
            }
            Ok(end) if e[end..].trim_ascii_start() == b"}" => {
                prop_assert_eq!(got.expect("accepted"), vec![0])
            }
            Ok(_) => prop_assert!(got.is_err()),
        }
    }

    /// The rest of an object that the lazy scan leaves once it has read
    /// every key the patterns name under it.
    #[test]
    fn left_objects_agree_with_the_reference(pad in 1usize..70, body in body()) {
        // At least one space, so that the body cannot lengthen the number.
        let mut e = format!("{{\"o\":{{\"k\":1{}", " ".repeat(pad)).into_bytes();
        let start = e.len();
        e.extend_from_slice(&body);
        e.push(b'}');
        let got = set(r#"{"o":{"k":[1]}}"#, true).matches(&e);
        match reference(&e, start, vec![b'{'], MAX_DEPTH - 2) {
            Err((offset, expected)) => {
                let err = got.expect_err("the reference refuses");
                prop_assert_eq!((err.offset, err.expected), (offset, expected));
            }
            // Lazy: with every named key read, the rest goes unchecked.
            Ok(_) => prop_assert_eq!(got.expect("accepted"), vec![0]),
        }
    }
}
