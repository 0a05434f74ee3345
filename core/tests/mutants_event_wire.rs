//! Tests added to catch the event and wire-form mutants that cargo-mutants
//! found surviving (see docs/mutants.md).

use serde_json::{json, Value};
use tally_core::coordination::Policy;
use tally_core::event::{samples, Event, EventData, EventKind, Outer};
use tally_core::wire::{describe, DecodeError, PutEventsEntry};

const T0: i64 = 1_736_937_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn flat_vote(extra: &[(&str, Value)]) -> Value {
    let mut d = json!({
        "fileId": "f-1",
        "requestId": "req-1",
        "voter": "category_manager",
        "decision": "proceed",
        "timestamp": T0,
    });
    for (k, v) in extra {
        d[*k] = v.clone();
    }
    d
}

/// A flat vote detail that carries its own eventId (but no `data` object) is
/// still read as a flat detail, with that id.
#[test]
fn a_flat_detail_with_an_event_id_is_still_flat() {
    let detail = flat_vote(&[("eventId", json!("evt-flat-1"))]);
    let e = Event::from_detail(
        "file.deletion.vote",
        "category.service",
        &detail,
        &Outer {
            id: Some("evb-1"),
            time: None,
        },
    )
    .unwrap();
    assert_eq!(e.event_id, "evt-flat-1");
    assert_eq!(e.timestamp, T0);
    let EventData::DeletionVote(v) = &e.data else {
        panic!("{:?}", e.data);
    };
    assert_eq!(v.voter, "category_manager");
}

/// A detail with a `data` object but no eventId is no envelope: it is read
/// flat, taking its id and time from the delivery.
#[test]
fn a_data_object_without_an_event_id_is_no_envelope() {
    let detail = json!({"data": {"x": 1}, "note": "custom"});
    let e = Event::from_detail(
        "custom.thing",
        "custom.service",
        &detail,
        &Outer {
            id: Some("evb-2"),
            time: Some(T0),
        },
    )
    .unwrap();
    assert_eq!(e.event_id, "evb-2");
    assert_eq!(e.timestamp, T0);
    assert_eq!(
        e.data,
        EventData::Unknown {
            event_type: "custom.thing".to_owned(),
            data: detail
        }
    );
}

/// A known type reads eventVersion 1 and 1.N only: an empty or non-numeric
/// minor part is refused.
#[test]
fn event_versions_need_numeric_minor_parts() {
    let read = |version: &str| {
        Event::from_detail(
            "file.deletion.vote",
            "category.service",
            &flat_vote(&[("eventVersion", json!(version))]),
            &Outer::default(),
        )
    };
    for ok in ["1", "1.0", "1.10", "1.2.3"] {
        assert!(read(ok).is_ok(), "{ok}");
    }
    for bad in ["1.", "1.x", "1.0.", "1..2", "2.0", "1.0a"] {
        assert!(
            matches!(read(bad), Err(DecodeError::UnsupportedVersion { .. })),
            "{bad}: {:?}",
            read(bad)
        );
    }
}

/// Error messages cut a string value only when it is longer than 60
/// characters, and then show its first 60 and its size in bytes.
#[test]
fn describe_cuts_only_strings_over_sixty_characters() {
    let sixty = "a".repeat(60);
    assert_eq!(describe(&json!(sixty)), format!("string {sixty:?}"));
    let sixty_one = "é".repeat(61);
    assert_eq!(
        describe(&json!(sixty_one)),
        format!("string {:?}... (122 bytes)", "é".repeat(60))
    );
    let long = "b".repeat(100);
    assert_eq!(
        describe(&json!(long)),
        format!("string {:?}... (100 bytes)", "b".repeat(60))
    );
}

/// An entry's size is the UTF-8 bytes of its source, detail type, detail
/// and every resource, plus 14 when a time is set.
#[test]
fn entry_size_adds_every_counted_part() {
    let mut entry = PutEventsEntry {
        source: "sé".to_owned(),      // 3 bytes
        detail_type: "tt".to_owned(), // 2
        detail: "{}".to_owned(),      // 2
        event_bus_name: Some("a-bus-not-counted".to_owned()),
        time: None,
        resources: vec!["r1".to_owned(), "rrr".to_owned()], // 5
    };
    assert_eq!(entry.size(), 3 + 2 + 2 + 5);
    entry.time = Some("2025-01-15T10:30:00Z".to_owned());
    assert_eq!(entry.size(), 3 + 2 + 2 + 5 + 14);
    entry.resources.clear();
    assert_eq!(entry.size(), 3 + 2 + 2 + 14);
}

/// Each sample vote or completion report names the voter or consumer that
/// the default policy binds to the sample's source, as its publisher would.
#[test]
fn sample_voters_and_consumers_match_their_sources() {
    let policy = Policy::default();
    let mut seen = 0;
    for e in samples::all() {
        let who = match &e.data {
            EventData::DeletionVote(v) => &v.voter,
            EventData::ConsumerCompletion(c) => &c.consumer,
            _ => continue,
        };
        seen += 1;
        assert_eq!(
            policy.voter_sources.get(who),
            Some(&e.source),
            "{who} from {}",
            e.source
        );
    }
    let publishers = |k: EventKind| k.publishers().len();
    assert_eq!(
        seen,
        publishers(EventKind::DeletionVote) + publishers(EventKind::ConsumerCompletion)
    );
}

fn has_empty_collection(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty() || a.iter().any(has_empty_collection),
        Value::Object(o) => o.is_empty() || o.values().any(has_empty_collection),
        _ => false,
    }
}

/// Samples set every field their publisher sets: no list or map in their
/// data is empty, and the types that carry a date range have one.
#[test]
fn samples_fill_their_collections_and_date_ranges() {
    for e in samples::all() {
        let data = e.data.to_value();
        assert!(
            !has_empty_collection(&data),
            "{} from {}: {data}",
            e.event_type(),
            e.source
        );
        if matches!(
            e.kind(),
            Some(EventKind::FileProcessed | EventKind::TransactionsCreated)
        ) {
            let range = &data["dateRange"];
            assert!(
                range["startDate"].as_str() <= range["endDate"].as_str()
                    && range["startDate"].is_string(),
                "{data}"
            );
        }
    }
}

/// The sample approval lists, for every voter it names, a proceed vote
/// received within a day of the approval.
#[test]
fn the_sample_approval_has_the_votes_it_names() {
    let e = samples::sample(EventKind::DeletionApproved, "deletion.aggregator");
    let EventData::DeletionApproved(a) = &e.data else {
        panic!("{:?}", e.data);
    };
    assert!(!a.approved_by.is_empty());
    for voter in &a.approved_by {
        let vote = a.all_votes.get(voter).expect("a vote per approver");
        assert_eq!(vote.decision, tally_core::event::VoteDecision::Proceed);
        assert!((vote.timestamp - e.timestamp).abs() <= DAY, "{vote:?}");
    }
}
