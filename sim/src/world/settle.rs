//! What every driver of the world does around its inputs: the sweeper on
//! its production schedule while they run, and afterwards the liveness
//! phase (faults off, an operator's redrive of the dead-letter queues, then
//! waiting until nothing is in flight).

use super::World;
use std::sync::Arc;
use std::time::Duration;
use tally_core::handlers::aggregator::sweep;
use tally_core::time::Millis;

/// How often the sweeper runs (its schedule in production).
pub const SWEEP_EVERY_MS: u64 = 60_000;

/// How long a scripted or replayed run may take to settle once its inputs
/// are in: a day.
const SCRIPTED_SETTLE_MS: Millis = 24 * 3_600_000;

/// The horizon the invariants judge a scripted or replayed run by: its
/// settling time and two sweep intervals of lag.
pub const SCRIPTED_HORIZON_MS: Millis = SCRIPTED_SETTLE_MS + 2 * SWEEP_EVERY_MS as Millis;

async fn sleep_ms(ms: u64) {
    madsim::time::sleep(Duration::from_millis(ms)).await;
}

impl World {
    /// Runs the sweeper every [`SWEEP_EVERY_MS`], visiting at most `limit`
    /// records a tick, until the task is aborted. A failed sweep is simply
    /// tried again at the next tick.
    pub(crate) fn spawn_sweeper(self: &Arc<Self>, limit: usize) -> madsim::task::JoinHandle<()> {
        let w = self.clone();
        madsim::task::spawn(async move {
            loop {
                sleep_ms(SWEEP_EVERY_MS).await;
                let stuck: Vec<String> = w.mem.with_records(|records| {
                    records
                        .filter(|r| r.is_decided() && !r.outbox.is_empty())
                        .map(|r| r.request_id.clone())
                        .collect()
                });
                let _ = sweep(&*w, &*w, w.clock("sweeper"), &w.policy, limit).await;
                let finished = stuck
                    .iter()
                    .filter(|id| w.mem.record(id).is_some_and(|r| r.outbox.is_empty()))
                    .count();
                w.observations().coverage.add(
                    crate::observe::Behaviour::OutboxFinishedBySweeper,
                    finished as u64,
                );
            }
        })
    }

    /// Faults off, dead letters redriven, then waits until the world has
    /// settled or `horizon_ms` has passed, and one sweep interval more so
    /// that what was decided is also published.
    /// For a scripted or replayed run, whose last input went in
    /// `last_input_ms` after it began: waits until that input's deadline
    /// (the longer flavour's) and a sweep have passed, then settles for up
    /// to a day.
    pub(crate) async fn settle_after_inputs(&self, last_input_ms: u64) {
        let p = &self.policy;
        let deadline = p.voting.deadline_ms.max(p.completion.deadline_ms);
        sleep_ms(last_input_ms + deadline as u64 + SWEEP_EVERY_MS).await;
        self.settle(SCRIPTED_SETTLE_MS).await;
    }

    pub(crate) async fn settle(&self, horizon_ms: Millis) {
        self.stop_faults();
        self.redrive();
        let give_up = self.now() + horizon_ms;
        while self.now() < give_up && !self.settled() {
            sleep_ms(SWEEP_EVERY_MS).await;
        }
        sleep_ms(SWEEP_EVERY_MS).await;
    }
}
