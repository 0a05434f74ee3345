//! `tally pattern ...`: run conformance files, test one pattern on one event.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use tally_core::pattern::conformance::{self, CaseResult};
use tally_core::pattern::Pattern;

#[derive(Debug, Subcommand)]
pub enum PatternCmd {
    /// Run a conformance file (one JSON object a line: name, expect, pattern, event)
    /// and print every disagreement, then "N passed, M failed".
    Check {
        /// The .jsonl file.
        file: PathBuf,
    },
    /// Test one pattern against one event: prints match, no-match or invalid: <reason>.
    Test {
        /// The event pattern, as JSON text.
        #[arg(long)]
        pattern: String,
        /// The event, as JSON text.
        #[arg(long)]
        event: String,
    },
}

pub fn run(cmd: PatternCmd) -> ExitCode {
    match cmd {
        PatternCmd::Check { file } => check(&file),
        PatternCmd::Test { pattern, event } => test(&pattern, &event),
    }
}

fn check(file: &PathBuf) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let results = conformance::run_text(&text);
    let mut passed = 0usize;
    let mut failed = 0usize;
    for r in &results {
        if r.passed() {
            passed += 1;
        } else {
            failed += 1;
            print_disagreement(r);
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_disagreement(r: &CaseResult) {
    let show = |o: Option<conformance::Outcome>| o.map_or("-".to_string(), |o| o.to_string());
    println!("FAIL {} (line {})", r.name, r.line);
    println!("  expected: {}", show(r.expected));
    println!("  got:      {}", show(r.got));
    if !r.pattern.is_empty() {
        println!("  pattern:  {}", r.pattern.trim());
    }
    if !r.event.is_empty() {
        println!("  event:    {}", r.event.trim());
    }
    if let Some(m) = &r.message {
        println!("  message:  {m}");
    }
}

fn test(pattern: &str, event: &str) -> ExitCode {
    let p = match Pattern::compile(pattern) {
        Ok(p) => p,
        Err(e) => {
            println!("invalid: {e}");
            return ExitCode::SUCCESS;
        }
    };
    match p.matches(event.as_bytes()) {
        Ok(true) => println!("match"),
        Ok(false) => println!("no-match"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
