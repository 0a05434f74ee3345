//! What must have happened, computed from what the simulator itself put in
//! and when, never from the records under test: the notes' semantics as an
//! oracle. A run that is consistent but wrong (a timeout although every
//! vote was in time, a forged vote that counted, an approval that never
//! reached the executor) fails here.
//!
//! The oracle knows, for every request, the votes that must count (from
//! the voter's bound source, for a voter the request requires, about the
//! request's file, and a deny with its reason) and when each reached the aggregator: the start of the
//! first aggregator invocation that handled it and succeeded, read on the
//! aggregator's clock. A vote counts no later than that (an earlier
//! invocation may have written it and then died). A vote is in time when
//! it (and its request, for a vote that came first) reached the aggregator
//! before the deadline by the aggregator's and the sweeper's clocks both:
//! either may decide the timeout. Everything closer than that is left
//! undecided by the oracle, never guessed.

use crate::invariants::{Invariant, Violation};
use crate::observe::{Aggregated, Observations};
use std::collections::{BTreeMap, BTreeSet};
use tally_core::coordination::{Input, Outcome, Policy, Record, Request, Status};
use tally_core::event::{DecisionCause, Event, EventData, VoteDecision};
use tally_core::rules::{Rules, TARGETS};
use tally_core::targets::voter_of;
use tally_core::time::Millis;
use tally_core::wire::{DeliveredEvent, Delivery};

/// What became of one uploaded file, at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileState {
    pub metadata: bool,
    pub transactions: usize,
    pub content: bool,
}

/// The world's facts the oracle needs besides the observations.
#[derive(Debug, Clone, Default)]
pub struct WorldView {
    /// The aggregator's and the sweeper's clock offsets.
    pub aggregator_skew: i64,
    pub sweeper_skew: i64,
    /// Every file the run uploaded, by id.
    pub files: BTreeMap<String, FileState>,
    pub rules: Option<Rules>,
}

fn v(invariant: Invariant, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// The targets of the coordination each event must reach, by the
/// coordination's own needs: a request reaches the aggregator and every
/// voter it requires (consumers, in the completion flavour), a vote or a
/// report from its voter's bound source reaches the aggregator, an
/// approval reaches the executor.
fn required_targets(e: &Event, policy: &Policy) -> Vec<&'static str> {
    match &e.data {
        EventData::DeletionRequested(r) => {
            let mut t = vec!["aggregator"];
            for voter in policy.voting.required_for_request(r) {
                if let Some(target) = TARGETS
                    .iter()
                    .find(|t| voter_of(t).is_some_and(|v| v.name() == voter))
                {
                    t.push(target);
                }
            }
            t
        }
        EventData::DeleteRequested(_) => vec!["aggregator", "analytics", "categorization"],
        EventData::DeletionVote(d) if bound(policy, &d.voter, &e.source) => vec!["aggregator"],
        EventData::ConsumerCompletion(c) if bound(policy, &c.consumer, &e.source) => {
            vec!["aggregator"]
        }
        EventData::DeletionApproved(_) => vec!["executor"],
        _ => Vec::new(),
    }
}

fn bound(policy: &Policy, voter: &str, source: &str) -> bool {
    policy.voter_sources.get(voter).is_some_and(|s| s == source)
}

/// Every event the coordination needs somewhere reached it: a rules file
/// that drops a path fails here, naming the rule of the default rules that
/// would have carried it.
pub fn routed(
    published: &[(Millis, Event)],
    obs: &Observations,
    policy: &Policy,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // Read only to name a rule in a violation: a run that routes every
    // event where it is needed never parses them.
    let mut defaults: Option<Rules> = None;
    for (_, e) in published {
        if !seen.insert(e.event_id.as_str()) {
            continue;
        }
        let reached = obs.routed.get(&e.event_id);
        for target in required_targets(e, policy) {
            if reached.is_some_and(|r| r.contains(target)) {
                continue;
            }
            out.push(v(
                Invariant::RoutedWhereNeeded,
                format!(
                    "{} {} from {} never reached {target}: no rule routes it there{}",
                    e.event_type(),
                    e.event_id,
                    e.source,
                    default_rule_for(defaults.get_or_insert_with(Rules::default_rules), e, target)
                        .map(|r| format!(" (in the default rules, {r} does)"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    out
}

fn default_rule_for(defaults: &Rules, e: &Event, target: &str) -> Option<String> {
    let json = DeliveredEvent::wrap(e, "oracle", &Delivery::default()).to_json();
    let mut scratch = Default::default();
    let mut hits = Vec::new();
    defaults
        .route(json.as_bytes(), &mut scratch, &mut hits)
        .ok()?;
    hits.into_iter()
        .map(|i| &defaults.rules[i])
        .find(|r| r.targets.iter().any(|t| t == target))
        .map(|r| r.name.clone())
}

/// One vote as the oracle sees it.
#[derive(Debug, Clone)]
struct Seen {
    voter: String,
    event_id: String,
    decision: VoteDecision,
    /// When it surely reached the aggregator (the start of its first
    /// successful invocation), on the aggregator's clock.
    reached: Option<Millis>,
    /// An invocation of the aggregator has begun to handle it.
    tried: bool,
}

struct Expected<'a> {
    request: Request,
    reached: Option<Millis>,
    deadline: Millis,
    required: Vec<String>,
    /// The first vote of each required voter that must count.
    votes: BTreeMap<String, Seen>,
    /// A voter sent two different votes and which came first is not
    /// certain (their invocations overlapped): the oracle does not call it.
    ambiguous: bool,
    record: Option<&'a Record>,
}

/// The request's outcome and cause as the notes' semantics decide them
/// from the votes that must count, or `None` when the run came too close
/// to call (a vote at the deadline, votes racing a veto).
fn expect(x: &Expected<'_>, policy: &Policy, margin: i64) -> Option<(Status, Vec<DecisionCause>)> {
    if x.ambiguous {
        return None;
    }
    let flavour = policy.of(x.request.flavour);
    let in_time = |s: &Seen| {
        s.reached
            .is_some_and(|at| at.max(x.reached.unwrap_or(at)) + margin < x.deadline)
    };
    let never = |s: &Seen| !s.tried;
    let negative = |d: VoteDecision| match d {
        VoteDecision::Deny => true,
        VoteDecision::Error => flavour.error_outcome == Outcome::Deny,
        VoteDecision::Proceed => false,
    };
    let causes_of = |vs: &[&Seen]| {
        let mut c: Vec<DecisionCause> = vs
            .iter()
            .map(|s| match s.decision {
                VoteDecision::Deny => DecisionCause::Vetoed,
                _ => DecisionCause::VoterError,
            })
            .collect();
        c.sort();
        c.dedup();
        c
    };
    let negatives: Vec<&Seen> = x
        .votes
        .values()
        .filter(|s| negative(s.decision) && in_time(s))
        .collect();
    if !negatives.is_empty() {
        // A counted deny vetoes at once, whatever else is still to come;
        // which negative vote came first decides the cause. A negative
        // vote whose handling began but is not surely in time (no
        // invocation of it succeeded before the deadline: one wrote, then
        // failed, say a permanent store error on a later call) may have
        // been counted first, so its cause is accepted too; the outcome
        // is certain either way (seed 4480).
        let maybe = x
            .votes
            .values()
            .filter(|s| negative(s.decision) && s.tried && !in_time(s));
        let all: Vec<&Seen> = negatives.iter().copied().chain(maybe).collect();
        return Some((Status::Denied, causes_of(&all)));
    }
    let all_in = x
        .required
        .iter()
        .all(|r| x.votes.get(r).is_some_and(in_time));
    if all_in {
        return Some((Status::Approved, vec![DecisionCause::AllProceeded]));
    }
    // Somebody never voted at all (not even late), and nobody vetoed in
    // time: only the deadline can decide.
    let silent = x.required.iter().any(|r| x.votes.get(r).is_none_or(never));
    let any_negative_at_all = x.votes.values().any(|s| negative(s.decision));
    if silent && !any_negative_at_all {
        return Some((
            flavour.timeout_outcome.status(),
            vec![DecisionCause::Timeout],
        ));
    }
    None
}

/// The oracle over a run: each request decided as its inputs say, counted
/// votes explained by real votes, every decision published, and an
/// approved file deleted (a denied one kept) once the run has settled.
pub fn check(
    records: &[&Record],
    obs: &Observations,
    policy: &Policy,
    view: &WorldView,
    settled: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let margin = view.aggregator_skew.max(view.sweeper_skew) - view.aggregator_skew;
    let reached = first_reached(&obs.aggregated, view.aggregator_skew);
    // When each event's handling first began, and first certainly ended.
    let mut tried_at: BTreeMap<&str, Millis> = BTreeMap::new();
    let mut done: BTreeMap<&str, Millis> = BTreeMap::new();
    for a in &obs.aggregated {
        let t = tried_at.entry(a.event_id.as_str()).or_insert(a.start);
        *t = (*t).min(a.start);
        if a.ok {
            let d = done.entry(a.event_id.as_str()).or_insert(a.end);
            *d = (*d).min(a.end);
        }
    }
    let by_id: BTreeMap<&str, &Record> = records
        .iter()
        .map(|r| (r.request_id.as_str(), *r))
        .collect();

    // Requests, as published (the first publication of each request id).
    let mut requests: BTreeMap<String, Expected<'_>> = BTreeMap::new();
    for (_, e) in &obs.published {
        let Some(Input::Request(r)) = Input::from_event(e) else {
            continue;
        };
        if requests.contains_key(&r.request_id) {
            continue;
        }
        let flavour = policy.of(r.flavour);
        let at = reached.get(e.event_id.as_str()).copied();
        let base = match at {
            Some(a) if r.requested_at > 0 => r.requested_at.min(a),
            Some(a) => a,
            None => r.requested_at,
        };
        requests.insert(
            r.request_id.clone(),
            Expected {
                required: flavour.required_for(r.transaction_count, r.account_type.as_deref()),
                deadline: base.saturating_add(flavour.deadline_ms),
                reached: at,
                record: by_id.get(r.request_id.as_str()).copied(),
                votes: BTreeMap::new(),
                ambiguous: false,
                request: r,
            },
        );
    }
    // Votes that must count: the first of each required voter, from its
    // bound source, about the request's file.
    for (_, e) in &obs.published {
        let Some(Input::Vote(vote)) = Input::from_event(e) else {
            continue;
        };
        let Some(x) = requests.get_mut(&vote.request_id) else {
            continue;
        };
        let reasonless_deny = vote.decision == VoteDecision::Deny
            && vote.reason.as_deref().is_none_or(|r| r.trim().is_empty());
        if vote.flavour != x.request.flavour
            || !x.required.contains(&vote.voter)
            || !bound(policy, &vote.voter, &vote.source)
            || vote.file_id != x.request.file_id
            || reasonless_deny
        {
            continue;
        }
        let seen = Seen {
            voter: vote.voter.clone(),
            event_id: vote.event_id.clone(),
            decision: vote.decision,
            reached: reached.get(vote.event_id.as_str()).copied(),
            tried: tried_at.contains_key(vote.event_id.as_str()),
        };
        let Some(first) = x.votes.get(&vote.voter).cloned() else {
            x.votes.insert(vote.voter.clone(), seen);
            continue;
        };
        // Two votes of one voter (a second vote, scripted or forged): the
        // one the aggregator certainly handled first is the one that
        // counts; if neither is certain, the oracle does not call it.
        let before = |a: &str, b: &str| {
            done.get(a)
                .is_some_and(|&d| tried_at.get(b).is_none_or(|&t| d < t))
        };
        let (old_id, new_id) = (first.event_id.as_str(), vote.event_id.as_str());
        if before(new_id, old_id) {
            x.votes.insert(vote.voter.clone(), seen);
        } else if !before(old_id, new_id) && first.decision != seen.decision {
            x.ambiguous = true;
        }
    }
    let published_ids: BTreeSet<&str> = obs
        .published
        .iter()
        .map(|(_, e)| e.event_id.as_str())
        .collect();
    let published_votes: BTreeMap<&str, (&Event, Input)> = obs
        .published
        .iter()
        .filter_map(|(_, e)| Input::from_event(e).map(|i| (e.event_id.as_str(), (e, i))))
        .collect();

    for (id, x) in &requests {
        let Some(rec) = x.record else { continue };
        let Some(d) = &rec.decision else { continue };
        // Counted votes are real ones: published, by the voter, from its
        // bound source, for this request's file, with the decision counted.
        for (voter, counted) in &rec.votes {
            let real = published_votes
                .get(counted.event_id.as_str())
                .is_some_and(|(e, i)| {
                    matches!(i, Input::Vote(v) if v.voter == *voter
                    && v.request_id == *id
                    && v.file_id == x.request.file_id
                    && v.decision == counted.decision
                    && bound(policy, voter, &e.source)
                    && x.required.contains(voter))
                });
            if !real {
                out.push(v(
                    Invariant::OnlyRealVotesCount,
                    format!(
                        "{id} counted {voter}'s {} vote {}, which no bound source published for this request's file (or the voter is not required)",
                        counted.decision, counted.event_id
                    ),
                ));
            }
        }
        if let Some((status, causes)) = expect(x, policy, margin) {
            if rec.status != status || !causes.contains(&d.cause) {
                let votes: Vec<String> = x
                    .votes
                    .values()
                    .map(|s| {
                        format!(
                            "{}:{}@{}",
                            s.voter,
                            s.decision,
                            s.reached
                                .map_or_else(|| "never".to_owned(), |t| t.to_string())
                        )
                    })
                    .collect();
                out.push(v(
                    Invariant::DecidedAsTheVotesSay,
                    format!(
                        "{id} was {} ({}) but its votes say {} ({}): required {:?}, deadline {}, request reached the aggregator at {}, votes that count [{}]",
                        rec.status.as_str(),
                        d.cause,
                        status.as_str(),
                        causes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" or "),
                        x.required,
                        x.deadline,
                        x.reached.map_or_else(|| "never".to_owned(), |t| t.to_string()),
                        votes.join(", ")
                    ),
                ));
            }
        }
        if settled && !published_ids.contains(d.event_id.as_str()) {
            out.push(v(
                Invariant::DecisionPublished,
                format!(
                    "{id} was {} in its record, but its decision {} never reached the bus",
                    rec.status.as_str(),
                    d.event_id
                ),
            ));
        }
    }
    if settled {
        out.extend(files_as_decided(records, obs, view));
    }
    out
}

/// When each event first reached the aggregator (the start of its first
/// successful invocation), on the aggregator's clock.
fn first_reached(aggregated: &[Aggregated], skew: i64) -> BTreeMap<&str, Millis> {
    let mut m: BTreeMap<&str, Millis> = BTreeMap::new();
    for a in aggregated.iter().filter(|a| a.ok) {
        let at = a.start + skew;
        m.entry(a.event_id.as_str())
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    m
}

/// An approved request ends with its file, transactions and content gone
/// and one `file.deleted` announced; a file no approved request names is
/// kept.
fn files_as_decided(records: &[&Record], obs: &Observations, view: &WorldView) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut approved: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut denied: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in records {
        let Some(q) = &r.request else { continue };
        match r.status {
            Status::Approved => approved
                .entry(q.file_id.as_str())
                .or_default()
                .push(&r.request_id),
            Status::Denied => denied
                .entry(q.file_id.as_str())
                .or_default()
                .push(&r.request_id),
            _ => {}
        }
    }
    let announced: BTreeSet<&str> = obs
        .published
        .iter()
        .filter_map(|(_, e)| match &e.data {
            EventData::FileDeleted(f) => Some(f.request_id.as_str()),
            _ => None,
        })
        .collect();
    for (file, state) in &view.files {
        if let Some(reqs) = approved.get(file.as_str()) {
            if state.metadata || state.transactions > 0 || state.content {
                out.push(v(
                    Invariant::ApprovedFileDeleted,
                    format!(
                        "{file} was approved for deletion ({}) but is still there: metadata {}, {} transactions, content {}",
                        reqs.join(", "),
                        state.metadata,
                        state.transactions,
                        state.content
                    ),
                ));
            }
            for req in reqs {
                if !announced.contains(req) {
                    out.push(v(
                        Invariant::ApprovedFileDeleted,
                        format!("{req} approved the deletion of {file}, but no file.deleted announced it"),
                    ));
                }
            }
        } else if let Some(reqs) = denied.get(file.as_str()) {
            if !state.metadata {
                out.push(v(
                    Invariant::ApprovedFileDeleted,
                    format!(
                        "{file} is gone, but its only requests ({}) were denied",
                        reqs.join(", ")
                    ),
                ));
            }
        }
    }
    out
}
