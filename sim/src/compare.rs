//! A trace's recorded decisions against the ones this build made from the
//! same inputs: how many were compared, which agree, and for each that
//! differs both sides and the reason in words, read off the replayed
//! record's history (what became of every input) and the recorded
//! decision's own votes.

use crate::trace::{Recorded, Trace, NOT_RECORDED};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tally_core::coordination::{Disposition, Input, Record};
use tally_core::event::DecisionCause;
use tally_core::time::{to_rfc3339_millis, Millis};

/// Why a recorded decision and the replayed one differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The trace holds no request and no vote for the request.
    NoInputs,
    /// Votes, but no request: they are held and nothing decides.
    NoRequest,
    /// One side timed out and the other did not.
    DeadlineCrossed,
    /// Another vote decided first.
    FirstDecidingVote,
    /// A vote the recorded decision counted was refused (or came late) here.
    VoteRefusedHere,
    /// A vote counted here is not among the recorded decision's votes.
    VoteNotRecorded,
    /// None of the above: the outcomes or causes simply differ.
    Other,
}

impl Kind {
    pub fn text(self) -> &'static str {
        match self {
            Kind::NoInputs => "the trace holds no input for it",
            Kind::NoRequest => "the trace holds its votes but not its request",
            Kind::DeadlineCrossed => "one side timed out and the other did not",
            Kind::FirstDecidingVote => "a different vote decided first",
            Kind::VoteRefusedHere => "a vote counted there was refused here",
            Kind::VoteNotRecorded => "a vote counted here is not among the recorded votes",
            Kind::Other => "the outcome or cause differs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    pub outcome: String,
    pub cause: String,
    pub by: Vec<String>,
    pub at: String,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cause={} at {}", self.outcome, self.cause, self.at)?;
        if !self.by.is_empty() {
            write!(f, " by [{}]", self.by.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub request_id: String,
    pub file_id: String,
    /// The recorded decision's line in the trace.
    pub line: usize,
    pub recorded: Side,
    /// None when this build did not decide the request.
    pub replayed: Option<Side>,
    pub kind: Kind,
    pub reason: String,
}

impl Difference {
    /// The kind of difference, in a few words.
    pub fn kind_text(&self) -> &'static str {
        self.kind.text()
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let replayed = self
            .replayed
            .as_ref()
            .map_or("(no decision)".to_owned(), ToString::to_string);
        write!(
            f,
            "request  {} (file {}, recorded on line {})\n  recorded {}\n  replayed {}\n  why      {}",
            self.request_id, self.file_id, self.line, self.recorded, replayed, self.reason
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub compared: usize,
    pub agreeing: usize,
    pub differing: Vec<Difference>,
    /// Requests this build decided that the trace records no decision for
    /// (a trace cut before them, or a system that never decided them).
    pub replay_only: Vec<String>,
}

/// Compares each recorded decision with the record this build made for
/// the same request: they agree when the outcome is the same and so is
/// the cause (where the recording gives one).
pub fn compare(recorded: &[Recorded], records: &[Record], trace: &Trace) -> Comparison {
    let by_id: BTreeMap<&str, &Record> =
        records.iter().map(|r| (r.request_id.as_str(), r)).collect();
    let mut inputs: BTreeMap<String, usize> = BTreeMap::new();
    for e in trace.events.iter().filter_map(|t| t.event.as_deref()) {
        if let Some(i) = Input::from_event(e) {
            *inputs.entry(i.request_id().to_owned()).or_default() += 1;
        }
    }
    let mut out = Comparison {
        compared: recorded.len(),
        ..Comparison::default()
    };
    for rec in recorded {
        let mine = by_id.get(rec.request_id.as_str()).copied();
        let agrees = mine.and_then(|r| r.decision.as_ref()).is_some_and(|d| {
            d.status.as_str() == rec.outcome && rec.cause.is_none_or(|c| c == d.cause)
        });
        if agrees {
            out.agreeing += 1;
        } else {
            let n = inputs.get(&rec.request_id).copied().unwrap_or(0);
            out.differing.push(explain(rec, mine, n));
        }
    }
    let recorded_ids: BTreeSet<&str> = recorded.iter().map(|r| r.request_id.as_str()).collect();
    out.replay_only = records
        .iter()
        .filter(|r| r.decision.is_some() && !recorded_ids.contains(r.request_id.as_str()))
        .map(|r| r.request_id.clone())
        .collect();
    out
}

fn recorded_side(r: &Recorded) -> Side {
    Side {
        outcome: r.outcome.to_owned(),
        cause: r
            .cause
            .map_or_else(|| NOT_RECORDED.to_owned(), |c| c.as_str().to_owned()),
        by: r.by.clone(),
        at: to_rfc3339_millis(r.at),
    }
}

fn replayed_side(r: &Record) -> Option<Side> {
    let d = r.decision.as_ref()?;
    Some(Side {
        outcome: d.status.as_str().to_owned(),
        cause: d.cause.as_str().to_owned(),
        by: d.by.clone(),
        at: to_rfc3339_millis(d.at),
    })
}

fn time(at: Millis) -> String {
    to_rfc3339_millis(at)
}

/// What became of `voter`'s vote in the replayed record, in words.
fn fate(r: &Record, voter: &str) -> String {
    if let Some(v) = r.votes.get(voter) {
        return format!("{} counted, received {}", v.decision, time(v.at));
    }
    let seen: Vec<_> = r.history.iter().filter(|h| h.who == voter).collect();
    let Some(h) = seen.first() else {
        return "not in the trace".to_owned();
    };
    let decision = h.decision.map_or(String::new(), |d| format!("{d} "));
    match &h.disposition {
        Disposition::Refused { reason } => format!("{decision}refused: {reason}"),
        Disposition::Late => format!(
            "{decision}received {}, after this build had decided",
            time(h.at)
        ),
        Disposition::Held => format!(
            "{decision}held since {}: the request never came",
            time(h.at)
        ),
        other => format!("{decision}{other:?} at {}", time(h.at)).to_lowercase(),
    }
}

fn explain(rec: &Recorded, mine: Option<&Record>, inputs: usize) -> Difference {
    let (kind, reason, replayed) = match mine {
        None => (
            Kind::NoInputs,
            format!(
                "the trace holds no request and no vote for {}: no input explains the recorded decision",
                rec.request_id
            ),
            None,
        ),
        Some(r) if r.request.is_none() => (
            Kind::NoRequest,
            format!(
                "the trace holds {inputs} vote(s) for {} but not its request: they are held and nothing decides",
                rec.request_id
            ),
            None,
        ),
        Some(r) => {
            let (kind, reason) = reason_decided(rec, r);
            (kind, reason, replayed_side(r))
        }
    };
    Difference {
        request_id: rec.request_id.clone(),
        file_id: rec.file_id.clone(),
        line: rec.line,
        recorded: recorded_side(rec),
        replayed,
        kind,
        reason,
    }
}

fn reason_decided(rec: &Recorded, r: &Record) -> (Kind, String) {
    let Some(d) = &r.decision else {
        return (Kind::Other, "this build has not decided it".to_owned());
    };
    let deadline = r.deadline.map_or("(none)".to_owned(), time);
    let timed_out_here = d.cause == DecisionCause::Timeout;
    let timed_out_there = rec.cause == Some(DecisionCause::Timeout);
    if timed_out_here && !timed_out_there {
        let missing: Vec<String> = r
            .required
            .iter()
            .filter(|v| !r.votes.contains_key(*v))
            .map(|v| format!("{v} ({})", fate(r, v)))
            .collect();
        return (
            Kind::DeadlineCrossed,
            format!(
                "the deadline {deadline} passed here before every required vote counted; missing: {}",
                missing.join("; ")
            ),
        );
    }
    if timed_out_there && !timed_out_here {
        return (
            Kind::DeadlineCrossed,
            format!(
                "the recorded decision timed out, but here the votes decided at {} before the deadline {deadline}",
                time(d.at)
            ),
        );
    }
    let mut theirs = rec.by.clone();
    theirs.sort();
    let mut ours = d.by.clone();
    ours.sort();
    if !theirs.is_empty() && theirs != ours {
        let fates: Vec<String> = theirs
            .iter()
            .chain(ours.iter())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|v| format!("{v}: {}", fate(r, v)))
            .collect();
        return (
            Kind::FirstDecidingVote,
            format!(
                "a different vote decided first: recorded by [{}], here by [{}] ({})",
                theirs.join(", "),
                ours.join(", "),
                fates.join("; ")
            ),
        );
    }
    for v in &rec.votes {
        if !r.votes.contains_key(&v.voter) {
            return (
                Kind::VoteRefusedHere,
                format!(
                    "{}'s vote ({}) counted in the recorded decision but not here: {}",
                    v.voter,
                    v.decision,
                    fate(r, &v.voter)
                ),
            );
        }
    }
    if !rec.votes.is_empty() {
        if let Some((voter, v)) = r
            .votes
            .iter()
            .find(|(voter, _)| !rec.votes.iter().any(|x| &x.voter == *voter))
        {
            return (
                Kind::VoteNotRecorded,
                format!(
                    "{voter}'s vote ({}, received {}) counted here but is not among the recorded decision's votes",
                    v.decision,
                    time(v.at)
                ),
            );
        }
    }
    (
        Kind::Other,
        format!(
            "the same votes counted ({}), yet the outcome or cause differs",
            r.votes.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    )
}
