//! Swarm-style fault mixes: each seed draws its own mix (some faults off,
//! others at random strengths), so that over many seeds every combination
//! is tried; flags can pin any of them.

use crate::rng::SimRng;

/// Voters the workload's requests can require.
pub const VOTERS: &[&str] = &[
    "analytics_manager",
    "category_manager",
    "backup_manager",
    "compliance_manager",
];

#[derive(Debug, Clone, PartialEq)]
pub struct FaultMix {
    /// Chance that a delivery happens twice.
    pub duplicate_rate: f64,
    /// Chance that a PutEvents call fails (the publisher sees the error).
    pub publish_failure_rate: f64,
    /// Chance that one delivery attempt fails transiently (throttling).
    pub invoke_failure_rate: f64,
    /// Chance that a delivery is dead-lettered at once, as if it ran out
    /// of retries.
    pub drop_rate: f64,
    /// Deliveries wait up to this long: the source of reordering.
    pub max_delay_ms: u64,
    /// Chance that a handler dies at one of its crash points (before or
    /// after a write, before or after a publish).
    pub crash_rate: f64,
    /// Chance that a store call fails transiently.
    pub store_error_rate: f64,
    /// A voter (or a completion consumer: analytics_consumer,
    /// categorization_consumer) that returns early and never votes.
    pub stalled_voter: Option<String>,
    /// A voter that votes only after a long pause.
    pub slow_voter: Option<String>,
    /// A voter that denies every request.
    pub denying_voter: Option<String>,
    /// Each function's clock is off by up to this much either way.
    pub clock_skew_ms: u64,
    /// An adversary publishes votes from wrong sources, for voters a
    /// request does not require and about other files, and repeats real
    /// votes after the decision.
    pub forger: bool,
    /// Requests reach the aggregator up to this much later than anything
    /// else, so votes come before their request.
    pub request_delay_ms: u64,
    /// Chance that a delivery goes to three concurrent invocations at once,
    /// so that conditional writes race (BUGGIFY: the rare path made common).
    pub burst_rate: f64,
    /// Chance that a store call fails for good (access denied): a voter
    /// then votes `error`, a completion consumer reports `failed`, any
    /// other handler dead-letters its input.
    pub permanent_error_rate: f64,
}

impl FaultMix {
    pub fn none() -> FaultMix {
        FaultMix {
            duplicate_rate: 0.0,
            publish_failure_rate: 0.0,
            invoke_failure_rate: 0.0,
            drop_rate: 0.0,
            max_delay_ms: 0,
            crash_rate: 0.0,
            store_error_rate: 0.0,
            stalled_voter: None,
            slow_voter: None,
            denying_voter: None,
            clock_skew_ms: 0,
            forger: false,
            request_delay_ms: 0,
            burst_rate: 0.0,
            permanent_error_rate: 0.0,
        }
    }

    /// The mix of one seed: each fault is on with even odds, at a strength
    /// drawn from its range.
    pub fn draw(seed: u64) -> FaultMix {
        let mut r = SimRng::fork(seed, "faults");
        let rate = |r: &mut SimRng, max: f64| {
            if r.chance(0.5) {
                (r.unit() * max * 1000.0).round() / 1000.0
            } else {
                0.0
            }
        };
        let duplicate_rate = rate(&mut r, 0.5);
        let publish_failure_rate = rate(&mut r, 0.2);
        let invoke_failure_rate = rate(&mut r, 0.3);
        let drop_rate = rate(&mut r, 0.05);
        let max_delay_ms = if r.chance(0.7) {
            r.range(10, 120_000)
        } else {
            0
        };
        let crash_rate = rate(&mut r, 0.1);
        let store_error_rate = rate(&mut r, 0.1);
        let voter = |r: &mut SimRng, p: f64| r.chance(p).then(|| r.pick(&VOTERS[..2]).to_string());
        let stalled_voter = voter(&mut r, 0.2);
        let slow_voter = voter(&mut r, 0.2);
        let denying_voter = voter(&mut r, 0.2);
        let clock_skew_ms = if r.chance(0.3) { r.range(1, 30_000) } else { 0 };
        // Drawn last, so that every earlier knob of a seed is what it was
        // before these existed.
        let forger = r.chance(0.3);
        let request_delay_ms = if r.chance(0.3) {
            r.range(1_000, 90_000)
        } else {
            0
        };
        let burst_rate = rate(&mut r, 0.2);
        let permanent_error_rate = rate(&mut r, 0.02);
        FaultMix {
            permanent_error_rate,
            forger,
            request_delay_ms,
            burst_rate,
            duplicate_rate,
            publish_failure_rate,
            invoke_failure_rate,
            drop_rate,
            max_delay_ms,
            crash_rate,
            store_error_rate,
            stalled_voter,
            slow_voter,
            denying_voter,
            clock_skew_ms,
        }
    }

    /// One line, in the same words as the flags that pin it.
    pub fn describe(&self) -> String {
        let v = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
        format!(
            "duplicate-rate={} publish-failure-rate={} invoke-failure-rate={} drop-rate={} max-delay-ms={} crash-rate={} store-error-rate={} stalled-voter={} slow-voter={} denying-voter={} clock-skew-ms={} forger={} request-delay-ms={} burst-rate={} permanent-error-rate={}",
            self.duplicate_rate,
            self.publish_failure_rate,
            self.invoke_failure_rate,
            self.drop_rate,
            self.max_delay_ms,
            self.crash_rate,
            self.store_error_rate,
            v(&self.stalled_voter),
            v(&self.slow_voter),
            v(&self.denying_voter),
            self.clock_skew_ms,
            self.forger,
            self.request_delay_ms,
            self.burst_rate,
            self.permanent_error_rate
        )
    }
}

/// Faults pinned instead of drawn from the seed: the flags of `tally
/// explore`, `show` and `replay --faults`, and a scenario's `[faults]`
/// table (which starts from no faults at all, so it has no `no_faults`).
#[derive(Debug, Clone, Default, PartialEq, clap::Args, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    /// No faults at all (a calm run).
    #[arg(long)]
    #[serde(skip_deserializing)]
    pub no_faults: bool,
    /// Chance (0 to 1) that a delivery happens twice.
    #[arg(long)]
    pub duplicate_rate: Option<f64>,
    /// Chance (0 to 1) that a PutEvents call fails.
    #[arg(long)]
    pub publish_failure_rate: Option<f64>,
    /// Chance (0 to 1) that one delivery attempt fails transiently (throttling).
    #[arg(long)]
    pub invoke_failure_rate: Option<f64>,
    /// Chance (0 to 1) that a delivery is dead-lettered at once, as if out of retries.
    #[arg(long)]
    pub drop_rate: Option<f64>,
    /// Deliveries wait up to this many milliseconds: the source of reordering.
    #[arg(long)]
    pub max_delay_ms: Option<u64>,
    /// Chance (0 to 1) that a handler dies before or after a write or a publish.
    #[arg(long)]
    pub crash_rate: Option<f64>,
    /// Chance (0 to 1) that a store call fails transiently.
    #[arg(long)]
    pub store_error_rate: Option<f64>,
    /// A voter that never votes (`none` for no such voter).
    #[arg(long)]
    pub stalled_voter: Option<String>,
    /// A voter that votes only after a long pause (`none` for no such voter).
    #[arg(long)]
    pub slow_voter: Option<String>,
    /// A voter that denies everything (`none` for no such voter).
    #[arg(long)]
    pub denying_voter: Option<String>,
    /// Each function's clock is off by up to this many milliseconds either way.
    #[arg(long)]
    pub clock_skew_ms: Option<u64>,
    /// An adversary forges votes (wrong source, unrequired voter, other
    /// file) and repeats real ones after the decision: true or false.
    #[arg(long)]
    pub forger: Option<bool>,
    /// Requests reach the aggregator up to this many milliseconds late, so
    /// that votes come first.
    #[arg(long)]
    pub request_delay_ms: Option<u64>,
    /// Chance (0 to 1) that a delivery goes to three concurrent invocations at once.
    #[arg(long)]
    pub burst_rate: Option<f64>,
    /// Chance (0 to 1) that a store call fails for good (access denied).
    #[arg(long)]
    pub permanent_error_rate: Option<f64>,
}

impl Pins {
    pub fn apply(&self, mut mix: FaultMix) -> FaultMix {
        if self.no_faults {
            mix = FaultMix::none();
        }
        let voter = |v: &Option<String>, current: Option<String>| match v.as_deref() {
            None => current,
            Some("none") => None,
            Some(name) => Some(name.to_owned()),
        };
        FaultMix {
            duplicate_rate: self.duplicate_rate.unwrap_or(mix.duplicate_rate),
            publish_failure_rate: self
                .publish_failure_rate
                .unwrap_or(mix.publish_failure_rate),
            invoke_failure_rate: self.invoke_failure_rate.unwrap_or(mix.invoke_failure_rate),
            drop_rate: self.drop_rate.unwrap_or(mix.drop_rate),
            max_delay_ms: self.max_delay_ms.unwrap_or(mix.max_delay_ms),
            crash_rate: self.crash_rate.unwrap_or(mix.crash_rate),
            store_error_rate: self.store_error_rate.unwrap_or(mix.store_error_rate),
            stalled_voter: voter(&self.stalled_voter, mix.stalled_voter),
            slow_voter: voter(&self.slow_voter, mix.slow_voter),
            denying_voter: voter(&self.denying_voter, mix.denying_voter),
            clock_skew_ms: self.clock_skew_ms.unwrap_or(mix.clock_skew_ms),
            forger: self.forger.unwrap_or(mix.forger),
            request_delay_ms: self.request_delay_ms.unwrap_or(mix.request_delay_ms),
            burst_rate: self.burst_rate.unwrap_or(mix.burst_rate),
            permanent_error_rate: self
                .permanent_error_rate
                .unwrap_or(mix.permanent_error_rate),
        }
    }

    /// The flags that reproduce these pins, for the reproducer line.
    pub fn flags(&self) -> String {
        match crate::args::to_flags(self, &Pins::default()) {
            Ok(words) => crate::args::join(&words),
            Err(e) => format!("<{e}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_mix_and_seeds_differ() {
        assert_eq!(FaultMix::draw(42), FaultMix::draw(42));
        let distinct: std::collections::BTreeSet<String> =
            (0..50).map(|s| FaultMix::draw(s).describe()).collect();
        assert!(distinct.len() > 40);
    }

    #[test]
    fn pins_override_the_draw_and_print_as_flags() {
        let pins = Pins {
            duplicate_rate: Some(0.5),
            stalled_voter: Some("none".into()),
            ..Default::default()
        };
        let mix = pins.apply(FaultMix::draw(3));
        assert_eq!(mix.duplicate_rate, 0.5);
        assert_eq!(mix.stalled_voter, None);
        assert_eq!(pins.flags(), "--duplicate-rate 0.5 --stalled-voter none");
        assert_eq!(
            Pins {
                no_faults: true,
                ..Default::default()
            }
            .apply(FaultMix::draw(3)),
            FaultMix::none()
        );
    }
}
