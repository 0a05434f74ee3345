//! `tally pattern ...` (filled by the matcher work).

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PatternCmd {}

pub fn run(cmd: PatternCmd) -> ExitCode {
    match cmd {}
}
