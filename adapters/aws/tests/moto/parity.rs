//! Parity: a scenario the simulator runs (its decision log reviewed as an
//! insta snapshot under sim/tests/snapshots/) run again against moto-backed
//! ports, through the same functions, decides the same: the same requests,
//! outcomes, causes, deciders and votes. Times differ (the simulator's
//! latencies are simulated) and so do the requestIds the API draws at
//! random, so both are masked; everything else must match line for line.
//! Scenarios 05, 06 and 07 pin faults (duplicates, delays, crashes) that
//! only the simulator injects; 09 runs broken rules on purpose. Each runs
//! under the deployment `tally template` makes for the scenario's rules and
//! policy files: 12's policy is unlike the defaults, and reaches the
//! deployed functions only through the template's `POLICY`.

use crate::support::{Moto, T0};
use std::path::Path;
use tally_core::event::{Event, CURRENT_VERSION};
use tally_core::ports::Publisher;
use tally_sim::scenario::{load, Action};

const VOTERS: &[&str] = &[
    "analytics-voter",
    "category-voter",
    "backup-voter",
    "compliance-voter",
];

/// A decision line without its time, and with a random requestId masked.
fn normalize(line: &str) -> String {
    let mut tokens: Vec<&str> = line.split(' ').skip(1).collect();
    let uuid = |t: &str| t.len() == 36 && t.chars().filter(|c| *c == '-').count() == 4;
    if tokens.first().is_some_and(|t| uuid(t)) {
        tokens[0] = "<requestId>";
    }
    tokens.join(" ")
}

fn simulator_decisions(stem: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scenarios = root.join("scenarios");
    let path = tally_sim::scenario::snapshot_path(
        &scenarios.join(format!("{stem}.toml")),
        &scenarios,
        &root.join("sim/tests/snapshots"),
    )
    .unwrap_or_else(|| panic!("{stem} is not a scenario of the snapshot suite"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| l.contains(" cause="))
        .map(normalize)
        .collect()
}

async fn moto_decisions(stem: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{stem}.toml"));
    let loaded = load(&path).unwrap();
    let (s, policy) = (loaded.scenario, loaded.policy);
    let moto = Moto::deploy(loaded.rules, &policy).await;
    for f in &s.files {
        moto.seed_user(&f.owner).await;
    }
    let mut steps = s.steps.clone();
    steps.sort_by_key(|st| st.at);
    for step in &steps {
        let now = T0 + step.at;
        match &step.action {
            Action::Upload { file } => {
                let f = s.files.iter().find(|f| &f.id == file).unwrap();
                moto.upload(
                    &f.id,
                    &f.owner,
                    f.transactions,
                    f.account_type.as_deref(),
                    now,
                )
                .await;
            }
            Action::Delete { file, caller, .. } => {
                let f = s.files.iter().find(|f| &f.id == file).unwrap();
                let answer = moto
                    .delete(&f.id, Some(caller.as_deref().unwrap_or(&f.owner)), now)
                    .await;
                assert_eq!(answer["statusCode"], 202, "{answer}");
            }
            scripted => {
                let e = scripted.scripted_event(&s.files, &policy).unwrap();
                let event = Event {
                    event_id: e.event_id,
                    event_version: CURRENT_VERSION.into(),
                    timestamp: now,
                    source: e.source,
                    user_id: e.user,
                    correlation_id: Some(e.request_id),
                    causation_id: None,
                    data: e.data,
                    metadata: None,
                };
                moto.ports().publish(&[event]).await.unwrap();
            }
        }
        if !s.automatic_voters {
            // Only the script votes: the voters never run, and the
            // completion flavour's consumers leave a delete request alone
            // (as the simulator's World::reports decides).
            for v in VOTERS {
                moto.stall(v).await;
            }
            for consumer in ["analytics", "categorization"] {
                moto.drop_where(consumer, |body| body.contains("file.delete_requested"))
                    .await;
            }
        }
        let failures = moto.pump(now + 100).await;
        assert!(failures.is_empty(), "{failures:?}");
    }
    let last = steps.iter().map(|st| st.at).max().unwrap_or(0);
    let deadline = policy.voting.deadline_ms.max(policy.completion.deadline_ms);
    let after_deadline = T0 + last + deadline + 60_000;
    moto.sweep(after_deadline).await;
    assert!(moto.pump(after_deadline + 100).await.is_empty());
    moto.decisions()
        .await
        .iter()
        .map(|l| normalize(l))
        .collect()
}

/// Sorted: requests decided at one step decide at one time on moto (its
/// pump runs at the step's time) but some milliseconds apart in the
/// simulator, so only each request's decision is compared, not their order.
async fn same_decisions(stem: &str) {
    let mut sim = simulator_decisions(stem);
    assert!(!sim.is_empty(), "the snapshot of {stem} has no decision");
    sim.sort();
    let mut moto = moto_decisions(stem).await;
    moto.sort();
    assert_eq!(moto, sim, "{stem}: moto (left) vs the simulator (right)");
}

#[tokio::test]
async fn voting_happy_path_decides_as_in_the_simulator() {
    same_decisions("01-voting-happy-path").await;
}

#[tokio::test]
async fn a_voter_that_returns_early_decides_as_in_the_simulator() {
    same_decisions("04-voter-returns-early").await;
}

#[tokio::test]
async fn the_two_flavours_side_by_side_decide_as_in_the_simulator() {
    same_decisions("02-completion-side-by-side").await;
}

#[tokio::test]
async fn a_vote_before_its_request_decides_as_in_the_simulator() {
    same_decisions("03-vote-before-request").await;
}

#[tokio::test]
async fn forged_and_unrequired_voters_decide_as_in_the_simulator() {
    same_decisions("08-forged-and-unrequired-voters").await;
}

/// A policy file unlike the defaults (other voters, a voter bound to
/// another source, proceed on timeout, its own completion flavour),
/// deployed through the template, decides as in the simulator.
#[tokio::test]
async fn a_policy_of_its_own_decides_as_in_the_simulator() {
    same_decisions("12-a-policy-of-its-own").await;
}
