//! `tally rules ...`: check a rules file against the event catalogue.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use tally_core::rules::{lint, required_paths, Rules};

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Report event types no rule routes, events the audit rule misses,
    /// rules no known event matches, sources no publisher uses, and every
    /// delivery the policy's coordination needs that no rule makes.
    /// Exits non-zero on any finding.
    Lint {
        /// A rules file (TOML); the embedded default rules when omitted.
        file: Option<PathBuf>,
        /// The policy (TOML) whose coordination the rules must serve; the
        /// notes' defaults when omitted.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Print the routing table: which targets each known event reaches.
    Routes { file: Option<PathBuf> },
}

pub fn load(file: Option<&PathBuf>) -> Result<Rules, String> {
    tally_sim::args::load_rules(file.map(PathBuf::as_path))
}

pub fn run(cmd: RulesCmd) -> ExitCode {
    let (file, policy_path) = match &cmd {
        RulesCmd::Lint { file, policy } => (file, policy.as_ref()),
        RulesCmd::Routes { file } => (file, None),
    };
    let (rules, policy) = match super::load_rules_and_policy(file.as_ref(), policy_path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut name = file
        .as_ref()
        .map_or("the default rules".to_owned(), |p| p.display().to_string());
    if let Some(p) = policy_path {
        name.push_str(&format!(" with policy {}", p.display()));
    }
    match cmd {
        RulesCmd::Lint { .. } => {
            let findings = lint(&rules, &policy);
            for f in &findings {
                println!("{f}");
            }
            if findings.is_empty() {
                println!(
                    "{name}: {} rules, {} deliveries the coordination needs, no findings",
                    rules.rules.len(),
                    required_paths(&policy).len()
                );
                ExitCode::SUCCESS
            } else {
                println!("{name}: {} findings", findings.len());
                ExitCode::FAILURE
            }
        }
        RulesCmd::Routes { .. } => {
            for line in tally_core::rules::routing_table(&rules) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
    }
}
