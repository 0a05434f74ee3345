//! Swarm-style fault mixes: each seed draws its own mix (some faults off,
//! others at random strengths), so that over many seeds every combination
//! is tried; flags can pin any of them.

use crate::rng::SimRng;
use tally_core::targets::VOTERS;

/// What one kind of knob is: its value in a mix, its value as a pin (a
/// flag, or a scenario's `[faults]` key), and how the two meet.
pub trait Kind: Read {
    type Mix: Clone + PartialEq + std::fmt::Debug;
    const NONE: Self::Mix;
    /// The pin that turns the knob off.
    fn off() -> Self::Pin;
    fn apply(pin: &Option<Self::Pin>, mix: Self::Mix) -> Self::Mix;
    fn pinned(mix: &Self::Mix) -> Self::Pin;
    fn show(mix: &Self::Mix) -> String;
}

/// How a pin is read and checked.
pub trait Read {
    type Pin: Clone + PartialEq + std::fmt::Debug;
    /// Reads a flag's value; the error says what was expected.
    fn parse(text: &str) -> Result<Self::Pin, String>;
    /// Checks a pin read another way (a scenario's TOML).
    fn check(pin: &Self::Pin) -> Result<(), String>;
}

/// A chance, from 0 to 1.
pub struct Rate;
/// A length of time in milliseconds.
pub struct Ms;
/// A voter (or a completion consumer) by name; `none` for no such voter.
pub struct Named;
/// On or off.
pub struct Flag;

/// A knob whose pin is its value in the mix, and whose off is its none.
macro_rules! plain_kind {
    ($($kind:ident: $ty:ty = $none:expr;)*) => {$(
        impl Kind for $kind {
            type Mix = $ty;
            const NONE: $ty = $none;
            fn off() -> $ty {
                $none
            }
            fn apply(pin: &Option<$ty>, mix: $ty) -> $ty {
                pin.unwrap_or(mix)
            }
            fn pinned(mix: &$ty) -> $ty {
                *mix
            }
            fn show(mix: &$ty) -> String {
                mix.to_string()
            }
        }
    )*};
}

plain_kind! {
    Rate: f64 = 0.0;
    Ms: u64 = 0;
    Flag: bool = false;
}

impl Read for Rate {
    type Pin = f64;
    fn parse(text: &str) -> Result<f64, String> {
        let p: f64 = text
            .parse()
            .map_err(|_| format!("expected a chance from 0 to 1, found {text:?}"))?;
        Rate::check(&p).map(|()| p)
    }
    fn check(pin: &f64) -> Result<(), String> {
        if (0.0..=1.0).contains(pin) {
            Ok(())
        } else {
            Err(format!("expected a chance from 0 to 1, found {pin}"))
        }
    }
}

impl Read for Ms {
    type Pin = u64;
    fn parse(text: &str) -> Result<u64, String> {
        text.parse()
            .map_err(|_| format!("expected a whole number of milliseconds, found {text:?}"))
    }
    fn check(_: &u64) -> Result<(), String> {
        Ok(())
    }
}

impl Read for Flag {
    type Pin = bool;
    fn parse(text: &str) -> Result<bool, String> {
        text.parse()
            .map_err(|_| format!("expected true or false, found {text:?}"))
    }
    fn check(_: &bool) -> Result<(), String> {
        Ok(())
    }
}

impl Kind for Named {
    type Mix = Option<String>;
    const NONE: Option<String> = None;
    fn off() -> String {
        "none".to_owned()
    }
    fn apply(pin: &Option<String>, mix: Option<String>) -> Option<String> {
        match pin.as_deref() {
            None => mix,
            Some("none") => None,
            Some(name) => Some(name.to_owned()),
        }
    }
    fn pinned(mix: &Option<String>) -> String {
        mix.clone().unwrap_or_else(Named::off)
    }
    fn show(mix: &Option<String>) -> String {
        mix.clone().unwrap_or_else(|| "-".to_owned())
    }
}

impl Read for Named {
    type Pin = String;
    fn parse(text: &str) -> Result<String, String> {
        Named::check(&text.to_owned()).map(|()| text.to_owned())
    }
    fn check(pin: &String) -> Result<(), String> {
        if pin.trim().is_empty() {
            return Err("expected a voter's name, or none".to_owned());
        }
        Ok(())
    }
}

/// Each fault knob, once: its field of the mix (with what it means), its
/// kind, how a seed draws it, and the help of its pin. From this come the
/// mix, its draw and its one-line description, the flags of `explore`,
/// `show` and `replay --faults`, a scenario's `[faults]` keys, their
/// checks, and the shrinker's cuts. Knobs are drawn in this order, so a
/// new one goes last (every earlier knob of a seed stays what it was).
macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $kind:ident = |$r:ident| $draw:expr, pin $help:literal;
    )*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct FaultMix {
            $( $(#[doc = $doc])* pub $name: <$kind as Kind>::Mix, )*
        }

        impl FaultMix {
            pub fn none() -> FaultMix {
                FaultMix { $( $name: <$kind as Kind>::NONE, )* }
            }

            /// The mix of one seed: each fault on with its own odds, at a
            /// strength drawn from its range.
            pub fn draw(seed: u64) -> FaultMix {
                let mut rng = SimRng::fork(seed, "faults");
                $( let $name = { let $r = &mut rng; $draw }; )*
                FaultMix { $( $name, )* }
            }

            /// One line, in the same words as the flags that pin it.
            pub fn describe(&self) -> String {
                [$( format!("{}={}", flag_of(stringify!($name)), <$kind as Kind>::show(&self.$name)), )*]
                    .join(" ")
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
            $(
                #[doc = $help]
                #[arg(long, value_parser = <$kind as Read>::parse)]
                pub $name: Option<<$kind as Read>::Pin>,
            )*
        }

        impl Pins {
            /// The knobs, by the names of their fields.
            pub const KNOBS: &'static [&'static str] = &[$( stringify!($name) ),*];

            pub fn apply(&self, mut mix: FaultMix) -> FaultMix {
                if self.no_faults {
                    mix = FaultMix::none();
                }
                FaultMix { $( $name: <$kind as Kind>::apply(&self.$name, mix.$name), )* }
            }

            /// Every knob of `mix`, pinned: the run no longer depends on the draw.
            pub fn of(mix: &FaultMix) -> Pins {
                Pins {
                    no_faults: false,
                    $( $name: Some(<$kind as Kind>::pinned(&mix.$name)), )*
                }
            }

            /// Pins knob `i` (of [`Pins::KNOBS`]) off; false if it already was.
            pub fn turn_off(&mut self, i: usize) -> bool {
                let mut at = 0;
                $(
                    if at == i {
                        let off = Some(<$kind as Kind>::off());
                        if self.$name == off {
                            return false;
                        }
                        self.$name = off;
                        return true;
                    }
                    at += 1;
                )*
                let _ = at;
                false
            }

            /// The first pin that is out of its range, as (key, what is wrong).
            pub fn check(&self) -> Result<(), (&'static str, String)> {
                $(
                    if let Some(p) = &self.$name {
                        <$kind as Read>::check(p).map_err(|e| (stringify!($name), e))?;
                    }
                )*
                Ok(())
            }
        }
    };
}

/// `duplicate_rate` as its flag spells it.
fn flag_of(field: &str) -> String {
    field.replace('_', "-")
}

/// A rate drawn for a swarm: on with even odds, up to `max`.
fn rate(r: &mut SimRng, max: f64) -> f64 {
    if r.chance(0.5) {
        (r.unit() * max * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// One of the two voters every request requires, with chance `p`.
fn voter(r: &mut SimRng, p: f64) -> Option<String> {
    let first_two = [VOTERS[0].name, VOTERS[1].name];
    r.chance(p).then(|| r.pick(&first_two).to_string())
}

knobs! {
    /// Chance that a delivery happens twice.
    duplicate_rate: Rate = |r| rate(r, 0.5),
        pin "Chance (0 to 1) that a delivery happens twice.";
    /// Chance that a PutEvents call fails (the publisher sees the error).
    publish_failure_rate: Rate = |r| rate(r, 0.2),
        pin "Chance (0 to 1) that a PutEvents call fails.";
    /// Chance that one delivery attempt fails transiently (throttling).
    invoke_failure_rate: Rate = |r| rate(r, 0.3),
        pin "Chance (0 to 1) that one delivery attempt fails transiently (throttling).";
    /// Chance that a delivery is dead-lettered at once, as if it ran out
    /// of retries.
    drop_rate: Rate = |r| rate(r, 0.05),
        pin "Chance (0 to 1) that a delivery is dead-lettered at once, as if out of retries.";
    /// Deliveries wait up to this long: the source of reordering.
    max_delay_ms: Ms = |r| if r.chance(0.7) { r.range(10, 120_000) } else { 0 },
        pin "Deliveries wait up to this many milliseconds: the source of reordering.";
    /// Chance that a handler dies at one of its crash points (before or
    /// after a write, before or after a publish).
    crash_rate: Rate = |r| rate(r, 0.1),
        pin "Chance (0 to 1) that a handler dies before or after a write or a publish.";
    /// Chance that a store call fails transiently.
    store_error_rate: Rate = |r| rate(r, 0.1),
        pin "Chance (0 to 1) that a store call fails transiently.";
    /// A voter (or a completion consumer: analytics_consumer,
    /// categorization_consumer) that returns early and never votes.
    stalled_voter: Named = |r| voter(r, 0.2),
        pin "A voter that never votes (`none` for no such voter).";
    /// A voter that votes only after a long pause.
    slow_voter: Named = |r| voter(r, 0.2),
        pin "A voter that votes only after a long pause (`none` for no such voter).";
    /// A voter that denies every request.
    denying_voter: Named = |r| voter(r, 0.2),
        pin "A voter that denies everything (`none` for no such voter).";
    /// Each function's clock is off by up to this much either way.
    clock_skew_ms: Ms = |r| if r.chance(0.3) { r.range(1, 30_000) } else { 0 },
        pin "Each function's clock is off by up to this many milliseconds either way.";
    /// An adversary publishes votes from wrong sources, for voters a
    /// request does not require and about other files, and repeats real
    /// votes after the decision.
    forger: Flag = |r| r.chance(0.3),
        pin "An adversary forges votes (wrong source, unrequired voter, other file) and repeats real ones after the decision: true or false.";
    /// Requests reach the aggregator up to this much later than anything
    /// else, so votes come before their request.
    request_delay_ms: Ms = |r| if r.chance(0.3) { r.range(1_000, 90_000) } else { 0 },
        pin "Requests reach the aggregator up to this many milliseconds late, so that votes come first.";
    /// Chance that a delivery goes to three concurrent invocations at once,
    /// so that conditional writes race (BUGGIFY: the rare path made common).
    burst_rate: Rate = |r| rate(r, 0.2),
        pin "Chance (0 to 1) that a delivery goes to three concurrent invocations at once.";
    /// Chance that a store call fails for good (access denied): a voter
    /// then votes `error`, a completion consumer reports `failed`, any
    /// other handler dead-letters its input.
    permanent_error_rate: Rate = |r| rate(r, 0.02),
        pin "Chance (0 to 1) that a store call fails for good (access denied).";
}

impl Pins {
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

    /// A rate outside 0..1 is refused, naming the flag and the value, on
    /// the command line and in a scenario's `[faults]` table alike (it
    /// used to run as if it were valid).
    #[test]
    fn a_rate_out_of_range_is_refused_where_it_is_read() {
        use clap::Parser;
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            pins: Pins,
        }
        let e = Cli::try_parse_from(["tally", "--duplicate-rate", "1.5"]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("--duplicate-rate") && text.contains("1.5") && text.contains("0 to 1"),
            "{text}"
        );
        let ok =
            Cli::try_parse_from(["tally", "--crash-rate", "0.25", "--forger", "true"]).unwrap();
        assert_eq!(ok.pins.crash_rate, Some(0.25));
        let pins: Pins = toml::from_str("burst_rate = -0.1").unwrap();
        assert_eq!(
            pins.check(),
            Err((
                "burst_rate",
                "expected a chance from 0 to 1, found -0.1".to_owned()
            ))
        );
    }

    /// Every knob turned off, one by one, is the calm mix (the cuts the
    /// shrinker makes reach every knob), and pinning a mix whole gives it
    /// back.
    #[test]
    fn knobs_turn_off_one_by_one_and_pin_whole() {
        for seed in 0..20 {
            let mix = FaultMix::draw(seed);
            assert_eq!(Pins::of(&mix).apply(FaultMix::none()), mix);
            let mut pins = Pins::of(&mix);
            for i in 0..Pins::KNOBS.len() {
                pins.turn_off(i);
                assert!(
                    !pins.turn_off(i),
                    "knob {} turned off twice",
                    Pins::KNOBS[i]
                );
            }
            assert_eq!(pins.apply(mix), FaultMix::none());
        }
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
