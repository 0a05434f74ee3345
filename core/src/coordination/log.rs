//! The decision log: one stable line per terminal decision, readable
//! without the code. Snapshots, the simulator and trace replay all print
//! this form, so a diff between two runs is a diff between two decisions.

use super::record::Record;
use crate::time::{to_rfc3339_millis, Millis};

/// `2025-01-15T10:35:00.000Z req-1 file=f-1 denied cause=timeout by=[category_manager] votes=[analytics_manager:proceed]`
pub fn decision_line(rec: &Record) -> Option<String> {
    let d = rec.decision.as_ref()?;
    let file = rec.request.as_ref().map_or("?", |r| r.file_id.as_str());
    let votes: Vec<String> = rec
        .votes
        .iter()
        .map(|(voter, v)| format!("{voter}:{}", v.decision))
        .collect();
    Some(format!(
        "{} {} file={} {} cause={} by=[{}] votes=[{}]",
        to_rfc3339_millis(d.at),
        rec.request_id,
        file,
        d.status.as_str(),
        d.cause,
        d.by.join(","),
        votes.join(",")
    ))
}

/// `2025-01-15T10:30:00.050Z refused evt-7 (req-1): voter backup_manager is not required ...`
pub fn refusal_line(at: Millis, request_id: &str, event_id: &str, reason: &str) -> String {
    format!(
        "{} refused {event_id} ({request_id}): {reason}",
        to_rfc3339_millis(at)
    )
}

/// The decided records, in the order the log prints them: by decision
/// time, then requestId.
pub fn in_decision_order<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<&'a Record> {
    let mut decided: Vec<&Record> = records
        .into_iter()
        .filter(|r| r.decision.is_some())
        .collect();
    decided.sort_by(|a, b| {
        (a.decision.as_ref().map(|d| d.at), &a.request_id)
            .cmp(&(b.decision.as_ref().map(|d| d.at), &b.request_id))
    });
    decided
}

/// `2025-01-15T10:36:00.000Z late evt-9 (req-1): category_manager proceed after the decision, ignored`
///
/// A vote that came after the decision changes nothing; its line shows a
/// reviewer that it arrived and was handled.
pub fn late_vote_line(
    at: Millis,
    request_id: &str,
    event_id: &str,
    voter: &str,
    decision: Option<&str>,
) -> String {
    format!(
        "{} late {event_id} ({request_id}): {voter} {} after the decision, ignored",
        to_rfc3339_millis(at),
        decision.unwrap_or("vote")
    )
}
