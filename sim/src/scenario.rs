//! Declarative scenarios: files, events at times, faults, and the outcomes
//! expected. `tally run` and the snapshot suite run them in the simulated
//! world; each prints a decision log a person can review without the code.

use crate::faults::Pins;
use serde::Deserialize;
use tally_core::coordination::{Flavour, Policy};
use tally_core::event::{self, sources, CompletionStatus, EventData, VoteDecision};
use tally_core::ids;
use tally_core::time::Millis;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The seed for delays and other draws (faults are only those pinned).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// When false, the voter functions do nothing and every vote comes
    /// from the scenario's own steps.
    #[serde(default = "yes")]
    pub automatic_voters: bool,
    /// A rules file, relative to the scenario; the default rules otherwise.
    #[serde(default)]
    pub rules: Option<String>,
    /// A policy file, relative to the scenario; the defaults otherwise.
    #[serde(default)]
    pub policy: Option<String>,
    /// The same faults `tally explore` takes as flags; all off unless set.
    #[serde(default)]
    pub faults: Pins,
    #[serde(default, rename = "file")]
    pub files: Vec<FileSpec>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Expectation>,
    /// A seeded run of `tally explore` instead of files and steps: its seed
    /// and workload (the `[faults]` table pins its faults, all of them off
    /// unless set). What `explore` writes when it shrinks a failure.
    #[serde(default)]
    pub explore: Option<ExploreRun>,
    /// Invariants this scenario shows being violated (by name, e.g.
    /// `audited-once`): a scenario about a broken configuration passes
    /// when exactly these are caught.
    #[serde(default)]
    pub expect_violations: Vec<String>,
}

/// One seeded explore run, as a scenario's `[explore]` table: the seed and
/// the workload (each field the flag of the same name; the defaults when
/// absent).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExploreRun {
    pub seed: u64,
    #[serde(default = "workload_files")]
    pub files: usize,
    #[serde(default = "workload_users")]
    pub users: usize,
    #[serde(default = "workload_completion")]
    pub completion_percent: u64,
    #[serde(default = "workload_large")]
    pub large_percent: u64,
    #[serde(default = "workload_traffic")]
    pub traffic: usize,
}

fn workload_files() -> usize {
    crate::workload::Workload::default().files
}
fn workload_users() -> usize {
    crate::workload::Workload::default().users
}
fn workload_completion() -> u64 {
    crate::workload::Workload::default().completion_percent
}
fn workload_large() -> u64 {
    crate::workload::Workload::default().large_percent
}
fn workload_traffic() -> usize {
    crate::workload::Workload::default().traffic
}

impl ExploreRun {
    pub fn workload(&self) -> crate::workload::Workload {
        crate::workload::Workload {
            files: self.files,
            users: self.users,
            completion_percent: self.completion_percent,
            large_percent: self.large_percent,
            traffic: self.traffic,
        }
    }
}

fn default_seed() -> u64 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub id: String,
    pub owner: String,
    #[serde(default = "three")]
    pub transactions: usize,
    #[serde(default)]
    pub account_type: Option<String>,
}

fn three() -> usize {
    3
}

/// One thing that happens at `at` (milliseconds, or text like `90s`, `5m`).
/// Unknown keys are refused by `Action` (serde cannot refuse them here too:
/// `flatten` and `deny_unknown_fields` do not mix on one struct).
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    #[serde(deserialize_with = "de_time")]
    pub at: Millis,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The owner uploads the file: S3 notifies, the pipeline processes it.
    Upload { file: String },
    /// DELETE /files/{file} through the API, by `caller` (the owner when omitted).
    Delete {
        file: String,
        #[serde(default)]
        caller: Option<String>,
        #[serde(default = "voting")]
        flavour: Flavour,
    },
    /// A deletion request published directly, with a known requestId.
    Request {
        file: String,
        request_id: String,
        #[serde(default = "voting")]
        flavour: Flavour,
        #[serde(default)]
        event_id: Option<String>,
    },
    /// A vote (or, in the completion flavour, a completion report)
    /// published directly. `source` defaults to the voter's own.
    Vote {
        request_id: String,
        file: String,
        voter: String,
        decision: String,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        event_id: Option<String>,
    },
}

fn voting() -> Flavour {
    Flavour::Voting
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The request, by its id (for scripted requests) ...
    #[serde(default)]
    pub request_id: Option<String>,
    /// ... or by its file (for requests made through the API).
    #[serde(default)]
    pub file: Option<String>,
    /// approved, denied or waiting.
    pub outcome: String,
    #[serde(default)]
    pub cause: Option<String>,
    /// How many refusals the aggregator audited for this request.
    #[serde(default)]
    pub refusals: Option<usize>,
    /// Whether the file's data must be gone at the end.
    #[serde(default)]
    pub file_deleted: Option<bool>,
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum T {
        Ms(i64),
        Text(String),
    }
    match T::deserialize(d)? {
        T::Ms(ms) => Ok(ms),
        T::Text(t) => parse_duration(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "at = {t:?}: expected milliseconds or a duration like 500ms, 90s, 5m, 1h"
            ))
        }),
    }
}

/// `500ms`, `90s`, `5m`, `1h`, `1.5s`.
pub fn parse_duration(t: &str) -> Option<Millis> {
    let t = t.trim();
    let (num, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((t, "ms"), |i| (&t[..i], &t[i..]));
    let n: f64 = num.trim().parse().ok()?;
    let scale = match unit {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then(|| (n * scale).round() as Millis)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub message: String,
}

impl Scenario {
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let err = |message: String| ScenarioError {
            file: file.to_owned(),
            message,
        };
        let s: Scenario =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        if let Err((key, why)) = s.faults.check() {
            return Err(err(format!("[faults] {key}: {why}")));
        }
        for (i, step) in s.steps.iter().enumerate() {
            let f = match &step.action {
                Action::Upload { file }
                | Action::Delete { file, .. }
                | Action::Request { file, .. }
                | Action::Vote { file, .. } => file,
            };
            if !s.files.iter().any(|x| &x.id == f) {
                return Err(err(format!(
                    "step[{i}]: file {f:?} is not declared in a [[file]] table"
                )));
            }
            if let Action::Vote { decision, .. } = &step.action {
                if !["proceed", "deny", "error", "done", "failed"].contains(&decision.as_str()) {
                    return Err(err(format!("step[{i}]: decision {decision:?}: expected proceed, deny, error (voting) or done, failed (completion)")));
                }
            }
        }
        for (i, e) in s.expectations.iter().enumerate() {
            if e.request_id.is_none() == e.file.is_none() {
                return Err(err(format!(
                    "expect[{i}]: name exactly one of request_id or file"
                )));
            }
            if !["approved", "denied", "waiting"].contains(&e.outcome.as_str()) {
                return Err(err(format!(
                    "expect[{i}]: outcome {:?}: expected approved, denied or waiting",
                    e.outcome
                )));
            }
        }
        Ok(s)
    }
}

/// A scenario with the rules and policy it runs under.
pub struct Loaded {
    pub scenario: Scenario,
    pub rules: tally_core::rules::Rules,
    pub policy: tally_core::coordination::Policy,
}

/// Reads a scenario file and the rules and policy files it names
/// (relative to it; the defaults when it names none).
pub fn load(path: &std::path::Path) -> Result<Loaded, String> {
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display()))
    };
    let scenario = Scenario::parse(&path.display().to_string(), &read(path, "scenario")?)
        .map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let rules = match &scenario.rules {
        None => tally_core::rules::Rules::default_rules(),
        Some(r) => {
            let p = dir.join(r);
            tally_core::rules::Rules::parse(&p.display().to_string(), &read(&p, "rules file")?)
                .map_err(|e| e.to_string())?
        }
    };
    let policy = match &scenario.policy {
        None => tally_core::coordination::Policy::default(),
        Some(f) => {
            let p = dir.join(f);
            tally_core::coordination::Policy::parse(
                &p.display().to_string(),
                &read(&p, "policy file")?,
            )
            .map_err(|e| e.to_string())?
        }
    };
    Ok(Loaded {
        scenario,
        rules,
        policy,
    })
}

/// The scenario files named, folders expanded (sorted, so runs are
/// stable); rules and policy files beside them are not scenarios.
pub fn expand(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<std::path::PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f.to_string_lossy();
                    name.ends_with(".toml")
                        && !name.ends_with(".rules.toml")
                        && !name.ends_with(".policy.toml")
                })
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("250"), Some(250));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn bad_scenarios_name_what_is_wrong() {
        let e = Scenario::parse(
            "s.toml",
            "name = \"x\"\n[[step]]\nat = \"1s\"\ndo = \"upload\"\nfile = \"nope\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml: step[0]: file \"nope\" is not declared in a [[file]] table"
        );
        let e = Scenario::parse(
            "s.toml",
            "name = \"x\"\n[[step]]\nat = \"soon\"\ndo = \"upload\"\nfile = \"f\"\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("expected milliseconds or a duration"),
            "{e}"
        );
        let e = Scenario::parse(
            "s.toml",
            "name = \"x\"\n[[expect]]\nfile = \"f\"\noutcome = \"maybe\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml: expect[0]: outcome \"maybe\": expected approved, denied or waiting"
        );
    }
}

/// A scripted event, as a step publishes it: who publishes it and what it
/// carries. Shared by the simulator and the AWS adapter's parity tests, so
/// both worlds are handed the very same events.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedEvent {
    pub event_id: String,
    pub source: String,
    pub user: String,
    pub request_id: String,
    pub data: EventData,
}

impl Action {
    /// The event a `request` or `vote` step publishes; `None` for the steps
    /// that act through the system (uploads, API calls).
    pub fn scripted_event(&self, files: &[FileSpec], policy: &Policy) -> Option<ScriptedEvent> {
        let spec = |id: &str| {
            files
                .iter()
                .find(|f| f.id == id)
                .expect("checked by Scenario::parse")
        };
        match self.clone() {
            Action::Upload { .. } | Action::Delete { .. } => None,
            Action::Request {
                file,
                request_id,
                flavour,
                event_id,
            } => {
                let f = spec(&file);
                let data = match flavour {
                    Flavour::Voting => EventData::DeletionRequested(event::DeletionRequested {
                        file_id: f.id.clone(),
                        user_id: f.owner.clone(),
                        account_id: format!("acc-{}", f.owner),
                        account_type: f.account_type.clone(),
                        file_name: format!("{}.csv", f.id),
                        transaction_count: f.transactions as u64,
                        request_id: request_id.clone(),
                    }),
                    Flavour::Completion => EventData::DeleteRequested(event::DeleteRequested {
                        file_id: f.id.clone(),
                        coordination_id: request_id.clone(),
                        account_id: format!("acc-{}", f.owner),
                        file_name: format!("{}.csv", f.id),
                        transaction_count: f.transactions as u64,
                    }),
                };
                Some(ScriptedEvent {
                    event_id: event_id
                        .unwrap_or_else(|| ids::derive("scenario-request", &[&request_id])),
                    source: sources::FILE_SERVICE.into(),
                    user: f.owner.clone(),
                    request_id,
                    data,
                })
            }
            Action::Vote {
                request_id,
                file,
                voter,
                decision,
                reason,
                source,
                event_id,
            } => {
                let f = spec(&file);
                let bound = policy
                    .voter_sources
                    .get(&voter)
                    .cloned()
                    .unwrap_or_else(|| "unknown.service".into());
                let data = match decision.as_str() {
                    "done" | "failed" => EventData::ConsumerCompletion(event::ConsumerCompletion {
                        coordination_id: request_id.clone(),
                        file_id: file.clone(),
                        consumer: voter.clone(),
                        status: if decision == "done" {
                            CompletionStatus::Done
                        } else {
                            CompletionStatus::Failed
                        },
                        error_message: reason,
                    }),
                    d => EventData::DeletionVote(event::DeletionVote {
                        file_id: file.clone(),
                        request_id: request_id.clone(),
                        voter: voter.clone(),
                        decision: match d {
                            "proceed" => VoteDecision::Proceed,
                            "deny" => VoteDecision::Deny,
                            _ => VoteDecision::Error,
                        },
                        reason,
                    }),
                };
                Some(ScriptedEvent {
                    event_id: event_id.unwrap_or_else(|| {
                        ids::derive("scenario-vote", &[&request_id, &voter, &decision])
                    }),
                    source: source.unwrap_or(bound),
                    user: f.owner.clone(),
                    request_id,
                    data,
                })
            }
        }
    }
}

/// The CSV a workload's user uploads: `lines` transactions, a third of them
/// groceries and a third rent, so that the seeded category rules match.
/// The simulator and the AWS adapter's tests upload the same files.
pub fn upload_csv(lines: usize) -> String {
    let mut csv = String::from("date,description,amount\n");
    for i in 0..lines {
        let what = ["GROCER MARKET", "RENT MARCH", "COFFEE"][i % 3];
        csv.push_str(&format!(
            "2025-01-{:02},{what} {i},-{}.{:02}\n",
            1 + i % 28,
            1 + i % 90,
            i % 100
        ));
    }
    csv
}

/// What an upload of `file_id` by `owner` stores beside its content: the
/// metadata (the processor fills in the count) and the content's key.
pub fn upload_meta(
    file_id: &str,
    owner: &str,
    account_type: Option<&str>,
) -> tally_core::domain::FileMeta {
    tally_core::domain::FileMeta {
        file_id: file_id.into(),
        user_id: owner.into(),
        account_id: format!("acc-{owner}"),
        account_type: account_type.map(str::to_owned),
        file_name: format!("{file_id}.csv"),
        s3_key: format!("{owner}/{file_id}/{file_id}.csv"),
        transaction_count: 0,
    }
}

/// Each workload user's two active category rules.
pub fn seed_rules(user: &str) -> Vec<tally_core::domain::CategoryRule> {
    [("GROCER", "cat-groceries"), ("RENT", "cat-housing")]
        .into_iter()
        .enumerate()
        .map(
            |(n, (pattern, category))| tally_core::domain::CategoryRule {
                rule_id: format!("rule-{user}-{n}"),
                user_id: user.into(),
                category_id: category.into(),
                pattern: pattern.into(),
                active: true,
            },
        )
        .collect()
}
