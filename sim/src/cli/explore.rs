//! `tally explore`: many seeded runs of the simulated deployment, each with
//! its own fault mix; the first violation stops and prints everything
//! needed to replay it.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tally_sim::shard::Shard;

/// The regressions file in this source tree, which the suite replays.
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/regressions.txt");

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExploreArgs {
    #[command(subcommand)]
    pub action: Option<ExploreCmd>,
    /// Run exactly this seed (and print its decision log).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many seeds to run, starting at --first (at least 1); with
    /// --shard, how many the shards split.
    #[arg(long, default_value_t = 100, value_parser = tally_sim::workload::at_least_one_u64)]
    pub seeds: u64,
    #[arg(long, visible_alias = "from", default_value_t = 0)]
    pub first: u64,
    /// Run only the I-th of N slices of the seeds --first .. --first +
    /// --seeds, counted from 1 (1/4 to 4/4; N at most --seeds). The slices
    /// are contiguous, so each is an ordinary --first/--seeds range and
    /// differs from the others by at most one seed; `tally explore merge`
    /// reads the shards' --json outputs back into one verdict.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse, conflicts_with = "seed")]
    pub shard: Option<Shard>,
    /// Seeds run at once (each on its own thread and runtime; at least 1).
    #[arg(long, default_value_t = 1, value_parser = tally_sim::workload::at_least_one)]
    pub jobs: usize,
    /// One JSON object per seed and a summary object, instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run every seed twice and fail if the two runs differ in any way.
    #[arg(long)]
    pub check_determinism: bool,
    /// Print every run's decision log, not only a failing one's.
    #[arg(long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// No progress bar, no per-seed lines, no tables: only a failure (in
    /// full) or the closing line (with --json: only the `failure` or the
    /// `summary` object).
    #[arg(long, short)]
    pub quiet: bool,
    /// With one seed (--seed, or --seeds 1): write the run's audit log to
    /// FILE as a trace (JSON Lines of delivered events, what `tally replay`
    /// reads).
    #[arg(long, value_name = "FILE")]
    pub export_trace: Option<std::path::PathBuf>,
    /// A failing seed's reproducer is appended here (once); the suite
    /// replays every line (sim/tests/simulation.rs).
    #[arg(long, value_name = "FILE", default_value = REGRESSIONS)]
    pub regressions: PathBuf,
    /// On a failure, do not shrink it (by default the failing seed is
    /// re-run with fewer faults and a smaller workload while it still
    /// fails, and the smallest is written as a scenario file).
    #[arg(long)]
    pub no_shrink: bool,
    /// Where shrunk failures are written, as `seed-N.toml`.
    #[arg(long, value_name = "DIR", default_value = "failures")]
    pub failures: PathBuf,
    /// Workload, rules, policy and pinned faults: what the reproducer
    /// writes back.
    #[command(flatten)]
    pub config: tally_sim::args::ConfigArgs,
}

/// What `tally explore` does besides exploring.
#[derive(Debug, Subcommand)]
pub enum ExploreCmd {
    /// Merge the --json outputs of `explore --shard I/N` runs (`--quiet`
    /// or not) into one verdict: the seeds run, every failure once with
    /// its reproducer. Exit 0 when every seed held, 1 on any failure, 2
    /// when the files are not every shard of one range exactly once (a
    /// gap, an overlap, mixed ranges or configurations, a file that is
    /// not explore --json output, zero seeds read).
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' outputs (`explore --shard I/N --json > FILE`), in any order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl ExploreArgs {
    /// The whole range asked for (one seed with --seed), and this run's
    /// shard of it.
    fn range(&self) -> Result<(std::ops::Range<u64>, Shard), String> {
        if let Some(s) = self.seed {
            return Ok((s..s.saturating_add(1), Shard::WHOLE));
        }
        let range = tally_sim::shard::seed_range(self.first, self.seeds)?;
        let shard = self.shard.unwrap_or(Shard::WHOLE);
        tally_sim::shard::check_shard(&range, shard)?;
        Ok((range, shard))
    }

    /// The seeds this run covers.
    fn seed_list(&self) -> Vec<u64> {
        match (self.seed, self.range()) {
            (Some(s), _) => vec![s],
            (None, Ok((range, shard))) => tally_sim::shard::slice(&range, shard).collect(),
            (None, Err(_)) => Vec::new(),
        }
    }

    /// Flags that cannot work together, refused before anything runs.
    fn check(&self) -> Result<(), String> {
        self.range()?;
        let n = self.seed_list().len();
        if let (Some(path), true) = (&self.export_trace, n > 1) {
            return Err(format!(
                "--export-trace {}: one trace file holds one run, and this runs {n} seeds; run one seed (--seed S, or --seeds 1)",
                path.display()
            ));
        }
        Ok(())
    }
}

pub fn run(args: ExploreArgs) -> ExitCode {
    match &args.action {
        Some(ExploreCmd::Merge(m)) => merge(m),
        None => explore(args),
    }
}

/// `tally explore merge`: reads every file, then prints the verdict.
fn merge(args: &MergeArgs) -> ExitCode {
    let mut files = Vec::new();
    for path in &args.files {
        match std::fs::read_to_string(path) {
            Ok(text) => files.push((path.display().to_string(), text)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let verdict = match tally_sim::shard::merge(&files) {
        Ok(v) => v,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: no verdict: the files given are not every shard of one range, each once"
            );
            return ExitCode::from(2);
        }
    };
    use super::style::{paint, FAIL, PASS};
    for f in &verdict.failures {
        anstream::println!(
            "{}: seed {} ({}, shard {} in {})",
            paint(FAIL, "FAILED"),
            f.seed,
            if f.reason == "determinism" {
                "the same seed gave a different run"
            } else {
                "an invariant was violated"
            },
            f.shard,
            f.file
        );
        for v in &f.violations {
            anstream::println!("  {}: {v}", paint(FAIL, "violated"));
        }
        println!("  reproduce with: {}", f.reproducer);
        println!("  see it as a page: {}", f.show);
    }
    for (shard, left) in &verdict.unrun {
        println!(
            "shard {shard} stopped at its failure: {} not run (./scripts/tally explore --first {} --seeds {}{})",
            tally_sim::shard::seeds_text(left),
            left.start,
            left.end - left.start,
            if verdict.config.is_empty() {
                String::new()
            } else {
                format!(" {}", verdict.config)
            }
        );
    }
    let total = verdict.range.end - verdict.range.start;
    let head = format!(
        "{} shards of {} ({}): {} of {total} seeds run",
        verdict.shards,
        tally_sim::shard::seeds_text(&verdict.range),
        if verdict.config.is_empty() {
            "defaults".to_owned()
        } else {
            verdict.config.clone()
        },
        verdict.seeds_run,
    );
    if verdict.ok() {
        anstream::println!(
            "{head}, {} decisions, {} deliveries, {}",
            verdict.decisions,
            verdict.deliveries,
            paint(PASS, "every invariant held")
        );
        ExitCode::SUCCESS
    } else {
        // A failed shard's output counts no decisions, so none are summed.
        let n = verdict.failures.len();
        anstream::println!(
            "{head}, {}",
            paint(
                FAIL,
                &format!("{n} failure{}", if n == 1 { "" } else { "s" })
            )
        );
        ExitCode::FAILURE
    }
}

#[cfg(not(madsim))]
fn explore(args: ExploreArgs) -> ExitCode {
    if let Err(e) = args.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally explore");
    ExitCode::from(2)
}

/// Shrinks a failure and writes the smallest failing run as a scenario
/// that `tally run` reproduces; prints what it kept.
#[cfg(madsim)]
fn shrink_and_write(
    cfg: &tally_sim::world::RunConfig,
    failed: tally_sim::world::RunReport,
    args: &ExploreArgs,
) {
    eprintln!("shrinking seed {} (re-running it with fewer faults and a smaller workload while it still fails)...", cfg.seed);
    let shrunk = tally_sim::shrink::shrink(cfg, failed);
    let text = tally_sim::shrink::scenario_text(
        &shrunk,
        super::absolute(&args.config.rules).as_deref(),
        super::absolute(&args.config.policy).as_deref(),
    );
    println!(
        "shrunk in {} runs to: {}",
        shrunk.runs,
        shrunk.config.reproducer()
    );
    println!("fault mix: {}", shrunk.report.mix.describe());
    for v in &shrunk.report.violations {
        println!("violated: {v}");
    }
    let path = args.failures.join(format!("seed-{}.toml", cfg.seed));
    let written =
        std::fs::create_dir_all(&args.failures).and_then(|()| std::fs::write(&path, text));
    match written {
        Ok(()) => println!(
            "wrote {}: ./scripts/tally run {} reproduces it",
            path.display(),
            path.display()
        ),
        Err(e) => eprintln!("warning: cannot write {}: {e}", path.display()),
    }
}

#[cfg(madsim)]
fn explore(args: ExploreArgs) -> ExitCode {
    use tally_sim::world::{run as run_one, RunReport};
    let (range, shard) = match args.check().and_then(|()| args.range()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (rules, policy) = match args.config.load() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = |seed: u64| {
        let mut c = args.config.run_config(seed, &rules, &policy);
        c.export_trace = args.export_trace.is_some();
        c
    };
    // What a merge of the shards needs to know of this one.
    let range_out = tally_sim::shard::RangeOut {
        first: range.start,
        seeds: range.end - range.start,
        config: tally_sim::args::to_flags(&args.config, &Default::default())
            .map(|flags| tally_sim::args::join(&flags))
            .unwrap_or_else(|e| format!("<{e}>")),
    };
    let shard_out = tally_sim::shard::ShardOut::new(&range, shard);
    let print_failure = |r: &RunReport, what: &str, seeds_run: u64| {
        if args.json {
            let reason = if what.contains("determinism") {
                "determinism"
            } else {
                "invariant"
            };
            let failure = serde_json::json!({
                "seed": r.seed,
                "reason": reason,
                "faults": tally_sim::json::mix_object(&r.mix),
                "violations": r.violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "decisionLog": r.decision_log,
                "reproducer": r.reproducer,
                "show": args.config.show_command(r.seed),
                "seedsRun": seeds_run,
                "range": range_out,
                "shard": shard_out,
            });
            println!("{}", tally_sim::json::typed("failure", failure));
            return;
        }
        anstream::println!(
            "{}: {what}",
            super::style::paint(super::style::FAIL, "FAILED")
        );
        println!("seed: {}", r.seed);
        println!("fault mix: {}", r.mix.describe());
        for v in &r.violations {
            anstream::println!(
                "{}: {v}",
                super::style::paint(super::style::FAIL, "violated")
            );
        }
        println!(
            "decision log up to the stop ({} decisions):",
            r.decision_log.len()
        );
        for line in &r.decision_log {
            println!("  {line}");
        }
        println!("reproduce with: {}", r.reproducer);
        println!("see it as a page: {}", args.config.show_command(r.seed));
    };
    let seeds = args.seed_list();
    let single = seeds.len() == 1;
    let progress = super::progress(seeds.len() as u64, "seeds");
    if args.json || args.quiet {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut totals = tally_sim::world::Stats::default();
    let (mut decisions, mut runs) = (0usize, 0u64);
    let mut coverage = tally_sim::observe::Coverage::default();
    use tally_sim::observe::Behaviour;
    let jobs = args.jobs;
    for chunk in seeds.chunks(jobs) {
        // Each run has its own thread and runtime; results come back in
        // seed order whatever finishes first.
        let reports: Vec<(RunReport, Option<RunReport>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&seed| {
                    let cfg = config(seed);
                    let twice = args.check_determinism;
                    scope.spawn(move || (run_one(&cfg), twice.then(|| run_one(&cfg))))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (report, again) in reports {
            if let Some(again) = again {
                if again.decision_log != report.decision_log
                    || again.fingerprint != report.fingerprint
                {
                    progress.finish_and_clear();
                    print_failure(
                        &report,
                        "the same seed gave a different run (determinism)",
                        runs + 1,
                    );
                    if !args.json {
                        println!("second run's decision log:");
                        for line in &again.decision_log {
                            println!("  {line}");
                        }
                    }
                    return ExitCode::FAILURE;
                }
            }
            runs += 1;
            decisions += report.decision_log.len();
            coverage.merge(&report.coverage);
            let s = &report.stats;
            totals.requests += s.requests;
            totals.approved += s.approved;
            totals.denied += s.denied;
            totals.published += s.published;
            totals.deliveries += s.deliveries;
            totals.duplicates += s.duplicates;
            totals.transient_failures += s.transient_failures;
            totals.crashes += s.crashes;
            totals.dead_lettered += s.dead_lettered;
            totals.redriven += s.redriven;
            totals.virtual_ms += s.virtual_ms;
            if let Some(path) = &args.export_trace {
                let mut text = report.trace.join("\n");
                text.push('\n');
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("error: cannot write trace {}: {e}", path.display());
                    return ExitCode::from(2);
                }
                eprintln!("wrote {} events to {}", report.trace.len(), path.display());
            }
            if args.json && !args.quiet {
                println!(
                    "{}",
                    tally_sim::json::typed(
                        "seed",
                        serde_json::json!({
                            "seed": report.seed,
                            "ok": report.ok(),
                            "faults": tally_sim::json::mix_object(&report.mix),
                            "requests": s.requests, "approved": s.approved, "denied": s.denied,
                            "deliveries": s.deliveries, "duplicates": s.duplicates, "transientFailures": s.transient_failures,
                            "crashes": s.crashes, "redriven": s.redriven, "fingerprint": report.fingerprint,
                            "violations": report.violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            "reproducer": report.reproducer,
                        })
                    )
                );
            }
            if !report.ok() {
                progress.finish_and_clear();
                print_failure(&report, "an invariant was violated", runs);
                let path = args.regressions.display();
                let findings = tally_core::rules::lint(&rules, &policy).len();
                if findings > 0 {
                    eprintln!("not recorded in {path}: the rules and policy have {findings} lint findings, a configuration broken by design");
                } else {
                    match record_regression(&args.regressions, &report.reproducer) {
                        Ok(true) => eprintln!("recorded in {path}; the suite replays it"),
                        Ok(false) => eprintln!("already recorded in {path}"),
                        Err(e) => eprintln!("warning: cannot record the failure in {path}: {e}"),
                    }
                }
                if !args.no_shrink && !args.json {
                    shrink_and_write(&config(report.seed), report, &args);
                }
                return ExitCode::FAILURE;
            }
            if !args.json && !args.quiet && (single || args.verbose) {
                progress.suspend(|| {
                    println!("seed {} | {}", report.seed, report.mix.describe());
                    println!(
                        "  {} requests: {} approved, {} denied | {} events, {} deliveries ({} duplicated), {} transient failures, {} crashes, {} dead-lettered then redriven | {:.1} virtual minutes | fingerprint {}",
                        s.requests, s.approved, s.denied, s.published, s.deliveries, s.duplicates, s.transient_failures, s.crashes, s.redriven, s.virtual_ms as f64 / 60_000.0, report.fingerprint
                    );
                    for line in &report.decision_log {
                        println!("  {line}");
                    }
                });
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let checked = runs * tally_sim::invariants::ALL.len() as u64;
    let reached: serde_json::Map<String, serde_json::Value> = Behaviour::ALL
        .iter()
        .map(|b| (b.name().to_owned(), coverage.get(*b).into()))
        .collect();
    if args.json {
        println!(
            "{}",
            tally_sim::json::typed(
                "summary",
                serde_json::json!({"seeds": runs, "decisions": decisions, "invariantsChecked": checked, "requests": totals.requests, "approved": totals.approved, "denied": totals.denied, "deliveries": totals.deliveries, "duplicates": totals.duplicates, "transientFailures": totals.transient_failures, "crashes": totals.crashes, "redriven": totals.redriven, "coverage": reached, "ok": true, "range": range_out, "shard": shard_out})
            )
        );
        return ExitCode::SUCCESS;
    }
    let verdict = format!(
        "{runs} seeds, {decisions} decisions, {}{}",
        super::style::paint(super::style::PASS, "every invariant held"),
        if args.check_determinism {
            ", every seed deterministic"
        } else {
            ""
        }
    );
    if args.quiet {
        anstream::println!("{verdict}");
        return ExitCode::SUCCESS;
    }
    println!("behaviours reached (sometimes-properties), over {runs} seeds:");
    for b in Behaviour::ALL {
        let n = coverage.get(b);
        println!(
            "  {:<36} {n}{}",
            b.name(),
            if n == 0 {
                "   <- never reached: nothing was shown about it"
            } else {
                ""
            }
        );
    }
    println!(
        "faults injected: {} duplicated deliveries, {} transient failures, {} handler crashes, {} deliveries dead-lettered and redriven, over {} deliveries",
        totals.duplicates, totals.transient_failures, totals.crashes, totals.redriven, totals.deliveries
    );
    println!(
        "decisions: {} requests, {} approved, {} denied; {} invariant checks ({} invariants x {runs} seeds)",
        totals.requests, totals.approved, totals.denied, checked, tally_sim::invariants::ALL.len()
    );
    anstream::println!("{verdict}");
    ExitCode::SUCCESS
}

/// Appends `line` to the regressions file unless a line of it already says
/// the same; whether it was added.
#[cfg_attr(not(madsim), allow(dead_code))]
fn record_regression(path: &Path, line: &str) -> std::io::Result<bool> {
    use std::io::Write;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    if existing.lines().any(|l| l.trim() == line.trim()) {
        return Ok(false);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let gap = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{gap}{}", line.trim())?;
    Ok(true)
}

#[cfg(test)]
mod recording {
    use super::*;

    #[test]
    fn a_failure_is_recorded_once_and_reads_back() {
        let path = std::env::temp_dir().join(format!(
            "tally-regressions-{}-{}.txt",
            std::process::id(),
            line!()
        ));
        std::fs::write(&path, "# header, no newline at the end").unwrap();
        let a = "./scripts/tally explore --seed 3 --files 2";
        let b = "./scripts/tally explore --seed 4 --rules 'a b.toml'";
        assert!(record_regression(&path, a).unwrap());
        assert!(!record_regression(&path, a).unwrap());
        assert!(record_regression(&path, b).unwrap());
        assert!(!record_regression(&path, &format!("{b}  ")).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(text, format!("# header, no newline at the end\n{a}\n{b}\n"));
        let (seed, config) = tally_sim::args::parse_reproducer(b).unwrap();
        assert_eq!(seed, 4);
        assert_eq!(config.rules, Some("a b.toml".into()));
    }
}

#[cfg(all(test, madsim))]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;
    use tally_sim::args::ConfigArgs;
    use tally_sim::faults::Pins;
    use tally_sim::world::{RunConfig, Workload};

    /// The reproducer line, read back by the real command line.
    fn parse_back(line: &str) -> (u64, ConfigArgs) {
        let words = shlex::split(line).unwrap_or_else(|| panic!("not a shell line: {line}"));
        assert_eq!(words[..2], ["./scripts/tally", "explore"], "{line}");
        let argv = std::iter::once("tally".to_owned()).chain(words.into_iter().skip(1));
        let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{line}\n{e}"));
        let Command::Explore(args) = cli.command else {
            panic!("{line}: not an explore command");
        };
        (
            args.seed.expect("the reproducer names its seed"),
            args.config,
        )
    }

    fn assert_same_run(a: &RunConfig, b: &RunConfig) {
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.workload, b.workload);
        assert_eq!(a.pins, b.pins);
        assert_eq!(a.mix(), b.mix());
        assert_eq!(a.rules_path, b.rules_path);
        assert_eq!(a.policy_path, b.policy_path);
        assert_eq!(a.policy, b.policy);
        let names = |c: &RunConfig| -> Vec<String> {
            c.rules.rules.iter().map(|r| r.name.clone()).collect()
        };
        assert_eq!(names(a), names(b));
    }

    /// Every part of the configuration explore takes comes back from the
    /// printed line: seed, workload, pins, and the rules and policy files.
    #[test]
    fn the_reproducer_parses_back_into_the_same_run() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/broken");
        let config = ConfigArgs {
            workload: Workload {
                files: 3,
                users: 2,
                completion_percent: 60,
                traffic: 0,
                ..Workload::default()
            },
            rules: Some(format!("{dir}/no-deletion-votes.rules.toml").into()),
            policy: Some(format!("{dir}/file-service-aggregator.policy.toml").into()),
            pins: Pins {
                no_faults: true,
                duplicate_rate: Some(0.125),
                max_delay_ms: Some(900),
                clock_skew_ms: Some(0),
                stalled_voter: Some("none".into()),
                denying_voter: Some("backup_manager".into()),
                ..Pins::default()
            },
        };
        let (rules, policy) = config.load().unwrap();
        let original = config.run_config(41, &rules, &policy);
        let line = original.reproducer();
        let (seed, back) = parse_back(&line);
        let (rules, policy) = back.load().unwrap();
        let again = back.run_config(seed, &rules, &policy);
        assert_same_run(&original, &again);
        assert_eq!(again.reproducer(), line);
        assert_ne!(original.policy, tally_core::coordination::Policy::default());
    }

    /// The defaults print as nothing but the seed, and a path the shell
    /// would split is quoted.
    #[test]
    fn defaults_are_left_out_and_odd_paths_are_quoted() {
        let c = RunConfig::new(9);
        assert_eq!(c.reproducer(), "./scripts/tally explore --seed 9");
        let mut c = RunConfig::new(9);
        c.rules_path = Some("my rules/it's.toml".into());
        let (seed, back) = parse_back(&c.reproducer());
        assert_eq!(seed, 9);
        assert_eq!(back.rules, c.rules_path);
        assert_eq!(back.policy, None);
    }
}
