//! One execution of a checked deployment, driven choice by choice: the
//! production handlers (`dispatch_text`, `sweep`) as futures polled by
//! hand over the gated in-memory ports, the bus as a list of in-flight
//! deliveries, and the faults as choices (duplicate, lose, crash, redrive,
//! the sweeper, the deadline).

use super::gate::{At, Gate};
use super::{Choice, Scope, Sometimes};
use crate::invariants::{Invariant, Violation};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tally_core::event::{DeletionRequested, Event, EventData, VoteDecision, CURRENT_VERSION};
use tally_core::handlers::aggregator::sweep;
use tally_core::handlers::dispatch::{dispatch_text, Dispatched};
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::Memory;
use tally_core::ports::{Conduct, ContentStore, FileStore, TransactionStore};
use tally_core::targets::{self, Role};
use tally_core::time::Millis;
use tally_core::wire::{DeliveredEvent, Delivery as Stamp};

/// The virtual clock before the deadline passes (2025-01-15T10:30:00Z).
pub const T0: Millis = 1_736_937_000_000;

/// One delivery the bus holds for a target.
#[derive(Clone)]
pub struct Delivery {
    pub target: &'static str,
    pub event: Arc<Event>,
    pub body: Arc<str>,
}

impl Delivery {
    /// What tells two deliveries apart (copies of one are the same).
    fn key(&self) -> (&'static str, &str, &str) {
        (self.target, &self.event.event_id, &self.body)
    }

    fn describe(&self) -> String {
        format!(
            "{} <- {} {}",
            self.target,
            self.event.event_type(),
            short(&self.event.event_id)
        )
    }
}

/// Whether an event is one of the checker's forgeries.
fn forged(e: &Event) -> bool {
    e.event_id.starts_with("evt-forged-")
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

enum Job {
    Deliver(Delivery),
    Sweep,
}

enum Done {
    Dispatched(Dispatched),
    Swept,
}

type Running = Pin<Box<dyn Future<Output = Result<Done, HandlerError>>>>;

struct Invocation {
    job: Job,
    /// The function it is (at most `concurrency` of one run at once).
    function: &'static str,
    /// The tables it works on: invocations of one group race, of two
    /// groups commute (the aggregator and the sweeper share the records).
    group: &'static str,
    fut: Running,
    /// The port call it stopped before.
    at: Arc<Mutex<At>>,
    /// Makes the call it stopped before fail (the checker's transient fault).
    fail: Arc<AtomicBool>,
    /// What it has called and got back (see `Gate::seen`).
    seen: Arc<Mutex<u64>>,
    /// What a voter invoked this time chose to say (the oracle's truth:
    /// its own work proceeds in this scope, an objection denies), whatever
    /// the vote it publishes says.
    chose: Option<VoteDecision>,
    /// Published events before it started (for the sweeper's coverage).
    published_before: usize,
}

pub struct World<'s> {
    scope: &'s Scope,
    mem: Arc<Memory>,
    inflight: Vec<Delivery>,
    dead: Vec<Delivery>,
    running: Vec<Invocation>,
    duplicates_left: u32,
    losses_left: u32,
    crashes_left: u32,
    transients_left: u32,
    forgeries_left: u32,
    /// The forgeries already published, by their index in `forgeries`.
    forged: BTreeSet<usize>,
    now: Millis,
    advanced: bool,
    pub published: Vec<(Millis, Event)>,
    /// The published events as a set of hashes of their JSON (what the
    /// fingerprint takes: a republished event is the same event), kept as
    /// they are published rather than rebuilt per fingerprint.
    published_set: BTreeSet<u64>,
    /// Votes the aggregator took before the deadline: (request, voter) ->
    /// what the voter said (the first one that went through).
    answered: BTreeMap<(String, String), VoteDecision>,
    /// Deliveries a crash interrupted.
    crashed: BTreeSet<(String, String)>,
    /// Deliveries a transient fault failed.
    throttled: BTreeSet<(String, String)>,
    /// What each voter chose, by (request, voter): the first choice that
    /// published a vote.
    chose: BTreeMap<(String, String), VoteDecision>,
    /// Whether a voter's delivery, once started, objects: its retries and
    /// copies answer as its first invocation did (a voter's answer comes
    /// from the data, which a retry reads again).
    objects: BTreeMap<(&'static str, String), bool>,
    pub sometimes: Sometimes,
    pub log: Vec<String>,
    /// Whether an invocation has taken a step since the last quiescent
    /// state (after that, no new invocation joins: see `choices`).
    resumed: bool,
    /// The delivery just copied, if the last choice was a duplicate: its
    /// copy is taken next (see `choices`).
    duplicated: Option<(&'static str, String)>,
}

/// A step of one running invocation: its next call, its crash there, or
/// that call failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    Resume,
    Crash,
    Fail,
}

/// A step (see `World::step_of`), with the call its invocation stopped
/// before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub invocation: u64,
    pub at: At,
}

impl Step {
    /// Whether taking the two in either order reaches the same state. Steps
    /// of one invocation never commute; two crashes (or two failed calls)
    /// draw on one budget; two calls commute as `At::independent` says; a
    /// crash or a failed call touches no store, so it commutes with another
    /// invocation's call.
    pub fn independent(&self, other: &Step) -> bool {
        if self.invocation == other.invocation {
            return false;
        }
        match (self.kind, other.kind) {
            (StepKind::Resume, StepKind::Resume) => self.at.independent(&other.at),
            (a, b) => a != b,
        }
    }
}

fn poll_once(fut: &mut Running) -> Poll<Result<Done, HandlerError>> {
    let mut cx = Context::from_waker(Waker::noop());
    fut.as_mut().poll(&mut cx)
}

impl<'s> World<'s> {
    /// The deployment of `scope` with its files uploaded and each request
    /// published by the API, nothing delivered yet.
    pub fn new(scope: &'s Scope) -> World<'s> {
        let mem = Arc::new(Memory::new());
        let mut w = World {
            scope,
            mem,
            inflight: Vec::new(),
            dead: Vec::new(),
            running: Vec::new(),
            duplicates_left: scope.duplicates,
            losses_left: scope.losses,
            crashes_left: scope.crashes,
            transients_left: scope.transients,
            forgeries_left: scope.forgeries,
            forged: BTreeSet::new(),
            now: T0,
            advanced: false,
            published: Vec::new(),
            published_set: BTreeSet::new(),
            answered: BTreeMap::new(),
            crashed: BTreeSet::new(),
            throttled: BTreeSet::new(),
            chose: BTreeMap::new(),
            objects: BTreeMap::new(),
            sometimes: Sometimes::of(scope),
            log: Vec::new(),
            resumed: false,
            duplicated: None,
        };
        for n in 0..scope.requests {
            let (file, owner) = (format!("file-{n}"), "user-0");
            let mut meta =
                crate::scenario::upload_meta(&file, owner, scope.account_type.as_deref());
            meta.transaction_count = scope.transactions;
            let txs: Vec<_> = (0..scope.transactions)
                .map(|i| tally_core::domain::Transaction {
                    transaction_id: format!("tx-{n}-{i}"),
                    user_id: owner.into(),
                    file_id: file.clone(),
                    account_id: meta.account_id.clone(),
                    date: "2025-01-02".into(),
                    description: format!("COFFEE {i}"),
                    amount_cents: -100,
                    category_id: None,
                })
                .collect();
            let put = async {
                w.mem.put_file(&meta).await?;
                w.mem
                    .put_content(&meta.s3_key, b"date,description,amount\n")
                    .await?;
                w.mem.put_new_transactions(&txs).await.map(|_| ())
            };
            tally_core::ports::memory::run_ready(put)
                .expect("the in-memory stores take the upload");
            let request = Event {
                event_id: format!("evt-request-{n}"),
                event_version: CURRENT_VERSION.into(),
                timestamp: T0,
                source: tally_core::event::sources::FILE_SERVICE.into(),
                user_id: owner.into(),
                correlation_id: None,
                causation_id: None,
                data: EventData::DeletionRequested(DeletionRequested {
                    file_id: file.clone(),
                    user_id: owner.into(),
                    account_id: meta.account_id.clone(),
                    account_type: scope.account_type.clone(),
                    file_name: meta.file_name.clone(),
                    transaction_count: scope.transactions,
                    request_id: format!("request-{n}"),
                }),
                metadata: None,
            };
            w.put(request);
        }
        w
    }

    /// PutEvents: the event is published, and routed to every deployed
    /// target its rules name.
    fn put(&mut self, event: Event) {
        let id = tally_core::ids::derive("eb", &[&event.event_id]);
        let body: Arc<str> = DeliveredEvent::wrap(&event, &id, &Stamp::default())
            .to_json()
            .into();
        let mut scratch = tally_core::pattern::Scratch::default();
        let mut hits = Vec::new();
        self.scope
            .rules
            .route(body.as_bytes(), &mut scratch, &mut hits)
            .expect("the matcher reads what the encoder wrote");
        let event = Arc::new(event);
        for rule in hits {
            for target in &self.scope.rules.rules[rule].targets {
                let Some(t) = targets::target(target).filter(|t| deployed(t.role)) else {
                    continue;
                };
                let d = Delivery {
                    target: t.name,
                    event: event.clone(),
                    body: body.clone(),
                };
                if self.unrequired_voter_is_done(&d) {
                    self.log.push(format!(
                        "  {} done (not required: no call made)",
                        d.describe()
                    ));
                    continue;
                }
                self.inflight.push(d);
            }
        }
        // The delivered body is the event's text (its id derived from the
        // event's, the stamp fixed): hashed as written above, not encoded again.
        let mut h = std::hash::DefaultHasher::new();
        body.hash(&mut h);
        self.published_set.insert(h.finish());
        self.published.push((self.now, (*event).clone()));
    }

    /// Whether `d` asks a voter the policy does not require for that
    /// request, which answers before any port call (checked by running it
    /// to its first stop): touching nothing, it commutes with every choice,
    /// and so does any copy of it, so it is taken at once rather than
    /// multiplying the schedules by its place among them.
    fn unrequired_voter_is_done(&self, d: &Delivery) -> bool {
        let (Some(voter), EventData::DeletionRequested(r)) =
            (targets::voter_of(d.target), &d.event.data)
        else {
            return false;
        };
        if self.scope.policy.requires(voter.name(), r) {
            return false;
        }
        let gate = Gate {
            mem: self.mem.clone(),
            conduct: Conduct::OwnWork,
            at: Arc::new(Mutex::new(At::START)),
            fail: Arc::new(AtomicBool::new(false)),
            seen: Arc::new(Mutex::new(0)),
        };
        let (target, body, now, policy) = (d.target, d.body.clone(), self.now, &self.scope.policy);
        let mut fut = std::pin::pin!(async move {
            let settings = tally_core::consumers::Settings::default();
            dispatch_text(&gate, target, &body, now, policy, &settings)
                .await
                .map(|(_, d)| Done::Dispatched(d))
        });
        let mut cx = Context::from_waker(Waker::noop());
        matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(_)))
    }

    /// What the handlers published since the last look goes on the bus;
    /// a vote published by a voter invoked with `chose` is what it chose.
    fn drain(&mut self, chose: Option<VoteDecision>) {
        for e in self.mem.drain_published() {
            if let (EventData::DeletionVote(v), Some(d)) = (&e.data, chose) {
                self.chose
                    .entry((v.request_id.clone(), v.voter.clone()))
                    .or_insert(d);
            }
            self.put(e);
        }
    }

    /// What an adversary could publish: for each request, an approval in
    /// the aggregator's name, and a proceed vote from a source no voter is
    /// bound to, for each voter. EventBridge checks no source on a custom
    /// bus, so every handler must refuse them.
    fn forgeries(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for n in 0..self.scope.requests {
            let (file_id, request_id) = (format!("file-{n}"), format!("request-{n}"));
            let event = |kind: &str, source: &str, data: EventData| Event {
                event_id: format!("evt-forged-{kind}-{n}"),
                event_version: CURRENT_VERSION.into(),
                timestamp: T0,
                source: source.into(),
                user_id: "user-0".into(),
                correlation_id: None,
                causation_id: None,
                data,
                metadata: None,
            };
            out.push(event(
                "approval",
                tally_core::event::sources::DELETION_AGGREGATOR,
                EventData::DeletionApproved(tally_core::event::DeletionApproved {
                    file_id: file_id.clone(),
                    request_id: request_id.clone(),
                    approved_by: Vec::new(),
                    all_votes: BTreeMap::new(),
                    cause: tally_core::event::DecisionCause::AllProceeded,
                }),
            ));
            for voter in &self.scope.policy.voting.required {
                out.push(event(
                    &format!("vote-{voter}"),
                    "forged.service",
                    EventData::DeletionVote(tally_core::event::DeletionVote {
                        file_id: file_id.clone(),
                        request_id: request_id.clone(),
                        voter: voter.clone(),
                        decision: VoteDecision::Proceed,
                        reason: Some("forged".into()),
                    }),
                ));
            }
        }
        out
    }

    /// The distinct in-flight deliveries (copies of one are one choice),
    /// as indices into `inflight`.
    fn distinct(&self) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        (0..self.inflight.len())
            .filter(|&i| seen.insert(self.inflight[i].key()))
            .collect()
    }

    fn running_of(&self, function: &str) -> usize {
        self.running
            .iter()
            .filter(|r| r.function == function)
            .count()
    }

    /// Every choice open here, in a fixed order. What runs at once is
    /// what can race: while invocations of one function run, only their
    /// steps, their crashes, and more invocations of that function (the
    /// sweeper is the aggregator's) are open. Everything else commutes with
    /// them (another function's port calls touch other tables; a duplicate,
    /// a dead letter, a redrive or the deadline touches no store and no
    /// running invocation reads it), so it waits for the next quiescent
    /// state, where every choice is open.
    pub fn choices(&self) -> Vec<Choice> {
        let mut out = Vec::new();
        // A copy commutes with every choice but the taking of one of its
        // deliveries (a start, or a dead letter): so it is made just before
        // that, and the first of the two copies is taken next.
        if let Some(key) = &self.duplicated {
            for i in self.distinct() {
                let d = &self.inflight[i];
                if (d.target, d.event.event_id.as_str()) != (key.0, key.1.as_str()) {
                    continue;
                }
                out.extend(self.start_choices(i));
                if self.losses_left > 0 {
                    out.push(Choice::Lose(i));
                }
            }
            return out;
        }
        let busy = self.running.first().map(|r| r.group);
        // A publish commutes with every call any invocation may make later
        // (no handler reads the bus), so once no one may join, an
        // invocation stopped before one goes alone: its publish, its crash
        // there or that call failing (a persistent set). Any other call may
        // race with a later one of another invocation, so every order is
        // open, and the search's sleep sets skip the orders that commute.
        let publishing = (0..self.running.len())
            .find(|&j| self.resumed && self.at(j).what == "Publisher.publish");
        let movers: Vec<usize> = match publishing {
            Some(j) => vec![j],
            None => (0..self.running.len()).collect(),
        };
        out.extend(movers.iter().map(|&j| Choice::Resume(j)));
        if self.crashes_left > 0 {
            out.extend(movers.iter().map(|&j| Choice::Crash(j)));
        }
        if self.transients_left > 0 {
            out.extend(movers.iter().map(|&j| Choice::Fail(j)));
        }
        for i in self.distinct() {
            let d = &self.inflight[i];
            let function = d.target;
            // A new invocation runs to its first stop without touching a
            // store, so joining later is joining now and waiting: it joins
            // before the first step of the segment or not at all.
            if busy.is_some_and(|b| b != group_of(function) || self.resumed) {
                continue;
            }
            if self.running_of(function) < self.scope.concurrency {
                out.extend(self.start_choices(i));
            }
            if busy.is_none() && self.duplicates_left > 0 {
                out.push(Choice::Duplicate(i));
            }
            if busy.is_none() && self.losses_left > 0 {
                out.push(Choice::Lose(i));
            }
        }
        if busy.is_none() && !self.dead.is_empty() {
            out.push(Choice::Redrive);
        }
        let sweeping = self.running.iter().any(|r| matches!(r.job, Job::Sweep));
        // A sweep with nothing due changes nothing.
        let due = self.mem.records().iter().any(|r| r.is_due(self.now));
        if due && !sweeping && busy.is_none_or(|b| b == group_of("sweeper") && !self.resumed) {
            out.push(Choice::Sweep);
        }
        if busy.is_none() && !self.advanced {
            out.push(Choice::Deadline);
        }
        if busy.is_none() && self.forgeries_left > 0 {
            let n = self.forgeries().len();
            out.extend(
                (0..n)
                    .filter(|k| !self.forged.contains(k))
                    .map(Choice::Forge),
            );
        }
        out
    }

    /// The ways in-flight delivery `i` may start: as its first invocation
    /// answered, once one has; else doing its own work or, for a voter's
    /// first answer with objections on, objecting.
    fn start_choices(&self, i: usize) -> Vec<Choice> {
        let d = &self.inflight[i];
        match self.objects.get(&(d.target, d.event.event_id.clone())) {
            Some(true) => vec![Choice::Object(i)],
            Some(false) => vec![Choice::Start(i)],
            None if self.scope.objections && self.objectable(d) => {
                vec![Choice::Start(i), Choice::Object(i)]
            }
            None => vec![Choice::Start(i)],
        }
    }

    /// A voter's first answer to a request it must vote on (a later one
    /// re-publishes what was kept, so objecting again changes nothing).
    fn objectable(&self, d: &Delivery) -> bool {
        let Some(voter) = targets::voter_of(d.target) else {
            return false;
        };
        let EventData::DeletionRequested(r) = &d.event.data else {
            return false;
        };
        self.scope.policy.requires(voter.name(), r)
            && !self.published.iter().any(|(_, e)| {
                matches!(&e.data, EventData::DeletionVote(v) if v.voter == voter.name() && v.request_id == r.request_id)
            })
    }

    /// Carries out one choice (which `choices` offered), then every step
    /// that is the only choice there is (a lone invocation that nothing
    /// can race or crash runs on to its end): such a chain is one schedule,
    /// not one per step.
    pub fn apply(&mut self, c: Choice) {
        self.apply_one(c);
        while self.running.len() == 1 && self.choices() == [Choice::Resume(0)] {
            self.apply_one(Choice::Resume(0));
        }
    }

    fn apply_one(&mut self, c: Choice) {
        self.duplicated = None;
        match c {
            Choice::Start(i) | Choice::Object(i) => {
                let d = self.inflight.remove(i);
                if targets::voter_of(d.target).is_some() {
                    self.objects
                        .entry((d.target, d.event.event_id.clone()))
                        .or_insert(matches!(c, Choice::Object(_)));
                }
                let conduct = if matches!(c, Choice::Object(_)) {
                    Conduct::Object("objects (the checker's choice)".to_owned())
                } else {
                    Conduct::OwnWork
                };
                self.log.push(format!(
                    "{} {}",
                    if matches!(c, Choice::Object(_)) {
                        "start (objecting)"
                    } else {
                        "start"
                    },
                    d.describe()
                ));
                self.start(Job::Deliver(d), conduct);
            }
            Choice::Resume(j) => {
                let at = self.at(j);
                self.log
                    .push(format!("resume {} at {}", self.name(j), at.what));
                self.resumed = true;
                self.poll(j);
            }
            Choice::Crash(j) => {
                self.crashes_left -= 1;
                let at = self.at(j);
                self.log
                    .push(format!("crash {} before {}", self.name(j), at.what));
                let inv = self.running.remove(j);
                if self.running.is_empty() {
                    self.resumed = false;
                }
                if let Job::Deliver(d) = inv.job {
                    self.crashed
                        .insert((d.target.to_owned(), d.event.event_id.clone()));
                    self.inflight.push(d);
                }
            }
            Choice::Fail(j) => {
                self.transients_left -= 1;
                let at = self.at(j);
                self.log
                    .push(format!("fail {} at {} (throttled)", self.name(j), at.what));
                self.running[j].fail.store(true, Ordering::Relaxed);
                self.resumed = true;
                self.poll(j);
            }
            Choice::Forge(k) => {
                self.forgeries_left -= 1;
                self.forged.insert(k);
                let e = self.forgeries().swap_remove(k);
                self.log.push(format!(
                    "forge {} {} from {}",
                    e.event_type(),
                    short(&e.event_id),
                    e.source
                ));
                self.put(e);
            }
            Choice::Duplicate(i) => {
                self.duplicates_left -= 1;
                let d = self.inflight[i].clone();
                self.log.push(format!("duplicate {}", d.describe()));
                self.duplicated = Some((d.target, d.event.event_id.clone()));
                self.inflight.push(d);
            }
            Choice::Lose(i) => {
                self.losses_left -= 1;
                let d = self.inflight.remove(i);
                self.log.push(format!("dead-letter {}", d.describe()));
                self.dead.push(d);
            }
            Choice::Redrive => {
                self.log
                    .push(format!("redrive {} dead letters", self.dead.len()));
                self.inflight.append(&mut self.dead);
            }
            Choice::Sweep => {
                self.log.push("start sweeper".to_owned());
                self.start(Job::Sweep, Conduct::OwnWork);
            }
            Choice::Deadline => {
                // A vote the aggregator wrote into a record before the
                // deadline was taken then, even if the invocation that
                // wrote it crashed before it was done (its redelivery
                // comes after): which voters were taken is the store's
                // fact, what they said is still what they chose.
                let (chose, answered) = (&self.chose, &mut self.answered);
                self.mem.with_records(|records| {
                    for r in records {
                        for voter in r.votes.keys() {
                            let key = (r.request_id.clone(), voter.clone());
                            if let Some(&c) = chose.get(&key) {
                                answered.entry(key).or_insert(c);
                            }
                        }
                    }
                });
                let p = &self.scope.policy;
                self.now = T0 + p.voting.deadline_ms.max(p.completion.deadline_ms) + 1;
                self.advanced = true;
                self.log.push("the deadline passes".to_owned());
            }
        }
    }

    fn at(&self, j: usize) -> At {
        self.running[j]
            .at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn name(&self, j: usize) -> String {
        match &self.running[j].job {
            Job::Deliver(d) => d.describe(),
            Job::Sweep => "sweeper".to_owned(),
        }
    }

    fn start(&mut self, job: Job, conduct: Conduct) {
        let at = Arc::new(Mutex::new(At::START));
        let fail = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(0));
        let chose = match (&job, &conduct) {
            (Job::Deliver(d), Conduct::Object(_)) if targets::voter_of(d.target).is_some() => {
                Some(VoteDecision::Deny)
            }
            (Job::Deliver(d), _) if targets::voter_of(d.target).is_some() => {
                Some(VoteDecision::Proceed)
            }
            _ => None,
        };
        let gate = Gate {
            mem: self.mem.clone(),
            conduct,
            at: at.clone(),
            fail: fail.clone(),
            seen: seen.clone(),
        };
        let (now, policy) = (self.now, self.scope.policy.clone());
        let (fut, function): (Running, &'static str) = match &job {
            Job::Deliver(d) => {
                let (target, body) = (d.target, d.body.clone());
                let fut = async move {
                    let settings = tally_core::consumers::Settings::default();
                    dispatch_text(&gate, target, &body, now, &policy, &settings)
                        .await
                        .map(|(_, d)| Done::Dispatched(d))
                };
                (Box::pin(fut), target)
            }
            Job::Sweep => {
                let fut = async move {
                    sweep(&gate, &gate, now, &policy, 100)
                        .await
                        .map(|_| Done::Swept)
                };
                (Box::pin(fut), "sweeper")
            }
        };
        self.running.push(Invocation {
            job,
            function,
            group: group_of(function),
            fut,
            at,
            fail,
            seen,
            chose,
            published_before: self.published.len(),
        });
        let j = self.running.len() - 1;
        self.poll(j);
    }

    /// Runs invocation `j` to its next stop (or its end).
    fn poll(&mut self, j: usize) {
        let out = poll_once(&mut self.running[j].fut);
        self.drain(self.running[j].chose);
        let Poll::Ready(out) = out else { return };
        let inv = self.running.remove(j);
        if self.running.is_empty() {
            self.resumed = false;
        }
        match (inv.job, out) {
            (Job::Deliver(d), Ok(done)) => {
                self.observe(&d, done);
                self.log.push(format!("  {} done", d.describe()));
            }
            (Job::Sweep, Ok(_)) => {
                if self.published.len() > inv.published_before && !self.crashed.is_empty() {
                    self.sometimes.crash_recovered_by_sweeper = true;
                }
                self.log.push("  sweeper done".to_owned());
            }
            (Job::Deliver(d), Err(e)) if forged(&d.event) && !e.is_transient() => {
                // Refused for good, as it must be: the letter stays dead.
                self.log.push(format!("  {} refused: {e}", d.describe()));
                self.sometimes.forgery_refused = true;
            }
            (Job::Deliver(d), Err(e)) => {
                self.log.push(format!("  {} failed: {e}", d.describe()));
                if e.is_transient() {
                    self.throttled
                        .insert((d.target.to_owned(), d.event.event_id.clone()));
                    self.inflight.push(d);
                } else {
                    self.dead.push(d);
                }
            }
            (Job::Sweep, Err(e)) => self.log.push(format!("  sweeper failed: {e}")),
        }
    }

    fn observe(&mut self, d: &Delivery, done: Done) {
        let Done::Dispatched(out) = done else { return };
        let key = (d.target.to_owned(), d.event.event_id.clone());
        if self.crashed.contains(&key) {
            self.sometimes.crash_recovered_by_redelivery = true;
        }
        if self.throttled.contains(&key) {
            self.sometimes.transient_fault_retried = true;
        }
        let report = &out.report;
        match targets::target(d.target).map(|t| t.role) {
            Some(Role::Aggregator) => {
                if report["races"].as_u64().unwrap_or(0) > 0 {
                    self.sometimes.lost_race_restepped = true;
                }
                let taken = report["refused"].as_array().is_some_and(Vec::is_empty);
                if forged(&d.event) && !taken {
                    self.sometimes.forgery_refused = true;
                }
                // The oracle takes what the voter chose, not what its vote
                // says: a vote that says other than its voter chose is a bug
                // the decision must not follow. A vote no voter published (a
                // forgery) says nothing.
                if let EventData::DeletionVote(v) = &d.event.data {
                    let key = (v.request_id.clone(), v.voter.clone());
                    if let (false, true, Some(&chose)) =
                        (self.advanced, taken, self.chose.get(&key))
                    {
                        self.answered.entry(key).or_insert(chose);
                    }
                }
            }
            Some(Role::Executor)
                if report["report"] == "already_executed" || report["resumed"] == true =>
            {
                self.sometimes.duplicate_approval_at_executor = true;
            }
            _ => {}
        }
    }

    /// A copy of a quiescent world (nothing running, so nothing but data),
    /// from which the search branches.
    pub fn fork(&self) -> World<'s> {
        assert!(self.running.is_empty(), "only a quiescent world forks");
        World {
            scope: self.scope,
            mem: Arc::new(self.mem.snapshot()),
            inflight: self.inflight.clone(),
            dead: self.dead.clone(),
            running: Vec::new(),
            duplicates_left: self.duplicates_left,
            losses_left: self.losses_left,
            crashes_left: self.crashes_left,
            transients_left: self.transients_left,
            forgeries_left: self.forgeries_left,
            forged: self.forged.clone(),
            now: self.now,
            advanced: self.advanced,
            published: self.published.clone(),
            published_set: self.published_set.clone(),
            answered: self.answered.clone(),
            crashed: self.crashed.clone(),
            throttled: self.throttled.clone(),
            chose: self.chose.clone(),
            objects: self.objects.clone(),
            sometimes: self.sometimes,
            log: self.log.clone(),
            resumed: false,
            duplicated: self.duplicated.clone(),
        }
    }

    /// A state with invocations running, as a number that two schedules
    /// reaching it give alike: the world's data (as `fingerprint`), whether
    /// a step was taken since it was quiescent (which decides who may
    /// join), and each running invocation as `invocation` says. A handler
    /// is deterministic, so that is all of a future's state; invocations
    /// are told apart by what they are, not by their place in the list.
    pub fn fingerprint_running(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.fingerprint().hash(&mut h);
        self.resumed.hash(&mut h);
        let mut running: Vec<u64> = (0..self.running.len())
            .map(|j| self.invocation(j))
            .collect();
        running.sort();
        running.hash(&mut h);
        h.finish()
    }

    /// Running invocation `j` as a number: its delivery, where it stopped
    /// and what it has called and got back. It stays the same while other
    /// invocations take their steps.
    fn invocation(&self, j: usize) -> u64 {
        let r = &self.running[j];
        let at = self.at(j);
        let job = match &r.job {
            Job::Deliver(d) => Some(d.key()),
            Job::Sweep => None,
        };
        let seen = *r.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut h = std::hash::DefaultHasher::new();
        (job, at.what, at.key, at.write, seen).hash(&mut h);
        h.finish()
    }

    /// What choice `c` does to a running invocation, told apart across
    /// schedules (for the search's sleep sets); None for a choice that
    /// starts something.
    pub fn step_of(&self, c: Choice) -> Option<Step> {
        let (kind, j) = match c {
            Choice::Resume(j) => (StepKind::Resume, j),
            Choice::Crash(j) => (StepKind::Crash, j),
            Choice::Fail(j) => (StepKind::Fail, j),
            _ => return None,
        };
        Some(Step {
            kind,
            invocation: self.invocation(j),
            at: self.at(j),
        })
    }

    /// Nothing running: a state the checker can recognise again.
    pub fn quiescent(&self) -> bool {
        self.running.is_empty()
    }

    /// What a quiescent state is: the stores, what the bus holds, what
    /// was published (as a set: a republished event is the same event),
    /// the budgets left, the clock, and what the oracle knows.
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.mem.digest().hash(&mut h);
        self.duplicated.hash(&mut h);
        let mut keys: Vec<_> = self.inflight.iter().map(Delivery::key).collect();
        keys.sort();
        keys.hash(&mut h);
        let mut dead: Vec<_> = self.dead.iter().map(Delivery::key).collect();
        dead.sort();
        dead.hash(&mut h);
        self.published_set.hash(&mut h);
        (
            self.duplicates_left,
            self.losses_left,
            self.crashes_left,
            self.transients_left,
            self.forgeries_left,
        )
            .hash(&mut h);
        self.forged.hash(&mut h);
        tally_core::ports::memory::debug_hash(&mut h, &self.chose);
        self.objects.hash(&mut h);
        self.advanced.hash(&mut h);
        tally_core::ports::memory::debug_hash(&mut h, &self.answered);
        h.finish()
    }

    /// Every always-property over the state now.
    pub fn check_always(&mut self) -> Vec<Violation> {
        let mut out = Vec::new();
        let records = self.mem.records();
        for r in &records {
            out.extend(crate::invariants::check_record(r, &self.scope.policy));
            if let Some(d) = &r.decision {
                match d.cause {
                    tally_core::event::DecisionCause::Vetoed => self.sometimes.veto = true,
                    tally_core::event::DecisionCause::Timeout => self.sometimes.timeout = true,
                    tally_core::event::DecisionCause::AllProceeded => {
                        self.sometimes.approved_by_all = true
                    }
                    _ => {}
                }
            }
        }
        out.extend(crate::invariants::one_id_one_content(&self.published));
        let mut decisions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut votes: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        let mut deletions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        // A forgery is not the deployment's own decision or vote.
        for (_, e) in self.published.iter().filter(|(_, e)| !forged(e)) {
            match &e.data {
                EventData::DeletionApproved(a) => {
                    decisions
                        .entry(&a.request_id)
                        .or_default()
                        .insert(&e.event_id);
                }
                EventData::DeletionDenied(d) => {
                    decisions
                        .entry(&d.request_id)
                        .or_default()
                        .insert(&e.event_id);
                }
                EventData::DeletionVote(v) => {
                    votes
                        .entry((&v.request_id, &v.voter))
                        .or_default()
                        .insert(&e.event_id);
                }
                EventData::FileDeleted(f) => {
                    deletions.entry(&f.file_id).or_default().insert(&e.event_id);
                }
                _ => {}
            }
        }
        for (request, ids) in &decisions {
            if ids.len() > 1 {
                out.push(Violation {
                    invariant: Invariant::AtMostOneDecision,
                    detail: format!("{request} was decided {} times: {ids:?}", ids.len()),
                });
            }
        }
        for ((request, voter), ids) in &votes {
            if ids.len() > 1 {
                out.push(Violation {
                    invariant: Invariant::EachVoterVotesOnce,
                    detail: format!("{voter} voted {} times on {request}", ids.len()),
                });
            }
        }
        for (file, ids) in &deletions {
            if ids.len() > 1 {
                out.push(Violation {
                    invariant: Invariant::FileDeletedAtMostOnce,
                    detail: format!("{file} was deleted {} times", ids.len()),
                });
            }
        }
        for n in 0..self.scope.requests {
            let file = format!("file-{n}");
            let gone = tally_core::ports::memory::run_ready(self.mem.get_file(&file))
                .ok()
                .flatten()
                .is_none();
            let approved = records.iter().any(|r| {
                r.status == tally_core::coordination::Status::Approved
                    && r.request.as_ref().is_some_and(|q| q.file_id == file)
            });
            if gone && !approved {
                out.push(Violation {
                    invariant: Invariant::NoDeletionWithoutApproval,
                    detail: format!("{file}'s metadata is gone and no request for it is approved"),
                });
            }
        }
        out
    }

    /// Settles the run as the liveness phase of `tally explore` does (the
    /// deadline passes, dead letters are redriven, everything in flight
    /// runs to its end one at a time, the sweeper runs until it changes
    /// nothing), then checks what must eventually hold.
    pub fn settle_and_check(&mut self) -> Vec<Violation> {
        if !self.advanced {
            self.apply(Choice::Deadline);
        }
        self.crashes_left = 0;
        self.duplicates_left = 0;
        self.losses_left = 0;
        self.transients_left = 0;
        self.forgeries_left = 0;
        self.duplicated = None;
        let mut quiet_sweeps = 0;
        for _ in 0..10_000 {
            if !self.running.is_empty() {
                self.apply(Choice::Resume(0));
            } else if !self.dead.is_empty() {
                self.apply(Choice::Redrive);
            } else if !self.inflight.is_empty() {
                self.apply(self.start_choices(0)[0]);
            } else if quiet_sweeps < 2 {
                let before = (self.mem.digest(), self.published.len());
                self.apply(Choice::Sweep);
                while !self.running.is_empty() {
                    self.apply(Choice::Resume(0));
                }
                let quiet = before == (self.mem.digest(), self.published.len());
                quiet_sweeps = if quiet && self.inflight.is_empty() {
                    quiet_sweeps + 1
                } else {
                    0
                };
            } else {
                return self.check_eventually();
            }
        }
        vec![Violation {
            invariant: Invariant::NothingLost,
            detail: "the run did not settle in 10,000 steps".to_owned(),
        }]
    }

    fn check_eventually(&mut self) -> Vec<Violation> {
        let mut out = self.check_always();
        let records = self.mem.records();
        for n in 0..self.scope.requests {
            let (file, request) = (format!("file-{n}"), format!("request-{n}"));
            let Some(r) = records.iter().find(|r| r.request_id == request) else {
                out.push(Violation {
                    invariant: Invariant::DecidedInTime,
                    detail: format!("{request} has no record once settled"),
                });
                continue;
            };
            let Some(d) = &r.decision else {
                out.push(Violation {
                    invariant: Invariant::DecidedInTime,
                    detail: format!("{request} is still {} once settled", r.status.as_str()),
                });
                continue;
            };
            if !self.published.iter().any(|(_, e)| e.event_id == d.event_id) {
                out.push(Violation {
                    invariant: Invariant::DecisionPublished,
                    detail: format!("{request}'s decision {} was never published", d.event_id),
                });
            }
            let meta = tally_core::ports::memory::run_ready(self.mem.get_file(&file))
                .ok()
                .flatten();
            let txs = tally_core::ports::memory::run_ready(self.mem.transactions_of_file(&file))
                .unwrap_or_default();
            let approved = r.status == tally_core::coordination::Status::Approved;
            if approved && (meta.is_some() || !txs.is_empty()) {
                out.push(Violation {
                    invariant: Invariant::ApprovedFileDeleted,
                    detail: format!(
                        "{request} is approved but {file} keeps its metadata ({}) and {} transactions",
                        meta.is_some(),
                        txs.len()
                    ),
                });
            }
            if approved && meta.is_none() {
                self.sometimes.file_deleted = true;
            }
            if !approved && meta.is_none() {
                out.push(Violation {
                    invariant: Invariant::ApprovedFileDeleted,
                    detail: format!("{request} is {} but {file} is gone", r.status.as_str()),
                });
            }
            // The oracle: what the votes the aggregator took before the
            // deadline say, or else the deadline's outcome; never what the
            // record says.
            let said: Vec<VoteDecision> = self
                .answered
                .iter()
                .filter(|((q, _), _)| *q == request)
                .map(|(_, d)| *d)
                .collect();
            let required = r.required.len();
            let expected = if said.contains(&VoteDecision::Deny) {
                Some(tally_core::coordination::Status::Denied)
            } else if required > 0
                && said.len() == required
                && said.iter().all(|d| *d == VoteDecision::Proceed)
            {
                Some(tally_core::coordination::Status::Approved)
            } else if required > 0 {
                // Not every required voter was taken before the deadline,
                // and no one vetoed: the deadline decides.
                Some(self.scope.policy.voting.timeout_outcome.status())
            } else {
                None
            };
            if let Some(want) = expected.filter(|w| *w != r.status) {
                out.push(Violation {
                    invariant: Invariant::DecidedAsTheVotesSay,
                    detail: format!(
                        "{request}: the votes taken before the deadline say {}, the record says {}",
                        want.as_str(),
                        r.status.as_str()
                    ),
                });
            }
        }
        out
    }
}

/// The targets a checked deployment runs: the coordination's own (the
/// aggregator, the voters, the executor). Others' events are dropped.
fn deployed(role: Role) -> bool {
    matches!(role, Role::Aggregator | Role::Voter(_) | Role::Executor)
}

/// The tables a function works on, as a name: the sweeper steps the
/// aggregator's records; every other function has tables of its own.
fn group_of(function: &'static str) -> &'static str {
    if function == "sweeper" {
        "aggregator"
    } else {
        function
    }
}
