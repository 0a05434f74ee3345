//! Properties of the coordination step over generated input sequences:
//! duplicates, reordering, votes before requests, forged and unrequired
//! voters, errors, clock values around the deadline.

use proptest::prelude::*;
use tally_core::coordination::{
    step, Command, Disposition, Input, Outcome, Policy, Record, Request, Status, Vote, MAX_HISTORY,
    MAX_ID_BYTES, MAX_RECORD_JSON_BYTES,
};
use tally_core::event::{DecisionCause, VoteDecision};

mod inputs;
use inputs::{voting_request, voting_vote, T0};

const VOTERS: [&str; 5] = [
    "analytics_manager",
    "category_manager",
    "backup_manager",
    "compliance_manager",
    "mallory",
];
const SOURCES: [&str; 4] = [
    "analytics.service",
    "category.service",
    "backup.service",
    "compliance.service",
];

fn req(tx: u64, business: bool) -> Input {
    Input::Request(Request {
        event_id: "evt-req".into(),
        file_id: "f".into(),
        account_type: business.then(|| "business".to_owned()),
        transaction_count: tx,
        ..voting_request("r")
    })
}

#[derive(Debug, Clone)]
enum Gen {
    Request,
    Vote {
        voter: usize,
        source: usize,
        decision: u8,
        reason: bool,
        id: u8,
    },
    Timer,
}

fn gen_input() -> impl Strategy<Value = (i64, Gen)> {
    let at = 0i64..700_000;
    let g = prop_oneof![
        1 => Just(Gen::Request),
        6 => (0usize..5, 0usize..4, 0u8..3, proptest::bool::weighted(0.9), 0u8..12)
            .prop_map(|(voter, source, decision, reason, id)| Gen::Vote { voter, source, decision, reason, id }),
        1 => Just(Gen::Timer),
    ];
    (at, g)
}

fn to_input(g: &Gen, tx: u64, business: bool, honest: bool) -> Input {
    match g {
        Gen::Request => req(tx, business),
        Gen::Timer => Input::Timer {
            request_id: "r".into(),
        },
        Gen::Vote {
            voter,
            source,
            decision,
            reason,
            id,
        } => {
            // An honest source is the voter's own; otherwise any source.
            let source = if honest {
                SOURCES[(*voter).min(3)]
            } else {
                SOURCES[*source]
            };
            let decision = [
                VoteDecision::Proceed,
                VoteDecision::Deny,
                VoteDecision::Error,
            ][*decision as usize];
            Input::Vote(Vote {
                // Ids repeat on purpose: the same id is a redelivery.
                event_id: format!("evt-{id}"),
                file_id: "f".into(),
                reason: reason.then(|| "because".to_owned()),
                ..voting_vote("r", VOTERS[*voter], source, decision)
            })
        }
    }
}

/// A redelivered event carries the same content under the same id; make
/// generated ids consistent by letting the first use of an id fix it.
fn normalise(mut seq: Vec<(i64, Gen)>) -> Vec<(i64, Gen)> {
    let mut first: std::collections::BTreeMap<u8, Gen> = Default::default();
    for (_, g) in seq.iter_mut() {
        if let Gen::Vote { id, .. } = g {
            let key = *id;
            let canon = first.entry(key).or_insert_with(|| g.clone()).clone();
            *g = canon;
        }
    }
    seq.sort_by_key(|(at, _)| *at);
    seq
}

fn policy(timeout_proceeds: bool, error_proceeds: bool) -> Policy {
    let mut p = Policy::default();
    p.voting.timeout_outcome = if timeout_proceeds {
        Outcome::Proceed
    } else {
        Outcome::Deny
    };
    p.voting.error_outcome = if error_proceeds {
        Outcome::Proceed
    } else {
        Outcome::Deny
    };
    p
}

fn check_record(rec: &Record, p: &Policy) -> Result<(), TestCaseError> {
    let breaches = tally_core::coordination::check(rec, p);
    prop_assert!(breaches.is_empty(), "{:?}", breaches);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/coordination_props.txt"))),
        ..ProptestConfig::default()
    })]

    /// Whatever arrives in whatever order, a decision is made at most once,
    /// never changes, freezes the counted votes, and always agrees with the
    /// counted votes and the clock.
    #[test]
    fn at_most_one_decision_and_it_agrees_with_the_votes(
        seq in proptest::collection::vec(gen_input(), 0..40),
        tx in prop_oneof![Just(10u64), Just(5000u64)],
        business: bool,
        honest: bool,
        timeout_proceeds: bool,
        error_proceeds: bool,
    ) {
        let p = policy(timeout_proceeds, error_proceeds);
        let mut rec: Option<Record> = None;
        // Distinct ids: the outbox is never cleared here, so every later
        // step asks to publish it again.
        let mut publishes = std::collections::BTreeSet::new();
        let mut decided: Option<Status> = None;
        let mut votes_at_decision = None;
        for (at, g) in normalise(seq) {
            let s = step(rec.take(), &to_input(&g, tx, business, honest), T0 + at, &p);
            publishes.extend(s.to_publish().unwrap_or_default().iter().cloned());
            rec = s.record;
            if let Some(r) = &rec {
                check_record(r, &p)?;
                if let Some(before) = decided {
                    prop_assert_eq!(before, r.status, "a decision changed");
                }
                if r.is_decided() {
                    decided = Some(r.status);
                    let frozen = votes_at_decision.get_or_insert_with(|| r.votes.clone());
                    prop_assert_eq!(&*frozen, &r.votes, "a vote counted after the decision");
                }
            }
        }
        prop_assert!(publishes.len() <= 1, "{} decisions published", publishes.len());
        // Liveness: once the request is in, the deadline's timer decides.
        if let Some(r) = rec.clone() {
            if let (Some(deadline), false) = (r.deadline, r.is_decided()) {
                let s = step(Some(r), &Input::Timer { request_id: "r".into() }, deadline, &p);
                prop_assert!(s.record.unwrap().is_decided(), "the deadline did not decide");
            }
        }
    }

    /// Before the deadline, the same honest proceed votes in any order, with
    /// the request anywhere among them and any of them duplicated, approve
    /// with the same decision event.
    #[test]
    fn order_and_duplicates_do_not_change_an_approval(
        order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        dup in 0usize..4,
        spacing in 1i64..60_000,
    ) {
        let p = Policy::default();
        let inputs = [
            req(10, false),
            to_input(&Gen::Vote { voter: 0, source: 0, decision: 0, reason: false, id: 1 }, 10, false, true),
            to_input(&Gen::Vote { voter: 1, source: 1, decision: 0, reason: false, id: 2 }, 10, false, true),
            to_input(&Gen::Vote { voter: 0, source: 0, decision: 0, reason: false, id: 1 }, 10, false, true),
        ];
        let mut seq: Vec<&Input> = order.iter().map(|&i| &inputs[i]).collect();
        seq.insert(dup, seq[dup]);
        let mut rec = None;
        for (i, input) in seq.into_iter().enumerate() {
            rec = step(rec, input, T0 + i as i64 * spacing.min(50_000), &p).record;
        }
        let rec = rec.unwrap();
        prop_assert_eq!(rec.status, Status::Approved);
        let d = rec.decision.unwrap();
        prop_assert_eq!(d.cause, DecisionCause::AllProceeded);
        prop_assert_eq!(d.event_id, tally_core::ids::derive("decision", &["r", "approved"]));
    }
}

// ---- A record's size under floods (coordination::bounds) ----

/// An identifier-like string; quotes and backslashes cost two bytes each in
/// JSON, and 'é' two in UTF-8, so these are the costliest that are allowed
/// (long ones are over the limit on purpose).
fn costly_text(max_chars: usize) -> impl Strategy<Value = String> {
    // Built from a seed, not drawn character by character: thousands of
    // draws per input made the property slow for no more coverage.
    (1..max_chars, any::<u64>()).prop_map(|(n, seed)| {
        const COSTLY: [char; 4] = ['"', '\\', 'x', '\u{e9}'];
        (0..n)
            .map(|i| COSTLY[(seed.rotate_left(i as u32 * 2) & 3) as usize])
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Hostile {
    /// An unknown voter, or a voter from a source not its own.
    Forged { voter: usize, source: usize },
    /// A voter's own source, for another file: held, then refused.
    WrongFile { voter: usize },
    /// Another request under the same requestId, for another file.
    OtherRequest,
}

/// `requests`: whether other requests are among them (before the honest
/// request, one would rightly claim the requestId for itself).
fn gen_hostile(requests: bool) -> impl Strategy<Value = (Hostile, String, String, u8)> {
    let kind = prop_oneof![
        (0usize..5, 0usize..4).prop_map(|(voter, source)| Hostile::Forged { voter, source }),
        (0usize..4).prop_map(|voter| Hostile::WrongFile { voter }),
        Just(Hostile::OtherRequest),
    ]
    .prop_filter("no request", move |k| {
        requests || !matches!(k, Hostile::OtherRequest)
    });
    (kind, costly_text(140), costly_text(2_000), 0u8..3)
}

fn hostile_input(i: usize, h: &(Hostile, String, String, u8), p: &Policy) -> Input {
    let (kind, text, reason, decision) = h;
    // Distinct ids, or the flood would be mere redeliveries.
    let event_id = format!("{i:03}{text}");
    let decision = [
        VoteDecision::Proceed,
        VoteDecision::Deny,
        VoteDecision::Error,
    ][*decision as usize];
    let vote = |voter: &str, source: &str, file: &str| {
        Input::Vote(Vote {
            event_id: event_id.clone(),
            file_id: file.into(),
            reason: tally_core::coordination::bounded_reason(&Some(reason.clone())),
            ..voting_vote("r", voter, source, decision)
        })
    };
    match kind {
        Hostile::Forged { voter, source } => {
            let voter = if *voter == 4 {
                text.as_str()
            } else {
                VOTERS[*voter]
            };
            let own = p.voter_sources.get(voter).map(String::as_str);
            let source = match SOURCES[*source] {
                s if Some(s) == own => "forged.service",
                s => s,
            };
            vote(voter, source, "f")
        }
        Hostile::WrongFile { voter } => {
            let name = VOTERS[*voter];
            vote(name, &p.voter_sources[name], text)
        }
        Hostile::OtherRequest => Input::Request(Request {
            event_id,
            file_id: text.clone(),
            user_id: text.clone(),
            account_id: text.clone(),
            account_type: Some(text.clone()),
            transaction_count: 10,
            correlation_id: Some(text.clone()),
            ..voting_request("r")
        }),
    }
}

fn honest_vote(voter: &str, p: &Policy) -> Input {
    Input::Vote(Vote {
        event_id: format!("honest-{voter}"),
        file_id: "f".into(),
        ..voting_vote("r", voter, &p.voter_sources[voter], VoteDecision::Proceed)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/coordination_props.txt"))),
        ..ProptestConfig::default()
    })]

    /// Whatever floods a record before, between and after its request and
    /// its votes (forged, misdirected and repeated inputs with the costliest
    /// identifiers and reasons), its JSON stays under
    /// MAX_RECORD_JSON_BYTES (its history near MAX_HISTORY), and the
    /// required voters' honest votes still count and approve it.
    #[test]
    fn no_flood_outgrows_a_record_or_silences_a_voter(
        before in proptest::collection::vec(gen_hostile(false), 0..150),
        between in proptest::collection::vec(gen_hostile(true), 50..150),
        after in proptest::collection::vec(gen_hostile(true), 0..50),
    ) {
        let p = Policy::default();
        let mut rec: Option<Record> = None;
        let mut at = T0;
        let mut feed = |rec: &mut Option<Record>, input: &Input| -> Result<(), TestCaseError> {
            at += 1;
            let s = step(rec.take(), input, at, &p);
            let changed = s.changed();
            *rec = s.record;
            // An unchanged record was measured when it last changed.
            if let Some(r) = rec.as_ref().filter(|_| changed) {
                let size = serde_json::to_string(r).unwrap().len();
                prop_assert!(size <= MAX_RECORD_JSON_BYTES, "record is {} bytes, {} inputs in its history", size, r.history.len());
                // Past MAX_HISTORY only what changed the coordination is
                // recorded: the request, a held vote per voter, and each
                // held vote's judgement and counted vote.
                prop_assert!(r.history.len() <= 2 * MAX_HISTORY + 3 * VOTERS.len() + 1, "{} inputs in the history", r.history.len());
            }
            Ok(())
        };
        let mut i = 0;
        for h in &before {
            i += 1;
            feed(&mut rec, &hostile_input(i, h, &p))?;
        }
        feed(&mut rec, &req(10, false))?;
        let required = rec.as_ref().unwrap().required.clone();
        prop_assert!(!required.is_empty());
        for h in &between {
            i += 1;
            feed(&mut rec, &hostile_input(i, h, &p))?;
        }
        for voter in &required {
            feed(&mut rec, &honest_vote(voter, &p))?;
        }
        let r = rec.clone().unwrap();
        prop_assert_eq!(r.status, Status::Approved, "history: {:?}", r.history.iter().map(|h| &h.disposition).collect::<Vec<_>>());
        prop_assert_eq!(r.decision.as_ref().unwrap().cause, DecisionCause::AllProceeded);
        for h in &after {
            i += 1;
            feed(&mut rec, &hostile_input(i, h, &p))?;
        }
        prop_assert_eq!(rec.unwrap().decision, r.decision);
    }
}

/// An identifier over MAX_ID_BYTES, or with a control character, is refused
/// before it touches the record, naming the field.
#[test]
fn an_oversized_identifier_is_refused_unrecorded() {
    let p = Policy::default();
    let registered = step(None, &req(10, false), T0, &p).record;
    let long = "v".repeat(MAX_ID_BYTES + 1);
    let mut v = match honest_vote("analytics_manager", &p) {
        Input::Vote(v) => v,
        _ => unreachable!(),
    };
    v.voter = long.clone();
    let s = step(registered.clone(), &Input::Vote(v.clone()), T0 + 1, &p);
    assert!(!s.changed());
    assert_eq!(s.record, registered);
    let [Command::Refused { reason, .. }] = s.commands.as_slice() else {
        panic!("{:?}", s.commands)
    };
    assert!(
        reason.starts_with("voter \"vvv")
            && reason.ends_with(&format!(
                "is {} bytes; an identifier is at most {MAX_ID_BYTES}",
                MAX_ID_BYTES + 1
            )),
        "{reason}"
    );
    v.voter = "analytics_manager".into();
    v.event_id = "evt\u{1b}[2J".into();
    let s = step(registered.clone(), &Input::Vote(v), T0 + 1, &p);
    assert_eq!(s.record, registered);
    let [Command::Refused { reason, .. }] = s.commands.as_slice() else {
        panic!("{:?}", s.commands)
    };
    assert_eq!(
        reason,
        "eventId \"evt\\u{1b}[2J\" has a control character; an identifier has none"
    );
}

/// Once MAX_HISTORY inputs are recorded, one that changes nothing (here a
/// forged vote) is refused without being recorded, again when redelivered,
/// while a required voter's vote still counts.
#[test]
fn a_full_history_records_only_what_changes_the_coordination() {
    let p = Policy::default();
    let mut rec = step(None, &req(10, false), T0, &p).record;
    let forged = |i: usize| {
        let Input::Vote(mut v) = honest_vote("analytics_manager", &p) else {
            unreachable!()
        };
        v.event_id = format!("forged-{i}");
        v.source = "forged.service".into();
        Input::Vote(v)
    };
    for i in 1..MAX_HISTORY {
        let s = step(rec, &forged(i), T0 + i as i64, &p);
        assert!(s.changed(), "input {i} was not recorded");
        rec = s.record;
    }
    let full = rec.unwrap();
    assert_eq!(full.history.len(), MAX_HISTORY);
    for _ in 0..2 {
        let s = step(Some(full.clone()), &forged(MAX_HISTORY), T0 + 100, &p);
        assert!(!s.changed());
        assert_eq!(s.record.as_ref(), Some(&full));
        assert_eq!(
            s.commands,
            vec![Command::Refused {
                event_id: format!("forged-{MAX_HISTORY}"),
                reason: format!("the record of request r already holds {MAX_HISTORY} inputs, and this one changes nothing: refused, not recorded"),
            }]
        );
    }
    let s = step(
        Some(full),
        &honest_vote("analytics_manager", &p),
        T0 + 200,
        &p,
    );
    assert!(s.changed());
    let rec = s.record.unwrap();
    assert_eq!(rec.history.len(), MAX_HISTORY + 1);
    assert_eq!(
        rec.history.last().unwrap().disposition,
        Disposition::Counted
    );
}
