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
    ///
    /// Exits as grep does: 0 match, 1 no-match, 2 invalid (a pattern that
    /// does not compile, or an event that is not JSON).
    #[command(after_help = "Exit status: 0 match, 1 no-match, 2 invalid.")]
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
    // A line that could not be read has no outcome on either side: its
    // error is all there is to say.
    let fail = super::style::paint(super::style::FAIL, "FAIL");
    let Some(expected) = r.expected else {
        anstream::println!(
            "{fail} line {}: {}",
            r.line,
            r.message.as_deref().unwrap_or("unreadable line")
        );
        return;
    };
    anstream::println!("{fail} {} (line {})", r.name, r.line);
    println!("  expected: {expected}");
    match (r.got, &r.message) {
        (Some(got), _) => println!("  got:      {got}"),
        (None, Some(m)) => println!("  got:      error: {m}"),
        (None, None) => println!("  got:      no outcome"),
    }
    if !r.pattern.is_empty() {
        println!("  pattern:  {}", r.pattern.trim());
    }
    if !r.event.is_empty() {
        println!("  event:    {}", r.event.trim());
    }
    if let (Some(m), Some(_)) = (&r.message, r.got) {
        println!("  message:  {m}");
    }
}

fn test(pattern: &str, event: &str) -> ExitCode {
    let p = match Pattern::compile(pattern) {
        Ok(p) => p,
        Err(e) => {
            println!("invalid: {e}");
            return ExitCode::from(2);
        }
    };
    match p.matches(event.as_bytes()) {
        Ok(true) => {
            println!("match");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("no-match");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
