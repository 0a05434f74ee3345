//! The bodies of the fuzz targets (feature `fuzzing`).
//!
//! Each `pub fn <target>(data: &[u8])` is what `fuzz/fuzz_targets/<target>.rs`
//! runs under cargo-fuzz (nightly) and what `tests/fuzz_corpus.rs` runs on
//! every committed corpus and regression file under stable `cargo test`:
//! one body, two drivers. A body panics only when it finds a bug: a panic
//! inside the code under test, or a property it checks that does not hold.
//!
//! | target | input | checks |
//! |---|---|---|
//! | `putevents_entry` | entry JSON text | decodes or names the fault; a decoded event re-encodes and reads back equal |
//! | `delivered_event` | delivered event JSON | same, through `DeliveredEvent::wrap` |
//! | `sqs_body` | SQS body text | decoded, or dead-lettered with a reason; audited whenever the envelope reads |
//! | `api_request` | method, path, caller (NUL-separated) | only the owner's DELETE publishes, exactly one event, nothing else changes |
//! | `pattern` | pattern text, 0xFF, event bytes | compiles or names the fault; matching never panics; valid JSON is never refused |
//! | `rules_file` | rules TOML | parses or names the rule and field; a parsed file routes the samples |
//! | `policy_file` | policy TOML | parses or names the field; every valid policy approves the happy path |
//! | `coordination` | structured (arbitrary) | the safety invariants after every step |
//! | `matcher_differential` | structured (arbitrary) | the matcher agrees with [`reference`] |

pub mod coordination;
pub mod differential;
pub mod reference;

use crate::consumers::api::{self, ApiConfig, ApiRequest, Route};
use crate::consumers::audit;
use crate::coordination::{step, Flavour, Input, Policy, Request, Status, Vote};
use crate::domain::{FileMeta, Transaction};
use crate::event::{samples, Event, VoteDecision};
use crate::pattern::{Pattern, PatternSet, Scratch};
use crate::ports::memory::{run_ready, Memory};
use crate::ports::{FileStore, TransactionStore};
use crate::rules::Rules;
use crate::time::in_rfc3339_range;
use crate::wire::{sqs, DecodeError, DeliveredEvent, Delivery, PutEventsEntry, MAX_ENTRY_BYTES};
use serde_json::Value;

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target of this crate by name, for the corpus replay.
/// (`trace_line` lives in tally-sim: `fuzz/shared/trace_line.rs`.)
pub const TARGETS: &[(&str, Body)] = &[
    ("putevents_entry", putevents_entry),
    ("delivered_event", delivered_event),
    ("sqs_body", sqs_body),
    ("api_request", api_request),
    ("pattern", pattern),
    ("rules_file", rules_file),
    ("policy_file", policy_file),
    ("coordination", coordination::run),
    ("matcher_differential", differential::run),
];

/// Text targets read bytes as UTF-8, replacing what is not (every wire form
/// arrives as a Rust `&str` in production).
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Whether a JSON value holds a number that is not an integer: serde_json
/// (without `float_roundtrip`) may read such a number back one ulp off, so
/// round trips are compared only without them.
fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => !(n.is_i64() || n.is_u64()),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

fn check_error_text(e: &DecodeError) {
    let msg = e.to_string();
    assert!(!msg.trim().is_empty(), "an error without text: {e:?}");
}

/// A decoded event goes out again as a PutEvents entry and as a delivered
/// event, and reads back the same from both. (Fuzzing found events with a
/// timestamp past year 9999 that did not: the wire decoders now refuse
/// timestamps outside years 0000 to 9999; `fuzz/regressions/<target>/far-*`.)
fn check_round_trip(event: &Event) {
    assert!(
        in_rfc3339_range(event.timestamp),
        "a decoded event's timestamp is outside years 0000 to 9999: {}",
        event.timestamp
    );
    let floats = has_float(&event.to_detail());
    match PutEventsEntry::encode(event, "tally-events") {
        Ok(entry) => {
            assert!(entry.size() <= MAX_ENTRY_BYTES);
            let back = PutEventsEntry::from_json(&entry.to_json())
                .and_then(|e| e.decode())
                .unwrap_or_else(|e| panic!("a decoded event does not read back: {e}\n{event:?}"));
            if !floats {
                assert_eq!(&back, event, "PutEvents round trip changed the event");
            }
        }
        Err(DecodeError::TooLarge { size, limit }) => assert!(size > limit),
        Err(e) => panic!("encode failed with something other than the size: {e}"),
    }
    let delivered = DeliveredEvent::wrap(event, "fuzz-id", &Delivery::default());
    let back = DeliveredEvent::from_json(&delivered.to_json())
        .and_then(|d| d.decode())
        .unwrap_or_else(|e| panic!("a wrapped event does not read back: {e}\n{event:?}"));
    if !floats {
        assert_eq!(&back, event, "delivered round trip changed the event");
    }
}

/// `PutEventsEntry::from_json` then `decode`.
pub fn putevents_entry(data: &[u8]) {
    let text = text(data);
    let entry = match PutEventsEntry::from_json(&text) {
        Ok(e) => e,
        Err(e) => return check_error_text(&e),
    };
    match entry.decode() {
        Ok(event) => {
            assert!(entry.size() <= MAX_ENTRY_BYTES);
            assert_eq!(event.event_type(), entry.detail_type);
            assert_eq!(event.source, entry.source);
            check_round_trip(&event);
        }
        Err(e) => {
            check_error_text(&e);
            if entry.size() > MAX_ENTRY_BYTES {
                assert!(matches!(e, DecodeError::TooLarge { .. }), "{e}");
            }
        }
    }
}

/// `DeliveredEvent::from_json` then `decode`, and the audit entry of it.
pub fn delivered_event(data: &[u8]) {
    let text = text(data);
    let delivered = match DeliveredEvent::from_json(&text) {
        Ok(d) => d,
        Err(e) => return check_error_text(&e),
    };
    // The envelope itself round-trips.
    let again = DeliveredEvent::from_json(&delivered.to_json())
        .unwrap_or_else(|e| panic!("a read envelope does not read back: {e}"));
    if !has_float(&delivered.detail) {
        assert_eq!(again, delivered);
    }
    let entry = audit::entry_of(&delivered, &text, 0);
    assert_eq!(entry.delivered, text);
    match delivered.decode() {
        Ok(event) => {
            assert_eq!(event.event_type(), delivered.detail_type);
            check_round_trip(&event);
        }
        Err(e) => check_error_text(&e),
    }
}

/// `sqs::decode_body`, as the deployed functions call it: a body is decoded,
/// or dead-lettered with the reason; the audit consumer keeps every body
/// whose envelope reads, even when its event does not.
pub fn sqs_body(data: &[u8]) {
    let body = text(data);
    let decoded = sqs::decode_body(&body);
    let envelope = DeliveredEvent::from_json(&body);
    let log = Memory::new();
    let audited = run_ready(audit::handle_text(&log, &body, 0));
    match (&decoded, &envelope) {
        (Ok((d, ev)), Ok(e)) => {
            assert_eq!(d, e);
            assert_eq!(ev.event_type(), d.detail_type);
        }
        (Ok(_), Err(e)) => panic!("the SQS body decoded but its envelope does not: {e}"),
        (Err(DecodeError::Syntax { what, .. }), _) => {
            assert_eq!(what, "the SQS message body");
            assert!(envelope.is_err());
        }
        (Err(e), _) => check_error_text(e),
    }
    // Nothing is lost: audited whenever the envelope reads, dead-lettered
    // (a permanent error with the reason) when it does not.
    match (&envelope, &audited) {
        (Ok(_), Ok(_)) => assert_eq!(log.audit_entries().len(), 1),
        (Err(_), Err(e)) => {
            assert!(!e.is_transient());
            assert!(e.to_string().contains("cannot audit"));
        }
        (Ok(_), Err(e)) => panic!("a readable envelope was not audited: {e}"),
        (Err(_), Ok(r)) => panic!("an unreadable body was audited: {r:?}"),
    }
}

/// `api::handle` over in-memory ports holding two files (alice's `f1` with
/// two transactions, bob's `f2`). Input: one configuration byte, then
/// method, path and caller separated by NUL bytes (no third NUL: no caller).
pub fn api_request(data: &[u8]) {
    let (cfg_byte, rest) = match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, &[][..]),
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let caller = parts
        .next()
        .map(|c| String::from_utf8_lossy(c).into_owned());
    let cfg = ApiConfig {
        publishing_enabled: cfg_byte & 1 == 0,
        flavour: if cfg_byte & 2 == 0 {
            Flavour::Voting
        } else {
            Flavour::Completion
        },
    };
    let mut entropy = [0u8; 16];
    entropy[0] = cfg_byte;
    let ports = Memory::new();
    let file = |id: &str, user: &str| FileMeta {
        file_id: id.to_owned(),
        user_id: user.to_owned(),
        account_id: "acc-1".to_owned(),
        account_type: Some("business".to_owned()),
        file_name: format!("{id}.csv"),
        s3_key: format!("uploads/{id}.csv"),
        transaction_count: 2,
    };
    let tx = |id: &str, file: &str| Transaction {
        transaction_id: id.to_owned(),
        user_id: "alice".to_owned(),
        file_id: file.to_owned(),
        account_id: "acc-1".to_owned(),
        date: "2025-01-15".to_owned(),
        description: "coffee".to_owned(),
        amount_cents: -350,
        category_id: None,
    };
    run_ready(async {
        ports.put_file(&file("f1", "alice")).await.unwrap();
        ports.put_file(&file("f2", "bob")).await.unwrap();
        ports
            .put_new_transactions(&[tx("t1", "f1"), tx("t2", "f1")])
            .await
            .unwrap();
    });
    let req = ApiRequest {
        method,
        path,
        caller,
    };
    let before_files: Vec<Option<FileMeta>> = ["f1", "f2"]
        .iter()
        .map(|f| run_ready(ports.get_file(f)).unwrap())
        .collect();
    let resp = run_ready(api::handle(&ports, &req, 1_736_937_000_000, entropy, &cfg))
        .expect("in-memory ports never fail");
    let published = ports.published();
    let owner_of = |id: &str| match id {
        "f1" => Some("alice"),
        "f2" => Some("bob"),
        _ => None,
    };
    let route = api::route(&req.method, &req.path);
    let caller = req.caller.as_deref().filter(|c| !c.is_empty());
    let owns = match (&route, caller) {
        (Route::DeleteFile { file_id }, Some(c)) => owner_of(file_id) == Some(c),
        _ => false,
    };
    let files_now: Vec<Option<FileMeta>> = ["f1", "f2"]
        .iter()
        .map(|f| run_ready(ports.get_file(f)).unwrap())
        .collect();
    match resp.status {
        202 => {
            assert!(owns && cfg.publishing_enabled, "202 for {req:?}");
            assert_eq!(published.len(), 1, "a 202 publishes exactly one event");
            let ev = &published[0];
            assert_eq!(Some(ev.user_id.as_str()), caller);
            assert_eq!(files_now, before_files, "a 202 deletes nothing itself");
            let request_id = resp.body["requestId"].as_str().expect("requestId");
            assert_eq!(request_id.len(), 36);
            match Input::from_event(ev) {
                Some(Input::Request(r)) => {
                    assert_eq!(r.request_id, request_id);
                    assert_eq!(r.flavour, cfg.flavour);
                    assert_eq!(r.transaction_count, if r.file_id == "f1" { 2 } else { 0 });
                }
                other => panic!("the API published no request: {other:?}"),
            }
            check_round_trip(ev);
        }
        200 => {
            assert!(owns && !cfg.publishing_enabled, "200 for {req:?}");
            assert!(published.is_empty());
            let Route::DeleteFile { file_id } = route else {
                unreachable!()
            };
            assert!(run_ready(ports.get_file(&file_id)).unwrap().is_none());
        }
        401 | 404 | 405 => {
            assert!(!owns || resp.status == 401 || resp.status == 405);
            assert!(published.is_empty(), "{} published: {req:?}", resp.status);
            assert_eq!(files_now, before_files, "{} changed files", resp.status);
            if resp.status == 401 {
                assert!(caller.is_none());
            }
        }
        other => panic!("unexpected status {other} for {req:?}"),
    }
}

/// Splits a `pattern` input into pattern text and event bytes at the first
/// 0xFF byte (never part of UTF-8 text); without one, the event is a fixed
/// delivered event.
pub fn split_pattern_input(data: &[u8]) -> (std::borrow::Cow<'_, str>, &[u8]) {
    const DEFAULT_EVENT: &[u8] = br#"{"version":"0","id":"1","detail-type":"file.deleted","source":"deletion.executor","account":"1","time":"2025-01-15T10:30:00Z","region":"us-east-1","resources":[],"detail":{"fileId":"f1","n":[1,2,{"x":"10.0.0.1"}]}}"#;
    match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (text(&data[..at]), &data[at + 1..]),
        None => (text(data), DEFAULT_EVENT),
    }
}

/// `Pattern::compile` and `matches`, alone and in a set.
pub fn pattern(data: &[u8]) {
    let (pattern_text, event) = split_pattern_input(data);
    let p = match Pattern::compile(&pattern_text) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.message.is_empty(), "a pattern error without a reason");
            return;
        }
    };
    let alone = p.matches(event);
    // The same pattern in a set of 20 (so the path index is used) answers
    // the same for each copy.
    let mut set = PatternSet::new();
    for _ in 0..20 {
        set.add(&p);
    }
    let mut out = Vec::new();
    let in_set = set.matches_into(event, &mut Scratch::new(), &mut out);
    match (&alone, &in_set) {
        (Ok(m), Ok(())) => {
            let want: Vec<usize> = if *m { (0..20).collect() } else { Vec::new() };
            assert_eq!(out, want, "a pattern and its copies in a set disagree");
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("alone: {alone:?}, in a set: {in_set:?}"),
    }
    // JSON that serde_json reads as an object is never refused by the
    // scanner (it may accept more: skipped values are only structure-checked).
    if let Ok(Value::Object(_)) = serde_json::from_slice::<Value>(event) {
        if let Err(e) = &alone {
            panic!("a valid JSON event was refused: {e}");
        }
    }
}

/// `Rules::parse`, then routing every sample through a parsed file.
pub fn rules_file(data: &[u8]) {
    let text = text(data);
    let rules = match Rules::parse("fuzz.toml", &text) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.toml: "), "{msg}");
            return;
        }
    };
    let at = Delivery::default();
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    for ev in samples::all().iter().take(8) {
        let json = DeliveredEvent::wrap(ev, "id", &at).to_json();
        rules
            .route(json.as_bytes(), &mut scratch, &mut out)
            .expect("a delivered sample is valid JSON");
        for &i in &out {
            assert!(i < rules.rules.len());
            let alone = rules.rules[i].pattern.matches(json.as_bytes());
            assert_eq!(
                alone,
                Ok(true),
                "routing and the rule's own pattern disagree"
            );
        }
    }
}

/// `Policy::parse`; every policy that parses is valid and approves the
/// happy path: a request whose every required voter proceeds from its
/// bound source, in either flavour.
pub fn policy_file(data: &[u8]) {
    let text = text(data);
    let policy = match Policy::parse("fuzz-policy.toml", &text) {
        Ok(p) => p,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzz-policy.toml: "));
            return;
        }
    };
    assert_eq!(policy.validate(), Ok(()));
    for (flavour, tx, account_type) in [
        (Flavour::Voting, 10, None),
        (Flavour::Voting, 5000, Some("business")),
        (Flavour::Completion, 10, None),
    ] {
        let request = Request {
            flavour,
            event_id: "req-evt".into(),
            request_id: "req-1".into(),
            file_id: "f1".into(),
            user_id: "alice".into(),
            account_id: "acc".into(),
            account_type: account_type.map(str::to_owned),
            transaction_count: tx,
            correlation_id: None,
            requested_at: 1_000,
        };
        let now = 1_000;
        let mut s = step(None, &Input::Request(request), now, &policy);
        let required = s
            .record
            .as_ref()
            .expect("a request makes a record")
            .required
            .clone();
        assert!(!required.is_empty());
        for (i, voter) in required.iter().enumerate() {
            let vote = Vote {
                flavour,
                event_id: format!("vote-{i}"),
                request_id: "req-1".into(),
                file_id: "f1".into(),
                voter: voter.clone(),
                source: policy.voter_sources[voter].clone(),
                decision: VoteDecision::Proceed,
                reason: None,
            };
            s = step(s.record, &Input::Vote(vote), now, &policy);
        }
        let rec = s.record.expect("record");
        assert_eq!(rec.status, Status::Approved, "{flavour:?} happy path");
    }
}
