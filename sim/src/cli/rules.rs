//! `tally rules ...`: check a rules file against the event catalogue.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use tally_core::rules::{lint, Rules};

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Report event types no rule routes, events the audit rule misses,
    /// rules no known event matches and sources no publisher uses.
    /// Exits non-zero on any finding.
    Lint {
        /// A rules file (TOML); the embedded default rules when omitted.
        file: Option<PathBuf>,
    },
    /// Print the routing table: which targets each known event reaches.
    Routes { file: Option<PathBuf> },
}

pub fn load(file: Option<&PathBuf>) -> Result<Rules, String> {
    match file {
        None => Ok(Rules::default_rules()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
            Rules::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())
        }
    }
}

pub fn run(cmd: RulesCmd) -> ExitCode {
    let (RulesCmd::Lint { file } | RulesCmd::Routes { file }) = &cmd;
    let rules = match load(file.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let name = file
        .as_ref()
        .map_or("the default rules".to_owned(), |p| p.display().to_string());
    match cmd {
        RulesCmd::Lint { .. } => {
            let findings = lint(&rules);
            for f in &findings {
                println!("{f}");
            }
            if findings.is_empty() {
                println!("{name}: {} rules, no findings", rules.rules.len());
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
