#![no_main]
//! Trace lines (tally-sim's `trace::read_line` and `trace::read`): see
//! shared/trace_line.rs, which tally-sim's tests/bad_input.rs replays too.
use libfuzzer_sys::fuzz_target;

#[path = "../shared/trace_line.rs"]
mod trace_line;

fuzz_target!(|data: &[u8]| trace_line::check(data));
