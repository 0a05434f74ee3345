//! Replaying a trace through the simulated world, with faults: the trace's
//! inputs are put on the simulated bus at their own times (relative to the
//! first line), routed with the rules file, and delivered with the run's
//! duplicates, delays, losses and crashes. Only the coordination's own
//! functions run (aggregator, executor, audit): the trace already holds
//! every other function's output, votes included.

use super::settle::SCRIPTED_HORIZON_MS;
use super::{Deployed, World};
use crate::faults::FaultMix;
use crate::invariants::Violation;
use crate::replay::decision_of;
use crate::trace::{DecisionOut, Trace};
use std::time::Duration;
use tally_core::coordination::{log, Input, Policy, Record};
use tally_core::ports::Publisher;
use tally_core::rules::Rules;
use tally_core::time::Millis;

#[derive(Debug, Clone)]
pub struct FaultyReplay {
    pub decisions: Vec<DecisionOut>,
    pub log: Vec<String>,
    pub violations: Vec<Violation>,
    /// Every record the world's aggregator wrote (what the differences are
    /// explained from).
    pub records: Vec<Record>,
    /// Coordination inputs put on the bus.
    pub inputs: usize,
}

pub fn replay_with_faults(
    trace: &Trace,
    seed: u64,
    mix: FaultMix,
    rules: Rules,
    policy: Policy,
) -> FaultyReplay {
    let inputs: Vec<(Millis, tally_core::event::Event)> = trace
        .events
        .iter()
        .filter_map(|t| {
            t.event
                .as_deref()
                .filter(|e| Input::from_event(e).is_some())
                .map(|e| (t.arrival(), e.clone()))
        })
        .collect();
    super::on_own_runtime(seed, move || drive(inputs, seed, mix, rules, policy))
}

async fn drive(
    inputs: Vec<(Millis, tally_core::event::Event)>,
    seed: u64,
    mix: FaultMix,
    rules: Rules,
    policy: Policy,
) -> FaultyReplay {
    let count = inputs.len();
    let epoch = inputs.first().map_or(super::EPOCH, |(at, _)| *at);
    let deployed = Deployed {
        automatic_voters: false,
        coordination_only: true,
    };
    let world = World::new(epoch, seed, mix, rules, policy, deployed);
    let sweeper = world.spawn_sweeper(1000);
    let last = inputs.last().map_or(epoch, |(at, _)| *at);
    for (at, ev) in inputs {
        let w = world.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis((at - epoch) as u64)).await;
            // The original publisher succeeded once; a failed put here is
            // the injected fault, and the publisher retries.
            while w.publish(std::slice::from_ref(&ev)).await.is_err() {
                madsim::time::sleep(Duration::from_millis(1_000)).await;
            }
        });
    }
    world.settle_after_inputs((last - epoch) as u64).await;
    sweeper.abort();
    let records = world.mem.records();
    let decided = log::in_decision_order(&records);
    let violations = world.check_invariants(true, SCRIPTED_HORIZON_MS);
    FaultyReplay {
        decisions: decided.iter().filter_map(|r| decision_of(r)).collect(),
        log: decided
            .iter()
            .filter_map(|r| log::decision_line(r))
            .collect(),
        violations,
        records: records.clone(),
        inputs: count,
    }
}
