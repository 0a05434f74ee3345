//! `tally replay`, `tally diff` and `tally capture`: production traces
//! against this build.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tally_sim::trace::{self, BadLines, DecisionOut};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnBadLine {
    /// Report each bad line (with its number) and go on.
    Skip,
    /// Stop at the first bad line.
    Fatal,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A trace: JSON Lines of delivered EventBridge events.
    pub trace: PathBuf,
    /// Seed for the faults (with --faults) and delivery draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replay through the simulated world with injected duplicates,
    /// reordering and loss (the seed's fault mix, or the pinned flags),
    /// and check the simulator's invariants.
    #[arg(long)]
    pub faults: bool,
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// One JSON object per terminal decision instead of the decision log.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = OnBadLine::Skip)]
    pub bad_lines: OnBadLine,
    #[command(flatten)]
    pub pins: tally_sim::faults::Pins,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A decision log from `tally replay --json`.
    pub left: PathBuf,
    pub right: PathBuf,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Export the audit table the AWS adapter writes (DynamoDB).
    #[arg(long, conflicts_with = "from_logs")]
    pub table: Option<String>,
    /// Pull the events out of Lambda log lines (JSON logs).
    #[arg(long, value_name = "FILE")]
    pub from_logs: Option<PathBuf>,
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn replay(args: ReplayArgs) -> ExitCode {
    let text = match read(&args.trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let bad = match args.bad_lines {
        OnBadLine::Skip => BadLines::Skip,
        OnBadLine::Fatal => BadLines::Fatal,
    };
    let trace = match trace::read(&text, bad) {
        Ok(t) => t,
        Err(b) => {
            eprintln!("error: {}: {b}", args.trace.display());
            return ExitCode::from(2);
        }
    };
    for b in &trace.bad {
        eprintln!("skipped {}: {b}", args.trace.display());
    }
    let (rules, policy) =
        match super::load_rules_and_policy(args.rules.as_ref(), args.policy.as_ref()) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let recorded = trace::recorded_decisions(&trace);
    let (decisions, log, violations) = if args.faults {
        match faulty(&trace, &args, rules, policy) {
            Ok(x) => x,
            Err(code) => return code,
        }
    } else {
        let _ = rules;
        let r = tally_sim::replay::replay(&trace, &policy);
        (r.decisions, r.log, Vec::new())
    };
    if args.json {
        for d in &decisions {
            println!("{}", d.to_json());
        }
    } else {
        for line in &log {
            println!("{line}");
        }
    }
    let diffs = trace::differences(&recorded, &decisions, true);
    eprintln!(
        "{} events read ({} bad lines skipped), {} decisions replayed, {} recorded in the trace",
        trace.events.len(),
        trace.bad.len(),
        decisions.len(),
        recorded.len()
    );
    for v in &violations {
        eprintln!("violated: {v}");
    }
    if let Some(first) = diffs.first() {
        eprintln!(
            "{} of {} recorded decisions differ; the first:",
            diffs.len(),
            recorded.len()
        );
        eprintln!("  request  {}", first.request_id);
        eprintln!("  recorded {}", side(&first.left));
        eprintln!("  replayed {}", side(&first.right));
    } else if !recorded.is_empty() {
        eprintln!("every recorded decision is decided the same way");
    }
    // Under injected faults a decision near its deadline may rightly turn
    // into a timeout: there the verdict is the invariants; without faults
    // any difference is one.
    let failed = !violations.is_empty() || (!args.faults && !diffs.is_empty());
    if args.faults && !diffs.is_empty() {
        eprintln!("(with --faults, differences can come from the injected delays and losses; the exit status follows the invariants)");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn side(d: &Option<DecisionOut>) -> String {
    d.as_ref().map_or("(no decision)".to_owned(), |d| {
        format!(
            "{} cause={} at {}",
            d.outcome,
            d.cause,
            tally_core::time::to_rfc3339_millis(d.at)
        )
    })
}

type Replayed = (Vec<DecisionOut>, Vec<String>, Vec<String>);

#[cfg(madsim)]
fn faulty(
    trace: &trace::Trace,
    args: &ReplayArgs,
    rules: tally_core::rules::Rules,
    policy: tally_core::coordination::Policy,
) -> Result<Replayed, ExitCode> {
    let mix = args
        .pins
        .apply(tally_sim::faults::FaultMix::draw(args.seed));
    eprintln!("fault mix: {}", mix.describe());
    let r = tally_sim::world::replay_with_faults(trace, args.seed, mix, rules, policy);
    Ok((
        r.decisions,
        r.log,
        r.violations.iter().map(ToString::to_string).collect(),
    ))
}

#[cfg(not(madsim))]
fn faulty(
    _: &trace::Trace,
    _: &ReplayArgs,
    _: tally_core::rules::Rules,
    _: tally_core::coordination::Policy,
) -> Result<Replayed, ExitCode> {
    eprintln!("error: --faults needs the simulator (--cfg madsim); run ./scripts/tally replay ... --faults");
    Err(ExitCode::from(2))
}

fn read_log(path: &PathBuf) -> Result<Vec<DecisionOut>, String> {
    let text = read(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            DecisionOut::from_json(i + 1, l).map_err(|b| format!("{}: {b}", path.display()))
        })
        .collect()
}

pub fn diff(args: DiffArgs) -> ExitCode {
    let (left, right) = match (read_log(&args.left), read_log(&args.right)) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let diffs = trace::differences(&left, &right, false);
    for d in &diffs {
        println!("{d}");
    }
    println!(
        "{} requests differ ({} in {}, {} in {})",
        diffs.len(),
        left.len(),
        args.left.display(),
        right.len(),
        args.right.display()
    );
    if diffs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn capture(args: CaptureArgs) -> ExitCode {
    if let Some(table) = args.table {
        eprintln!("error: capturing from the DynamoDB audit table {table:?} talks to AWS, which this CLI never links: run `cargo run -p tally-aws-cli --bin tally-aws -- capture --table {table}` (same --since/--until), or use --from-logs");
        return ExitCode::from(2);
    }
    let Some(path) = args.from_logs else {
        eprintln!("error: say where to capture from: --from-logs FILE (or --table NAME)");
        return ExitCode::from(2);
    };
    let text = match read(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (events, skipped) = tally_sim::trace::from_logs(&text);
    for line in &events {
        println!("{line}");
    }
    eprintln!(
        "{} events captured from {} ({} lines held no event)",
        events.len(),
        path.display(),
        skipped
    );
    ExitCode::SUCCESS
}
