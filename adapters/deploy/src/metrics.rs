//! The CloudWatch metrics the functions write (embedded metric format) and
//! the alarms and dashboard read: one list, so that a metric the functions
//! write cannot be missing from the dashboard.

/// The namespace of every tally metric.
pub const NAMESPACE: &str = "tally";
/// Every metric document carries the function that wrote it.
pub const FUNCTION_DIMENSION: &str = "function";
/// The coordination's per-voter metrics also carry the voter.
pub const VOTER_DIMENSION: &str = "Voter";

/// What the coordination counts (`tally_core::coordination::Metric`),
/// written by the functions that step records. `DeletionVotes` and
/// `VoterTimeout` carry the voter as well.
pub const COORDINATION: &[&str] = &[
    "DeletionRequests",
    "DeletionVotes",
    "DeletionApprovals",
    "DeletionDenials",
    "VoterTimeout",
];
/// The coordination metrics that carry the voter.
pub const BY_VOTER: &[&str] = &["DeletionVotes", "VoterTimeout"];

/// What every function counts of its own inputs: handled, failed and
/// retried (transient), failed for good (permanent); the sweeper, the
/// records it decided.
pub const HANDLED: &str = "Handled";
pub const RETRIED: &str = "Retried";
pub const REJECTED: &str = "Rejected";
pub const SWEPT: &str = "Swept";
pub const PER_FUNCTION: &[&str] = &[HANDLED, RETRIED, REJECTED, SWEPT];
