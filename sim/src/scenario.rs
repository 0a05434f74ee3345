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
    /// One schedule of `tally check` instead of files and steps: the
    /// checked scope and its choices, replayed one by one with the same
    /// handlers. What `check` writes for a counterexample.
    #[serde(default)]
    pub check: Option<crate::check::CheckRun>,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawStep")]
pub struct Step {
    pub at: Millis,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// The owner uploads the file: S3 notifies, the pipeline processes it.
    Upload { file: String },
    /// DELETE /files/{file} through the API, by `caller` (the owner when omitted).
    Delete {
        file: String,
        caller: Option<String>,
        flavour: Flavour,
    },
    /// A deletion request published directly, with a known requestId.
    Request {
        file: String,
        request_id: String,
        flavour: Flavour,
        event_id: Option<String>,
    },
    /// A vote (or, in the completion flavour, a completion report)
    /// published directly. `source` defaults to the voter's own.
    Vote {
        request_id: String,
        file: String,
        voter: String,
        decision: String,
        reason: Option<String>,
        source: Option<String>,
        event_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Do {
    Upload,
    Delete,
    Request,
    Vote,
}

/// A `[[step]]` table as written: every key any action takes, in one
/// struct without `flatten` or an internal tag, so that serde refuses an
/// unknown key while the TOML reader still knows where that key is (and
/// the error points at it, not at the `[[step]]` header). Which keys
/// apply to which action is checked after, in [`Step::try_from`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(deserialize_with = "de_time")]
    at: Millis,
    #[serde(rename = "do")]
    action: Do,
    file: String,
    caller: Option<String>,
    flavour: Option<Flavour>,
    request_id: Option<String>,
    event_id: Option<String>,
    voter: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
    source: Option<String>,
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(r: RawStep) -> Result<Step, String> {
        let name = match r.action {
            Do::Upload => "upload",
            Do::Delete => "delete",
            Do::Request => "request",
            Do::Vote => "vote",
        };
        let given = [
            ("caller", r.caller.is_some()),
            ("flavour", r.flavour.is_some()),
            ("request_id", r.request_id.is_some()),
            ("event_id", r.event_id.is_some()),
            ("voter", r.voter.is_some()),
            ("decision", r.decision.is_some()),
            ("reason", r.reason.is_some()),
            ("source", r.source.is_some()),
        ];
        let takes: &[&str] = match r.action {
            Do::Upload => &[],
            Do::Delete => &["caller", "flavour"],
            Do::Request => &["request_id", "flavour", "event_id"],
            Do::Vote => &[
                "request_id",
                "voter",
                "decision",
                "reason",
                "source",
                "event_id",
            ],
        };
        if let Some((key, _)) = given.iter().find(|(k, on)| *on && !takes.contains(k)) {
            return Err(format!(
                "key `{key}` does not apply to do = \"{name}\", which takes at, do, file{}",
                takes.iter().map(|k| format!(", {k}")).collect::<String>()
            ));
        }
        let need = |v: Option<String>, key: &str| {
            v.ok_or_else(|| format!("do = \"{name}\" needs the key `{key}`"))
        };
        let flavour = r.flavour.unwrap_or(Flavour::Voting);
        let action = match r.action {
            Do::Upload => Action::Upload { file: r.file },
            Do::Delete => Action::Delete {
                file: r.file,
                caller: r.caller,
                flavour,
            },
            Do::Request => Action::Request {
                file: r.file,
                request_id: need(r.request_id, "request_id")?,
                flavour,
                event_id: r.event_id,
            },
            Do::Vote => Action::Vote {
                request_id: need(r.request_id, "request_id")?,
                file: r.file,
                voter: need(r.voter, "voter")?,
                decision: need(r.decision, "decision")?,
                reason: r.reason,
                source: r.source,
                event_id: r.event_id,
            },
        };
        Ok(Step { at: r.at, action })
    }
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

/// A step's time: never negative (a step before the start would never
/// run), read as every duration is (`tally_core::time::parse_duration`).
fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    d.deserialize_any(tally_core::time::DurationVisitor::NON_NEGATIVE)
        .map_err(|e| serde::de::Error::custom(format!("at = {e}")))
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
        if let Some(run) = &s.explore {
            run.workload()
                .validate()
                .map_err(|e| err(format!("explore.{e}")))?;
        }
        if let Some(run) = &s.check {
            // A checked schedule is the whole run: nothing else may add to it.
            let beside = [
                ("[[file]]", !s.files.is_empty()),
                ("[[step]]", !s.steps.is_empty()),
                ("[[expect]]", !s.expectations.is_empty()),
                ("[explore]", s.explore.is_some()),
                ("[faults]", s.faults != Pins::default()),
            ];
            if let Some((table, _)) = beside.iter().find(|(_, present)| *present) {
                return Err(err(format!(
                    "[check] replays one schedule of `tally check` on its own: {table} cannot be beside it (the scope and the choices are the whole run)"
                )));
            }
            run.validate().map_err(|e| err(format!("check.{e}")))?;
            if run.schedule.is_empty() {
                return Err(err(
                    "check.schedule: empty; expected the choices to replay, e.g. [\"start 0\", \"resume 0\"]"
                        .to_owned(),
                ));
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

    /// What only the policy can tell: every scripted vote without an
    /// explicit `source` names a voter the policy binds to a source (a
    /// typo would vote from nowhere and never count, and the only symptom
    /// would be a timeout), and every voter the faults name is known.
    pub fn check_against(&self, file: &str, policy: &Policy) -> Result<(), ScenarioError> {
        let err = |message: String| ScenarioError {
            file: file.to_owned(),
            message,
        };
        let known = || {
            policy
                .voter_sources
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (i, step) in self.steps.iter().enumerate() {
            if let Action::Vote {
                voter,
                source: None,
                ..
            } = &step.action
            {
                if !policy.voter_sources.contains_key(voter) {
                    return Err(err(format!(
                        "step[{i}]: voter {voter:?} is not a voter the policy knows ({}); a vote from a wrong source on purpose names its `source` explicitly",
                        known()
                    )));
                }
            }
        }
        if let Some(run) = &self.check {
            run.check_voters(policy)
                .map_err(|e| err(format!("check.{e}")))?;
        }
        crate::args::check_voter_pins(&self.faults, policy, crate::args::Naming::Key).map_err(err)
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
    let text = read(path, "scenario")?;
    let name = path.display().to_string();
    let scenario = Scenario::parse(&name, &text).map_err(|e| {
        // A rules or policy file without its suffix is read as a scenario
        // when a folder is run: say what the folder expects.
        let kind = if Policy::parse(&name, &text).is_ok() {
            Some("policy")
        } else if tally_core::rules::Rules::parse(&name, &text).is_ok() {
            Some("rules")
        } else {
            None
        };
        match kind {
            Some(kind) => format!(
                "{e}\n(this is a {kind} file, not a scenario: beside scenarios, name rules files NAME.rules.toml and policy files NAME.policy.toml, which `tally run FOLDER` skips)"
            ),
            None => e.to_string(),
        }
    })?;
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
    scenario
        .check_against(&name, &policy)
        .map_err(|e| e.to_string())?;
    Ok(Loaded {
        scenario,
        rules,
        policy,
    })
}

/// Whether a file in a scenario folder is a scenario: a `.toml` file that
/// is not a rules file (`NAME.rules.toml`) or a policy file
/// (`NAME.policy.toml`) kept beside the scenarios that use it.
pub fn is_scenario_file(path: &std::path::Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".toml") && !name.ends_with(".rules.toml") && !name.ends_with(".policy.toml")
}

/// The snapshot file of the suite's scenario `path`, when `path` lies
/// directly in `scenarios` (the folder the snapshot suite globs, under the
/// name `scenario`); `None` for a scenario the suite does not run.
pub fn snapshot_path(
    path: &std::path::Path,
    scenarios: &std::path::Path,
    snapshots: &std::path::Path,
) -> Option<std::path::PathBuf> {
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).ok();
    let dir = canonical(path.parent()?)?;
    if !is_scenario_file(path) || dir != canonical(scenarios)? {
        return None;
    }
    let name = path.file_name()?.to_string_lossy();
    Some(snapshots.join(format!("scenarios__scenario@{name}.snap")))
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
                .filter(|f| is_scenario_file(f))
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The `rules` and `policy` lines of a written scenario (explore's shrunk
/// failure, check's counterexample): each file it was found with, if any.
pub fn files_text(rules: Option<&str>, policy: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(r) = rules {
        text.push_str(&format!("rules = {r:?}\n"));
    }
    if let Some(p) = policy {
        text.push_str(&format!("policy = {p:?}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario written to a scratch folder of its own, then loaded.
    fn load_text(name: &str, text: &str) -> Result<Loaded, String> {
        let dir =
            std::env::temp_dir().join(format!("tally-scenario-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    const VOTE: &str = "name = \"x\"\n[[file]]\nid = \"f1\"\nowner = \"a\"\n[[step]]\nat = \"1s\"\ndo = \"vote\"\nrequest_id = \"r\"\nfile = \"f1\"\ndecision = \"proceed\"\n";

    /// A typo'd voter would vote from no bound source and never count: the
    /// only symptom would be a timeout.
    #[test]
    fn a_voter_the_policy_does_not_know_is_an_error() {
        let e = load_text("typo", &format!("{VOTE}voter = \"catgory_manager\"\n"))
            .err()
            .expect("a voter the policy does not know was accepted");
        for w in [
            "step[0]",
            "voter \"catgory_manager\"",
            "category_manager",
            "source",
        ] {
            assert!(e.contains(w), "{w:?} missing from {e}");
        }
        // A wrong source on purpose says so with an explicit `source`.
        let text = format!("{VOTE}voter = \"mallory\"\nsource = \"evil.service\"\n");
        assert!(load_text("explicit", &text).is_ok());
        assert!(load_text("known", &format!("{VOTE}voter = \"category_manager\"\n")).is_ok());
    }

    #[test]
    fn a_fault_on_a_voter_the_policy_does_not_know_is_an_error() {
        let e = load_text(
            "faults",
            "name = \"x\"\n[faults]\nstalled_voter = \"bogus_manager\"\n",
        )
        .err()
        .expect("a stalled voter the policy does not know was accepted");
        for w in [
            "faults.stalled_voter \"bogus_manager\"",
            "category_manager",
            "none",
        ] {
            assert!(e.contains(w), "{w:?} missing from {e}");
        }
    }

    #[test]
    fn a_negative_or_fractional_at_is_an_error() {
        for at in ["-1", "\"-1s\"", "1.5", "true"] {
            let text = format!(
                "name = \"x\"\n[[file]]\nid = \"f\"\nowner = \"a\"\n[[step]]\nat = {at}\ndo = \"upload\"\nfile = \"f\"\n"
            );
            let e = Scenario::parse("s.toml", &text)
                .err()
                .unwrap_or_else(|| panic!("at = {at} was accepted"))
                .to_string();
            assert!(e.contains("at"), "{e}");
            assert!(
                e.contains("expected milliseconds (0 or more) or a duration"),
                "{e}"
            );
        }
    }

    /// The error points at the typo'd key's own line, not the `[[step]]`
    /// header above it.
    #[test]
    fn a_typod_step_key_is_reported_at_the_key() {
        let text = "name = \"x\"\n[[file]]\nid = \"f\"\nowner = \"a\"\n[[step]]\nat = \"1s\"\ndo = \"upload\"\nfile = \"f\"\nreasn = \"typo\"\n";
        let e = Scenario::parse("s.toml", text).unwrap_err().to_string();
        assert!(e.contains("line 9"), "{e}");
        assert!(e.contains("unknown field `reasn`"), "{e}");
    }

    #[test]
    fn a_policy_in_a_scenario_folder_without_the_suffix_says_the_convention() {
        let e = load_text("my-policy", "[voting]\ndeadline_ms = 1000\n")
            .err()
            .expect("a policy file read as a scenario");
        assert!(e.contains(".policy.toml"), "{e}");
        assert!(e.contains(".rules.toml"), "{e}");
    }

    /// A new scenario of the suite has a snapshot path that does not exist
    /// yet (what `tally run` reports); one outside the suite has none.
    #[test]
    fn a_scenario_without_a_snapshot_is_told_apart() {
        let root = std::env::temp_dir().join(format!("tally-snap-{}", std::process::id()));
        let (scenarios, snapshots) = (root.join("scenarios"), root.join("snapshots"));
        std::fs::create_dir_all(&scenarios).unwrap();
        std::fs::create_dir_all(&snapshots).unwrap();
        let new = scenarios.join("12-new.toml");
        std::fs::write(&new, "name = \"x\"\n").unwrap();
        let snap = snapshot_path(&new, &scenarios, &snapshots).unwrap();
        assert_eq!(snap, snapshots.join("scenarios__scenario@12-new.toml.snap"));
        assert!(!snap.exists());
        let policy = scenarios.join("p.policy.toml");
        std::fs::write(&policy, "").unwrap();
        assert_eq!(snapshot_path(&policy, &scenarios, &snapshots), None);
        assert_eq!(snapshot_path(&new, &snapshots, &snapshots), None);
        std::fs::remove_dir_all(&root).unwrap();
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
                .contains("expected milliseconds (0 or more) or a duration"),
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
