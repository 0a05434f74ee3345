//! Command-line surface: one module per subcommand family.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod check;
pub mod explore;
pub mod html;
pub mod pattern;
pub mod rules;
pub mod scenarios;
pub mod show;
pub mod style;
pub mod template;
pub mod trace;

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
    /// Simulate the deployment under seeded faults and check every invariant.
    Explore(Box<explore::ExploreArgs>),
    /// Every schedule of a small deployment, explored exhaustively with the
    /// production handlers.
    Check(Box<check::CheckArgs>),
    /// One simulated run: its decision log, as JSON, a Mermaid diagram or an HTML page.
    Show(Box<show::ShowArgs>),
    /// Run scenario files: print their decision logs, check their expectations.
    Run(scenarios::RunArgs),
    /// Replay a captured trace through this build and compare its decisions.
    Replay(Box<trace::ReplayArgs>),
    /// Compare two decision logs (`tally replay --json` output).
    Diff(trace::DiffArgs),
    /// Capture a trace: from the audit table, or from Lambda JSON logs.
    Capture(trace::CaptureArgs),
    /// The rules file: lint it against the event catalogue, show routes.
    #[command(subcommand)]
    Rules(rules::RulesCmd),
    /// Print the SAM/CloudFormation template generated from the rules file.
    Template(template::TemplateArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Pattern(cmd) => pattern::run(cmd),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Explore(args) => explore::run(*args),
        Command::Check(args) => check::run(*args),
        Command::Run(args) => scenarios::run(args),
        Command::Show(args) => show::run(*args),
        Command::Replay(args) => trace::replay(*args),
        Command::Diff(args) => trace::diff(args),
        Command::Capture(args) => trace::capture(args),
        Command::Template(args) => template::run(args),
    }
}

/// The rules and policy a simulation (or the linter) uses: files when
/// given, else defaults.
/// A file a written scenario names, as a path it can be read from
/// wherever the scenario is run (as given, where it cannot be resolved).
pub fn absolute(p: &Option<std::path::PathBuf>) -> Option<String> {
    p.as_ref().map(|p| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    })
}

pub fn load_rules_and_policy(
    rules: Option<&std::path::PathBuf>,
    policy: Option<&std::path::PathBuf>,
) -> Result<(tally_core::rules::Rules, tally_core::coordination::Policy), String> {
    Ok((
        tally_sim::args::load_rules(rules.map(std::path::PathBuf::as_path))?,
        tally_sim::args::load_policy(policy.map(std::path::PathBuf::as_path))?,
    ))
}

/// A progress bar on stderr for long runs (hidden when stderr is not a terminal).
#[cfg_attr(not(madsim), allow(dead_code))]
pub fn progress(len: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}} (eta {{eta}})"
    ));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}
