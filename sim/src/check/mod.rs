//! `tally check`: every behaviour of a small deployment, explored
//! exhaustively, with the production handlers.
//!
//! A behaviour is a sequence of choices (`Choice`): which in-flight
//! delivery starts, which running invocation takes its next step (each
//! stops before every port call, so conditional writes lose races in every
//! place), a duplicate, a dead letter and its redrive, a crash at a stop,
//! the sweeper, the deadline passing, a voter objecting. The search is
//! stateless, as loom's and shuttle's are: a futures' state cannot be
//! copied, so each node is reached by replaying its choices from the start.
//! It is breadth-first, so the first violation found has a shortest
//! schedule, and it prunes with a fingerprint of each quiescent state
//! (nothing running: stores, bus, dead letters, what was published, budgets
//! left, the clock, what the oracle knows), so equivalent interleavings
//! are explored once. stateright's checker wants a model whose states it
//! can clone and hash; ours are live futures over the real handlers, which
//! is why the search is our own.

mod gate;
mod scenario;
mod world;

pub use scenario::{reproduce, scenario_text, CheckRun, Replayed, MAX_CONCURRENCY, MAX_REQUESTS};
pub use world::{Step, StepKind, World};

use crate::invariants::Violation;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;
use tally_core::coordination::Policy;
use tally_core::rules::Rules;

/// The size of the deployment checked.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Deletion requests, each for its own file.
    pub requests: usize,
    /// Copies the bus may make, in all.
    pub duplicates: u32,
    /// Deliveries that may be dead-lettered (and redriven), in all.
    pub losses: u32,
    /// Invocations that may die at one of their stops, in all.
    pub crashes: u32,
    /// Port calls that may fail as throttled (where an invocation stopped
    /// before them), in all.
    pub transients: u32,
    /// Forged events an adversary may publish, in all (an approval in the
    /// aggregator's name, a vote from an unbound source).
    pub forgeries: u32,
    /// Invocations of one function in flight at once.
    pub concurrency: usize,
    /// Whether a voter may object (deny) instead of doing its own work.
    pub objections: bool,
    /// Each request's file: its transactions and account type (they decide
    /// which voters the policy requires).
    pub transactions: u64,
    pub account_type: Option<String>,
    pub rules: Rules,
    pub policy: Policy,
    /// Give up (and fail: an incomplete search proves nothing) after
    /// exploring this many schedules.
    pub max_schedules: usize,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            requests: 1,
            duplicates: 0,
            losses: 0,
            crashes: 1,
            transients: 0,
            forgeries: 0,
            concurrency: 1,
            objections: true,
            transactions: 3,
            account_type: None,
            rules: Rules::default_rules(),
            policy: Policy::default(),
            max_schedules: 2_000_000,
        }
    }
}

/// One choice of a schedule (in a scenario file, its text: `start 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Choice {
    /// Start in-flight delivery `i`.
    Start(usize),
    /// Start in-flight delivery `i` (to a voter), which objects.
    Object(usize),
    /// Running invocation `j` takes its next step.
    Resume(usize),
    /// Running invocation `j` dies where it stopped; the bus retries.
    Crash(usize),
    /// The call running invocation `j` stopped before fails as throttled.
    Fail(usize),
    /// An adversary publishes forgery `k` (see `World::forgeries`).
    Forge(usize),
    Duplicate(usize),
    Lose(usize),
    /// The operator redrives every dead letter.
    Redrive,
    Sweep,
    /// The deadline passes (every later invocation reads a clock past it).
    Deadline,
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Start(i) => write!(f, "start {i}"),
            Choice::Object(i) => write!(f, "object {i}"),
            Choice::Resume(j) => write!(f, "resume {j}"),
            Choice::Crash(j) => write!(f, "crash {j}"),
            Choice::Fail(j) => write!(f, "fail {j}"),
            Choice::Forge(k) => write!(f, "forge {k}"),
            Choice::Duplicate(i) => write!(f, "duplicate {i}"),
            Choice::Lose(i) => write!(f, "lose {i}"),
            Choice::Redrive => f.write_str("redrive"),
            Choice::Sweep => f.write_str("sweep"),
            Choice::Deadline => f.write_str("deadline"),
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(s: &str) -> Result<Choice, String> {
        let mut words = s.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let n = || -> Result<usize, String> {
            s.split_whitespace()
                .nth(1)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("{s:?}: expected `{verb} N`"))
        };
        Ok(match verb {
            "start" => Choice::Start(n()?),
            "object" => Choice::Object(n()?),
            "resume" => Choice::Resume(n()?),
            "crash" => Choice::Crash(n()?),
            "fail" => Choice::Fail(n()?),
            "forge" => Choice::Forge(n()?),
            "duplicate" => Choice::Duplicate(n()?),
            "lose" => Choice::Lose(n()?),
            "redrive" => Choice::Redrive,
            "sweep" => Choice::Sweep,
            "deadline" => Choice::Deadline,
            other => {
                return Err(format!(
                    "{other:?}: expected start, object, resume, crash, fail, forge, duplicate, lose, redrive, sweep or deadline"
                ))
            }
        })
    }
}

impl TryFrom<String> for Choice {
    type Error = String;
    fn try_from(s: String) -> Result<Choice, String> {
        s.parse()
    }
}

/// A schedule as text (`start 0, resume 0, ...`), and back.
pub fn schedule_text(s: &[Choice]) -> String {
    s.iter()
        .map(Choice::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn parse_schedule(text: &str) -> Result<Vec<Choice>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::parse)
        .collect()
}

/// The behaviours that prove a scope is not vacuous: each must be reached
/// somewhere in the search, or the run fails. Those that need a budget
/// (a transient fault, a forgery) are asked for only where it is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sometimes {
    pub approved_by_all: bool,
    pub veto: bool,
    pub timeout: bool,
    pub lost_race_restepped: bool,
    pub crash_recovered_by_redelivery: bool,
    pub crash_recovered_by_sweeper: bool,
    pub duplicate_approval_at_executor: bool,
    pub file_deleted: bool,
    pub transient_fault_retried: bool,
    pub forgery_refused: bool,
    /// Whether the scope has transient faults, forgeries to reach.
    with_transients: bool,
    with_forgeries: bool,
}

impl Sometimes {
    /// Nothing reached yet, in `scope`.
    pub fn of(scope: &Scope) -> Sometimes {
        Sometimes {
            with_transients: scope.transients > 0,
            with_forgeries: scope.forgeries > 0,
            ..Sometimes::default()
        }
    }

    fn merge(&mut self, o: Sometimes) {
        self.approved_by_all |= o.approved_by_all;
        self.veto |= o.veto;
        self.timeout |= o.timeout;
        self.lost_race_restepped |= o.lost_race_restepped;
        self.crash_recovered_by_redelivery |= o.crash_recovered_by_redelivery;
        self.crash_recovered_by_sweeper |= o.crash_recovered_by_sweeper;
        self.duplicate_approval_at_executor |= o.duplicate_approval_at_executor;
        self.file_deleted |= o.file_deleted;
        self.transient_fault_retried |= o.transient_fault_retried;
        self.forgery_refused |= o.forgery_refused;
    }

    /// Each behaviour the scope must reach, by name, and whether it was.
    pub fn each(&self) -> Vec<(&'static str, bool)> {
        let mut out = vec![
            ("approved by every vote", self.approved_by_all),
            ("a veto", self.veto),
            ("a timeout decision", self.timeout),
            ("a lost race re-stepped", self.lost_race_restepped),
            (
                "a crash recovered by redelivery",
                self.crash_recovered_by_redelivery,
            ),
            (
                "a crash recovered by the sweeper",
                self.crash_recovered_by_sweeper,
            ),
            (
                "a duplicate approval at the executor",
                self.duplicate_approval_at_executor,
            ),
            ("an approved file deleted", self.file_deleted),
        ];
        if self.with_transients {
            out.push((
                "a transient fault retried by the bus",
                self.transient_fault_retried,
            ));
        }
        if self.with_forgeries {
            out.push(("a forgery refused", self.forgery_refused));
        }
        out
    }
}

/// A property broken, with the shortest schedule that breaks it.
#[derive(Debug, Clone)]
pub struct Counterexample {
    pub broken: Violation,
    pub schedule: Vec<Choice>,
    /// The step-by-step log of the schedule.
    pub log: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// Schedules executed (each node of the search is one).
    pub schedules: usize,
    /// Distinct quiescent states.
    pub states: usize,
    /// Schedules cut because they reached a quiescent state seen before.
    pub pruned: usize,
    /// The longest schedule explored.
    pub depth: usize,
    pub seconds: f64,
    pub complete: bool,
    pub sometimes: Sometimes,
    pub counterexample: Option<Counterexample>,
}

impl Report {
    /// Passed: complete, no property broken, every behaviour reached.
    pub fn ok(&self) -> bool {
        self.complete
            && self.counterexample.is_none()
            && self.sometimes.each().iter().all(|(_, b)| *b)
    }
}

/// Replays `schedule` from the start: the world after it, or the position
/// of a choice that the state did not offer.
pub fn replay<'s>(scope: &'s Scope, schedule: &[Choice]) -> Result<World<'s>, String> {
    let mut w = World::new(scope);
    for (n, c) in schedule.iter().enumerate() {
        if !w.choices().contains(c) {
            return Err(format!(
                "step {} ({c}) is not open there; open: {}",
                n + 1,
                schedule_text(&w.choices())
            ));
        }
        w.apply(*c);
    }
    Ok(w)
}

/// Explores every schedule of `scope`, stopping at the first broken
/// property. The search is breadth-first over quiescent states (which are
/// plain data, so it branches from a copy); from each, every segment of
/// choices up to the next quiescent state is explored depth-first, each
/// segment replayed from the state's copy (a running invocation is a live
/// future and cannot be copied). `progress` is called now and then with
/// the schedules and states so far.
pub fn check(scope: &Scope, mut progress: impl FnMut(usize, usize)) -> Report {
    let started = Instant::now();
    let mut report = Report {
        schedules: 0,
        states: 0,
        pruned: 0,
        depth: 0,
        seconds: 0.0,
        complete: false,
        sometimes: Sometimes::of(scope),
        counterexample: None,
    };
    let first = World::new(scope);
    let mut seen: BTreeSet<u64> = BTreeSet::from([first.fingerprint()]);
    // Each state with invocations running, and the steps its first visit
    // left asleep (see below).
    let mut seen_running: BTreeMap<u64, Vec<Step>> = BTreeMap::new();
    let mut queue: VecDeque<(World<'_>, Vec<Choice>)> = VecDeque::from([(first, Vec::new())]);
    let done = |mut report: Report, cx: Option<Counterexample>| {
        report.complete = cx.is_none();
        report.counterexample = cx;
        report.seconds = started.elapsed().as_secs_f64();
        report
    };
    while let Some((state, path)) = queue.pop_front() {
        report.states += 1;
        report.depth = report.depth.max(path.len());
        // From every quiescent state, the run must settle correctly.
        let mut settled = state.fork();
        let broken = settled.settle_and_check();
        report.sometimes.merge(settled.sometimes);
        if let Some(b) = broken.into_iter().next() {
            let mut log = settled.log;
            log.push("(then settled: the deadline passes, dead letters are redriven, each delivery runs to its end, the sweeper runs)".to_owned());
            let cx = Counterexample {
                broken: b,
                schedule: path,
                log,
            };
            return done(report, Some(cx));
        }
        // A segment, and its sleep set: steps a sibling explored before
        // that commute with every step taken since, so that taking them
        // here would reach what the sibling reaches (sleep sets, as in
        // Godefroid's partial-order reduction).
        let mut segments: Vec<(Vec<Choice>, Vec<Step>)> = state
            .choices()
            .into_iter()
            .map(|c| (vec![c], Vec::new()))
            .collect();
        while let Some((segment, sleep)) = segments.pop() {
            if report.schedules >= scope.max_schedules {
                report.seconds = started.elapsed().as_secs_f64();
                return report;
            }
            report.schedules += 1;
            if report.schedules.is_multiple_of(2_000) {
                progress(report.schedules, report.states);
            }
            let mut w = state.fork();
            for c in &segment {
                w.apply(*c);
            }
            let broken = w.check_always();
            report.sometimes.merge(w.sometimes);
            let mut schedule = path.clone();
            schedule.extend(&segment);
            if let Some(b) = broken.into_iter().next() {
                let cx = Counterexample {
                    broken: b,
                    schedule,
                    log: w.log,
                };
                return done(report, Some(cx));
            }
            if w.quiescent() {
                if seen.insert(w.fingerprint()) {
                    queue.push_back((w, schedule));
                } else {
                    report.pruned += 1;
                }
                continue;
            }
            // Mid-segment, a state reached before (the same data, the same
            // invocations stopped at the same calls having seen the same
            // results) has the same futures: explored once, but for the
            // steps its first visit slept and this one does not (sleep sets
            // with a state cache must explore those).
            let choices = w.choices();
            let open: Vec<Choice> = match seen_running.entry(w.fingerprint_running()) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    let open = choices
                        .into_iter()
                        .filter(|c| w.step_of(*c).is_none_or(|t| !sleep.contains(&t)))
                        .collect();
                    e.insert(sleep.clone());
                    open
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    let slept = e.get();
                    let open: Vec<Choice> = choices
                        .into_iter()
                        .filter(|c| {
                            w.step_of(*c)
                                .is_some_and(|t| slept.contains(&t) && !sleep.contains(&t))
                        })
                        .collect();
                    e.get_mut().retain(|t| sleep.contains(t));
                    open
                }
            };
            if open.is_empty() {
                report.pruned += 1;
                continue;
            }
            let mut taken: Vec<Step> = Vec::new();
            for c in open {
                let step = w.step_of(c);
                // A start changes who may join: nothing sleeps past it.
                let asleep = match &step {
                    Some(t) => sleep
                        .iter()
                        .chain(&taken)
                        .filter(|u| u.independent(t))
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
                let mut next = segment.clone();
                next.push(c);
                segments.push((next, asleep));
                taken.extend(step);
            }
        }
    }
    done(report, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schedules print and parse back as the same choices.
    #[test]
    fn schedules_round_trip_as_text() {
        let s = vec![
            Choice::Start(0),
            Choice::Object(2),
            Choice::Resume(1),
            Choice::Crash(0),
            Choice::Duplicate(3),
            Choice::Lose(1),
            Choice::Redrive,
            Choice::Sweep,
            Choice::Deadline,
        ];
        assert_eq!(parse_schedule(&schedule_text(&s)), Ok(s));
        assert!(parse_schedule("start").is_err());
        assert!(parse_schedule("jump 1").is_err());
    }
}
