//! Deletion coordination: one state machine, two policies (voting and
//! completion), driven one input at a time by a pure step.

pub mod bounds;
pub mod check;
pub mod input;
pub mod limits;
pub mod log;
pub mod machine;
pub mod policy;
pub mod record;

pub use check::{check, Breach, Rule};
pub use input::{bounded_reason, Flavour, Input, Request, Vote};
pub use limits::{MAX_HISTORY, MAX_ID_BYTES, MAX_REASON_BYTES, MAX_RECORD_JSON_BYTES};
pub use machine::{step, Command, Metric, Step};
pub use policy::{FlavourPolicy, Outcome, Policy, PolicyError};
pub use record::{CountedVote, Decision, Disposition, HistoryEntry, Record, Status};
