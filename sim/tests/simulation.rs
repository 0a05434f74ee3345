//! The simulator's own suite (only in builds with `--cfg madsim`): many
//! seeds keep every invariant, the same seed gives a byte-identical run,
//! and generated workloads shrink to a small failing case if one breaks.
#![cfg(madsim)]

use proptest::prelude::*;
use tally_sim::faults::Pins;
use tally_sim::world::{run, RunConfig, Workload};

fn report_failure(r: &tally_sim::world::RunReport) -> String {
    let mut s = format!("seed {} violated:\n", r.seed);
    for v in &r.violations {
        s.push_str(&format!("  {v}\n"));
    }
    s.push_str(&format!(
        "fault mix: {}\nreproduce with: {}\n",
        r.mix.describe(),
        r.reproducer
    ));
    s
}

/// Every seed's swarm of faults keeps every safety and liveness invariant,
/// and the suite's seed budget reaches every behaviour the design must
/// survive at least once (a behaviour never reached is one nothing was
/// shown about).
#[test]
fn many_seeds_keep_every_invariant_and_reach_every_behaviour() {
    let mut coverage = tally_sim::observe::Coverage::default();
    for seed in 1000..1040 {
        let r = run(&RunConfig::new(seed));
        assert!(r.ok(), "{}", report_failure(&r));
        assert_eq!(
            r.stats.requested_files, 12,
            "every file's deletion request reached the aggregator"
        );
        coverage.merge(&r.coverage);
    }
    let missing: Vec<&str> = coverage.missing().iter().map(|b| b.name()).collect();
    assert!(missing.is_empty(), "never reached in 40 seeds: {missing:?}");
}

/// The default rules without one rule, as text.
fn default_rules_without(rule: &str) -> String {
    tally_core::rules::DEFAULT_RULES
        .split("[[rule]]")
        .enumerate()
        .filter(|(i, block)| *i == 0 || !block.contains(&format!("name = \"{rule}\"")))
        .map(|(i, block)| {
            if i == 0 {
                block.to_owned()
            } else {
                format!("[[rule]]{block}")
            }
        })
        .collect()
}

/// A deployment that can never delete anything, or never count a vote, is
/// not "every invariant held": each broken configuration fails within 50
/// seeds, naming the path it breaks, and the default one does not.
#[test]
fn broken_deployments_fail_within_50_seeds() {
    use tally_core::coordination::Policy;
    use tally_core::rules::Rules;
    let approvals_to_notification = tally_core::rules::DEFAULT_RULES
        .replace("targets = [\"executor\"]", "targets = [\"notification\"]");
    assert_ne!(approvals_to_notification, tally_core::rules::DEFAULT_RULES);
    let broken: Vec<(&str, Rules, Policy)> = vec![
        (
            "no deletion-approvals rule",
            Rules::parse("broken", &default_rules_without("deletion-approvals")).unwrap(),
            Policy::default(),
        ),
        (
            "no deletion-votes rule",
            Rules::parse("broken", &default_rules_without("deletion-votes")).unwrap(),
            Policy::default(),
        ),
        (
            "approvals sent to notification",
            Rules::parse("broken", &approvals_to_notification).unwrap(),
            Policy::default(),
        ),
        (
            "aggregator_source = file.service",
            Rules::default_rules(),
            Policy::parse("broken", "aggregator_source = \"file.service\"").unwrap(),
        ),
    ];
    for (what, rules, policy) in broken {
        let failed = (0..50).find_map(|seed| {
            let mut c = RunConfig::new(seed);
            c.rules = rules.clone();
            c.policy = policy.clone();
            let r = run(&c);
            (!r.ok()).then_some(r)
        });
        let r = failed.unwrap_or_else(|| panic!("{what}: 50 seeds and every invariant held"));
        assert!(
            r.violations
                .iter()
                .any(|v| v.invariant == tally_sim::invariants::Invariant::RoutedWhereNeeded),
            "{what}: {}",
            report_failure(&r)
        );
    }
}

/// The same seed gives a byte-identical decision log and event trail.
#[test]
fn the_same_seed_gives_the_same_run() {
    for seed in [3, 17, 4242, 90_001] {
        let a = run(&RunConfig::new(seed));
        let b = run(&RunConfig::new(seed));
        assert_eq!(
            a.decision_log.join("\n"),
            b.decision_log.join("\n"),
            "seed {seed}"
        );
        assert_eq!(a.fingerprint, b.fingerprint, "seed {seed}");
        assert_eq!(a.stats, b.stats, "seed {seed}");
    }
    assert_ne!(
        run(&RunConfig::new(3)).fingerprint,
        run(&RunConfig::new(4)).fingerprint,
        "seeds differ"
    );
}

/// A calm run (no faults) decides every request from its votes alone: a
/// voter that always proceeds and no deadline expires.
#[test]
fn a_calm_run_approves_everything_the_owner_asked_for() {
    let mut cfg = RunConfig::new(5);
    cfg.pins = Pins {
        no_faults: true,
        ..Default::default()
    };
    let r = run(&cfg);
    assert!(r.ok(), "{}", report_failure(&r));
    assert_eq!(
        (r.stats.approved, r.stats.denied),
        (12, 0),
        "{:#?}",
        r.decision_log
    );
    assert_eq!(r.stats.dead_lettered, 0);
}

/// A stalled voter is caught by the deadline, never stalls a request.
#[test]
fn a_stalled_voter_ends_in_timeouts_not_stalls() {
    let mut cfg = RunConfig::new(6);
    cfg.pins = Pins {
        no_faults: true,
        stalled_voter: Some("category_manager".into()),
        ..Default::default()
    };
    cfg.workload.completion_percent = 0;
    let r = run(&cfg);
    assert!(r.ok(), "{}", report_failure(&r));
    assert!(
        r.decision_log
            .iter()
            .all(|l| l.contains("denied cause=timeout")),
        "{:#?}",
        r.decision_log
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/simulation.txt"))),
        ..ProptestConfig::default()
    })]

    /// Any workload under any seed's faults keeps every invariant; a failure
    /// shrinks toward fewer files, users and events.
    #[test]
    fn generated_workloads_keep_every_invariant(
        seed in 0u64..1_000_000,
        files in 1usize..10,
        users in 1usize..5,
        completion_percent in 0u64..=100,
        traffic in 0usize..15,
    ) {
        let mut cfg = RunConfig::new(seed);
        cfg.workload = Workload { files, users, completion_percent, large_percent: 15, traffic };
        let r = run(&cfg);
        prop_assert!(r.ok(), "{}", report_failure(&r));
    }
}

/// The invariants can fail: routing that forgets the audit consumer for
/// one source is caught, with the seed and the command that replays it.
#[test]
fn a_rules_file_that_misses_audit_is_caught() {
    let narrow = tally_core::rules::DEFAULT_RULES.replace(
        r#"pattern = '{"source": [{"prefix": ""}]}'"#,
        r#"pattern = '{"source": [{"anything-but": "deletion.aggregator"}]}'"#,
    );
    assert_ne!(narrow, tally_core::rules::DEFAULT_RULES);
    let mut cfg = RunConfig::new(8);
    cfg.rules = tally_core::rules::Rules::parse("narrow.toml", &narrow).unwrap();
    let r = run(&cfg);
    assert!(
        r.violations
            .iter()
            .any(|v| v.invariant == tally_sim::invariants::Invariant::AuditedOnce),
        "{:#?}",
        r.violations
    );
    assert!(r.reproducer.starts_with("./scripts/tally explore --seed 8"));
}

/// A captured trace replayed under injected faults still decides every
/// request and keeps every invariant.
#[test]
fn the_sample_trace_under_faults_keeps_every_invariant() {
    let text = include_str!("../../scenarios/traces/production-sample.jsonl");
    let t = tally_sim::trace::read(text, tally_sim::trace::BadLines::Fatal).unwrap();
    let recorded =
        tally_sim::trace::recorded_decisions(&t, &tally_core::coordination::Policy::default())
            .len();
    for seed in [1, 2] {
        let mix = tally_sim::faults::FaultMix::draw(seed);
        let r = tally_sim::world::replay_with_faults(
            &t,
            seed,
            mix,
            tally_core::rules::Rules::default_rules(),
            tally_core::coordination::Policy::default(),
        );
        assert!(r.violations.is_empty(), "seed {seed}: {:#?}", r.violations);
        assert_eq!(
            r.decisions.len(),
            recorded,
            "seed {seed}: every request decided"
        );
    }
}

/// Runs one line of the regressions file: a reproducer, its paths relative
/// to the repository root.
fn replay_regression(line: &str) -> Result<tally_sim::world::RunReport, String> {
    let (seed, mut config) = tally_sim::args::parse_reproducer(line)?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for path in [&mut config.rules, &mut config.policy]
        .into_iter()
        .flatten()
    {
        if path.is_relative() {
            *path = root.join(&*path);
        }
    }
    let (rules, policy) = config.load()?;
    Ok(run(&config.run_config(seed, &rules, &policy)))
}

/// Every failing seed `explore` recorded (`sim/regressions.txt`) keeps
/// every invariant now, under its own configuration.
#[test]
fn every_recorded_regression_keeps_every_invariant() {
    let text = include_str!("../regressions.txt");
    assert!(
        text.starts_with("# "),
        "the regressions file keeps its header"
    );
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let r = replay_regression(line)
            .unwrap_or_else(|e| panic!("sim/regressions.txt:{}: {e}", n + 1));
        assert!(
            r.ok(),
            "sim/regressions.txt:{}: {}",
            n + 1,
            report_failure(&r)
        );
    }
}

/// A regressions line runs what it says, not a default run: its workload
/// and its rules file (here one without deletion-votes, which the run
/// names as the missing path) both reach the run.
#[test]
fn a_regression_line_replays_its_own_configuration() {
    let base = "./scripts/tally explore --seed 21 --files 3 --traffic 0 --no-faults";
    let calm = replay_regression(base).unwrap();
    assert_eq!((calm.stats.requests, calm.stats.denied), (3, 0));
    let broken = replay_regression(&format!(
        "{base} --rules scenarios/broken/no-deletion-votes.rules.toml"
    ))
    .unwrap();
    // Votes never reach the aggregator: the run fails, naming the rule.
    assert!(
        broken.violations.iter().any(|v| v.invariant
            == tally_sim::invariants::Invariant::RoutedWhereNeeded
            && v.detail.contains("deletion-votes")),
        "{}",
        report_failure(&broken)
    );
    let e = replay_regression("./scripts/tally explore --seed 1 --rules nowhere.toml").unwrap_err();
    assert!(
        e.contains("cannot read rules file") && e.contains("nowhere.toml"),
        "{e}"
    );
}

/// A failing seed shrinks to a smaller run that still fails (here: one
/// file, no faults), and the scenario written for it fails the same way
/// under `tally run`.
#[test]
fn a_failure_shrinks_to_a_scenario_that_reproduces_it() {
    let rules =
        tally_core::rules::Rules::parse("broken", &default_rules_without("deletion-approvals"))
            .unwrap();
    let mut c = RunConfig::new(0);
    c.rules = rules.clone();
    let failed = run(&c);
    assert!(!failed.ok());
    let shrunk = tally_sim::shrink::shrink(&c, failed);
    assert!(!shrunk.report.ok());
    assert_eq!(
        shrunk.config.workload.files,
        1,
        "{}",
        shrunk.config.reproducer()
    );
    assert_eq!(shrunk.report.mix, tally_sim::faults::FaultMix::none());
    let text = tally_sim::shrink::scenario_text(&shrunk, None, None);
    let scenario = tally_sim::scenario::Scenario::parse("shrunk", &text).unwrap();
    let again = tally_sim::world::run_scenario(&scenario, rules, Default::default());
    assert!(
        again
            .violations
            .iter()
            .any(|v| v.invariant == tally_sim::invariants::Invariant::RoutedWhereNeeded),
        "{text}"
    );
}
