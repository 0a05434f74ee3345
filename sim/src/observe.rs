//! What the simulated world saw happen, kept for the invariants and the
//! report. Appended to in virtual-time order; ordered containers only.

use tally_core::event::Event;
use tally_core::time::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub at: Millis,
    pub rule: String,
    pub target: String,
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
    /// The delivered event, so that a redrive sends it again unchanged.
    pub json: std::sync::Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub at: Millis,
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub target: String,
    /// The delivered event, as the target received it.
    pub json: std::sync::Arc<str>,
}

#[derive(Debug, Default)]
pub struct Observations {
    /// Every event put on the bus, duplicates included, with its time.
    pub published: Vec<(Millis, Event)>,
    /// Deliveries scheduled, and how each ended.
    pub scheduled: u64,
    pub consumed: u64,
    /// Every delivery that was consumed, when the run keeps them (`tally
    /// show`): at, event id, event type, source, target.
    pub deliveries: Option<Vec<Delivered>>,
    pub dead_letters: Vec<DeadLetter>,
    /// Deliveries dead-lettered and then redriven (counted once more in
    /// `scheduled`).
    pub redriven: u64,
    /// Refusals the aggregator audited: (at, request, event, reason).
    pub refusals: Vec<(Millis, String, String, String)>,
    /// Handler failures seen by the bus, by kind, for the report.
    pub transient_failures: u64,
    pub crashes: u64,
    pub duplicates: u64,
}
