#![no_main]
//! `tally_core::fuzzing::policy_file`: see core/src/fuzzing.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tally_core::fuzzing::policy_file(data));
