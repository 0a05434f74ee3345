//! The simulated deployment, on madsim: an EventBridge bus that routes with
//! the rules file and delivers at least once (with retries, backoff and
//! jitter, then a dead-letter queue), Lambda functions that run the core's
//! handlers concurrently, and ports with DynamoDB's condition semantics and
//! fault points. Virtual time and every random choice come from the seed.

mod bus;
mod functions;
mod ports;
mod replay;
mod run;
mod script;
mod settle;

pub use crate::observe::{DeadLetter, Observations};
pub use replay::{replay_with_faults, FaultyReplay};
pub use run::{run, RunConfig, RunReport, Stats, Workload};

pub use script::{run_scenario, ScenarioReport};

use crate::faults::FaultMix;
use crate::invariants::{self, Evidence, Violation};
use crate::rng::SimRng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tally_core::coordination::Policy;
use tally_core::pattern::Scratch;
use tally_core::ports::memory::Memory;
use tally_core::rules::Rules;
use tally_core::time::Millis;

/// 2025-01-15T10:30:00Z: the virtual clock's zero.
pub const EPOCH: Millis = 1_736_937_000_000;

/// What a driver deploys, fixed when the world is made: the functions'
/// behaviour follows from it and from the ports, never from a switch
/// flipped while the run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployed {
    /// Voters and completion consumers answer by themselves (false: the
    /// scenario scripts every answer).
    pub automatic_voters: bool,
    /// Only the coordination's own functions run (aggregator, executor,
    /// audit): a replayed trace already holds every other one's output.
    pub coordination_only: bool,
}

impl Deployed {
    /// The whole deployment, voters answering by themselves.
    pub const ALL: Deployed = Deployed {
        automatic_voters: true,
        coordination_only: false,
    };

    /// Whether the function of `target` is deployed.
    pub fn runs(&self, target: &str) -> bool {
        use tally_core::targets::{target as find, Role};
        !self.coordination_only
            || find(target)
                .is_some_and(|t| matches!(t.role, Role::Aggregator | Role::Executor | Role::Audit))
    }
}

/// Runs a driver on a fresh OS thread with a fresh madsim runtime seeded
/// with `seed` (so no state leaks between runs: madsim issue 240). Every
/// driver (explore, scenarios, replay under faults) starts here.
pub(crate) fn on_own_runtime<T, F, Fut>(seed: u64, drive: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        let rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.block_on(drive())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

pub struct World {
    me: Weak<World>,
    pub mem: Memory,
    pub rules: Rules,
    pub policy: Policy,
    pub settings: tally_core::consumers::Settings,
    pub mix: FaultMix,
    faults_on: AtomicBool,
    rng: Mutex<SimRng>,
    obs: Mutex<Observations>,
    scratch: Mutex<Scratch>,
    inflight: AtomicU64,
    bus_seq: AtomicU64,
    start: madsim::time::Instant,
    /// What the virtual clock reads at the start.
    epoch: Millis,
    /// What the driver deployed (fixed for the run).
    pub(crate) deployed: Deployed,
    /// Files the workload uploaded.
    uploaded: Mutex<std::collections::BTreeSet<String>>,
    /// Where each uploaded file's content lives (its metadata, which says
    /// so, is deleted with it).
    content_keys: Mutex<BTreeMap<String, String>>,
    /// Each function's clock offset (clock skew faults).
    skew: BTreeMap<String, i64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    /// A world whose virtual clock reads `epoch` at the start (`EPOCH`,
    /// unless a replay starts it at its trace's first line).
    pub fn new(
        epoch: Millis,
        seed: u64,
        mix: FaultMix,
        rules: Rules,
        policy: Policy,
        deployed: Deployed,
    ) -> Arc<World> {
        let mut skew_rng = SimRng::fork(seed, "skew");
        let skew = tally_core::rules::TARGETS
            .iter()
            .chain(["sweeper", "api"].iter())
            .map(|t| {
                let s = mix.clock_skew_ms as i64;
                (
                    t.to_string(),
                    if s == 0 {
                        0
                    } else {
                        skew_rng.range(0, 2 * s as u64) as i64 - s
                    },
                )
            })
            .collect();
        Arc::new_cyclic(|me| World {
            me: me.clone(),
            mem: Memory::new(),
            rules,
            policy,
            settings: Default::default(),
            mix,
            faults_on: AtomicBool::new(true),
            rng: Mutex::new(SimRng::fork(seed, "world")),
            obs: Mutex::new(Observations::default()),
            scratch: Mutex::new(Scratch::default()),
            inflight: AtomicU64::new(0),
            bus_seq: AtomicU64::new(0),
            start: madsim::time::Instant::now(),
            epoch,
            deployed,
            uploaded: Mutex::new(Default::default()),
            content_keys: Mutex::new(Default::default()),
            skew,
        })
    }

    fn arc(&self) -> Arc<World> {
        self.me.upgrade().expect("the world outlives its tasks")
    }

    /// Virtual now, as the true clock sees it.
    pub fn now(&self) -> Millis {
        self.epoch + self.start.elapsed().as_millis() as Millis
    }

    /// Virtual now, as `function`'s (possibly skewed) clock reads it.
    pub fn clock(&self, function: &str) -> Millis {
        self.now() + self.skew.get(function).copied().unwrap_or(0)
    }

    pub fn faults_on(&self) -> bool {
        self.faults_on.load(Ordering::SeqCst)
    }

    pub fn stop_faults(&self) {
        self.faults_on.store(false, Ordering::SeqCst);
    }

    /// A fault with probability `p`, only while faults are on.
    fn fault(&self, p: f64) -> bool {
        self.faults_on() && lock(&self.rng).chance(p)
    }

    fn draw(&self, lo: u64, hi: u64) -> u64 {
        lock(&self.rng).range(lo, hi)
    }

    pub fn entropy(&self) -> [u8; 16] {
        lock(&self.rng).bytes16()
    }

    pub fn observations(&self) -> MutexGuard<'_, Observations> {
        lock(&self.obs)
    }

    pub fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Every invariant over what the world holds and observed now.
    pub(crate) fn check_invariants(&self, settled: bool, horizon_ms: Millis) -> Vec<Violation> {
        // Only the eventually-properties read the audit log: a check
        // during the run copies none of it.
        let audit = if settled {
            self.mem.audit_entries()
        } else {
            Vec::new()
        };
        let deleted_files = self.deleted_files();
        let obs = self.observations();
        let view = self.view();
        // The records in place: the check is synchronous, so nothing
        // writes them meanwhile.
        self.mem.with_records(|records| {
            let records: Vec<&_> = records.collect();
            invariants::check(&Evidence {
                records: &records,
                obs: &obs,
                audit: &audit,
                deleted_files: &deleted_files,
                policy: &self.policy,
                settled,
                horizon_ms,
                inflight: self.inflight(),
                view: &view,
            })
        })
    }
}
