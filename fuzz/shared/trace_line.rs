//! The body of the `trace_line` fuzz target, shared with tally-sim's
//! `tests/bad_input.rs` (which replays `fuzz/corpus/trace_line/` and
//! `fuzz/regressions/trace_line/` through it on stable).
//!
//! Reads the input as a trace, line by line and whole, and checks that
//! every non-blank line is either read or reported as bad with its line
//! number and a reason (nothing lost, nothing silently dropped), that a
//! line read in full is JSON whose `detail-type` is the one reported, that
//! the fast top-level read agrees with serde_json whenever the line is
//! JSON, and that `--bad-lines fatal` stops at the first bad line.

use tally_sim::trace::{self, BadLines};

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut read = 0usize;
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        match trace::read_line(n, line) {
            Ok(None) => assert!(line.trim().is_empty(), "line {n} skipped as blank"),
            Ok(Some(t)) => {
                read += 1;
                assert_eq!(t.line, n);
                let json = serde_json::from_str::<serde_json::Value>(line.trim());
                if let Some(ev) = &t.event {
                    assert_eq!(ev.event_type(), t.detail_type);
                    assert!(json.is_ok(), "line {n} decoded in full but is not JSON");
                }
                if let Ok(v) = &json {
                    assert_eq!(
                        v.get("detail-type").and_then(|d| d.as_str()),
                        Some(t.detail_type.as_str()),
                        "line {n}: the fast read and serde_json disagree on detail-type"
                    );
                }
            }
            Err(b) => {
                assert_eq!(b.line, n);
                assert!(
                    !b.reason.trim().is_empty(),
                    "line {n} refused without a reason"
                );
                assert!(b.to_string().starts_with(&format!("line {n}: ")));
                bad.push(b);
            }
        }
    }
    let whole = trace::read(&text, BadLines::Skip).expect("skipping never fails");
    assert_eq!(
        whole.events.len(),
        read,
        "lines lost between read_line and read"
    );
    assert_eq!(whole.bad, bad);
    assert!(
        whole
            .events
            .windows(2)
            .all(|w| (w[0].arrival(), w[0].line) <= (w[1].arrival(), w[1].line)),
        "a trace is in arrival order"
    );
    match trace::read(&text, BadLines::Fatal) {
        Ok(t) => {
            assert!(bad.is_empty());
            assert_eq!(t.events.len(), read);
        }
        Err(first) => assert_eq!(Some(&first), bad.first()),
    }
}
