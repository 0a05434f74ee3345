//! A checked scope and one of its schedules as a scenario file: the
//! `[check]` table that `tally check` writes for a counterexample and that
//! `tally run` replays, choice by choice, with the same handlers.

use super::{schedule_text, Choice, Counterexample, Scope};
use crate::invariants::Violation;
use serde::Deserialize;
use tally_core::coordination::Policy;
use tally_core::rules::Rules;

/// The size of a checked deployment, as `tally check`'s flags and a
/// scenario's `[check]` table give it (each field the flag of the same
/// name), and in a scenario the schedule to replay.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRun {
    #[serde(default = "one_usize")]
    pub requests: usize,
    #[serde(default)]
    pub duplicates: u32,
    #[serde(default)]
    pub losses: u32,
    #[serde(default = "one_u32")]
    pub crashes: u32,
    #[serde(default)]
    pub transients: u32,
    #[serde(default)]
    pub forgeries: u32,
    #[serde(default = "one_usize")]
    pub concurrency: usize,
    #[serde(default = "yes")]
    pub objections: bool,
    #[serde(default = "three")]
    pub transactions: u64,
    #[serde(default)]
    pub account_type: Option<String>,
    /// The voters every request waits for (the policy's `voting.required`
    /// otherwise).
    #[serde(default)]
    pub voters: Option<Vec<String>>,
    /// The choices, in order (a scenario must give them; the search does
    /// not read them).
    #[serde(default)]
    pub schedule: Vec<Choice>,
}

fn one_usize() -> usize {
    1
}
fn one_u32() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn three() -> u64 {
    3
}

impl Default for CheckRun {
    fn default() -> CheckRun {
        let s = Scope::default();
        CheckRun {
            requests: s.requests,
            duplicates: s.duplicates,
            losses: s.losses,
            crashes: s.crashes,
            transients: s.transients,
            forgeries: s.forgeries,
            concurrency: s.concurrency,
            objections: s.objections,
            transactions: s.transactions,
            account_type: s.account_type,
            voters: None,
            schedule: Vec::new(),
        }
    }
}

/// How many requests and invocations at once a scope may hold: beyond
/// these the search does not end on one machine.
pub const MAX_REQUESTS: usize = 3;
pub const MAX_CONCURRENCY: usize = 4;

impl CheckRun {
    /// The sizes out of range, as `field: why` (the caller names where
    /// the field came from: a flag or the `[check]` table).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_REQUESTS).contains(&self.requests) {
            return Err(format!(
                "requests = {}: expected 1 to {MAX_REQUESTS}",
                self.requests
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(format!(
                "concurrency = {}: expected 1 to {MAX_CONCURRENCY}",
                self.concurrency
            ));
        }
        Ok(())
    }

    /// Every voter named is one the policy knows.
    pub fn check_voters(&self, policy: &Policy) -> Result<(), String> {
        let Some(v) = self
            .voters
            .iter()
            .flatten()
            .find(|v| !policy.voter_sources.contains_key(*v))
        else {
            return Ok(());
        };
        Err(format!(
            "voters: {v:?} is not a voter the policy knows (known: {})",
            policy
                .voter_sources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// The scope to check (or replay in): the policy waits for `voters`
    /// where they are given.
    pub fn scope(&self, rules: Rules, mut policy: Policy) -> Result<Scope, String> {
        self.validate()?;
        self.check_voters(&policy)?;
        if let Some(voters) = &self.voters {
            policy.voting.required = voters.clone();
        }
        Ok(Scope {
            requests: self.requests,
            duplicates: self.duplicates,
            losses: self.losses,
            crashes: self.crashes,
            transients: self.transients,
            forgeries: self.forgeries,
            concurrency: self.concurrency,
            objections: self.objections,
            transactions: self.transactions,
            account_type: self.account_type.clone(),
            rules,
            policy,
            ..Scope::default()
        })
    }

    /// The scope as `tally check` flags, every one of them (so that the
    /// line means the same whatever the defaults become).
    pub fn flags(&self) -> String {
        let mut f = format!(
            "--requests {} --duplicates {} --losses {} --crashes {} --transients {} --forgeries {} --concurrency {}",
            self.requests,
            self.duplicates,
            self.losses,
            self.crashes,
            self.transients,
            self.forgeries,
            self.concurrency
        );
        if !self.objections {
            f.push_str(" --no-objections");
        }
        f.push_str(&format!(" --transactions {}", self.transactions));
        if let Some(t) = &self.account_type {
            f.push_str(&format!(" --account-type {t}"));
        }
        if let Some(v) = &self.voters {
            f.push_str(&format!(" --voters {}", v.join(",")));
        }
        f
    }
}

/// What replaying a schedule did: its step-by-step log and the properties
/// it broke (none: every property held, through settling).
#[derive(Debug, Clone)]
pub struct Replayed {
    pub log: Vec<String>,
    pub violations: Vec<Violation>,
}

/// Replays `schedule` in `scope` and judges it as the search did: the
/// always-properties after the last choice and, where that leaves nothing
/// running, the eventually-properties once the run settles. An error names
/// the first choice the state did not offer.
pub fn reproduce(scope: &Scope, schedule: &[Choice]) -> Result<Replayed, String> {
    let mut w = super::replay(scope, schedule)?;
    let mut violations = w.check_always();
    if violations.is_empty() && w.quiescent() {
        violations = w.settle_and_check();
    }
    Ok(Replayed {
        log: w.log,
        violations,
    })
}

/// The scenario file for a counterexample: the scope, the rules and policy
/// files (as paths the file can be read from anywhere), the schedule one
/// choice a line, and what it breaks in a comment. Without
/// `expect_violations`, `tally run` fails on it as long as the bug lives.
pub fn scenario_text(
    run: &CheckRun,
    rules: Option<&str>,
    policy: Option<&str>,
    cx: &Counterexample,
) -> String {
    let name = cx.broken.invariant.name();
    let mut text = format!(
        "# Written by `tally check`: the shortest schedule it found ({} choices) that breaks\n\
         #   {}\n\
         # `tally run` on this file replays it choice by choice and reports the same violation;\n\
         # `tally check {}{}{} --schedule '{}'` replays it with the check's own log.\n\
         name = {:?}\n",
        cx.schedule.len(),
        cx.broken.to_string().replace('\n', " "),
        run.flags(),
        rules.map(|r| format!(" --rules {r}")).unwrap_or_default(),
        policy.map(|p| format!(" --policy {p}")).unwrap_or_default(),
        schedule_text(&cx.schedule),
        format!("tally check: {name}"),
    );
    text.push_str(&crate::scenario::files_text(rules, policy));
    text.push_str(&format!(
        "\n[check]\nrequests = {}\nduplicates = {}\nlosses = {}\ncrashes = {}\ntransients = {}\nforgeries = {}\nconcurrency = {}\nobjections = {}\ntransactions = {}\n",
        run.requests,
        run.duplicates,
        run.losses,
        run.crashes,
        run.transients,
        run.forgeries,
        run.concurrency,
        run.objections,
        run.transactions
    ));
    if let Some(t) = &run.account_type {
        text.push_str(&format!("account_type = {t:?}\n"));
    }
    if let Some(v) = &run.voters {
        text.push_str(&format!("voters = {v:?}\n"));
    }
    text.push_str("schedule = [\n");
    for c in &cx.schedule {
        text.push_str(&format!("    \"{c}\",\n"));
    }
    text.push_str("]\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::Invariant;

    /// A counterexample written as a scenario reads back as the same scope
    /// and the same choices, in order.
    #[test]
    fn a_written_counterexample_reads_back_as_its_scope_and_schedule() {
        let run = CheckRun {
            requests: 2,
            duplicates: 1,
            losses: 1,
            crashes: 0,
            transients: 1,
            forgeries: 2,
            concurrency: 2,
            objections: false,
            transactions: 12,
            account_type: Some("business".into()),
            voters: Some(vec!["analytics_manager".into()]),
            schedule: Vec::new(),
        };
        let cx = Counterexample {
            broken: Violation {
                invariant: Invariant::ApprovedFileDeleted,
                detail: "request-0 is approved but file-0 keeps its metadata".into(),
            },
            schedule: vec![
                Choice::Start(0),
                Choice::Resume(1),
                Choice::Crash(0),
                Choice::Deadline,
            ],
            log: Vec::new(),
        };
        let text = scenario_text(&run, Some("/x/broken.rules.toml"), None, &cx);
        let s = crate::scenario::Scenario::parse("written.toml", &text).unwrap();
        assert_eq!(s.rules.as_deref(), Some("/x/broken.rules.toml"));
        assert_eq!(s.policy, None);
        assert_eq!(
            s.check,
            Some(CheckRun {
                schedule: cx.schedule.clone(),
                ..run
            })
        );
        assert!(s.name.contains("approved-file-deleted"), "{}", s.name);
    }

    /// A `[check]` table that cannot be replayed is refused, naming the
    /// field and the value.
    #[test]
    fn a_check_table_that_cannot_run_is_refused_at_its_field() {
        for (table, words) in [
            ("schedule = []", &["check.schedule", "empty"][..]),
            ("schedule = [\"jump 1\"]", &["jump", "expected start"]),
            (
                "requests = 9\nschedule = [\"start 0\"]",
                &["check.requests = 9", "1 to 3"],
            ),
            ("concurency = 2\nschedule = [\"start 0\"]", &["concurency"]),
        ] {
            let text = format!("name = \"x\"\n[check]\n{table}\n");
            let e = crate::scenario::Scenario::parse("x.toml", &text)
                .unwrap_err()
                .to_string();
            for w in words {
                assert!(e.contains(w), "{w:?} missing from: {e}");
            }
        }
        let beside = "name = \"x\"\n[[file]]\nid = \"f\"\nowner = \"o\"\n[check]\nschedule = [\"start 0\"]\n";
        let e = crate::scenario::Scenario::parse("x.toml", beside)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[[file]] cannot be beside it"), "{e}");
    }
}
