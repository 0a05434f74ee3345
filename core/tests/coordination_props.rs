//! Properties of the coordination step over generated input sequences:
//! duplicates, reordering, votes before requests, forged and unrequired
//! voters, errors, clock values around the deadline.

use proptest::prelude::*;
use tally_core::coordination::{
    step, Disposition, Effect, Flavour, Input, Outcome, Policy, Record, Request, Status, Vote,
};
use tally_core::event::{DecisionCause, VoteDecision};

const T0: i64 = 1_736_937_000_000;
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
        flavour: Flavour::Voting,
        event_id: "evt-req".into(),
        request_id: "r".into(),
        file_id: "f".into(),
        user_id: "u".into(),
        account_id: "a".into(),
        account_type: business.then(|| "business".to_owned()),
        transaction_count: tx,
        correlation_id: None,
        requested_at: 0,
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
            Input::Vote(Vote {
                flavour: Flavour::Voting,
                // Ids repeat on purpose: the same id is a redelivery.
                event_id: format!("evt-{id}"),
                request_id: "r".into(),
                file_id: "f".into(),
                voter: VOTERS[*voter].into(),
                source: source.into(),
                decision: [
                    VoteDecision::Proceed,
                    VoteDecision::Deny,
                    VoteDecision::Error,
                ][*decision as usize],
                reason: reason.then(|| "because".to_owned()),
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
    // Counted votes are exactly the history's Counted entries.
    for v in rec.votes.values() {
        // A held vote is logged twice: held, then counted.
        let h = rec.history.iter().rfind(|h| h.event_id == v.event_id);
        prop_assert!(
            matches!(h.map(|h| &h.disposition), Some(Disposition::Counted)),
            "a counted vote must be logged as counted"
        );
    }
    let Some(d) = &rec.decision else {
        return Ok(());
    };
    prop_assert!(rec.request.is_some(), "no decision without a request");
    let deny_counted = rec.votes.values().any(|v| v.decision == VoteDecision::Deny);
    if deny_counted {
        prop_assert_eq!(
            rec.status,
            Status::Denied,
            "a counted deny is never overturned"
        );
    }
    match d.cause {
        DecisionCause::AllProceeded => {
            prop_assert_eq!(rec.status, Status::Approved);
            for voter in &rec.required {
                let v = rec.votes.get(voter);
                let ok = v.is_some_and(|v| {
                    v.decision == VoteDecision::Proceed
                        || (v.decision == VoteDecision::Error
                            && p.voting.error_outcome == Outcome::Proceed)
                });
                prop_assert!(ok, "approval without {}'s vote", voter);
            }
        }
        DecisionCause::Timeout => prop_assert!(
            d.at >= rec.deadline.unwrap_or(i64::MAX),
            "timeout before the deadline"
        ),
        DecisionCause::Vetoed => prop_assert!(deny_counted, "vetoed without a counted deny"),
        DecisionCause::VoterError => prop_assert!(rec
            .votes
            .values()
            .any(|v| v.decision == VoteDecision::Error)),
    }
    for voter in rec.votes.keys() {
        prop_assert!(
            rec.required.contains(voter),
            "an unrequired voter was counted"
        );
    }
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
        let mut publishes = 0;
        let mut decided: Option<Status> = None;
        let mut votes_at_decision = None;
        for (at, g) in normalise(seq) {
            let s = step(rec.take(), &to_input(&g, tx, business, honest), T0 + at, &p);
            publishes += s.effects.iter().filter(|e| matches!(e, Effect::Publish(_))).count();
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
        prop_assert!(publishes <= 1, "{} decisions published", publishes);
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
