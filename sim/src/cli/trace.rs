//! `tally replay`, `tally diff` and `tally capture`: production traces
//! against this build.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use tally_core::time::Millis;
use tally_sim::compare::{compare, Comparison};
use tally_sim::trace::{self, BadLines, DecisionOut};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBadLine {
    /// Report each bad line (with its number), replay without it, and pass
    /// if nothing else fails.
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
    /// The coordination policy; its voter_sources and aggregator_source
    /// also say which votes count and which decision events are the
    /// recorded decisions.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// One JSON object per terminal decision instead of the decision log,
    /// and the summary and differences as one JSON object on stderr.
    #[arg(long)]
    pub json: bool,
    /// What a line that cannot be read gets. Without the flag every bad
    /// line is reported and the replay fails; `skip` replays without them.
    #[arg(long, value_enum)]
    pub bad_lines: Option<OnBadLine>,
    /// The trace is expected to hold no recorded decision (inputs only):
    /// replay them without failing for want of anything to compare.
    #[arg(long)]
    pub no_recorded: bool,
    /// No decision log and no summary: only what differs, what failed,
    /// and the one-line verdict.
    #[arg(long, short, conflicts_with = "json")]
    pub quiet: bool,
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
    /// Only events at or after this instant (RFC 3339; by the event's
    /// `time`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this instant (RFC 3339; by the event's `time`).
    #[arg(long)]
    pub until: Option<String>,
}

/// `--since`/`--until` as an instant, or an error naming the flag and value.
fn instant(flag: &str, value: Option<&str>, default: Millis) -> Result<Millis, String> {
    match value {
        None => Ok(default),
        Some(v) => tally_core::time::parse_rfc3339(v).ok_or_else(|| {
            format!("--{flag} {v:?}: expected an RFC 3339 time such as 2025-01-15T10:30:00Z")
        }),
    }
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// What a replay read, compared and found; the summary says all of it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    lines_read: usize,
    lines_skipped: usize,
    requests_replayed: usize,
    recorded_compared: usize,
    agreeing: usize,
    differing: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} lines read, {} skipped, {} requests replayed, {} recorded decisions compared: {} agree, {} differ",
            self.lines_read,
            self.lines_skipped,
            self.requests_replayed,
            self.recorded_compared,
            self.agreeing,
            self.differing
        )
    }
}

/// Fault pins `replay` would take and then ignore, refused: without
/// `--faults` no fault is injected at all, and with it the votes come from
/// the trace, so no voter function runs to stall, slow down, deny, or be
/// imitated by the forger.
fn check_pins(args: &ReplayArgs) -> Result<(), String> {
    let pins = &args.pins;
    if !args.faults {
        let flags = tally_sim::args::to_flags(pins, &tally_sim::faults::Pins::default())?;
        if !flags.is_empty() {
            return Err(format!(
                "{}: fault flags act only on a replay through the simulated world; add --faults, or leave them out",
                tally_sim::args::join(&flags)
            ));
        }
        return Ok(());
    }
    for (flag, voter) in tally_sim::args::voter_pins(pins) {
        if let Some(v) = voter {
            return Err(format!("--{flag} {v:?}: a replay takes every vote from the trace, so no voter function runs for this fault to act on"));
        }
    }
    if let Some(f) = pins.forger {
        return Err(format!("--forger {f}: a replay takes every vote from the trace; the forger exists only in `tally explore` runs"));
    }
    Ok(())
}

pub fn replay(args: ReplayArgs) -> ExitCode {
    if let Err(e) = check_pins(&args) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let text = match read(&args.trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let bad = match args.bad_lines {
        Some(OnBadLine::Fatal) => BadLines::Fatal,
        Some(OnBadLine::Skip) | None => BadLines::Skip,
    };
    let trace = match trace::read(&text, bad) {
        Ok(t) => t,
        Err(b) => {
            eprintln!("error: {}: {b}", args.trace.display());
            return ExitCode::from(2);
        }
    };
    if !args.json && !args.quiet {
        for b in &trace.bad {
            eprintln!("skipped {}: {b}", args.trace.display());
        }
    }
    let (rules, policy) =
        match super::load_rules_and_policy(args.rules.as_ref(), args.policy.as_ref()) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let recognised = trace::recognise(&trace, &policy);
    let replayed = if args.faults {
        match faulty(&trace, &args, rules, policy.clone()) {
            Ok(x) => x,
            Err(code) => return code,
        }
    } else {
        let _ = rules;
        let r = tally_sim::replay::replay(&trace, &policy);
        Replayed {
            decisions: r.decisions,
            log: r.log,
            violations: Vec::new(),
            records: r.records,
            inputs: r.inputs,
        }
    };
    if args.json {
        for d in &replayed.decisions {
            println!("{}", d.to_typed_json());
        }
    } else if !args.quiet {
        for line in &replayed.log {
            println!("{line}");
        }
    }
    let cmp = compare(&recognised.decisions, &replayed.records, &trace);
    let summary = Summary {
        lines_read: trace.lines,
        lines_skipped: trace.bad.len(),
        requests_replayed: replayed
            .records
            .iter()
            .filter(|r| r.request.is_some())
            .count(),
        recorded_compared: cmp.compared,
        agreeing: cmp.agreeing,
        differing: cmp.differing.len(),
    };
    let verdict = verdict(&args, &trace, &recognised, &replayed, &policy, &cmp);
    if args.json {
        let report = serde_json::json!({
            "type": "report",
            "summary": summary,
            "skipped": trace.bad.iter().map(|b| serde_json::json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "differences": cmp.differing,
            "replayOnly": cmp.replay_only,
            "violations": replayed.violations,
            "failed": verdict.as_ref().err(),
        });
        eprintln!("{report}");
    } else {
        use super::style::{paint, FAIL, PASS};
        for v in &replayed.violations {
            anstream::eprintln!("{}: {v}", paint(FAIL, "violated"));
        }
        for d in &cmp.differing {
            eprintln!("{d}");
        }
        if !cmp.replay_only.is_empty() && !args.quiet {
            eprintln!(
                "{} requests decided here have no recorded decision in the trace (not compared)",
                cmp.replay_only.len()
            );
        }
        if !args.quiet {
            eprintln!("{summary}");
        }
        if args.faults && !cmp.differing.is_empty() && !args.quiet {
            eprintln!("(with --faults, differences can come from the injected delays and losses; the exit status follows the invariants)");
        }
        match &verdict {
            Ok(()) if !cmp.differing.is_empty() => anstream::eprintln!(
                "{}: every invariant held ({} recorded decisions differ under the injected faults)",
                paint(PASS, "passed"),
                cmp.differing.len()
            ),
            Ok(()) if cmp.compared == 0 => anstream::eprintln!(
                "{}: no recorded decision to compare, as --no-recorded said",
                paint(PASS, "passed")
            ),
            Ok(()) => anstream::eprintln!(
                "{}: every recorded decision is decided the same way",
                paint(PASS, "passed")
            ),
            Err(why) => anstream::eprintln!("{}: {why}", paint(FAIL, "FAILED")),
        }
    }
    if verdict.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Pass, or the one-line reason the replay fails. Nothing compared is
/// never a pass unless the flags say it is expected.
fn verdict(
    args: &ReplayArgs,
    trace: &trace::Trace,
    recognised: &trace::Recognised,
    replayed: &Replayed,
    policy: &tally_core::coordination::Policy,
    cmp: &Comparison,
) -> Result<(), String> {
    if trace.lines == 0 {
        return Err("the trace holds no line".to_owned());
    }
    if let Some(first) = trace.bad.first() {
        if args.bad_lines != Some(OnBadLine::Skip) {
            return Err(format!(
                "{} of {} lines could not be read (first: {first}); pass --bad-lines skip to replay without them",
                trace.bad.len(),
                trace.lines
            ));
        }
    }
    if !replayed.violations.is_empty() {
        return Err(format!(
            "{} invariants violated (first: {})",
            replayed.violations.len(),
            replayed.violations[0]
        ));
    }
    if cmp.compared == 0 && !args.no_recorded {
        let others: Vec<String> = recognised
            .other_sources
            .iter()
            .map(|(s, n)| format!("{n} from {s}"))
            .collect();
        let hint = if others.is_empty() {
            String::new()
        } else {
            format!(
                " (decision events {} are not from the policy's aggregator_source {:?}: name it with --policy)",
                others.join(", "),
                policy.aggregator_source
            )
        };
        return Err(format!(
            "the trace holds {} coordination inputs but no recorded decision to compare{hint}; pass --no-recorded if that is expected",
            replayed.inputs
        ));
    }
    if replayed.inputs == 0 && cmp.compared == 0 {
        return Err("the trace holds no coordination input (no request, vote or completion report): nothing was replayed".to_owned());
    }
    if !args.faults && !cmp.differing.is_empty() {
        let first = &cmp.differing[0];
        return Err(format!(
            "{} of {} recorded decisions differ (first: request {}, {})",
            cmp.differing.len(),
            cmp.compared,
            first.request_id,
            first.kind_text()
        ));
    }
    Ok(())
}

struct Replayed {
    decisions: Vec<DecisionOut>,
    log: Vec<String>,
    violations: Vec<String>,
    records: Vec<tally_core::coordination::Record>,
    inputs: usize,
}

#[cfg(madsim)]
fn faulty(
    trace: &trace::Trace,
    args: &ReplayArgs,
    rules: tally_core::rules::Rules,
    policy: tally_core::coordination::Policy,
) -> Result<Replayed, ExitCode> {
    let mut mix = args
        .pins
        .apply(tally_sim::faults::FaultMix::draw(args.seed));
    // Voters do not run in a replay (check_pins): the drawn voter faults
    // would be printed and do nothing.
    mix.stalled_voter = None;
    mix.slow_voter = None;
    mix.denying_voter = None;
    mix.forger = false;
    eprintln!("fault mix: {}", mix.describe());
    let r = tally_sim::world::replay_with_faults(trace, args.seed, mix, rules, policy);
    Ok(Replayed {
        decisions: r.decisions,
        log: r.log,
        violations: r.violations.iter().map(ToString::to_string).collect(),
        records: r.records,
        inputs: r.inputs,
    })
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
    let range = instant("since", args.since.as_deref(), Millis::MIN)
        .and_then(|s| Ok((s, instant("until", args.until.as_deref(), Millis::MAX)?)));
    let (since, until) = match range {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
    // An event whose time cannot be read is kept: the replay reports it as
    // a bad line with its reason, which dropping it here would hide.
    let in_range = |line: &&String| {
        let time = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                v.get("time")?
                    .as_str()
                    .and_then(tally_core::time::parse_rfc3339)
            });
        time.is_none_or(|t| since <= t && t < until)
    };
    let kept: Vec<&String> = events.iter().filter(in_range).collect();
    for line in &kept {
        println!("{line}");
    }
    eprintln!(
        "{} events captured from {} ({} lines held no event, {} outside --since/--until)",
        kept.len(),
        path.display(),
        skipped,
        events.len() - kept.len()
    );
    ExitCode::SUCCESS
}
