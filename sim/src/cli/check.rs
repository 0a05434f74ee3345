//! `tally check`: every schedule of a small deployment, explored.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tally_sim::check::{self, CheckRun, Scope};

#[derive(Debug, Args)]
#[command(
    after_help = "What is told apart: a state is the stores' items, the bus's in-flight \
deliveries and dead letters, the set of events published, the budgets left, whether the \
deadline passed and the votes the aggregator took before it; schedules that reach one such \
state while nothing runs are explored once. What is not: calls on different functions' tables \
commute and run in one fixed order (the sweeper and the aggregator share the records, so they \
race); invocations of one function join at the start of a segment between two quiescent states \
(starting runs to the first stop without touching a store, so joining later is joining now and \
waiting), and a delivery that becomes ready mid-segment waits for the next quiescent state; once \
no one may join, an invocation stopped before a publish goes alone (no handler reads the bus); \
two steps that commute (two reads, other items, a crash beside another invocation's call) are \
taken in one order only (sleep sets). Deployed: the \
aggregator and its sweeper, the voters, the executor; other targets' deliveries are dropped. \
A voter answers as the checker chooses at its first invocation (its own work, or an objection \
with objections on), and its retries and copies answer the same. Voting flavour only.\n\nExit status: 0 every property held and every behaviour was reached; 1 \
a property broke, a behaviour was never reached, or the search was cut short; 2 bad input."
)]
pub struct CheckArgs {
    /// Deletion requests, each for its own file.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=check::MAX_REQUESTS as u64))]
    pub requests: u64,
    /// Copies the bus may make, in all.
    #[arg(long, default_value_t = 0)]
    pub duplicates: u32,
    /// Deliveries that may be dead-lettered and later redriven, in all.
    #[arg(long, default_value_t = 0)]
    pub losses: u32,
    /// Invocations that may die at one of their port calls, in all.
    #[arg(long, default_value_t = 1)]
    pub crashes: u32,
    /// Port calls that may fail as throttled (a 5xx, a throttled read or
    /// write: the handler sees the error, the bus retries), in all.
    #[arg(long, default_value_t = 0)]
    pub transients: u32,
    /// Forged events an adversary may publish, in all: for each request an
    /// approval in the aggregator's name and a proceed vote per required
    /// voter from an unbound source (EventBridge checks no source on a
    /// custom bus: the handlers must refuse them).
    #[arg(long, default_value_t = 0)]
    pub forgeries: u32,
    /// Invocations of one function in flight at once (the sweeper and the
    /// aggregator are two functions on one table, so they race at 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=check::MAX_CONCURRENCY as u64))]
    pub concurrency: u64,
    /// Voters never object (by default a voter may deny instead of doing
    /// its own work, so that vetoes are explored).
    #[arg(long)]
    pub no_objections: bool,
    /// Transactions in each request's file (over the policy's threshold
    /// adds its large-file voters).
    #[arg(long, default_value_t = 3)]
    pub transactions: u64,
    /// The account type of each request (the policy may add voters for it).
    #[arg(long)]
    pub account_type: Option<String>,
    /// The voters every request waits for (the policy's `voting.required`).
    #[arg(long, value_delimiter = ',', conflicts_with = "policy")]
    pub voters: Option<Vec<String>>,
    /// The rules file (the embedded default otherwise).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The policy file (the defaults otherwise).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Stop (and fail) after this many schedules.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_schedules: usize,
    /// Replay this schedule (as a counterexample prints it) step by step
    /// instead of searching.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Where a counterexample is written as a scenario file
    /// (`check-PROPERTY.toml`) that `tally run` replays.
    #[arg(long, value_name = "DIR", default_value = "failures")]
    pub failures: PathBuf,
    /// Write the counterexample as a Mermaid sequence diagram here.
    #[arg(long)]
    pub mermaid: Option<PathBuf>,
    /// One JSON object on stdout instead of the report.
    #[arg(long)]
    pub json: bool,
}

impl CheckArgs {
    /// The scope the flags give (the schedule is passed on its own).
    fn run(&self) -> CheckRun {
        CheckRun {
            requests: self.requests as usize,
            duplicates: self.duplicates,
            losses: self.losses,
            crashes: self.crashes,
            transients: self.transients,
            forgeries: self.forgeries,
            concurrency: self.concurrency as usize,
            objections: !self.no_objections,
            transactions: self.transactions,
            account_type: self.account_type.clone(),
            voters: self.voters.clone(),
            schedule: Vec::new(),
        }
    }
}

pub fn run(a: CheckArgs) -> ExitCode {
    let (rules, policy) = match super::load_rules_and_policy(a.rules.as_ref(), a.policy.as_ref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let run = a.run();
    let scope = match run.scope(rules, policy) {
        Ok(s) => Scope {
            max_schedules: a.max_schedules,
            ..s
        },
        Err(e) => {
            eprintln!("error: --{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(text) = &a.schedule {
        return replay(&scope, text);
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos} schedules, {msg} {elapsed}")
    {
        bar.set_style(style);
    }
    let report = check::check(&scope, |n, states| {
        bar.set_position(n as u64);
        bar.set_message(format!("{states} states"));
    });
    bar.finish_and_clear();
    if a.json {
        println!("{}", json(&report));
    } else {
        print!("{}", text(&report, &a));
    }
    if let (Some(path), Some(cx)) = (&a.mermaid, &report.counterexample) {
        if let Err(e) = std::fs::write(path, mermaid(&cx.log)) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(cx) = &report.counterexample {
        if let Err(e) = write_scenario(&a, &run, cx) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn replay(scope: &Scope, text: &str) -> ExitCode {
    let schedule = match check::parse_schedule(text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --schedule: {e}");
            return ExitCode::from(2);
        }
    };
    let replayed = match check::reproduce(scope, &schedule) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: --schedule: {e}");
            return ExitCode::from(2);
        }
    };
    for line in &replayed.log {
        println!("{line}");
    }
    match replayed.violations.first() {
        Some(b) => {
            println!("BROKEN {}: {}", b.invariant.name(), b.detail);
            ExitCode::from(1)
        }
        None => {
            println!("every property held");
            ExitCode::SUCCESS
        }
    }
}

fn text(r: &check::Report, a: &CheckArgs) -> String {
    let mut out = format!(
        "{} schedules, {} distinct quiescent states, {} pruned, depth {}, {:.1} s ({:.0} schedules/s)\n",
        r.schedules,
        r.states,
        r.pruned,
        r.depth,
        r.seconds,
        r.schedules as f64 / r.seconds.max(1e-9)
    );
    if !r.complete && r.counterexample.is_none() {
        out.push_str(&format!(
            "INCOMPLETE: stopped at --max-schedules {}; nothing is proven\n",
            a.max_schedules
        ));
    }
    for (name, reached) in r.sometimes.each() {
        out.push_str(&format!(
            "  sometimes {name}: {}\n",
            if reached {
                "reached"
            } else {
                "NEVER REACHED (the scope is vacuous for it)"
            }
        ));
    }
    match &r.counterexample {
        None if r.complete => {
            out.push_str("every always and eventually property held in every schedule\n")
        }
        None => {}
        Some(cx) => {
            out.push_str(&format!(
                "BROKEN {}: {}\nshortest schedule ({} steps):\n",
                cx.broken.invariant.name(),
                cx.broken.detail,
                cx.schedule.len()
            ));
            for line in &cx.log {
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str(&format!(
                "reproduce: tally check{} --schedule '{}'\n",
                flags(a),
                check::schedule_text(&cx.schedule)
            ));
        }
    }
    out
}

/// The scope's flags and files, for the reproducer.
fn flags(a: &CheckArgs) -> String {
    let mut f = format!(" {}", a.run().flags());
    if let Some(p) = &a.rules {
        f.push_str(&format!(" --rules {}", p.display()));
    }
    if let Some(p) = &a.policy {
        f.push_str(&format!(" --policy {}", p.display()));
    }
    f
}

/// Writes the counterexample as a scenario (`check-PROPERTY.toml` in
/// `--failures`) and says how to replay it.
fn write_scenario(a: &CheckArgs, run: &CheckRun, cx: &check::Counterexample) -> Result<(), String> {
    let text = check::scenario_text(
        run,
        super::absolute(&a.rules).as_deref(),
        super::absolute(&a.policy).as_deref(),
        cx,
    );
    let path = a
        .failures
        .join(format!("check-{}.toml", cx.broken.invariant.name()));
    std::fs::create_dir_all(&a.failures)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if !a.json {
        println!(
            "wrote {}: ./scripts/tally run {} replays it",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn json(r: &check::Report) -> serde_json::Value {
    serde_json::json!({
        "type": "check",
        "ok": r.ok(),
        "complete": r.complete,
        "schedules": r.schedules,
        "states": r.states,
        "pruned": r.pruned,
        "depth": r.depth,
        "seconds": r.seconds,
        "sometimes": r.sometimes.each().iter().map(|(n, b)| serde_json::json!({"behaviour": n, "reached": b})).collect::<Vec<_>>(),
        "counterexample": r.counterexample.as_ref().map(|cx| serde_json::json!({
            "property": cx.broken.invariant.name(),
            "detail": cx.broken.detail,
            "schedule": check::schedule_text(&cx.schedule),
            "log": cx.log,
        })),
    })
}

/// The counterexample's log as a Mermaid sequence diagram: one lane per
/// function, the bus as the caller.
fn mermaid(log: &[String]) -> String {
    let mut out = String::from("sequenceDiagram\n    participant bus\n");
    for line in log {
        let line = line.trim();
        let lane = line
            .split_whitespace()
            .find(|w| tally_core::targets::target(w).is_some())
            .unwrap_or("bus");
        let text = line.replace([':', ';', '#'], " ");
        if lane == "bus" {
            out.push_str(&format!("    Note over bus: {text}\n"));
        } else {
            out.push_str(&format!("    bus->>{lane}: {text}\n"));
        }
    }
    out
}
