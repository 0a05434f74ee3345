//! Tests added to catch the coordination mutants that cargo-mutants found
//! surviving (see docs/mutants.md): each pins one behaviour that no other
//! test did.

use tally_core::coordination::{step, Command, Flavour, Input, Policy, Record, Request, Status};
use tally_core::event::{
    sources, CompletionStatus, ConsumerCompletion, DeleteRequested, DeletionRequested, Event,
    EventData, VoteDecision, CURRENT_VERSION,
};

mod inputs;
use inputs::T0;

const FIVE_MINUTES: i64 = 5 * 60 * 1000;

fn envelope(id: &str, source: &str, user: &str, data: EventData) -> Event {
    Event {
        event_id: id.to_owned(),
        event_version: CURRENT_VERSION.to_owned(),
        timestamp: T0,
        source: source.to_owned(),
        user_id: user.to_owned(),
        correlation_id: Some("corr-1".to_owned()),
        causation_id: None,
        data,
        metadata: None,
    }
}

fn delete_requested(coordination_id: &str) -> Event {
    envelope(
        &format!("evt-del-{coordination_id}"),
        sources::FILE_SERVICE,
        "user-9",
        EventData::DeleteRequested(DeleteRequested {
            file_id: "file-1".to_owned(),
            coordination_id: coordination_id.to_owned(),
            account_id: "acc-1".to_owned(),
            file_name: "f.csv".to_owned(),
            transaction_count: 7,
        }),
    )
}

fn completion(
    coordination_id: &str,
    consumer: &str,
    source: &str,
    status: CompletionStatus,
) -> Event {
    envelope(
        &format!("evt-done-{coordination_id}-{consumer}"),
        source,
        "user-9",
        EventData::ConsumerCompletion(ConsumerCompletion {
            coordination_id: coordination_id.to_owned(),
            file_id: "file-1".to_owned(),
            consumer: consumer.to_owned(),
            status,
            error_message: match status {
                CompletionStatus::Done => None,
                CompletionStatus::Failed => Some("disk full".to_owned()),
            },
        }),
    )
}

fn deletion_requested(tx: u64, account_type: Option<&str>) -> DeletionRequested {
    DeletionRequested {
        file_id: "file-1".to_owned(),
        user_id: "user-1".to_owned(),
        account_id: "acc-1".to_owned(),
        account_type: account_type.map(str::to_owned),
        file_name: "f.csv".to_owned(),
        transaction_count: tx,
        request_id: "req-1".to_owned(),
    }
}

fn voting_request(id: &str) -> Input {
    Input::Request(Request {
        file_id: "file-1".to_owned(),
        transaction_count: 1,
        ..inputs::voting_request(id)
    })
}

/// A completion-flavour request event becomes a completion request keyed by
/// its coordinationId, with the envelope's user and correlation.
#[test]
fn a_delete_requested_event_is_a_completion_request() {
    let Some(Input::Request(r)) = Input::from_event(&delete_requested("coord-1")) else {
        panic!("file.delete_requested must be a coordination request");
    };
    assert_eq!(r.flavour, Flavour::Completion);
    assert_eq!(r.request_id, "coord-1");
    assert_eq!(r.event_id, "evt-del-coord-1");
    assert_eq!(r.file_id, "file-1");
    assert_eq!(r.user_id, "user-9");
    assert_eq!(r.account_id, "acc-1");
    assert_eq!(r.account_type, None);
    assert_eq!(r.transaction_count, 7);
    assert_eq!(r.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(r.requested_at, T0);
}

/// A consumer's completion report is a completion vote by that consumer from
/// the event's source: done proceeds, failed is an error carrying its message.
#[test]
fn a_consumer_completion_is_a_completion_vote() {
    let done = completion(
        "coord-1",
        "analytics_consumer",
        sources::ANALYTICS_SERVICE,
        CompletionStatus::Done,
    );
    let Some(Input::Vote(v)) = Input::from_event(&done) else {
        panic!("consumer.completion must be a coordination vote");
    };
    assert_eq!(v.flavour, Flavour::Completion);
    assert_eq!(v.request_id, "coord-1");
    assert_eq!(v.voter, "analytics_consumer");
    assert_eq!(v.source, sources::ANALYTICS_SERVICE);
    assert_eq!(v.file_id, "file-1");
    assert_eq!(v.decision, VoteDecision::Proceed);
    assert_eq!(v.reason, None);

    let failed = completion(
        "coord-1",
        "categorization_consumer",
        sources::CATEGORY_SERVICE,
        CompletionStatus::Failed,
    );
    let Some(Input::Vote(v)) = Input::from_event(&failed) else {
        panic!("consumer.completion must be a coordination vote");
    };
    assert_eq!(v.decision, VoteDecision::Error);
    assert_eq!(v.reason.as_deref(), Some("disk full"));
}

/// Completion events read off the wire drive a completion coordination to
/// approval once both default consumers report done.
#[test]
fn completion_events_decoded_from_events_approve_end_to_end() {
    let policy = Policy::default();
    let mut rec = None;
    let inputs = [
        Input::from_event(&delete_requested("coord-2")).unwrap(),
        Input::from_event(&completion(
            "coord-2",
            "analytics_consumer",
            sources::ANALYTICS_SERVICE,
            CompletionStatus::Done,
        ))
        .unwrap(),
        Input::from_event(&completion(
            "coord-2",
            "categorization_consumer",
            sources::CATEGORY_SERVICE,
            CompletionStatus::Failed,
        ))
        .unwrap(),
    ];
    for (i, input) in inputs.iter().enumerate() {
        rec = step(rec, input, T0 + i as i64, &policy).record;
    }
    let rec: Record = rec.unwrap();
    assert_eq!(rec.flavour, Flavour::Completion);
    assert_eq!(rec.status, Status::Approved);
}

/// When votes of the completion flavour came first, a voting request decides
/// the record's flavour: it waits for the voting voters and refuses the held
/// completion report.
#[test]
fn the_request_decides_the_flavour_over_earlier_votes() {
    let policy = Policy::default();
    let early = Input::from_event(&completion(
        "r-mixed",
        "analytics_consumer",
        sources::ANALYTICS_SERVICE,
        CompletionStatus::Done,
    ))
    .unwrap();
    let s = step(None, &early, T0, &policy);
    assert_eq!(s.record.as_ref().unwrap().flavour, Flavour::Completion);
    let s = step(s.record, &voting_request("r-mixed"), T0 + 1, &policy);
    let rec = s.record.unwrap();
    assert_eq!(rec.flavour, Flavour::Voting);
    assert_eq!(rec.required, ["analytics_manager", "category_manager"]);
    assert!(rec.votes.is_empty(), "{:?}", rec.votes);
    assert_eq!(rec.status, Status::Waiting);
    let early_id = "evt-done-r-mixed-analytics_consumer";
    assert!(
        s.commands
            .iter()
            .any(|e| matches!(e, Command::Refused { event_id, .. } if event_id == early_id)),
        "the held completion report is refused: {:?}",
        s.commands
    );
}

/// The completion flavour's deadline falls five minutes after its request,
/// and a timer one millisecond earlier decides nothing.
#[test]
fn the_completion_deadline_is_five_minutes() {
    let policy = Policy::default();
    assert_eq!(policy.completion.deadline_ms, FIVE_MINUTES);
    let req = Input::from_event(&delete_requested("coord-3")).unwrap();
    let s = step(None, &req, T0, &policy);
    assert_eq!(
        s.record.as_ref().unwrap().next_wakeup(),
        Some(T0 + FIVE_MINUTES)
    );
    let timer = Input::Timer {
        request_id: "coord-3".to_owned(),
    };
    let early = step(s.record, &timer, T0 + FIVE_MINUTES - 1, &policy);
    assert!(!early.changed());
    assert_eq!(early.record.as_ref().unwrap().status, Status::Waiting);
    let due = step(early.record, &timer, T0 + FIVE_MINUTES, &policy);
    assert_eq!(due.record.unwrap().status, Status::Approved);
}

/// The voters a deletion request needs follow its transaction count and
/// account type: the default two, plus backup_manager over 1000
/// transactions, plus compliance_manager for business accounts.
#[test]
fn required_for_request_reads_the_request() {
    let p = Policy::default();
    assert_eq!(
        p.voting.required_for_request(&deletion_requested(10, None)),
        ["analytics_manager", "category_manager"]
    );
    assert_eq!(
        p.voting
            .required_for_request(&deletion_requested(1001, Some("business"))),
        [
            "analytics_manager",
            "backup_manager",
            "category_manager",
            "compliance_manager"
        ]
    );
}

/// A voter must vote exactly when the request requires it; the others stay
/// silent.
#[test]
fn requires_answers_per_voter() {
    let p = Policy::default();
    let small = deletion_requested(10, None);
    let large = deletion_requested(5000, None);
    let business = deletion_requested(10, Some("business"));
    assert!(p.requires("analytics_manager", &small));
    assert!(p.requires("category_manager", &small));
    assert!(!p.requires("backup_manager", &small));
    assert!(!p.requires("compliance_manager", &small));
    assert!(p.requires("backup_manager", &large));
    assert!(!p.requires("compliance_manager", &large));
    assert!(p.requires("compliance_manager", &business));
    assert!(!p.requires("backup_manager", &business));
    assert!(!p.requires("someone_else", &large));
}
