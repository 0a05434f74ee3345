//! The structured coordination target: any sequence of requests, votes
//! (completion reports are votes of the completion flavour), timers,
//! clock moves and outbox flushes, over a few requestIds, files, voters
//! and sources so that inputs collide, fed to `coordination::step` one at a
//! time. After every step the safety invariants are checked:
//!
//! - at most one decision per request, ever, and it never changes;
//! - counted votes are frozen once decided;
//! - no approval with a counted deny;
//! - an approval has every required voter's counted proceed (or an error
//!   whose outcome is proceed), or an expired deadline whose outcome is
//!   proceed; a denial has a counted deny, a counted error whose outcome is
//!   deny, or an expired deadline whose outcome is deny;
//! - only a vote from the voter's bound source, for the request's file,
//!   from a required voter, of the record's flavour, with a reason when it
//!   denies, is counted;
//! - every refusal is in the record's history with its reason, unless the
//!   step changed nothing because the history is full or the input's
//!   identifiers are over the bounds;
//! - a duplicate changes nothing; history only grows; every change bumps
//!   the version by one; the record survives its JSON round trip, and its
//!   JSON stays under MAX_RECORD_JSON_BYTES.

use crate::coordination::{
    bounds, step, Command, CountedVote, Disposition, Flavour, FlavourPolicy, Input, Outcome,
    Policy, Record, Request, Vote, MAX_HISTORY, MAX_RECORD_JSON_BYTES,
};
use crate::event::VoteDecision;
use crate::time::Millis;
use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeMap;

const REQUEST_IDS: &[&str] = &["req-a", "req-b", "req-c"];
const FILES: &[&str] = &["f1", "f2"];
const VOTERS: &[&str] = &[
    "analytics_manager",
    "category_manager",
    "backup_manager",
    "compliance_manager",
    "analytics_consumer",
    "categorization_consumer",
    "intruder",
];
const SOURCES: &[&str] = &[
    "analytics.service",
    "category.service",
    "backup.service",
    "compliance.service",
    "file.service",
    "forged.service",
];
const REASONS: &[&str] = &["", "  ", "rules still active"];
const ACCOUNT_TYPES: &[&str] = &["business", "personal"];

#[derive(Debug, Arbitrary)]
enum Op {
    Request {
        req: u8,
        event: u8,
        file: u8,
        completion: bool,
        transactions: u16,
        account_type: Option<u8>,
        /// The requester's timestamp, relative to now.
        requested_offset: i32,
    },
    Vote {
        req: u8,
        event: u8,
        file: u8,
        completion: bool,
        voter: u8,
        source: u8,
        decision: u8,
        reason: Option<u8>,
    },
    Timer {
        req: u8,
    },
    /// Moves the clock (backwards too: function clocks are skewed).
    Advance(i32),
    /// An extreme clock value.
    Jump(i64),
    /// The handler published the record's outbox and cleared it.
    Flush {
        req: u8,
    },
}

#[derive(Debug, Arbitrary)]
struct Case {
    policy: u8,
    start: i64,
    ops: Vec<Op>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

/// The policies the target runs under: the defaults, and variants where a
/// timeout or an error proceeds, a deadline is short, and one voter is
/// required in both flavours (so that a vote of the wrong flavour could
/// pass for the right one).
fn policy_of(i: u8) -> Policy {
    let mut p = Policy::default();
    match i % 4 {
        0 => {}
        1 => {
            p.voting.timeout_outcome = Outcome::Proceed;
            p.voting.error_outcome = Outcome::Proceed;
            p.voting.deadline_ms = 10;
        }
        2 => {
            p.completion.timeout_outcome = Outcome::Deny;
            p.completion.error_outcome = Outcome::Deny;
            p.completion.deadline_ms = 1_000;
        }
        _ => {
            p.completion = FlavourPolicy {
                required: vec!["analytics_manager".into()],
                ..FlavourPolicy::completion()
            };
            p.voting.deadline_ms = 100;
        }
    }
    assert_eq!(p.validate(), Ok(()));
    p
}

fn flavour(completion: bool) -> Flavour {
    if completion {
        Flavour::Completion
    } else {
        Flavour::Voting
    }
}

/// What the target remembers about one request id.
#[derive(Default)]
struct Seen {
    record: Option<Record>,
    /// The first decision ever made, and the votes counted at that time.
    decided: Option<(crate::coordination::Decision, BTreeMap<String, CountedVote>)>,
    /// Votes by event id, as first given to this record.
    votes: BTreeMap<String, Vote>,
    published: usize,
}

/// Runs one structured case; panics on the first broken invariant.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(case) = Case::arbitrary(&mut u) else {
        return;
    };
    let policy = policy_of(case.policy);
    let mut now: Millis = case.start % 10_000_000_000_000;
    let mut seen: BTreeMap<&str, Seen> = BTreeMap::new();
    for op in case.ops.iter().take(200) {
        let input = match *op {
            Op::Advance(d) => {
                now = now.saturating_add(d as Millis);
                continue;
            }
            Op::Jump(t) => {
                now = t;
                continue;
            }
            Op::Flush { req } => {
                if let Some(r) = seen
                    .get_mut(pick(REQUEST_IDS, req))
                    .and_then(|s| s.record.as_mut())
                {
                    r.outbox.clear();
                    r.version += 1;
                }
                continue;
            }
            Op::Timer { req } => Input::Timer {
                request_id: pick(REQUEST_IDS, req).to_owned(),
            },
            Op::Request {
                req,
                event,
                file,
                completion,
                transactions,
                account_type,
                requested_offset,
            } => Input::Request(Request {
                flavour: flavour(completion),
                event_id: format!("evt-{}", event % 12),
                request_id: pick(REQUEST_IDS, req).to_owned(),
                file_id: pick(FILES, file).to_owned(),
                user_id: "alice".to_owned(),
                account_id: "acc-1".to_owned(),
                account_type: account_type.map(|a| pick(ACCOUNT_TYPES, a).to_owned()),
                transaction_count: transactions as u64,
                correlation_id: None,
                requested_at: now.saturating_add(requested_offset as Millis),
            }),
            Op::Vote {
                req,
                event,
                file,
                completion,
                voter,
                source,
                decision,
                reason,
            } => Input::Vote(Vote {
                flavour: flavour(completion),
                event_id: format!("evt-{}", event % 12),
                request_id: pick(REQUEST_IDS, req).to_owned(),
                file_id: pick(FILES, file).to_owned(),
                voter: pick(VOTERS, voter).to_owned(),
                source: pick(SOURCES, source).to_owned(),
                decision: [
                    VoteDecision::Proceed,
                    VoteDecision::Deny,
                    VoteDecision::Error,
                ][decision as usize % 3],
                reason: reason.map(|r| pick(REASONS, r).to_owned()),
            }),
        };
        let id = REQUEST_IDS
            .iter()
            .copied()
            .find(|r| *r == input.request_id())
            .expect("ids come from REQUEST_IDS");
        let entry = seen.entry(id).or_default();
        check_step(entry, &input, now, &policy);
    }
}

fn check_step(s: &mut Seen, input: &Input, now: Millis, policy: &Policy) {
    let before = s.record.clone();
    let event_id = match input {
        Input::Request(r) => Some(r.event_id.as_str()),
        Input::Vote(v) => Some(v.event_id.as_str()),
        Input::Timer { .. } | Input::Published { .. } => None,
    };
    let duplicate = match (&before, event_id) {
        (Some(r), Some(e)) => r.has_seen(e),
        _ => false,
    };
    let out = step(before.clone(), input, now, policy);

    // A duplicate, or a timer with nothing to do, changes nothing.
    if duplicate {
        assert!(!out.changed(), "a duplicate changed the record");
    }
    if !out.changed() {
        assert_eq!(
            out.record, before,
            "an unchanged step returned another record"
        );
        // What an unchanged step may ask: the publish of an outbox it
        // already held, and a refusal the record had no room for, or whose
        // identifiers it would not take (`bounds`).
        for e in &out.commands {
            if let Command::Publish { event_ids } = e {
                let held: Vec<&String> = before
                    .iter()
                    .flat_map(|r| r.outbox.iter().map(|e| &e.event_id))
                    .collect();
                assert!(
                    event_ids.iter().all(|id| held.contains(&id)),
                    "an unchanged step published what its outbox did not hold: {e:?}"
                );
                continue;
            }
            assert!(
                matches!(e, Command::Refused { .. }),
                "an unchanged step had a command other than a refusal or a publish: {e:?}"
            );
            let full = before
                .as_ref()
                .is_some_and(|r| r.history.len() >= MAX_HISTORY);
            assert!(
                full || bounds::oversized(input).is_some(),
                "refused unrecorded though the record had room: {e:?}"
            );
        }
        return;
    }
    let rec = out.record.clone().expect("a changed step has a record");
    assert_eq!(rec.request_id, input.request_id());
    assert_eq!(
        rec.version,
        before.as_ref().map_or(0, |r| r.version) + 1,
        "every change bumps the version by one"
    );
    if let Some(b) = &before {
        assert!(
            rec.history.starts_with(&b.history),
            "history was rewritten, not appended to"
        );
    }
    if let (Input::Vote(v), Some(e)) = (input, event_id) {
        s.votes.entry(e.to_owned()).or_insert_with(|| v.clone());
    }

    // The record-level invariant: a decision its votes or the deadline
    // justify, never a counted deny overturned, only required votes.
    let breaches = crate::coordination::check(&rec, policy);
    assert!(breaches.is_empty(), "{breaches:?}");

    // At most one decision, never changed, votes frozen.
    // A decision is a new event in the outbox (the fuzz target never
    // publishes, so the outbox only grows).
    let publishes = rec
        .outbox
        .iter()
        .filter(|e| {
            !before
                .iter()
                .any(|b| b.outbox.iter().any(|o| o.event_id == e.event_id))
        })
        .count();
    s.published += publishes;
    assert!(s.published <= 1, "a request was decided twice");
    match (&s.decided, &rec.decision) {
        (Some((first, votes)), Some(d)) => {
            assert_eq!(d, first, "a decision changed");
            assert_eq!(
                &rec.votes, votes,
                "counted votes changed after the decision"
            );
        }
        (Some(_), None) => panic!("a decision vanished"),
        (None, Some(d)) => {
            assert_eq!(publishes, 1, "a decision made without publishing it");
            s.decided = Some((d.clone(), rec.votes.clone()));
        }
        (None, None) => assert_eq!(publishes, 0),
    }

    // Only valid votes count.
    let req = rec.request.as_ref();
    for (voter, counted) in &rec.votes {
        let v = s
            .votes
            .get(&counted.event_id)
            .expect("a counted vote was given to this record");
        let req = req.expect("votes count only once the request is known");
        assert_eq!(&v.voter, voter);
        assert_eq!(counted.decision, v.decision);
        assert_eq!(
            policy.voter_sources.get(voter),
            Some(&v.source),
            "a vote from a forged source counted"
        );
        assert_eq!(v.file_id, req.file_id, "a vote for another file counted");
        assert!(rec.required.contains(voter), "an unrequired vote counted");
        assert_eq!(
            v.flavour, rec.flavour,
            "a vote of the other flavour counted"
        );
        if v.decision == VoteDecision::Deny {
            assert!(
                v.reason.as_deref().is_some_and(|r| !r.trim().is_empty()),
                "a deny without a reason counted"
            );
        }
    }

    // Every refusal is audited in the history with its reason.
    for e in &out.commands {
        if let Command::Refused { event_id, reason } = e {
            assert!(!reason.is_empty());
            assert!(
                rec.history.iter().any(|h| &h.event_id == event_id
                    && h.disposition
                        == Disposition::Refused {
                            reason: reason.clone()
                        }),
                "refusal of {event_id} not in the history"
            );
        }
    }

    // The record as stored reads back the same.
    let json = serde_json::to_string(&rec).expect("a record serializes");
    let back: Record = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("a stored record does not read back: {e}\n{json}"));
    assert_eq!(back, rec, "the record's JSON round trip changed it");
    assert!(
        json.len() <= MAX_RECORD_JSON_BYTES,
        "the record is {} bytes of JSON",
        json.len()
    );

    s.record = Some(rec);
}
