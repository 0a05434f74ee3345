//! A function's configuration, from its environment. Read once at start:
//! a missing or bad value stops the function before it takes any input,
//! with a message naming the variable and the value.

use std::collections::BTreeMap;
use tally_core::consumers::api::ApiConfig;
use tally_core::consumers::Settings;
use tally_core::coordination::{Flavour, Outcome, Policy};
use tally_deploy::{env, layout, Function, Resource};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {var} is not set ({why})")]
    Missing { var: String, why: String },
    #[error("environment variable {var}={value:?} is not valid: {why}")]
    Invalid {
        var: String,
        value: String,
        why: String,
    },
}

/// Physical table names by logical name (`Records`, `Files`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables(BTreeMap<&'static str, String>);

impl Tables {
    pub fn new(names: impl IntoIterator<Item = (&'static str, String)>) -> Tables {
        Tables(names.into_iter().collect())
    }

    /// The physical name; a function asking for a table its deployment did
    /// not give it is a bug in `tally_deploy::FUNCTIONS`, reported as one.
    pub fn name(&self, logical: &str) -> Result<&str, String> {
        self.0.get(logical).map(String::as_str).ok_or_else(|| {
            let var = layout::table(logical).map_or("?", |t| t.env);
            format!("this function has no {logical} table configured ({var})")
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bus: String,
    pub bucket: Option<String>,
    pub tables: Tables,
    pub policy: Policy,
    pub settings: Settings,
    pub api: ApiConfig,
    /// The function's name in this deployment: Lambda's
    /// `AWS_LAMBDA_FUNCTION_NAME`, else its name in tally-deploy. Its
    /// metrics carry it, so that two stacks' alarms never count each
    /// other's.
    pub deployed_name: String,
}

impl Config {
    /// Reads what `function` uses from the process environment.
    pub fn from_env(function: &Function) -> Result<Config, ConfigError> {
        Config::from_lookup(function, |k| std::env::var(k).ok())
    }

    /// Reads what `function` uses through `get` (tests pass a map).
    pub fn from_lookup(
        function: &Function,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let required = |var: &str, why: &str| -> Result<String, ConfigError> {
            match get(var) {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                Some(v) => Err(ConfigError::Invalid {
                    var: var.into(),
                    value: v,
                    why: "empty".into(),
                }),
                None => Err(ConfigError::Missing {
                    var: var.into(),
                    why: why.into(),
                }),
            }
        };
        let mut bus = String::new();
        let mut bucket = None;
        let mut tables = Vec::new();
        for (resource, _) in function.uses {
            match resource {
                Resource::Bus => bus = required(env::EVENT_BUS_NAME, "the bus it publishes to")?,
                Resource::ContentBucket => {
                    bucket = Some(required(env::CONTENT_BUCKET, "the file content bucket")?)
                }
                Resource::Table(logical) => {
                    let t = layout::table(logical).ok_or_else(|| ConfigError::Missing {
                        var: logical.to_string(),
                        why: "tally_deploy names a table that layout::TABLES lacks".into(),
                    })?;
                    tables.push((t.logical, required(t.env, "a table this function uses")?));
                }
            }
        }
        let policy = policy_from(&get)?;
        let api = ApiConfig {
            publishing_enabled: parse_bool(&get, env::ENABLE_EVENT_PUBLISHING, true)?,
            flavour: match get(env::COORDINATION_FLAVOUR).as_deref().map(str::trim) {
                None | Some("") | Some("voting") => Flavour::Voting,
                Some("completion") => Flavour::Completion,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: env::COORDINATION_FLAVOUR.into(),
                        value: other.into(),
                        why: "expected voting or completion".into(),
                    })
                }
            },
        };
        let deployed_name = get(env::AWS_LAMBDA_FUNCTION_NAME)
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| function.name.to_owned());
        Ok(Config {
            deployed_name,
            bus,
            bucket,
            tables: Tables::new(tables),
            policy,
            settings: Settings::default(),
            api,
        })
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(given) = get(var) else {
        return Ok(default);
    };
    match given.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        // The value as given, not as normalised, so the operator finds it.
        _ => Err(ConfigError::Invalid {
            var: var.into(),
            value: given,
            why: "expected true or false".into(),
        }),
    }
}

fn outcome(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
) -> Result<Option<Outcome>, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("deny") => Ok(Some(Outcome::Deny)),
        Some("proceed") => Ok(Some(Outcome::Proceed)),
        Some(other) => Err(ConfigError::Invalid {
            var: var.into(),
            value: other.into(),
            why: "expected deny or proceed".into(),
        }),
    }
}

/// The policy of `POLICY` (a policy file's text, read as the simulator
/// reads `--policy`), or the notes' defaults without one; then the single
/// variables' overrides.
fn policy_from(get: &impl Fn(&str) -> Option<String>) -> Result<Policy, ConfigError> {
    let mut policy = match get(env::POLICY).filter(|v| !v.trim().is_empty()) {
        Some(text) => Policy::parse(env::POLICY, &text).map_err(|e| ConfigError::Invalid {
            var: env::POLICY.into(),
            value: text.clone(),
            why: e.message,
        })?,
        None => Policy::default(),
    };
    if let Some(list) = get(env::REQUIRED_VOTERS).filter(|v| !v.trim().is_empty()) {
        let voters: Vec<String> = list
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if let Some(bad) = voters
            .iter()
            .find(|v| !policy.voter_sources.contains_key(*v))
        {
            return Err(ConfigError::Invalid {
                var: env::REQUIRED_VOTERS.into(),
                value: list.clone(),
                why: format!("{bad} is not a known voter"),
            });
        }
        policy.voting.required = voters;
    }
    if let Some(secs) = get(env::DEADLINE_SECONDS).filter(|v| !v.trim().is_empty()) {
        let ms = secs
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|s| *s > 0)
            .map(|s| i64::from(s) * 1000)
            .ok_or_else(|| ConfigError::Invalid {
                var: env::DEADLINE_SECONDS.into(),
                value: secs.clone(),
                why: "expected a whole number of seconds above 0".into(),
            })?;
        policy.voting.deadline_ms = ms;
        policy.completion.deadline_ms = ms;
    }
    if let Some(o) = outcome(get, env::TIMEOUT_OUTCOME)? {
        policy.voting.timeout_outcome = o;
    }
    if let Some(o) = outcome(get, env::ERROR_OUTCOME)? {
        policy.voting.error_outcome = o;
    }
    policy.validate().map_err(|why| ConfigError::Invalid {
        var: format!("{}/{}", env::REQUIRED_VOTERS, env::DEADLINE_SECONDS),
        value: String::new(),
        why,
    })?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every variable a full deployment sets, with good values.
    fn full_env() -> HashMap<String, String> {
        let mut m: HashMap<String, String> = layout::TABLES
            .iter()
            .map(|t| (t.env.to_owned(), format!("tally-{}", t.logical)))
            .collect();
        m.insert(env::EVENT_BUS_NAME.into(), "tally-events".into());
        m.insert(env::CONTENT_BUCKET.into(), "tally-content".into());
        m
    }

    fn read(function: &str, m: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let f = tally_deploy::function(function).expect("a deployed function");
        Config::from_lookup(f, |k| m.get(k).cloned())
    }

    fn with(var: &str, value: &str) -> HashMap<String, String> {
        let mut m = full_env();
        m.insert(var.into(), value.into());
        m
    }

    fn invalid(e: ConfigError) -> (String, String, String) {
        match e {
            ConfigError::Invalid { var, value, why } => (var, value, why),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// A missing EVENT_BUS_NAME is refused naming the variable.
    #[test]
    fn a_missing_bus_is_named() {
        let mut m = full_env();
        m.remove(env::EVENT_BUS_NAME);
        let e = read("aggregator", &m).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Missing { var, .. } if var == env::EVENT_BUS_NAME),
            "{e:?}"
        );
        assert!(e.to_string().contains("EVENT_BUS_NAME"), "{e}");
    }

    /// A missing (or blank) table variable is refused naming the variable
    /// (and, when blank, the value).
    #[test]
    fn a_missing_or_blank_table_is_named() {
        let mut m = full_env();
        m.remove("RECORDS_TABLE");
        let e = read("aggregator", &m).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Missing { var, .. } if var == "RECORDS_TABLE"),
            "{e:?}"
        );
        let (var, value, why) =
            invalid(read("aggregator", &with("RECORDS_TABLE", "  ")).unwrap_err());
        assert_eq!((var.as_str(), value.as_str()), ("RECORDS_TABLE", "  "));
        assert_eq!(why, "empty");
    }

    /// A function only needs what it uses: the api has no records table.
    #[test]
    fn only_used_tables_are_required() {
        let mut m = full_env();
        m.remove("RECORDS_TABLE");
        m.remove(env::CONTENT_BUCKET);
        let cfg = read("api", &m).unwrap();
        assert_eq!(cfg.bus, "tally-events");
        assert!(cfg.tables.name("Records").is_err());
        assert_eq!(cfg.tables.name("Files").unwrap(), "tally-Files");
        assert_eq!(cfg.bucket, None);
    }

    /// A bad TIMEOUT_OUTCOME names the variable and the value.
    #[test]
    fn a_bad_timeout_outcome_is_named() {
        let e = read("aggregator", &with(env::TIMEOUT_OUTCOME, "maybe")).unwrap_err();
        let (var, value, why) = invalid(e.clone());
        assert_eq!(
            (var.as_str(), value.as_str()),
            (env::TIMEOUT_OUTCOME, "maybe")
        );
        assert!(why.contains("deny or proceed"), "{why}");
        assert!(e.to_string().contains("TIMEOUT_OUTCOME=\"maybe\""), "{e}");
    }

    /// A bad DEADLINE_SECONDS (not a number, zero, negative) names the
    /// variable and the value.
    #[test]
    fn a_bad_deadline_is_named() {
        for bad in ["soon", "0", "-5", "1.5"] {
            let (var, value, why) =
                invalid(read("aggregator", &with(env::DEADLINE_SECONDS, bad)).unwrap_err());
            assert_eq!((var.as_str(), value.as_str()), (env::DEADLINE_SECONDS, bad));
            assert!(why.contains("seconds"), "{why}");
        }
    }

    /// An unknown voter in REQUIRED_VOTERS is named, with the whole value.
    #[test]
    fn an_unknown_voter_is_named() {
        let list = "analytics_manager, ghost";
        let (var, value, why) =
            invalid(read("aggregator", &with(env::REQUIRED_VOTERS, list)).unwrap_err());
        assert_eq!((var.as_str(), value.as_str()), (env::REQUIRED_VOTERS, list));
        assert!(why.contains("ghost is not a known voter"), "{why}");
    }

    /// A bad ENABLE_EVENT_PUBLISHING names the variable and the value as
    /// it was given.
    #[test]
    fn a_bad_publishing_flag_is_named() {
        let (var, value, why) =
            invalid(read("api", &with(env::ENABLE_EVENT_PUBLISHING, "Yes")).unwrap_err());
        assert_eq!(
            (var.as_str(), value.as_str()),
            (env::ENABLE_EVENT_PUBLISHING, "Yes")
        );
        assert!(why.contains("true or false"), "{why}");
    }

    /// Good values land in the policy and the API's settings; absent ones
    /// keep the notes' defaults.
    #[test]
    fn good_values_land_in_the_policy() {
        let defaults = read("aggregator", &full_env()).unwrap();
        assert_eq!(defaults.policy, Policy::default());
        assert!(defaults.api.publishing_enabled);
        assert_eq!(defaults.api.flavour, Flavour::Voting);

        let mut m = full_env();
        m.insert(
            env::REQUIRED_VOTERS.into(),
            " category_manager ,backup_manager,".into(),
        );
        m.insert(env::DEADLINE_SECONDS.into(), " 90 ".into());
        m.insert(env::TIMEOUT_OUTCOME.into(), "proceed".into());
        m.insert(env::ERROR_OUTCOME.into(), "proceed".into());
        m.insert(env::ENABLE_EVENT_PUBLISHING.into(), "FALSE".into());
        m.insert(env::COORDINATION_FLAVOUR.into(), "completion".into());
        let cfg = read("aggregator", &m).unwrap();
        assert_eq!(
            cfg.policy.voting.required,
            vec!["category_manager".to_owned(), "backup_manager".to_owned()]
        );
        assert_eq!(cfg.policy.voting.deadline_ms, 90_000);
        assert_eq!(cfg.policy.completion.deadline_ms, 90_000);
        assert_eq!(cfg.policy.voting.timeout_outcome, Outcome::Proceed);
        assert_eq!(cfg.policy.voting.error_outcome, Outcome::Proceed);
        assert!(!cfg.api.publishing_enabled);
        assert_eq!(cfg.api.flavour, Flavour::Completion);
        assert_eq!(cfg.bus, "tally-events");
        assert_eq!(cfg.tables.name("Records").unwrap(), "tally-Records");
    }

    /// POLICY holds a whole policy file: every field of it lands, and the
    /// single variables override on top of it.
    #[test]
    fn the_policy_variable_is_the_whole_policy() {
        let text = "ttl_ms = 7200000\n[voter_sources]\nbackup_manager = \"ledger.service\"\n\
                    [voting]\nrequired = [\"backup_manager\"]\nlarge_file_voters = []\n\
                    account_type_voters = {}\ntimeout_outcome = \"proceed\"\n\
                    [completion]\nrequired = [\"backup_manager\"]\ndeadline_ms = 60000\n\
                    large_file_voters = []\naccount_type_voters = {}\n";
        let want = Policy::parse("p", text).unwrap();
        let cfg = read("aggregator", &with(env::POLICY, text)).unwrap();
        assert_eq!(cfg.policy, want);
        assert_ne!(cfg.policy, Policy::default());
        assert_eq!(cfg.policy.voter_sources["backup_manager"], "ledger.service");

        let mut m = with(env::POLICY, text);
        m.insert(env::TIMEOUT_OUTCOME.into(), "deny".into());
        let cfg = read("aggregator", &m).unwrap();
        assert_eq!(cfg.policy.voting.timeout_outcome, Outcome::Deny);
        assert_eq!(cfg.policy.completion.deadline_ms, 60_000);
        // An override must itself fit the policy: a voter it binds no source to.
        m.insert(env::REQUIRED_VOTERS.into(), "analytics_manager".into());
        let (var, _, why) = invalid(read("aggregator", &m).unwrap_err());
        assert_eq!(var, env::REQUIRED_VOTERS);
        assert!(
            why.contains("analytics_manager is not a known voter"),
            "{why}"
        );
    }

    /// A POLICY that Policy::parse refuses is refused at start, naming the
    /// variable, the value and Policy::parse's own reason.
    #[test]
    fn a_bad_policy_is_named() {
        for (text, reason) in [
            ("[voting]\ntimeout_outcome = \"maybe\"\n", "maybe"),
            ("[voting]\nrequired = []\n", "voting.required"),
            ("ttl_ms = 1\n", "ttl_ms"),
            ("[voting\n", "POLICY"),
        ] {
            let e = read("category-voter", &with(env::POLICY, text)).unwrap_err();
            let shown = e.to_string();
            let (var, value, why) = invalid(e);
            assert_eq!((var.as_str(), value.as_str()), (env::POLICY, text));
            assert!(
                why.contains(reason) || shown.contains(reason),
                "{text:?}: {shown}"
            );
            assert!(shown.starts_with("environment variable POLICY="), "{shown}");
        }
    }

    /// The metrics' function is the one Lambda names (unique to the
    /// stack), else the function's own name.
    #[test]
    fn the_deployed_name_is_lambdas() {
        assert_eq!(
            read("aggregator", &full_env()).unwrap().deployed_name,
            "aggregator"
        );
        let m = with(env::AWS_LAMBDA_FUNCTION_NAME, "tally-AggregatorFunction-X1");
        assert_eq!(
            read("aggregator", &m).unwrap().deployed_name,
            "tally-AggregatorFunction-X1"
        );
    }

    /// A bad COORDINATION_FLAVOUR names the variable and the value.
    #[test]
    fn a_bad_flavour_is_named() {
        let (var, value, _) =
            invalid(read("api", &with(env::COORDINATION_FLAVOUR, "quorum")).unwrap_err());
        assert_eq!(
            (var.as_str(), value.as_str()),
            (env::COORDINATION_FLAVOUR, "quorum")
        );
    }
}
