//! Runs a declarative scenario in the simulated world: its files, its steps
//! at their times, its pinned faults; then faults stop, dead letters are
//! redriven and the world settles. The log interleaves decisions,
//! refusals and deletions in virtual-time order.

use super::settle::SCRIPTED_HORIZON_MS;
use super::{Deployed, World};
use crate::invariants::Violation;
use crate::scenario::{Action, Scenario};
use std::time::Duration;
use tally_core::coordination::{log, Policy, Record};
use tally_core::event::{Event, EventData, CURRENT_VERSION};
use tally_core::ports::Publisher;
use tally_core::rules::Rules;
use tally_core::time::{to_rfc3339_millis, Millis};

#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    /// Decisions, refusals and deletions, one per line, in time order.
    pub log: Vec<String>,
    /// Expectations that did not hold.
    pub failures: Vec<String>,
    pub violations: Vec<Violation>,
}

impl ScenarioReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.violations.is_empty()
    }
}

pub fn run_scenario(s: &Scenario, rules: Rules, policy: Policy) -> ScenarioReport {
    if let Some(e) = &s.explore {
        return explore_run(s, e, rules, policy);
    }
    if let Some(c) = &s.check {
        return check_run(s, c, rules, policy);
    }
    let s = s.clone();
    super::on_own_runtime(s.seed, move || drive(s, rules, policy))
}

/// A scenario that is one seeded explore run (a shrunk failure): the run,
/// judged by the invariants and the scenario's `expect_violations`.
fn explore_run(
    s: &Scenario,
    e: &crate::scenario::ExploreRun,
    rules: Rules,
    policy: Policy,
) -> ScenarioReport {
    let mut c = super::RunConfig::new(e.seed);
    c.workload = e.workload();
    c.pins = crate::faults::Pins {
        no_faults: true,
        ..s.faults.clone()
    };
    c.rules = rules;
    c.policy = policy;
    let r = super::run(&c);
    judged(s, r.decision_log, Vec::new(), r.violations)
}

/// A scenario that is one schedule of `tally check` (a counterexample):
/// the schedule replayed choice by choice over the checked deployment,
/// judged as the check judged it and by the scenario's `expect_violations`.
/// Plain code: the checked world runs without the simulator's runtime.
fn check_run(
    s: &Scenario,
    c: &crate::check::CheckRun,
    rules: Rules,
    policy: Policy,
) -> ScenarioReport {
    let replayed = c
        .scope(rules, policy)
        .and_then(|scope| crate::check::reproduce(&scope, &c.schedule));
    match replayed {
        Ok(r) => judged(s, r.log, Vec::new(), r.violations),
        Err(e) => ScenarioReport {
            name: s.name.clone(),
            log: Vec::new(),
            failures: vec![format!("check.schedule: {e}")],
            violations: Vec::new(),
        },
    }
}

/// The violations a run found, judged by the scenario's `expect_violations`
/// (violations it exists to show): each one expected must occur (else a
/// failure) and is logged as caught; only the others count as violated.
fn judged(
    s: &Scenario,
    mut log: Vec<String>,
    mut failures: Vec<String>,
    found: Vec<Violation>,
) -> ScenarioReport {
    let expected = |v: &Violation| s.expect_violations.iter().any(|n| n == v.invariant.name());
    for name in &s.expect_violations {
        if !found.iter().any(|v| v.invariant.name() == name) {
            failures.push(format!(
                "expected the invariant {name} to be violated, and it held"
            ));
        }
    }
    let (caught, violations): (Vec<Violation>, Vec<Violation>) =
        found.into_iter().partition(|v| expected(v));
    log.extend(caught.iter().map(|v| format!("caught as expected: {v}")));
    ScenarioReport {
        name: s.name.clone(),
        log,
        failures,
        violations,
    }
}

async fn drive(s: Scenario, rules: Rules, policy: Policy) -> ScenarioReport {
    let mix = s.faults.apply(crate::faults::FaultMix::none());
    let deployed = Deployed {
        automatic_voters: s.automatic_voters,
        ..Deployed::ALL
    };
    let world = World::new(super::EPOCH, s.seed, mix, rules, policy, deployed);
    let users: Vec<String> = s.files.iter().map(|f| f.owner.clone()).collect();
    world.seed_users(&users);
    let sweeper = world.spawn_sweeper(100);
    let last = s.steps.iter().map(|st| st.at).max().unwrap_or(0);
    for step in s.steps.clone() {
        let w = world.clone();
        let files = s.files.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis(step.at as u64)).await;
            let spec = |id: &str| {
                files
                    .iter()
                    .find(|f| f.id == id)
                    .expect("checked by Scenario::parse")
                    .clone()
            };
            match step.action {
                Action::Upload { file } => {
                    let f = spec(&file);
                    w.upload(&f.id, &f.owner, f.transactions, f.account_type.as_deref())
                        .await;
                }
                Action::Delete {
                    file,
                    caller,
                    flavour,
                } => {
                    let f = spec(&file);
                    w.delete_file(&f.id, caller.as_deref().unwrap_or(&f.owner), flavour)
                        .await;
                }
                scripted => {
                    let e = scripted
                        .scripted_event(&files, &w.policy)
                        .expect("every other action is a scripted event");
                    w.publish_scripted(e.event_id, &e.source, &e.user, &e.request_id, e.data)
                        .await;
                }
            }
        });
    }
    world.settle_after_inputs(last as u64).await;
    sweeper.abort();
    report(&world, &s)
}

impl World {
    /// A scripted event, put on the bus as its publisher would (retried
    /// while the bus refuses it).
    async fn publish_scripted(
        &self,
        event_id: String,
        source: &str,
        user: &str,
        request_id: &str,
        data: EventData,
    ) {
        let ev = Event {
            event_id,
            event_version: CURRENT_VERSION.into(),
            timestamp: self.now(),
            source: source.into(),
            user_id: user.into(),
            correlation_id: Some(request_id.into()),
            causation_id: None,
            data,
            metadata: None,
        };
        while self.publish(std::slice::from_ref(&ev)).await.is_err() {
            madsim::time::sleep(Duration::from_millis(1_000)).await;
        }
    }
}

fn report(world: &World, s: &Scenario) -> ScenarioReport {
    let records = world.mem.records();
    let mut lines: Vec<(Millis, String)> = Vec::new();
    for r in &records {
        if let (Some(d), Some(line)) = (&r.decision, log::decision_line(r)) {
            lines.push((d.at, line));
        }
    }
    for r in &records {
        for h in &r.history {
            if matches!(h.disposition, tally_core::coordination::Disposition::Late) {
                let decision = h.decision.map(|d| d.to_string());
                let line = log::late_vote_line(
                    h.at,
                    &r.request_id,
                    &h.event_id,
                    &h.who,
                    decision.as_deref(),
                );
                lines.push((h.at, line));
            }
        }
    }
    let obs = world.observations();
    for (at, req, event_id, reason) in &obs.refusals {
        lines.push((*at, log::refusal_line(*at, req, event_id, reason)));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (at, e) in &obs.published {
        if let EventData::FileDeleted(f) = &e.data {
            if seen.insert(e.event_id.clone()) {
                lines.push((
                    *at,
                    format!(
                        "{} deleted file={} request={} transactions={} content={}",
                        to_rfc3339_millis(*at),
                        f.file_id,
                        f.request_id,
                        f.transactions_deleted,
                        f.content_deleted
                    ),
                ));
            }
        }
    }
    lines.sort();
    let find = |e: &crate::scenario::Expectation| -> Option<&Record> {
        records
            .iter()
            .filter(|r| r.request.is_some())
            .find(|r| match (&e.request_id, &e.file) {
                (Some(id), _) => &r.request_id == id,
                (None, Some(f)) => r.request.as_ref().is_some_and(|q| &q.file_id == f),
                _ => false,
            })
    };
    let mut failures = Vec::new();
    let deleted_files = world.deleted_files();
    for e in &s.expectations {
        let who = e
            .request_id
            .clone()
            .or_else(|| e.file.clone().map(|f| format!("the request for {f}")))
            .unwrap_or_default();
        let rec = find(e);
        let status = rec.map_or("absent", |r| r.status.as_str());
        if status != e.outcome && !(e.outcome == "waiting" && status == "absent") {
            failures.push(format!("{who}: expected {}, got {status}", e.outcome));
        }
        if let Some(cause) = &e.cause {
            let got = rec
                .and_then(|r| r.decision.as_ref())
                .map(|d| d.cause.to_string())
                .unwrap_or_else(|| "none".into());
            if &got != cause {
                failures.push(format!("{who}: expected cause {cause}, got {got}"));
            }
        }
        if let Some(n) = e.refusals {
            let got = rec.map_or(0, |r| {
                obs.refusals.iter().filter(|x| x.1 == r.request_id).count()
            });
            if got != n {
                failures.push(format!("{who}: expected {n} refusals, got {got}"));
            }
        }
        if let Some(want) = e.file_deleted {
            let file = e
                .file
                .clone()
                .or_else(|| rec.and_then(|r| r.request.as_ref().map(|q| q.file_id.clone())))
                .unwrap_or_default();
            if deleted_files.contains(&file) != want {
                failures.push(format!(
                    "{who}: expected file {file} {}",
                    if want { "deleted" } else { "kept" }
                ));
            }
        }
    }
    drop(obs);
    let violations = world.check_invariants(true, SCRIPTED_HORIZON_MS);
    judged(
        s,
        lines.into_iter().map(|(_, l)| l).collect(),
        failures,
        violations,
    )
}
