//! The record-level invariant: what any record the coordination wrote must
//! satisfy, whatever inputs it saw. One predicate, used by the simulator
//! (after every aggregator write), the property tests and the fuzz target,
//! so that the three cannot disagree about what a correct record is.

use super::policy::{Outcome, Policy};
use super::record::{Disposition, Record, Status};
use crate::event::{DecisionCause, VoteDecision};

/// Which rule a record breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// A counted deny, and the record is not denied.
    VetoOverturned,
    /// A decision its cause does not justify: an approval without every
    /// required vote in favour, a timeout before the deadline or against
    /// the policy's timeout outcome, a veto without a counted deny, an
    /// error decision without a counted error.
    UnfoundedDecision,
    /// A counted vote that should not count: from a voter the request does
    /// not require, or not logged as counted in the history.
    UnfoundedVote,
    /// Status, decision and request disagree.
    Inconsistent,
}

/// A rule broken, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub rule: Rule,
    pub detail: String,
}

/// Every rule `rec` breaks under `policy` (none for a correct record).
pub fn check(rec: &Record, policy: &Policy) -> Vec<Breach> {
    let mut out = Vec::new();
    let id = &rec.request_id;
    let mut breach = |rule, detail: String| out.push(Breach { rule, detail });
    for (voter, v) in &rec.votes {
        if !rec.required.contains(voter) {
            breach(
                Rule::UnfoundedVote,
                format!(
                    "{id} counted {voter}, which it does not require ({:?})",
                    rec.required
                ),
            );
        }
        // A held vote is logged twice: held, then counted.
        let logged = rec.history.iter().rfind(|h| h.event_id == v.event_id);
        if !matches!(logged.map(|h| &h.disposition), Some(Disposition::Counted)) {
            breach(
                Rule::UnfoundedVote,
                format!(
                    "{id} counts {} ({voter}) but its history does not say so",
                    v.event_id
                ),
            );
        }
    }
    if rec.is_decided() != rec.decision.is_some()
        || rec
            .decision
            .as_ref()
            .is_some_and(|d| d.status != rec.status)
    {
        breach(
            Rule::Inconsistent,
            format!(
                "{id} is {} with decision {:?}",
                rec.status.as_str(),
                rec.decision
            ),
        );
    }
    let Some(d) = &rec.decision else { return out };
    if rec.request.is_none() {
        breach(
            Rule::Inconsistent,
            format!("{id} is decided without a request"),
        );
    }
    let counted = |dec: VoteDecision| rec.votes.values().any(|x| x.decision == dec);
    if counted(VoteDecision::Deny) && rec.status != Status::Denied {
        breach(
            Rule::VetoOverturned,
            format!("{id} has a counted deny but is {}", rec.status.as_str()),
        );
    }
    let f = policy.of(rec.flavour);
    let expired = rec.deadline.is_some_and(|dl| d.at >= dl);
    let founded = match (d.status, d.cause) {
        (Status::Approved, DecisionCause::AllProceeded) => rec.required.iter().all(|r| {
            rec.votes.get(r).is_some_and(|x| {
                x.decision == VoteDecision::Proceed
                    || (x.decision == VoteDecision::Error && f.error_outcome == Outcome::Proceed)
            })
        }),
        (Status::Approved, DecisionCause::Timeout) => {
            expired && f.timeout_outcome == Outcome::Proceed
        }
        (Status::Denied, DecisionCause::Timeout) => expired && f.timeout_outcome == Outcome::Deny,
        (Status::Denied, DecisionCause::Vetoed) => counted(VoteDecision::Deny),
        (Status::Denied, DecisionCause::VoterError) => {
            counted(VoteDecision::Error) && f.error_outcome == Outcome::Deny
        }
        _ => false,
    };
    if !founded {
        breach(
            Rule::UnfoundedDecision,
            format!(
                "{id} {} with cause {} (votes: {:?}, required: {:?}, deadline: {:?}, at: {})",
                rec.status.as_str(),
                d.cause,
                rec.votes
                    .iter()
                    .map(|(k, v)| (k, v.decision))
                    .collect::<Vec<_>>(),
                rec.required,
                rec.deadline,
                d.at
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::input::Flavour;
    use crate::coordination::{step, Input, Request, Vote};
    use crate::event::{sources, VoteDecision};

    fn request() -> Input {
        Input::Request(Request {
            flavour: Flavour::Voting,
            event_id: "evt-req".into(),
            request_id: "r".into(),
            file_id: "f".into(),
            user_id: "u".into(),
            account_id: "a".into(),
            account_type: None,
            transaction_count: 1,
            correlation_id: None,
            requested_at: 1,
        })
    }

    fn vote(voter: &str, source: &str, decision: VoteDecision) -> Input {
        Input::Vote(Vote {
            flavour: Flavour::Voting,
            event_id: format!("evt-{voter}"),
            request_id: "r".into(),
            file_id: "f".into(),
            voter: voter.into(),
            source: source.into(),
            decision,
            reason: Some("because".into()),
        })
    }

    fn approved(p: &Policy) -> Record {
        let mut rec = None;
        for i in [
            request(),
            vote(
                "analytics_manager",
                sources::ANALYTICS_SERVICE,
                VoteDecision::Proceed,
            ),
            vote(
                "category_manager",
                sources::CATEGORY_SERVICE,
                VoteDecision::Proceed,
            ),
        ] {
            rec = step(rec, &i, 10, p).record;
        }
        rec.unwrap()
    }

    fn rules(rec: &Record, p: &Policy) -> Vec<Rule> {
        check(rec, p).into_iter().map(|b| b.rule).collect()
    }

    /// What the step writes passes; each way of breaking the record is
    /// named by its own rule (the check is not vacuous).
    #[test]
    fn a_stepped_record_passes_and_each_break_is_named() {
        let p = Policy::default();
        let good = approved(&p);
        assert_eq!(good.status, Status::Approved);
        assert_eq!(rules(&good, &p), []);

        let mut vetoed = good.clone();
        vetoed.votes.get_mut("category_manager").unwrap().decision = VoteDecision::Deny;
        assert_eq!(
            rules(&vetoed, &p),
            [Rule::VetoOverturned, Rule::UnfoundedDecision]
        );

        let mut missing = good.clone();
        missing.votes.remove("category_manager");
        assert_eq!(rules(&missing, &p), [Rule::UnfoundedDecision]);

        let mut early = good.clone();
        early.decision.as_mut().unwrap().cause = DecisionCause::Timeout;
        assert_eq!(rules(&early, &p), [Rule::UnfoundedDecision]);

        let mut unrequired = good.clone();
        unrequired.required.retain(|v| v != "category_manager");
        assert_eq!(rules(&unrequired, &p), [Rule::UnfoundedVote]);

        let mut unlogged = good.clone();
        unlogged.history.retain(|h| h.who != "analytics_manager");
        assert_eq!(rules(&unlogged, &p), [Rule::UnfoundedVote]);

        let mut torn = good;
        torn.status = Status::Waiting;
        assert_eq!(rules(&torn, &p), [Rule::Inconsistent]);
    }
}
