//! The determinism guard. Speed work on the simulator, the core or the
//! matcher must not change what any run does: a faster build that makes
//! other decisions, in another order or at other virtual times, has
//! changed the system under test and made every recorded seed, snapshot
//! and reproducer mean something else. So the runs of a fixed set of seeds
//! of the default `explore` workload (default rules, policy and swarm) are
//! pinned here by values computed before any such change (at 75fa5ba): the
//! run's fingerprint (every published event's id with its virtual time),
//! a digest of its decision log, and its counts of events and deliveries.
//!
//! A difference fails with every seed's new line, ready to paste: paste
//! them only for a change that is *meant* to change behaviour (a fix, a
//! new fault), and say so in its commit.
#![cfg(madsim)]

use tally_sim::args::ConfigArgs;

/// (seed, fingerprint, decision-log digest, events published, deliveries).
#[rustfmt::skip] // one seed a line, as the failure prints them
const PINNED: [(u64, &str, &str, usize, u64); 8] = [
    (0, "run-bebbaa0c43491f45dd1ecf002c57846b", "9124eae3361555a0", 1602, 2472),
    (1, "run-8a434e44398e749437350008dd6c0a0c", "440943a8a1778b50", 1239, 1384),
    (2, "run-b2c6c2e3eb4dc0a9245e7b9cb4ef7ecf", "920dbc2d75dacc14", 228, 697),
    (3, "run-f327eb1b3007cfa35dda2cf6faf0a05e", "ab1b853f3c7b515b", 148, 324),
    (4, "run-81836f57bf7914ec285861323eefadc2", "b04e41c865709250", 695, 1054),
    (5, "run-03baa02ec7cb802129b96724a829ccab", "61da269e15013d4f", 2862, 3114),
    (6, "run-a44650953c3ad58b45bc474aa7f98433", "975342ce0252b28d", 1705, 2812),
    (7, "run-536bf90b709d903b6778741e8c705a6b", "3921b12207c44a82", 1736, 3187),
];

/// FNV-1a over the lines, each ended by a newline: a digest of the decision
/// log that does not depend on any code under test.
fn digest(lines: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in lines.iter().flat_map(|l| l.bytes().chain([b'\n'])) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[test]
fn the_pinned_seeds_run_exactly_as_they_did() {
    // The run `tally explore --seeds 8` makes of each seed.
    let config = ConfigArgs::default();
    let (rules, policy) = config.load().expect("the defaults load");
    let mut lines = Vec::new();
    let mut differ = Vec::new();
    for &(seed, fingerprint, log, published, deliveries) in &PINNED {
        let r = tally_sim::world::run(&config.run_config(seed, &rules, &policy));
        assert!(r.ok(), "seed {seed}: {:?}", r.violations);
        let got = (
            r.fingerprint.as_str(),
            digest(&r.decision_log),
            r.stats.published,
            r.stats.deliveries,
        );
        if got != (fingerprint, log.to_owned(), published, deliveries) {
            differ.push(seed);
        }
        lines.push(format!(
            "    ({seed}, {:?}, {:?}, {}, {}),",
            got.0, got.1, got.2, got.3
        ));
    }
    assert!(
        differ.is_empty(),
        "seeds {differ:?} no longer run as they did: a change altered the simulated runs. \
         If it was meant to (and only then), these are the new values:\n{}",
        lines.join("\n")
    );
}
