//! One simulated run: set the world up, drive the workload through a
//! safety phase with faults, then a liveness phase without them (after an
//! operator's redrive of the dead-letter queues), and check the invariants.

use super::{Deployed, World, EPOCH};
use crate::args::ConfigArgs;
use crate::faults::{FaultMix, Pins};
use crate::invariants::Violation;
use crate::rng::SimRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tally_core::coordination::{log, Flavour, Policy};
use tally_core::rules::Rules;
use tally_core::time::Millis;

use super::settle::SWEEP_EVERY_MS;

pub use crate::workload::Workload;

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub pins: Pins,
    pub workload: Workload,
    pub rules: Rules,
    pub policy: Policy,
    /// The files `rules` and `policy` were read from, as given on the
    /// command line (none: the defaults), for the reproducer.
    pub rules_path: Option<PathBuf>,
    pub policy_path: Option<PathBuf>,
    /// How long faults are injected.
    pub safety_ms: Millis,
    /// Keep the audit log as a trace (what `tally capture` exports).
    pub export_trace: bool,
    /// Keep every consumed delivery (what `tally show` draws).
    pub record_deliveries: bool,
}

impl RunConfig {
    pub fn new(seed: u64) -> RunConfig {
        RunConfig {
            seed,
            pins: Pins::default(),
            workload: Workload::default(),
            rules: Rules::default_rules(),
            policy: Policy::default(),
            rules_path: None,
            policy_path: None,
            safety_ms: 15 * 60 * 1000,
            export_trace: false,
            record_deliveries: false,
        }
    }

    pub fn mix(&self) -> FaultMix {
        self.pins.apply(FaultMix::draw(self.seed))
    }

    /// What the command line says for this run (all but the seed).
    pub fn args(&self) -> ConfigArgs {
        ConfigArgs {
            workload: self.workload.clone(),
            rules: self.rules_path.clone(),
            policy: self.policy_path.clone(),
            pins: self.pins.clone(),
        }
    }

    /// The one command that replays exactly this run: every flag that
    /// differs from the defaults (`safety_ms` has no flag; `explore` never
    /// changes it).
    pub fn reproducer(&self) -> String {
        self.args().reproducer(self.seed)
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub seed: u64,
    pub mix: FaultMix,
    pub reproducer: String,
    /// One line per terminal decision, in virtual-time order.
    pub decision_log: Vec<String>,
    pub violations: Vec<Violation>,
    pub stats: Stats,
    /// Every consumed delivery (with `record_deliveries`).
    pub deliveries: Vec<crate::observe::Delivered>,
    /// Faults and retries where they happened (with `record_deliveries`).
    pub marks: Vec<crate::timeline::Mark>,
    /// Refusals the aggregator audited: (at, request, event, reason).
    pub refusals: Vec<(Millis, String, String, String)>,
    /// The decisions, as `tally replay --json` prints them.
    pub decisions: Vec<crate::trace::DecisionOut>,
    /// The audit log as trace lines, in time order (with `export_trace`).
    pub trace: Vec<String>,
    /// How often each behaviour the design must survive happened.
    pub coverage: crate::observe::Coverage,
    /// A digest of every event published, in order, with its virtual time:
    /// two runs with the same fingerprint did the same thing.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: usize,
    /// Files with at least one registered request (a client that retries
    /// after a lost response asks twice for one file).
    pub requested_files: usize,
    pub approved: usize,
    pub denied: usize,
    pub published: usize,
    pub deliveries: u64,
    pub duplicates: u64,
    pub transient_failures: u64,
    pub crashes: u64,
    pub dead_lettered: usize,
    pub redriven: u64,
    pub virtual_ms: Millis,
}

impl RunReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs one seed on its own thread and runtime.
pub fn run(cfg: &RunConfig) -> RunReport {
    let cfg = cfg.clone();
    super::on_own_runtime(cfg.seed, move || drive(cfg))
}

async fn drive(cfg: RunConfig) -> RunReport {
    let mix = cfg.mix();
    let world = World::new(
        EPOCH,
        cfg.seed,
        mix.clone(),
        cfg.rules.clone(),
        cfg.policy.clone(),
        Deployed::ALL,
    );
    if cfg.record_deliveries {
        world.observations().deliveries = Some(Vec::new());
    }
    let mut rng = SimRng::fork(cfg.seed, "workload");
    let sweeper = world.spawn_sweeper(100);
    let users: Vec<String> = (0..cfg.workload.users.max(1))
        .map(|u| format!("user-{u}"))
        .collect();
    world.seed_users(&users);
    for i in 0..cfg.workload.files {
        let owner = rng.pick(&users).clone();
        let upload_at = rng.range(0, cfg.safety_ms as u64 / 3);
        let delete_after = rng.range(30_000, cfg.safety_ms as u64 / 2);
        let flavour = if rng.chance(cfg.workload.completion_percent as f64 / 100.0) {
            Flavour::Completion
        } else {
            Flavour::Voting
        };
        let lines = if rng.chance(cfg.workload.large_percent as f64 / 100.0) {
            1_100
        } else {
            3 + i % 7
        };
        let account_type = if rng.chance(0.2) {
            "business"
        } else {
            "personal"
        };
        let stranger = rng
            .chance(0.1)
            .then(|| rng.pick(&users).clone())
            .filter(|s| *s != owner);
        let w = world.clone();
        madsim::task::spawn(async move {
            let file_id = format!("file-{i:03}");
            madsim::time::sleep(Duration::from_millis(upload_at)).await;
            w.upload(&file_id, &owner, lines, Some(account_type)).await;
            madsim::time::sleep(Duration::from_millis(delete_after)).await;
            if let Some(other) = stranger {
                w.delete_file(&file_id, &other, flavour).await;
            }
            w.delete_file(&file_id, &owner, flavour).await;
        });
    }
    for n in 0..cfg.workload.traffic {
        let at = rng.range(0, cfg.safety_ms as u64);
        let user = rng.pick(&users).clone();
        let w = world.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis(at)).await;
            w.ordinary_traffic(n, &user).await;
        });
    }

    let forger = mix.forger.then(|| {
        let w = world.clone();
        madsim::task::spawn(async move { w.forge().await })
    });
    // Safety phase: faults on, check the always-properties as we go.
    let mut violations = Vec::new();
    let safety_end = EPOCH + cfg.safety_ms;
    while world.now() < safety_end {
        madsim::time::sleep(Duration::from_millis(SWEEP_EVERY_MS)).await;
        violations = check(&world, &cfg, false);
        if !violations.is_empty() {
            break;
        }
    }
    // Liveness phase: faults off, dead letters redriven, wait to settle.
    let horizon = horizon_ms(&cfg);
    if violations.is_empty() {
        world.settle(horizon).await;
        violations = check(&world, &cfg, true);
    }
    sweeper.abort();
    if let Some(f) = forger {
        f.abort();
    }
    report(&world, &cfg, mix, violations)
}

/// Deadline plus the longest retry age, plus a sweep interval of lag.
fn horizon_ms(cfg: &RunConfig) -> Millis {
    let deadline = cfg
        .policy
        .voting
        .deadline_ms
        .max(cfg.policy.completion.deadline_ms);
    let retry = cfg
        .rules
        .rules
        .iter()
        .map(|r| r.retry.maximum_event_age_seconds as Millis * 1000)
        .max()
        .unwrap_or(0);
    deadline + retry + 2 * SWEEP_EVERY_MS as Millis
}

fn check(world: &Arc<World>, cfg: &RunConfig, settled: bool) -> Vec<Violation> {
    world.check_invariants(settled, horizon_ms(cfg))
}

fn report(
    world: &Arc<World>,
    cfg: &RunConfig,
    mix: FaultMix,
    violations: Vec<Violation>,
) -> RunReport {
    let records = world.mem.records();
    let decided = log::in_decision_order(&records);
    let decision_log = decided
        .iter()
        .filter_map(|r| log::decision_line(r))
        .collect();
    let obs = world.observations();
    let stats = Stats {
        requests: records.iter().filter(|r| r.request.is_some()).count(),
        requested_files: records
            .iter()
            .filter_map(|r| r.request.as_ref().map(|q| q.file_id.as_str()))
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        approved: records
            .iter()
            .filter(|r| r.status == tally_core::coordination::Status::Approved)
            .count(),
        denied: records
            .iter()
            .filter(|r| r.status == tally_core::coordination::Status::Denied)
            .count(),
        published: obs.published.len(),
        deliveries: obs.scheduled,
        duplicates: obs.duplicates,
        transient_failures: obs.transient_failures,
        crashes: obs.crashes,
        dead_lettered: obs.dead_letters.len(),
        redriven: obs.redriven,
        virtual_ms: world.now() - EPOCH,
    };
    let trail: Vec<String> = obs
        .published
        .iter()
        .map(|(at, e)| format!("{at}:{}", e.event_id))
        .collect();
    let fingerprint =
        tally_core::ids::derive("run", &trail.iter().map(String::as_str).collect::<Vec<_>>());
    let trace = if cfg.export_trace {
        crate::trace::export(&world.mem.audit_entries(), &records, &obs.published)
    } else {
        Vec::new()
    };
    let deliveries = obs.deliveries.clone().unwrap_or_default();
    let decisions = decided
        .iter()
        .filter_map(|r| crate::replay::decision_of(r))
        .collect();
    let coverage = crate::observe::coverage(&records, &obs);
    RunReport {
        coverage,
        deliveries,
        marks: obs.marks.clone(),
        refusals: obs.refusals.clone(),
        decisions,
        seed: cfg.seed,
        mix,
        reproducer: cfg.reproducer(),
        decision_log,
        violations,
        stats,
        trace,
        fingerprint,
    }
}
