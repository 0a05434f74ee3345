//! One test per transition of the coordination, including each
//! at-least-once case of DESIGN.md, and snapshots of decision sequences.

use tally_core::coordination::{
    log, step, Command, Disposition, Flavour, Input, Outcome, Policy, Record, Request, Status, Vote,
};
use tally_core::event::{DecisionCause, EventData, VoteDecision};

mod inputs;
use inputs::{voting_request, voting_vote, T0};

const DEADLINE: i64 = 5 * 60 * 1000;

fn request(id: &str, tx: u64, account_type: Option<&str>) -> Input {
    Input::Request(Request {
        file_id: format!("file-{id}"),
        account_type: account_type.map(str::to_owned),
        transaction_count: tx,
        ..voting_request(id)
    })
}

fn source_of(voter: &str) -> &'static str {
    match voter {
        "analytics_manager" | "analytics_consumer" => "analytics.service",
        "category_manager" | "categorization_consumer" => "category.service",
        "backup_manager" => "backup.service",
        _ => "compliance.service",
    }
}

fn vote(req: &str, voter: &str, decision: VoteDecision, n: u32) -> Input {
    Input::Vote(Vote {
        event_id: format!("evt-vote-{req}-{voter}-{n}"),
        file_id: format!("file-{req}"),
        reason: match decision {
            VoteDecision::Proceed => None,
            _ => Some(format!("{voter} says no")),
        },
        ..voting_vote(req, voter, source_of(voter), decision)
    })
}

fn proceed(req: &str, voter: &str) -> Input {
    vote(req, voter, VoteDecision::Proceed, 0)
}

fn deny(req: &str, voter: &str) -> Input {
    vote(req, voter, VoteDecision::Deny, 0)
}

fn timer(req: &str) -> Input {
    Input::Timer {
        request_id: req.into(),
    }
}

/// Drives one record through inputs at given offsets from T0.
struct Run {
    policy: Policy,
    record: Option<Record>,
    effects: Vec<Command>,
}

impl Run {
    fn new() -> Run {
        Run::with(Policy::default())
    }

    fn with(policy: Policy) -> Run {
        Run {
            policy,
            record: None,
            effects: Vec::new(),
        }
    }

    fn at(&mut self, offset: i64, input: Input) -> bool {
        let s = step(self.record.take(), &input, T0 + offset, &self.policy);
        let changed = s.changed();
        self.record = s.record;
        self.effects.extend(s.commands);
        changed
    }

    fn rec(&self) -> &Record {
        self.record.as_ref().expect("a record")
    }

    fn status(&self) -> Status {
        self.rec().status
    }

    fn cause(&self) -> DecisionCause {
        self.rec().decision.as_ref().expect("decided").cause
    }

    /// Every event a step asked to publish, once (the outbox is never
    /// cleared here, so each later step asks again).
    fn published(&self) -> Vec<&EventData> {
        let mut ids: Vec<&String> = Vec::new();
        for e in &self.effects {
            if let Command::Publish { event_ids } = e {
                ids.extend(
                    event_ids
                        .iter()
                        .filter(|id| !ids.contains(id))
                        .collect::<Vec<_>>(),
                );
            }
        }
        let outbox = &self.rec().outbox;
        ids.iter()
            .filter_map(|id| Some(&outbox.iter().find(|ev| &ev.event_id == *id)?.data))
            .collect()
    }

    fn refusals(&self) -> Vec<String> {
        self.effects
            .iter()
            .filter_map(|e| {
                if let Command::Refused { reason, .. } = e {
                    Some(reason.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    fn metrics(&self) -> Vec<String> {
        self.effects
            .iter()
            .filter_map(|e| {
                if let Command::Metric(m) = e {
                    Some(m)
                } else {
                    None
                }
            })
            .map(|m| match &m.dimension {
                Some((k, v)) => format!("{}[{k}={v}]", m.name),
                None => m.name.to_owned(),
            })
            .collect()
    }

    fn disposition_of(&self, event_id: &str) -> Disposition {
        self.rec()
            .history
            .iter()
            .find(|h| h.event_id == event_id)
            .expect("in history")
            .disposition
            .clone()
    }
}

#[test]
fn all_required_proceed_approves_with_every_vote() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    assert_eq!(r.rec().required, ["analytics_manager", "category_manager"]);
    assert_eq!(r.rec().next_wakeup(), Some(T0 + DEADLINE));
    r.at(1000, proceed("r1", "analytics_manager"));
    assert_eq!(r.status(), Status::Waiting);
    r.at(2000, proceed("r1", "category_manager"));
    assert_eq!(r.status(), Status::Approved);
    assert_eq!(r.cause(), DecisionCause::AllProceeded);
    match r.published()[..] {
        [EventData::DeletionApproved(a)] => {
            assert_eq!(a.approved_by, ["analytics_manager", "category_manager"]);
            assert_eq!(a.all_votes.len(), 2);
            assert_eq!(a.cause, DecisionCause::AllProceeded);
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(
        r.rec().next_wakeup(),
        Some(r.rec().created_at),
        "the deadline no longer wakes it; only its unpublished outbox does"
    );
    assert_eq!(r.rec().outbox.len(), 1);
    assert_eq!(
        r.metrics(),
        [
            "DeletionRequests",
            "DeletionVotes[Voter=analytics_manager]",
            "DeletionVotes[Voter=category_manager]",
            "DeletionApprovals"
        ]
    );
}

#[test]
fn any_deny_denies_at_once_and_is_never_overturned() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1000, deny("r1", "category_manager"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Denied, DecisionCause::Vetoed)
    );
    match r.published()[..] {
        [EventData::DeletionDenied(d)] => {
            assert_eq!(d.denied_by, ["category_manager"]);
            assert_eq!(d.reason.as_deref(), Some("category_manager says no"));
        }
        ref other => panic!("{other:?}"),
    }
    assert!(
        r.at(2000, proceed("r1", "analytics_manager")),
        "a late vote is recorded"
    );
    assert_eq!(r.status(), Status::Denied);
    assert_eq!(
        r.disposition_of("evt-vote-r1-analytics_manager-0"),
        Disposition::Late
    );
    assert_eq!(r.published().len(), 1, "no second decision");
    assert!(
        !r.rec().votes.contains_key("analytics_manager"),
        "a late vote never counts"
    );
}

#[test]
fn a_vote_before_its_request_is_kept_and_counts_when_the_request_comes() {
    let mut r = Run::new();
    r.at(0, proceed("r1", "analytics_manager"));
    r.at(10, proceed("r1", "category_manager"));
    assert_eq!(r.status(), Status::Waiting);
    assert_eq!(r.rec().held.len(), 2);
    assert_eq!(
        r.disposition_of("evt-vote-r1-analytics_manager-0"),
        Disposition::Held
    );
    r.at(500, request("r1", 10, None));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Approved, DecisionCause::AllProceeded)
    );
    assert!(r.rec().held.is_empty());
    assert_eq!(
        r.rec().votes["analytics_manager"].at,
        T0,
        "counted as received, not as registered"
    );
}

#[test]
fn an_early_deny_vetoes_when_the_request_comes() {
    let mut r = Run::new();
    r.at(0, deny("r1", "analytics_manager"));
    r.at(500, request("r1", 10, None));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Denied, DecisionCause::Vetoed)
    );
}

#[test]
fn duplicates_change_nothing() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, proceed("r1", "analytics_manager"));
    let before = r.rec().clone();
    assert!(
        !r.at(2, proceed("r1", "analytics_manager")),
        "same event id"
    );
    assert!(!r.at(3, request("r1", 10, None)), "same request event");
    assert_eq!(r.rec(), &before);
}

#[test]
fn a_second_vote_by_the_same_voter_does_not_replace_the_first() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, proceed("r1", "analytics_manager"));
    r.at(2, vote("r1", "analytics_manager", VoteDecision::Deny, 1));
    assert_eq!(r.status(), Status::Waiting);
    assert_eq!(
        r.rec().votes["analytics_manager"].decision,
        VoteDecision::Proceed
    );
    assert_eq!(
        r.disposition_of("evt-vote-r1-analytics_manager-1"),
        Disposition::Superseded
    );
}

#[test]
fn a_repeated_request_with_a_new_event_id_does_not_rearm_or_recount() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    let mut again = request("r1", 10, None);
    if let Input::Request(q) = &mut again {
        q.event_id = "evt-req-retry".into();
    }
    r.at(60_000, again);
    assert_eq!(r.rec().deadline, Some(T0 + DEADLINE));
    assert_eq!(
        r.disposition_of("evt-req-retry"),
        Disposition::RepeatedRequest
    );
    assert_eq!(r.metrics(), ["DeletionRequests"]);
}

#[test]
fn a_colliding_request_id_for_another_file_is_refused() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    let mut other = request("r1", 10, None);
    if let Input::Request(q) = &mut other {
        q.event_id = "evt-other".into();
        q.file_id = "file-zzz".into();
    }
    r.at(1, other);
    assert_eq!(r.rec().request.as_ref().unwrap().file_id, "file-r1");
    assert_eq!(r.refusals(), ["requestId r1 already belongs to a request for file file-r1; this one names file file-zzz"]);
}

#[test]
fn a_deny_without_a_reason_is_refused() {
    for reason in [None, Some("   ".to_owned())] {
        let mut r = Run::new();
        r.at(0, request("r1", 10, None));
        let mut v = deny("r1", "category_manager");
        if let Input::Vote(x) = &mut v {
            x.reason = reason.clone();
        }
        r.at(1, v);
        assert_eq!(r.status(), Status::Waiting);
        assert!(r.rec().votes.is_empty());
        assert_eq!(r.refusals(), ["a deny must give a reason"]);
    }
}

#[test]
fn votes_from_unrequired_unknown_or_forged_voters_are_refused_and_never_counted() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, deny("r1", "backup_manager"));
    let mut forged = deny("r1", "category_manager");
    if let Input::Vote(v) = &mut forged {
        v.source = "analytics.service".into();
        v.event_id = "evt-forged".into();
    }
    r.at(2, forged);
    let mut stranger = proceed("r1", "mallory");
    if let Input::Vote(v) = &mut stranger {
        v.event_id = "evt-stranger".into();
    }
    r.at(3, stranger);
    let mut wrong_file = deny("r1", "analytics_manager");
    if let Input::Vote(v) = &mut wrong_file {
        v.file_id = "file-other".into();
        v.event_id = "evt-wrong-file".into();
    }
    r.at(4, wrong_file);
    assert_eq!(r.status(), Status::Waiting);
    assert!(r.rec().votes.is_empty());
    assert_eq!(
        r.refusals(),
        [
            "voter backup_manager is not required for this request (required: analytics_manager, category_manager)",
            "voter category_manager votes from category.service, not from analytics.service",
            "voter mallory is unknown: no source is bound to it",
            "vote names file file-other but request r1 is for file file-r1",
        ]
    );
    r.at(5, proceed("r1", "analytics_manager"));
    r.at(6, proceed("r1", "category_manager"));
    assert_eq!(
        r.status(),
        Status::Approved,
        "the refused denies never counted"
    );
}

#[test]
fn required_voters_follow_the_notes_three_sets() {
    let p = Policy::default();
    assert_eq!(
        p.voting.required_for(1000, None),
        ["analytics_manager", "category_manager"]
    );
    assert_eq!(
        p.voting.required_for(1001, None),
        ["analytics_manager", "backup_manager", "category_manager"]
    );
    assert_eq!(
        p.voting.required_for(5, Some("business")),
        [
            "analytics_manager",
            "category_manager",
            "compliance_manager"
        ]
    );
    assert_eq!(
        p.voting.required_for(5000, Some("business")),
        [
            "analytics_manager",
            "backup_manager",
            "category_manager",
            "compliance_manager"
        ]
    );
    let mut r = Run::new();
    r.at(0, request("big", 5000, None));
    r.at(1, proceed("big", "analytics_manager"));
    r.at(2, proceed("big", "category_manager"));
    assert_eq!(r.status(), Status::Waiting, "backup_manager still owed");
    r.at(3, proceed("big", "backup_manager"));
    assert_eq!(r.status(), Status::Approved);
}

#[test]
fn the_deadline_denies_by_default_and_a_spurious_timer_is_harmless() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, proceed("r1", "analytics_manager"));
    assert!(!r.at(DEADLINE - 1, timer("r1")), "early timer");
    assert_eq!(r.status(), Status::Waiting);
    r.at(DEADLINE, timer("r1"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Denied, DecisionCause::Timeout)
    );
    match r.published()[..] {
        [EventData::DeletionDenied(d)] => {
            assert_eq!(d.denied_by, ["category_manager"]);
            assert_eq!(
                d.reason.as_deref(),
                Some("no vote from category_manager by the deadline")
            );
        }
        ref other => panic!("{other:?}"),
    }
    assert!(r
        .metrics()
        .contains(&"VoterTimeout[Voter=category_manager]".to_owned()));
    assert!(
        !r.at(DEADLINE + 5, timer("r1")),
        "a timer after the decision"
    );
    assert_eq!(
        r.rec().next_wakeup(),
        Some(r.rec().created_at),
        "once fired, only the unpublished outbox wakes it"
    );
}

#[test]
fn a_vote_after_the_deadline_finds_it_expired_even_before_the_timer() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, proceed("r1", "analytics_manager"));
    r.at(DEADLINE + 10, proceed("r1", "category_manager"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Denied, DecisionCause::Timeout)
    );
    assert_eq!(
        r.disposition_of("evt-vote-r1-category_manager-0"),
        Disposition::Late
    );
}

#[test]
fn a_timer_with_no_record_or_no_request_does_nothing() {
    let s = step(None, &timer("nobody"), T0, &Policy::default());
    assert!(s.record.is_none() && s.commands.is_empty() && !s.changed());
    let mut r = Run::new();
    r.at(0, proceed("r1", "analytics_manager"));
    assert!(!r.at(DEADLINE * 100, timer("r1")));
}

#[test]
fn a_voter_error_applies_the_error_outcome() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, vote("r1", "analytics_manager", VoteDecision::Error, 0));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Denied, DecisionCause::VoterError)
    );

    let mut lenient = Policy::default();
    lenient.voting.error_outcome = Outcome::Proceed;
    let mut r = Run::with(lenient);
    r.at(0, request("r1", 10, None));
    r.at(1, vote("r1", "analytics_manager", VoteDecision::Error, 0));
    assert_eq!(r.status(), Status::Waiting);
    r.at(2, proceed("r1", "category_manager"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Approved, DecisionCause::AllProceeded)
    );
}

#[test]
fn the_timeout_outcome_is_configurable() {
    let mut p = Policy::default();
    p.voting.timeout_outcome = Outcome::Proceed;
    let mut r = Run::with(p);
    r.at(0, request("r1", 10, None));
    r.at(1, proceed("r1", "analytics_manager"));
    r.at(DEADLINE, timer("r1"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Approved, DecisionCause::Timeout)
    );
}

fn completion_request(id: &str) -> Input {
    match request(id, 10, None) {
        Input::Request(mut q) => {
            q.flavour = Flavour::Completion;
            Input::Request(q)
        }
        _ => unreachable!(),
    }
}

fn report(id: &str, consumer: &str, ok: bool) -> Input {
    match vote(
        id,
        consumer,
        if ok {
            VoteDecision::Proceed
        } else {
            VoteDecision::Error
        },
        0,
    ) {
        Input::Vote(mut v) => {
            v.flavour = Flavour::Completion;
            Input::Vote(v)
        }
        _ => unreachable!(),
    }
}

#[test]
fn completion_failures_never_block_and_the_deadline_proceeds() {
    let mut r = Run::new();
    r.at(0, completion_request("c1"));
    assert_eq!(
        r.rec().required,
        ["analytics_consumer", "categorization_consumer"]
    );
    r.at(1, report("c1", "analytics_consumer", false));
    assert_eq!(r.status(), Status::Waiting);
    r.at(2, report("c1", "categorization_consumer", true));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Approved, DecisionCause::AllProceeded)
    );

    let mut r = Run::new();
    r.at(0, completion_request("c2"));
    r.at(1, report("c2", "analytics_consumer", true));
    r.at(DEADLINE, timer("c2"));
    assert_eq!(
        (r.status(), r.cause()),
        (Status::Approved, DecisionCause::Timeout)
    );
}

#[test]
fn a_vote_cannot_answer_a_completion_coordination() {
    let mut r = Run::new();
    r.at(0, completion_request("c1"));
    r.at(1, deny("c1", "analytics_manager"));
    assert_eq!(
        r.refusals(),
        ["a voting input cannot answer a completion coordination"]
    );
}

#[test]
fn the_decision_event_id_depends_only_on_the_request_and_outcome() {
    let mut a = Run::new();
    a.at(0, request("r1", 10, None));
    a.at(1, proceed("r1", "analytics_manager"));
    a.at(2, proceed("r1", "category_manager"));
    let mut b = Run::new();
    b.at(0, proceed("r1", "category_manager"));
    b.at(7, proceed("r1", "analytics_manager"));
    b.at(9, request("r1", 10, None));
    assert_eq!(
        a.rec().decision.as_ref().unwrap().event_id,
        b.rec().decision.as_ref().unwrap().event_id
    );
}

#[test]
fn a_record_survives_storage_whole_outbox_included() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    r.at(1, deny("r1", "category_manager"));
    let json = serde_json::to_string(r.rec()).unwrap();
    let back: Record = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, r.rec());
    assert_eq!(back.outbox.len(), 1);
}

#[test]
fn the_ttl_is_a_day_after_creation_by_default() {
    let mut r = Run::new();
    r.at(0, request("r1", 10, None));
    assert_eq!(r.rec().expires_at, T0 + 24 * 3600 * 1000);
}

#[test]
fn policy_files_keep_defaults_and_name_bad_values() {
    let p = Policy::parse("p.toml", "[voting]\ntimeout_outcome = \"proceed\"\n").unwrap();
    assert_eq!(p.voting.timeout_outcome, Outcome::Proceed);
    assert_eq!(p.voting.required, Policy::default().voting.required);
    let e = Policy::parse("p.toml", "[voting]\ntimeout_outcome = \"maybe\"\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown variant `maybe`, expected `proceed` or `deny`"),
        "{e}"
    );
    let e = Policy::parse("p.toml", "[voting]\nrequired = [\"ghost\"]\n").unwrap_err();
    assert_eq!(e.to_string(), "p.toml: voting: voter \"ghost\" has no entry in voter_sources, so none of its votes could count");
    let e = Policy::parse("p.toml", "ttl_ms = 1000\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("p.toml: ttl_ms: 1000 must be longer"),
        "{e}"
    );
}

/// Runs a scenario and returns its decision log, one line per decision
/// plus one per refusal, as the snapshots show it.
fn scenario(inputs: &[(i64, Input)]) -> String {
    let policy = Policy::default();
    let mut records: std::collections::BTreeMap<String, Record> = Default::default();
    let mut lines = Vec::new();
    let mut inputs = inputs.to_vec();
    inputs.sort_by_key(|(at, _)| *at);
    for (at, input) in &inputs {
        let id = input.request_id().to_owned();
        let before = records.get(&id).and_then(|r| r.decision.clone());
        let s = step(records.remove(&id), input, T0 + at, &policy);
        for e in &s.commands {
            if let Command::Refused { event_id, reason } = e {
                lines.push(log::refusal_line(T0 + at, &id, event_id, reason));
            }
        }
        if let Some(rec) = s.record {
            if before.is_none() {
                if let Some(line) = log::decision_line(&rec) {
                    lines.push(line);
                }
            }
            records.insert(id, rec);
        }
    }
    lines.join("\n")
}

#[test]
fn snapshot_voting_and_completion_side_by_side() {
    let voting = scenario(&[
        (0, request("r-ok", 10, None)),
        (0, request("r-veto", 10, None)),
        (0, request("r-slow", 10, None)),
        (100, proceed("r-ok", "analytics_manager")),
        (150, deny("r-veto", "category_manager")),
        (200, proceed("r-ok", "category_manager")),
        (250, proceed("r-veto", "analytics_manager")),
        (300, proceed("r-slow", "category_manager")),
        (DEADLINE, timer("r-slow")),
    ]);
    let completion = scenario(&[
        (0, completion_request("c-ok")),
        (0, completion_request("c-slow")),
        (100, report("c-ok", "analytics_consumer", false)),
        (200, report("c-ok", "categorization_consumer", true)),
        (300, report("c-slow", "categorization_consumer", true)),
        (DEADLINE, timer("c-slow")),
    ]);
    insta::assert_snapshot!(format!("# voting\n{voting}\n# completion\n{completion}"));
}

#[test]
fn snapshot_the_failure_modes_of_design_md() {
    let log = scenario(&[
        // A vote that arrives before its request is not wiped.
        (0, proceed("early", "analytics_manager")),
        (5, request("early", 10, None)),
        (10, proceed("early", "category_manager")),
        // A voter that never votes does not stall the request.
        (0, request("stalled", 10, None)),
        (20, proceed("stalled", "analytics_manager")),
        (DEADLINE, timer("stalled")),
        // Duplicate and late votes neither overwrite nor resurrect.
        (0, request("dup", 10, None)),
        (30, deny("dup", "analytics_manager")),
        (31, deny("dup", "analytics_manager")),
        (40, proceed("dup", "category_manager")),
        (DEADLINE + 1, timer("dup")),
        // Forged and unrequired voters never count.
        (0, request("forged", 10, None)),
        (50, deny("forged", "backup_manager")),
    ]);
    insta::assert_snapshot!(log);
}

#[test]
fn the_deadline_runs_from_the_request_s_own_time_but_never_from_the_future() {
    let with_time = |at: i64| match request("r1", 10, None) {
        Input::Request(mut q) => {
            q.requested_at = at;
            Input::Request(q)
        }
        _ => unreachable!(),
    };
    let mut r = Run::new();
    r.at(2_000, with_time(T0));
    assert_eq!(
        r.rec().deadline,
        Some(T0 + DEADLINE),
        "published at T0, received 2 s later"
    );
    let mut r = Run::new();
    r.at(0, with_time(T0 + 60_000));
    assert_eq!(
        r.rec().deadline,
        Some(T0 + DEADLINE),
        "a requester's clock ahead of ours is not trusted"
    );
}
