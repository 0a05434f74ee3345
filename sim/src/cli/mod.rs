//! Command-line surface: one module per subcommand family.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod pattern;
pub mod rules;

#[derive(Debug, Parser)]
#[command(
    name = "tally",
    version,
    about = "Deletion coordination over EventBridge: check patterns and rules, simulate, replay"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// EventBridge event patterns: run conformance files, test one pair.
    #[command(subcommand)]
    Pattern(pattern::PatternCmd),
    /// The rules file: lint it against the event catalogue, show routes.
    #[command(subcommand)]
    Rules(rules::RulesCmd),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Pattern(cmd) => pattern::run(cmd),
        Command::Rules(cmd) => rules::run(cmd),
    }
}
