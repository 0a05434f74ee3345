//! tally-sim: the deterministic simulator of tally.
//!
//! The world (bus, functions, ports with faults) runs on madsim and exists
//! only in builds with `--cfg madsim` (`./scripts/tally`, `./scripts/test`);
//! the seeded generator, the fault mixes and the invariants are plain code.

pub mod args;
pub mod check;
pub mod compare;
pub(crate) mod envelope_scan;
pub mod faults;
pub mod housef3;
pub(crate) mod interpose;
pub mod invariants;
pub mod json;
pub mod observe;
pub mod oracle;
pub mod replay;
pub mod rng;
pub mod scenario;
pub mod shard;
#[cfg(madsim)]
pub mod shrink;
pub mod timeline;
pub mod trace;
pub mod workload;
#[cfg(madsim)]
pub mod world;
