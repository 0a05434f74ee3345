//! tally-core: the pure heart of tally.
//!
//! Nothing in this crate performs I/O, reads a clock, draws randomness or
//! depends on an async runtime: time and randomness arrive as inputs and
//! every effect leaves as a value. The simulator and the AWS adapter drive
//! the very same code.

pub mod consumers;
pub mod coordination;
mod decode;
pub mod domain;
pub mod event;
pub mod failure;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handlers;
pub mod ids;
pub mod pattern;
pub mod ports;
pub mod rules;
pub mod targets;
pub mod time;
pub mod wire;
