//! `tally`: the command line over the core and the simulator.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like any Unix filter: `tally ... | head` ends quietly when the reader
    // goes away, instead of panicking on a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    cli::run(args)
}
