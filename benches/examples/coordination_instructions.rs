//! The coordination benches' passes, for callgrind: instruction counts do
//! not move with the machine's load, so two builds compare on a shared
//! machine. Each pass (`counted`, `deciding`, `handler`) runs `REPS` times
//! on fresh inputs; count only the pass itself (not the workload's set-up)
//! with
//!
//! ```text
//! cargo build --profile bench -p tally-benches --example coordination_instructions
//! valgrind --tool=callgrind \
//!     --toggle-collect='tally_benches::coordination::Workload::counted_votes' \
//!     target/release/examples/coordination_instructions counted 3
//! ```
//!
//! (`deciding_votes` for `deciding`, `handler` for `handler`) and divide
//! the collected count by `REPS` times the pass's inputs (1,000 votes; the
//! handler's 3,000 inputs).

use tally_benches::coordination::Workload;
use tally_core::ports::memory::Memory;

fn main() {
    let mut args = std::env::args().skip(1);
    let pass = args.next().unwrap_or_default();
    let reps: usize = args.next().map_or(3, |s| s.parse().expect("REPS: a count"));
    let w = Workload::new();
    for _ in 0..reps {
        match pass.as_str() {
            "counted" => w.counted_votes(w.registered.clone()),
            "deciding" => w.deciding_votes(w.waiting.clone()),
            "handler" => w.handler(Memory::new()),
            _ => {
                eprintln!("usage: coordination_instructions counted|deciding|handler [REPS]");
                std::process::exit(2);
            }
        }
    }
}
