//! A function's configuration, from its environment. Read once at start:
//! a missing or bad value stops the function before it takes any input,
//! with a message naming the variable and the value.

use std::collections::BTreeMap;
use tally_core::consumers::api::ApiConfig;
use tally_core::consumers::Settings;
use tally_core::coordination::{Flavour, Outcome, Policy};
use tally_deploy::{env, layout, Access, Function, Resource};

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
        Ok(Config {
            bus,
            bucket,
            tables: Tables::new(tables),
            policy,
            settings: Settings::default(),
            api,
        })
    }

    /// Whether the deployment lets this function delete from `resource`.
    pub fn may_delete(function: &Function, resource: Resource) -> bool {
        function
            .uses
            .iter()
            .any(|(r, a)| *r == resource && *a == Access::ReadWriteDelete)
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(ConfigError::Invalid {
            var: var.into(),
            value: v,
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

/// The notes' policy, with what the environment overrides.
fn policy_from(get: &impl Fn(&str) -> Option<String>) -> Result<Policy, ConfigError> {
    let mut policy = Policy::default();
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
