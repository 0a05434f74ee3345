//! `tally check` on the landed code and on broken routing. Plain code (no
//! madsim), so it runs once, in the workspace's test step.
#![cfg(not(madsim))]

use tally_core::coordination::Policy;
use tally_core::rules::Rules;
use tally_sim::check::{self, Scope};

fn scope(rules: Option<&str>) -> Scope {
    let mut policy = Policy::default();
    policy.voting.required = vec!["analytics_manager".into()];
    let rules = match rules {
        None => Rules::default_rules(),
        Some(path) => {
            let path = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            Rules::parse(&path, &text).unwrap()
        }
    };
    Scope {
        rules,
        policy,
        ..Scope::default()
    }
}

/// The CI scope (one voter, one crash, one duplicate, a voter that may
/// object, the sweeper racing the aggregator) completes with every property
/// held and every behaviour reached: a pass that is not vacuous.
#[test]
fn the_ci_scope_proves_every_property_and_reaches_every_behaviour() {
    let mut s = scope(None);
    s.duplicates = 1;
    let r = check::check(&s, |_, _| {});
    assert!(r.complete, "{r:?}");
    assert!(r.counterexample.is_none(), "{:?}", r.counterexample);
    for (name, reached) in r.sometimes.each() {
        assert!(reached, "{name} was never reached");
    }
    assert!(r.ok());
    assert!(r.states > 1_000, "{} states: the scope shrank", r.states);
}

/// Approvals routed to the notifier instead of the executor: the checker
/// finds an approved file that is never deleted, and the schedule it
/// prints reproduces exactly that.
#[test]
fn broken_routing_is_caught_and_its_schedule_reproduces_it() {
    let s = scope(Some(
        "scenarios/broken/approvals-to-notification.rules.toml",
    ));
    let r = check::check(&s, |_, _| {});
    assert!(!r.ok());
    let cx = r.counterexample.expect("a counterexample");
    assert_eq!(cx.broken.invariant.name(), "approved-file-deleted");
    let text = check::schedule_text(&cx.schedule);
    let schedule = check::parse_schedule(&text).unwrap();
    let mut w = check::replay(&s, &schedule).expect("the schedule is open step by step");
    assert!(w.check_always().is_empty());
    let again = w.settle_and_check();
    assert_eq!(
        again.first().map(|b| b.invariant.name()),
        Some("approved-file-deleted")
    );
}

/// The counterexample path end to end: the checker's shortest schedule,
/// written as a scenario file, read back from disk with its rules file and
/// replayed choice by choice, breaks the same property; the same file
/// with the bug fixed (the default rules) replays clean. So the file
/// reproduces this bug, not any run.
#[test]
fn a_counterexample_written_as_a_scenario_replays_to_the_same_violation() {
    let rules = format!(
        "{}/../scenarios/broken/approvals-to-notification.rules.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = check::CheckRun {
        voters: Some(vec!["analytics_manager".into()]),
        ..check::CheckRun::default()
    };
    let s = scope(Some(
        "scenarios/broken/approvals-to-notification.rules.toml",
    ));
    let cx = check::check(&s, |_, _| {})
        .counterexample
        .expect("a counterexample");
    let dir = std::env::temp_dir().join(format!("tally-check-cx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("check-approved-file-deleted.toml");
    std::fs::write(&file, check::scenario_text(&run, Some(&rules), None, &cx)).unwrap();

    let loaded = tally_sim::scenario::load(&file).unwrap();
    let c = loaded.scenario.check.clone().expect("a [check] table");
    assert_eq!(c.schedule, cx.schedule);
    let replayed =
        check::reproduce(&c.scope(loaded.rules, loaded.policy).unwrap(), &c.schedule).unwrap();
    assert_eq!(
        replayed.violations.first().map(|v| v.invariant.name()),
        Some("approved-file-deleted"),
        "{:#?}",
        replayed.log
    );

    let fixed = c.scope(Rules::default_rules(), Policy::default()).unwrap();
    let clean = check::reproduce(&fixed, &c.schedule).unwrap();
    assert!(clean.violations.is_empty(), "{:#?}", clean.violations);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Votes never routed to the aggregator: no schedule ever approves, so the
/// run fails as vacuous even where no property breaks.
#[test]
fn unrouted_votes_make_the_scope_vacuous_and_fail() {
    let r = check::check(
        &scope(Some("scenarios/broken/no-deletion-votes.rules.toml")),
        |_, _| {},
    );
    assert!(!r.ok());
    let reached: Vec<_> = r.sometimes.each().into_iter().filter(|(_, b)| !b).collect();
    assert!(r.counterexample.is_some() || !reached.is_empty(), "{r:?}");
}

/// The search is deterministic: the same scope gives the same counts.
#[test]
fn the_same_scope_explores_the_same_states() {
    let mut s = scope(None);
    s.crashes = 0;
    let a = check::check(&s, |_, _| {});
    let b = check::check(&s, |_, _| {});
    assert_eq!(
        (a.schedules, a.states, a.pruned, a.depth),
        (b.schedules, b.states, b.pruned, b.depth)
    );
}

/// A throttled call fails its delivery, and the bus's retry brings the run
/// to the same end: the voter's first store call throttled, the run
/// settles with every property held, and the retry is seen. (With
/// `docs/bugs/16` applied, this schedule breaks decided-as-the-votes-say:
/// see docs/check-finds.md.)
#[test]
fn a_throttled_call_is_retried_and_every_property_holds() {
    let mut s = scope(None);
    s.crashes = 0;
    s.transients = 1;
    let mut w = check::replay(&s, &[check::Choice::Start(0), check::Choice::Fail(0)]).unwrap();
    assert!(
        w.log.iter().any(|l| l.contains("(throttled)")),
        "{:#?}",
        w.log
    );
    assert!(w.check_always().is_empty());
    assert_eq!(w.settle_and_check(), vec![]);
    assert!(w.sometimes.transient_fault_retried, "{:#?}", w.log);
}

/// A forged approval in the aggregator's name reaches the executor, which
/// refuses it against the record: nothing is deleted before the real
/// decision, and the run settles with every property held. (With
/// `docs/bugs/12` applied, this schedule breaks no-deletion-without-approval.)
#[test]
fn a_forged_approval_is_refused_by_the_executor() {
    let mut s = scope(None);
    s.forgeries = 1;
    let mut w = check::replay(&s, &[check::Choice::Forge(0)]).unwrap();
    assert!(
        w.log
            .iter()
            .any(|l| l.starts_with("forge file.deletion.approved")),
        "{:#?}",
        w.log
    );
    assert_eq!(w.settle_and_check(), vec![]);
    assert!(w.sometimes.forgery_refused, "{:#?}", w.log);
}
