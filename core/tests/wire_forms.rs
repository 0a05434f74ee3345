//! The three wire forms round-trip every known event type, the flat detail
//! of the deletion-voting note decodes, and bad input gets an error that
//! names the field, the value seen and what was expected.

use serde_json::{json, Value};
use tally_core::event::{samples, Event, EventData, EventKind, VoteDecision};
use tally_core::wire::{
    sqs, DecodeError, DeliveredEvent, Delivery, PutEventsEntry, MAX_ENTRY_BYTES,
};

#[test]
fn every_sample_round_trips_through_the_putevents_entry() {
    for event in samples::all() {
        let entry = PutEventsEntry::encode(&event, "tally-bus").unwrap();
        assert_eq!(entry.detail_type, event.event_type());
        assert_eq!(entry.event_bus_name.as_deref(), Some("tally-bus"));
        let text = entry.to_json();
        let back = PutEventsEntry::from_json(&text).unwrap();
        assert_eq!(back, entry);
        assert_eq!(back.decode().unwrap(), event, "{}", event.event_type());
    }
}

#[test]
fn every_sample_round_trips_delivered_and_in_an_sqs_body() {
    let at = Delivery::default();
    for event in samples::all() {
        let delivered = DeliveredEvent::wrap(&event, "bus-id-1", &at);
        let text = delivered.to_json();
        let read = DeliveredEvent::from_json(&text).unwrap();
        assert_eq!(read, delivered);
        assert_eq!(read.decode().unwrap(), event);
        let (env, ev) = sqs::decode_body(&sqs::encode_body(&delivered)).unwrap();
        assert_eq!(env, delivered);
        assert_eq!(ev, event);
    }
}

#[test]
fn the_catalogue_covers_every_type_of_the_notes() {
    let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    for t in [
        "file.uploaded",
        "file.processed",
        "file.associated",
        "transactions.created",
        "transaction.updated",
        "transactions.deleted",
        "transaction.categorized",
        "account.created",
        "account.updated",
        "account.deleted",
        "category.rules_applied",
        "category.rule_created",
        "file.deletion.requested",
        "file.deletion.vote",
        "file.deletion.approved",
        "file.deletion.denied",
        "file.deleted",
        "file.delete_requested",
        "consumer.completion",
    ] {
        assert!(names.contains(&t), "{t} missing");
        assert_eq!(EventKind::parse(t).unwrap().as_str(), t);
    }
}

/// The vote exactly as the deletion-voting note draws it.
const FLAT_VOTE: &str = r#"{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "source": "category.service", "detail-type": "file.deletion.vote",
  "account": "123456789012", "time": "2025-01-15T10:30:00Z", "region": "us-east-1", "resources": [],
  "detail": {
    "fileId": "abc-123", "requestId": "req-xyz", "voter": "category_manager",
    "decision": "proceed", "reason": "No active categorization rules affected",
    "timestamp": "2025-01-15T10:30:00Z"
  }
}"#;

#[test]
fn the_flat_detail_of_the_voting_note_decodes() {
    let ev = DeliveredEvent::from_json(FLAT_VOTE)
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(ev.event_id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
    assert_eq!(ev.timestamp, 1_736_937_000_000);
    assert_eq!(ev.source, "category.service");
    match ev.data {
        EventData::DeletionVote(v) => {
            assert_eq!(
                (v.voter.as_str(), v.decision, v.request_id.as_str()),
                ("category_manager", VoteDecision::Proceed, "req-xyz")
            );
            assert_eq!(
                v.reason.as_deref(),
                Some("No active categorization rules affected")
            );
        }
        other => panic!("decoded as {other:?}"),
    }
}

#[test]
fn a_flat_entry_without_ids_gets_the_same_derived_id_each_time() {
    let entry = PutEventsEntry {
        source: "file.service".into(),
        detail_type: "file.deletion.requested".into(),
        detail: r#"{"fileId":"abc-123","userId":"user-456","accountId":"acc-789","fileName":"t.csv","transactionCount":150,"requestId":"req-xyz"}"#.into(),
        event_bus_name: None,
        time: Some("2025-01-15T10:30:00Z".into()),
        resources: vec![],
    };
    let a = entry.decode().unwrap();
    let b = entry.decode().unwrap();
    assert_eq!(a.event_id, b.event_id);
    assert!(a.event_id.starts_with("flat-"));
    assert_eq!(a.user_id, "user-456");
}

#[test]
fn an_unknown_type_is_kept_whole_not_dropped() {
    let detail = json!({"eventId": "e1", "eventVersion": "7.3", "timestamp": 5, "userId": "u", "data": {"anything": [1, {"x": null}]}});
    let ev = Event::from_detail(
        "report.generated",
        "reports.service",
        &detail,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(ev.event_type(), "report.generated");
    assert!(ev.kind().is_none());
    assert_eq!(ev.to_detail(), detail);
    let entry = PutEventsEntry::encode(&ev, "b").unwrap();
    assert_eq!(entry.decode().unwrap(), ev);
}

fn detail_with(data: Value) -> Value {
    json!({"eventId": "e1", "eventVersion": "1.0", "timestamp": 1, "userId": "u", "data": data})
}

fn err_of(event_type: &str, detail: Value) -> DecodeError {
    Event::from_detail(event_type, "file.service", &detail, &Default::default()).unwrap_err()
}

#[test]
fn an_unreadable_version_is_a_clear_error() {
    let mut d = detail_with(json!({}));
    d["eventVersion"] = "2.0".into();
    let e = err_of("file.deleted", d);
    assert!(
        matches!(&e, DecodeError::UnsupportedVersion { found, .. } if found == "2.0"),
        "{e}"
    );
    assert_eq!(e.to_string(), "detail.eventVersion: eventVersion \"2.0\" of file.deleted cannot be read by this build, which reads 1.x");
}

#[test]
fn bad_fields_are_named_with_the_value_seen_and_what_was_expected() {
    let e = err_of(
        "file.processed",
        detail_with(
            json!({"fileId": "f", "transactionCount": "many", "processingStatus": "success"}),
        ),
    );
    assert_eq!(
        e.to_string(),
        "detail.data.transactionCount: invalid type: string \"many\", expected u64"
    );

    let e = err_of(
        "file.processed",
        detail_with(json!({"fileId": "f", "transactionCount": 1, "processingStatus": "maybe"})),
    );
    assert_eq!(e.to_string(), "detail.data.processingStatus: unknown variant `maybe`, expected one of `success`, `partial`, `failed`");

    let e = err_of(
        "file.deletion.vote",
        detail_with(json!({"requestId": "r", "voter": "v", "decision": "proceed"})),
    );
    assert_eq!(
        e.to_string(),
        "detail.data.fileId: required field is missing"
    );

    let e = err_of(
        "file.processed",
        detail_with(
            json!({"fileId": "f", "transactionCount": 1, "processingStatus": "success", "transactionIds": ["a", 7]}),
        ),
    );
    assert_eq!(
        e.to_string(),
        "detail.data.transactionIds[1]: invalid type: integer `7`, expected a string"
    );

    let mut d = detail_with(json!({}));
    d["timestamp"] = "yesterday".into();
    assert_eq!(err_of("file.deleted", d).to_string(), "detail.timestamp: expected milliseconds since the epoch or an RFC 3339 time, found string \"yesterday\"");

    let mut d = detail_with(json!({}));
    d["eventId"] = 12.into();
    assert_eq!(
        err_of("file.deleted", d).to_string(),
        "detail.eventId: expected a string, found number 12"
    );

    assert_eq!(
        err_of("file.deleted", json!([1, 2])).to_string(),
        "detail: expected a JSON object, found an array of 2 elements"
    );
}

#[test]
fn bad_envelopes_name_their_fields() {
    let e = DeliveredEvent::from_json("{\"id\": 5}").unwrap_err();
    assert_eq!(e.to_string(), "id: expected a string, found number 5");
    let e = DeliveredEvent::from_json(r#"{"id":"x","detail-type":"file.deleted","source":"s"}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "time: expected a string, found nothing (the field is missing)"
    );
    let e = sqs::decode_body("not json").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the SQS message body is not valid JSON: expected ident"),
        "{e}"
    );
    let bad_time = FLAT_VOTE.replace("\"time\": \"2025-01-15T10:30:00Z\"", "\"time\": \"noon\"");
    assert_eq!(
        DeliveredEvent::from_json(&bad_time)
            .unwrap()
            .decode()
            .unwrap_err()
            .to_string(),
        "time: expected an RFC 3339 time, found string \"noon\""
    );
    let e = PutEventsEntry::from_json(r#"{"Source":"s","DetailType":"t","Detail":{"a":1}}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Detail: expected a string, found an object with 1 keys"
    );
    let e = PutEventsEntry::from_json(r#"{"Source":"s","DetailType":"t","Detail":"{oops"}"#)
        .unwrap()
        .decode()
        .unwrap_err();
    assert!(e.to_string().starts_with("Detail is not valid JSON"), "{e}");
}

#[test]
fn an_entry_over_256_kb_is_refused_before_sending() {
    let mut ev = samples::sample(EventKind::FileUploaded, "file.service");
    let mut md = serde_json::Map::new();
    md.insert("blob".into(), "x".repeat(MAX_ENTRY_BYTES).into());
    ev.metadata = Some(md);
    match PutEventsEntry::encode(&ev, "b") {
        Err(DecodeError::TooLarge { size, limit }) => assert!(size > limit && limit == 262_144),
        other => panic!("{other:?}"),
    }
    // Just under the limit passes; the count includes Source, DetailType and Time.
    let mut small = samples::sample(EventKind::FileUploaded, "file.service");
    let base = PutEventsEntry::encode(&small, "b").unwrap().size();
    let mut md = serde_json::Map::new();
    md.insert("blob".into(), "".into());
    small.metadata = Some(md.clone());
    let with_empty = PutEventsEntry::encode(&small, "b").unwrap().size();
    md.insert(
        "blob".into(),
        "x".repeat(MAX_ENTRY_BYTES - with_empty).into(),
    );
    small.metadata = Some(md);
    assert_eq!(
        PutEventsEntry::encode(&small, "b").unwrap().size(),
        MAX_ENTRY_BYTES
    );
    assert!(base < with_empty);
}

#[test]
fn decoding_garbage_never_panics() {
    let inputs = ["", "null", "[]", "{}", "{\"detail\": 1}", "\u{0}", "{\"id\":\"a\",\"detail-type\":\"file.deleted\",\"source\":\"s\",\"time\":\"2025-01-15T10:30:00Z\",\"detail\":{\"eventId\":\"e\",\"timestamp\":1e300,\"data\":{}}}"];
    for i in inputs {
        let _ = sqs::decode_body(i);
        let _ = PutEventsEntry::from_json(i).map(|e| e.decode());
    }
}

/// The envelope the notes' system (mazerunner70/housef3) sends: userId in
/// the envelope only, `accountId`, `correlationId`, `causationId` and a
/// proceed vote's `reason` null, fields of its own beside ours. The
/// Lambdas read it as the trace reader does; the coordination takes the
/// envelope's userId.
#[test]
fn the_notes_systems_envelope_decodes_in_an_sqs_body() {
    let envelope = |event_type: &str, source: &str, data: Value| {
        json!({"version": "0", "id": "eb-1", "detail-type": event_type, "source": source,
            "account": "123456789012", "time": "2025-01-15T10:30:00Z", "region": "us-east-1",
            "resources": [],
            "detail": {"eventId": "evt-1", "eventVersion": "1.0", "timestamp": 1736937000000i64,
                "userId": "user-456", "correlationId": null, "causationId": null,
                "data": data, "metadata": {}}})
    };
    let request = envelope(
        "file.deletion.requested",
        "file.service",
        json!({"fileId": "abc-123", "requestId": "req-xyz", "fileName": "t.csv",
               "transactionCount": 150, "accountId": null, "entityId": "abc-123"}),
    );
    let (_, ev) = sqs::decode_body(&request.to_string()).unwrap();
    let Some(tally_core::coordination::Input::Request(r)) =
        tally_core::coordination::Input::from_event(&ev)
    else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (
            r.user_id.as_str(),
            r.account_id.as_str(),
            r.transaction_count
        ),
        ("user-456", "", 150)
    );
    assert_eq!(ev.correlation_id, None);
    let vote = envelope(
        "file.deletion.vote",
        "category.manager.service",
        json!({"fileId": "abc-123", "requestId": "req-xyz", "voter": "category_manager",
               "decision": "proceed", "reason": null}),
    );
    let (_, ev) = sqs::decode_body(&vote.to_string()).unwrap();
    let EventData::DeletionVote(v) = &ev.data else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (v.decision, v.reason.as_deref()),
        (VoteDecision::Proceed, None)
    );
    assert_eq!(ev.source, "category.manager.service");
    // Strict where the coordination needs it: a request without its id.
    let no_id = envelope(
        "file.deletion.requested",
        "file.service",
        json!({"fileId": "abc-123", "accountId": null}),
    );
    assert_eq!(
        sqs::decode_body(&no_id.to_string())
            .unwrap_err()
            .to_string(),
        "detail.data.requestId: required field is missing"
    );
}
