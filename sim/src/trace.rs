//! Captured production traces: JSON Lines, one delivered EventBridge event
//! per line exactly as a target receives it. Lines may be out of time
//! order and may repeat, as captures are. Reading is fast: only the events
//! the coordination reads (requests, votes, completion reports) and the
//! decisions it is compared with are decoded in full; the rest keep their
//! type and time.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use tally_core::event::{Event, EventData, EventKind};
use tally_core::time::{parse_rfc3339, to_rfc3339_millis, Millis};
use tally_core::wire::DeliveredEvent;

/// What a bad line gets: skipped with a report, or the end of the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadLines {
    #[default]
    Skip,
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Debug, Clone)]
pub struct Traced {
    /// 1-based line number in the trace.
    pub line: usize,
    /// The event's own time: the envelope's millisecond timestamp when it
    /// has one, else EventBridge's `time`.
    pub at: Millis,
    pub detail_type: String,
    /// Decoded for the types the coordination reads or is compared with
    /// (boxed: most lines have none, and a million lines get sorted).
    pub event: Option<Box<Event>>,
}

#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// In time order (ties keep the order of the lines).
    pub events: Vec<Traced>,
    pub bad: Vec<BadLine>,
}

#[derive(Deserialize)]
struct FullEnvelope<'a> {
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    time: &'a str,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

struct Envelope<'a> {
    detail_type: &'a str,
    time: &'a str,
    has_detail: bool,
}

/// Types whose lines are decoded in full.
fn needed(kind: Option<EventKind>) -> bool {
    matches!(
        kind,
        Some(
            EventKind::DeletionRequested
                | EventKind::DeleteRequested
                | EventKind::DeletionVote
                | EventKind::ConsumerCompletion
                | EventKind::DeletionApproved
                | EventKind::DeletionDenied
                | EventKind::FileDeleted
        )
    )
}

/// Reads one line; `Ok(None)` for a blank line.
pub fn read_line(line: usize, text: &str) -> Result<Option<Traced>, BadLine> {
    let bad = |reason: String| BadLine { line, reason };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let env = match crate::envelope_scan::top(trimmed) {
        Some(t) => Envelope {
            detail_type: t.detail_type,
            time: t.time,
            has_detail: t.has_detail,
        },
        // The fast read declined: let serde_json read it and name the fault.
        None => {
            let full: FullEnvelope<'_> = serde_json::from_str(trimmed).map_err(|e| {
                if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_err() {
                    bad(format!("not JSON: {e}"))
                } else {
                    bad(format!("not a delivered EventBridge event: {e}"))
                }
            })?;
            Envelope {
                detail_type: full.detail_type,
                time: full.time,
                has_detail: full.detail.is_some(),
            }
        }
    };
    let kind = EventKind::parse(env.detail_type);
    let (event, at) = if needed(kind) {
        let ev = DeliveredEvent::from_json(trimmed)
            .and_then(|d| d.decode())
            .map_err(|e| bad(e.to_string()))?;
        let at = ev.timestamp;
        (Some(Box::new(ev)), at)
    } else {
        if !env.has_detail {
            return Err(bad(
                "not a delivered EventBridge event: missing field `detail`".into(),
            ));
        }
        let at = parse_rfc3339(env.time).ok_or_else(|| {
            bad(format!(
                "time: expected an RFC 3339 time, found {:?}",
                env.time
            ))
        })?;
        (None, at)
    };
    Ok(Some(Traced {
        line,
        at,
        detail_type: env.detail_type.to_owned(),
        event,
    }))
}

/// Reads a whole trace. With `BadLines::Fatal` the first bad line is the
/// error; with `Skip` every bad line is reported in `Trace::bad`.
pub fn read(text: &str, bad_lines: BadLines) -> Result<Trace, BadLine> {
    let mut trace = Trace::default();
    for (i, line) in text.lines().enumerate() {
        match read_line(i + 1, line) {
            Ok(Some(t)) => trace.events.push(t),
            Ok(None) => {}
            Err(b) if bad_lines == BadLines::Fatal => return Err(b),
            Err(b) => trace.bad.push(b),
        }
    }
    trace.events.sort_by_key(|t| (t.at, t.line));
    Ok(trace)
}

/// A terminal decision, as recorded in a trace or made by a replay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecisionOut {
    pub at: Millis,
    pub request_id: String,
    pub file_id: String,
    pub outcome: String,
    pub cause: String,
}

impl DecisionOut {
    /// `{"requestId", "fileId", "outcome", "cause", "at"}`, one line.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Line<'a> {
            request_id: &'a str,
            file_id: &'a str,
            outcome: &'a str,
            cause: &'a str,
            at: String,
        }
        let line = Line {
            request_id: &self.request_id,
            file_id: &self.file_id,
            outcome: &self.outcome,
            cause: &self.cause,
            at: to_rfc3339_millis(self.at),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    pub fn from_json(line: usize, text: &str) -> Result<DecisionOut, BadLine> {
        let bad = |reason: String| BadLine { line, reason };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    bad(format!(
                        "{k}: expected a string, found {}",
                        v.get(k).map_or("nothing".to_owned(), |x| x.to_string())
                    ))
                })
        };
        let at_text = s("at")?;
        let at = parse_rfc3339(&at_text)
            .ok_or_else(|| bad(format!("at: expected an RFC 3339 time, found {at_text:?}")))?;
        Ok(DecisionOut {
            at,
            request_id: s("requestId")?,
            file_id: s("fileId")?,
            outcome: s("outcome")?,
            cause: s("cause")?,
        })
    }
}

/// The decisions a trace recorded (the first per request, in time order).
pub fn recorded_decisions(trace: &Trace) -> Vec<DecisionOut> {
    let mut first: BTreeMap<String, DecisionOut> = BTreeMap::new();
    for t in &trace.events {
        let Some(ev) = &t.event else { continue };
        let d = match &ev.data {
            EventData::DeletionApproved(a) => DecisionOut {
                at: ev.timestamp,
                request_id: a.request_id.clone(),
                file_id: a.file_id.clone(),
                outcome: "approved".into(),
                cause: a.cause.to_string(),
            },
            EventData::DeletionDenied(d) => DecisionOut {
                at: ev.timestamp,
                request_id: d.request_id.clone(),
                file_id: d.file_id.clone(),
                outcome: "denied".into(),
                cause: d.cause.to_string(),
            },
            _ => continue,
        };
        first.entry(d.request_id.clone()).or_insert(d);
    }
    let mut out: Vec<DecisionOut> = first.into_values().collect();
    out.sort();
    out
}

/// One request whose decision differs between two logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub request_id: String,
    pub left: Option<DecisionOut>,
    pub right: Option<DecisionOut>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |d: &Option<DecisionOut>| {
            d.as_ref().map_or("(no decision)".to_owned(), |d| {
                format!(
                    "{} cause={} at {}",
                    d.outcome,
                    d.cause,
                    to_rfc3339_millis(d.at)
                )
            })
        };
        write!(
            f,
            "{}: {} | {}",
            self.request_id,
            side(&self.left),
            side(&self.right)
        )
    }
}

/// Requests whose outcome or cause differ (or that one side lacks), in
/// the order of the earlier decision. With `left_only_scope`, requests the
/// left side never decided are not differences (a trace cut before its
/// decision is compared only where it decided).
pub fn differences(
    left: &[DecisionOut],
    right: &[DecisionOut],
    left_only_scope: bool,
) -> Vec<Difference> {
    let l: BTreeMap<&str, &DecisionOut> = left.iter().map(|d| (d.request_id.as_str(), d)).collect();
    let r: BTreeMap<&str, &DecisionOut> =
        right.iter().map(|d| (d.request_id.as_str(), d)).collect();
    let mut ids: Vec<&str> = l.keys().copied().collect();
    if !left_only_scope {
        ids.extend(r.keys().copied().filter(|k| !l.contains_key(k)));
    }
    let mut diffs: Vec<(Millis, Difference)> = ids
        .into_iter()
        .filter_map(|id| {
            let (a, b) = (l.get(id).copied(), r.get(id).copied());
            let same = matches!((a, b), (Some(a), Some(b)) if a.outcome == b.outcome && a.cause == b.cause);
            (!same).then(|| {
                let at = a.or(b).map_or(0, |d| d.at);
                (at, Difference { request_id: id.to_owned(), left: a.cloned(), right: b.cloned() })
            })
        })
        .collect();
    diffs.sort_by(|x, y| (x.0, &x.1.request_id).cmp(&(y.0, &y.1.request_id)));
    diffs.into_iter().map(|(_, d)| d).collect()
}

/// Pulls delivered events out of JSON log lines: a line that is itself a
/// delivered event, or whose top-level field (`event`, `message`, or any
/// other) holds one, as an object or as JSON text. Events come out
/// unchanged (re-serialized compactly); lines without one are counted.
pub fn from_logs(text: &str) -> (Vec<String>, usize) {
    fn is_event(v: &serde_json::Value) -> bool {
        v.get("detail-type").is_some_and(|x| x.is_string())
            && v.get("detail").is_some()
            && v.get("id").is_some()
    }
    fn find(v: &serde_json::Value) -> Option<serde_json::Value> {
        if is_event(v) {
            return Some(v.clone());
        }
        let obj = v.as_object()?;
        obj.values().find_map(|field| match field {
            serde_json::Value::Object(_) if is_event(field) => Some(field.clone()),
            serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .filter(is_event),
            _ => None,
        })
    }
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .as_ref()
            .and_then(find)
        {
            Some(ev) => out.push(ev.to_string()),
            None => skipped += 1,
        }
    }
    (out, skipped)
}
