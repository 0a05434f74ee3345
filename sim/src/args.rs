//! A run's configuration as command-line flags, both ways: clap reads them
//! (`explore`, `show`, the regressions file) and the reproducer writes them
//! back from the same clap and serde types, so a flag added to the workload
//! or the pins is reproduced without anyone remembering to print it.

use crate::faults::Pins;
use crate::workload::Workload;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tally_core::coordination::Policy;
use tally_core::rules::Rules;

/// Everything but the seed that decides what a simulated run does.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize)]
pub struct ConfigArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub workload: Workload,
    /// Rules file (TOML); the embedded default rules when omitted.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Policy file (TOML); the notes' defaults when omitted.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub pins: Pins,
}

impl ConfigArgs {
    /// The rules and policy files, read and checked (defaults when absent),
    /// and the pins checked against that policy.
    pub fn load(&self) -> Result<(Rules, Policy), String> {
        let policy = load_policy(self.policy.as_deref())?;
        check_voter_pins(&self.pins, &policy, Naming::Flag)?;
        Ok((load_rules(self.rules.as_deref())?, policy))
    }

    /// The one command that replays exactly the run of `seed` with this
    /// configuration.
    pub fn reproducer(&self, seed: u64) -> String {
        let mut words = ["./scripts/tally", "explore", "--seed"]
            .map(str::to_owned)
            .to_vec();
        words.push(seed.to_string());
        match to_flags(self, &ConfigArgs::default()) {
            Ok(flags) => words.extend(flags),
            // Only a path that is not UTF-8 gets here; say so in the line.
            Err(e) => words.push(format!("<{e}>")),
        }
        join(&words)
    }

    /// The command that writes the run of `seed` with this configuration
    /// as one self-contained HTML page (`tally show --format html`).
    pub fn show_command(&self, seed: u64) -> String {
        let mut words = ["./scripts/tally", "show", "--seed"]
            .map(str::to_owned)
            .to_vec();
        words.push(seed.to_string());
        match to_flags(self, &ConfigArgs::default()) {
            Ok(flags) => words.extend(flags),
            Err(e) => words.push(format!("<{e}>")),
        }
        words.extend(["--format".to_owned(), "html".to_owned()]);
        format!("{} > seed-{seed}.html", join(&words))
    }
}

#[cfg(madsim)]
impl ConfigArgs {
    /// The run of `seed` with this configuration, over the rules and policy
    /// [`ConfigArgs::load`] read from it.
    pub fn run_config(&self, seed: u64, rules: &Rules, policy: &Policy) -> crate::world::RunConfig {
        let mut c = crate::world::RunConfig::new(seed);
        c.workload = self.workload.clone();
        c.pins = self.pins.clone();
        c.rules = rules.clone();
        c.policy = policy.clone();
        c.rules_path = self.rules.clone();
        c.policy_path = self.policy.clone();
        c
    }
}

/// What a reproducer line says: `./scripts/tally explore --seed N` and the
/// configuration flags.
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct Reproducer {
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Reads a line [`ConfigArgs::reproducer`] printed back into the seed and
/// the configuration (the regressions file holds such lines).
pub fn parse_reproducer(line: &str) -> Result<(u64, ConfigArgs), String> {
    use clap::Parser;
    let words = shlex::split(line).ok_or_else(|| format!("{line:?}: unbalanced quotes"))?;
    let rest = match words.as_slice() {
        [tally, explore, rest @ ..] if tally == "./scripts/tally" && explore == "explore" => rest,
        _ => {
            return Err(format!(
                "{line:?}: expected a reproducer, `./scripts/tally explore --seed N ...`"
            ))
        }
    };
    let r = Reproducer::try_parse_from(rest).map_err(|e| format!("{line:?}: {e}"))?;
    Ok((r.seed, r.config))
}

/// How an error names a pin: as the flag, or as a scenario's `[faults]` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Flag,
    Key,
}

/// The pins that name a voter, each with its flag's name.
pub fn voter_pins(pins: &Pins) -> [(&'static str, Option<&str>); 3] {
    [
        ("stalled-voter", pins.stalled_voter.as_deref()),
        ("slow-voter", pins.slow_voter.as_deref()),
        ("denying-voter", pins.denying_voter.as_deref()),
    ]
}

/// Every voter a pin names is one the policy binds to a source (or
/// `none`): a pin on a voter no request waits for would change nothing,
/// and the run would pass without the fault it was asked for.
pub fn check_voter_pins(pins: &Pins, policy: &Policy, naming: Naming) -> Result<(), String> {
    for (flag, voter) in voter_pins(pins) {
        let Some(voter) = voter else { continue };
        if voter == "none" || policy.voter_sources.contains_key(voter) {
            continue;
        }
        let name = match naming {
            Naming::Flag => format!("--{flag}"),
            Naming::Key => format!("faults.{}", flag.replace('-', "_")),
        };
        let known: Vec<&str> = policy.voter_sources.keys().map(String::as_str).collect();
        return Err(format!(
            "{name} {voter:?}: the policy knows no such voter; expected one of {}, or none",
            known.join(", ")
        ));
    }
    Ok(())
}

pub fn load_rules(path: Option<&Path>) -> Result<Rules, String> {
    match path {
        None => Ok(Rules::default_rules()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
            Rules::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())
        }
    }
}

pub fn load_policy(path: Option<&Path>) -> Result<Policy, String> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read policy file {}: {e}", p.display()))?;
            Policy::parse(&p.display().to_string(), &text).map_err(|e| e.to_string())
        }
    }
}

/// The flags (one word each) that make clap read `value` back, in clap's
/// declaration order, leaving out every field equal to `default`'s: a bool
/// is a bare `--flag`, anything else `--flag VALUE` as serde writes it.
pub fn to_flags<T: clap::Args + Serialize>(value: &T, default: &T) -> Result<Vec<String>, String> {
    let object = |v: &T| match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "expected the flags as a JSON object, found {other}"
        )),
        Err(e) => Err(format!("the flags cannot be written: {e}")),
    };
    let (mut fields, defaults) = (object(value)?, object(default)?);
    let mut words = Vec::new();
    for arg in T::augment_args(clap::Command::new("flags")).get_arguments() {
        let id = arg.get_id().as_str();
        let Some(v) = fields.remove(id) else {
            continue;
        };
        if v.is_null() || defaults.get(id) == Some(&v) {
            continue;
        }
        let long = arg
            .get_long()
            .ok_or_else(|| format!("field `{id}` has no long flag to write it as"))?;
        match v {
            serde_json::Value::Bool(true) => words.push(format!("--{long}")),
            serde_json::Value::Bool(false) => {}
            serde_json::Value::String(s) => words.extend([format!("--{long}"), s]),
            serde_json::Value::Number(n) => words.extend([format!("--{long}"), n.to_string()]),
            other => return Err(format!("field `{id}`: no flag form for {other}")),
        }
    }
    // A field serde writes and clap does not read would be lost silently.
    match fields
        .into_iter()
        .find(|(id, v)| !v.is_null() && defaults.get(id) != Some(v))
    {
        Some((id, v)) => Err(format!(
            "field `{id}` = {v} has no flag, so the command would not reproduce it"
        )),
        None => Ok(words),
    }
}

/// Words as one shell command line, each quoted only where the shell needs it.
pub fn join(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_differs_from_the_defaults_is_written() {
        let c = ConfigArgs::default();
        assert_eq!(c.reproducer(7), "./scripts/tally explore --seed 7");
        let c = ConfigArgs {
            workload: Workload {
                files: 3,
                ..Workload::default()
            },
            rules: Some("my rules.toml".into()),
            pins: Pins {
                no_faults: true,
                crash_rate: Some(0.25),
                denying_voter: Some("category_manager".into()),
                ..Pins::default()
            },
            ..ConfigArgs::default()
        };
        assert_eq!(
            c.reproducer(7),
            "./scripts/tally explore --seed 7 --files 3 --rules 'my rules.toml' --no-faults --crash-rate 0.25 --denying-voter category_manager"
        );
    }

    #[test]
    fn a_reproducer_reads_back_and_anything_else_is_refused() {
        let c = ConfigArgs {
            policy: Some("p q.toml".into()),
            pins: Pins {
                crash_rate: Some(0.5),
                ..Pins::default()
            },
            ..ConfigArgs::default()
        };
        assert_eq!(parse_reproducer(&c.reproducer(12)), Ok((12, c)));
        let e = parse_reproducer("tally show --seed 3").unwrap_err();
        assert!(e.contains("expected a reproducer"), "{e}");
        let e = parse_reproducer("./scripts/tally explore --seed 3 --colour red").unwrap_err();
        assert!(e.contains("--colour"), "{e}");
        let e = parse_reproducer("./scripts/tally explore --files 3").unwrap_err();
        assert!(e.contains("--seed"), "{e}");
    }

    /// A struct whose serde field has no clap flag must not print a
    /// reproducer that silently drops it.
    #[test]
    fn a_field_without_a_flag_is_an_error() {
        #[derive(clap::Args, Serialize)]
        struct Odd {
            #[arg(long)]
            a: Option<u64>,
            #[arg(skip)]
            hidden: u64,
        }
        let odd = Odd { a: None, hidden: 3 };
        let e = to_flags(&odd, &Odd { a: None, hidden: 0 }).unwrap_err();
        assert_eq!(
            e,
            "field `hidden` = 3 has no flag, so the command would not reproduce it"
        );
    }
}
