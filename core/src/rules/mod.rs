//! The rules file: one declaration of every EventBridge rule (name,
//! pattern, targets, retry policy, dead-letter queue). The simulator's bus
//! routes with it and the deployment template is generated from it, so
//! routing is never written twice.

mod lint;

pub use lint::{lint, required_paths, routing_table, DefaultRoute, Finding, RequiredPath};

use crate::pattern::{Pattern, PatternSet, Scratch};
use serde::Deserialize;

/// The default rules, embedded: the notes' routing with their gaps closed.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/default.toml");

/// Consumers a rule may target: each is a handler in the core and a
/// function in the deployment.
pub use crate::targets::TARGET_NAMES as TARGETS;

/// EventBridge's quota on an event pattern's size, in characters.
pub const MAX_PATTERN_CHARS: usize = 2048;

/// EventBridge's bounds on a target's retry policy.
pub const MAX_RETRY_ATTEMPTS: u32 = 185;
pub const MIN_EVENT_AGE_SECONDS: u32 = 60;
pub const MAX_EVENT_AGE_SECONDS: u32 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            maximum_retry_attempts: MAX_RETRY_ATTEMPTS,
            maximum_event_age_seconds: MAX_EVENT_AGE_SECONDS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub pattern: Pattern,
    pub targets: Vec<String>,
    pub retry: RetryPolicy,
    pub dead_letter_queue: String,
}

/// A parsed, validated rules file with every pattern compiled together.
#[derive(Debug, Clone)]
pub struct Rules {
    pub bus: String,
    pub rules: Vec<Rule>,
    set: PatternSet,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("{file}: not a valid rules file: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: rule[{index}] {name:?}, field `{field}`: {message}")]
    Rule {
        file: String,
        index: usize,
        name: String,
        field: &'static str,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    bus: String,
    #[serde(default)]
    default_retry: Option<RetryPolicy>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    description: String,
    pattern: String,
    targets: Vec<String>,
    #[serde(default)]
    retry: Option<RetryPolicy>,
    dead_letter_queue: String,
}

impl Rules {
    /// The embedded default rules. They are checked by the test suite, so
    /// failing here means the binary was built from a broken tree.
    pub fn default_rules() -> Rules {
        Rules::parse("rules/default.toml", DEFAULT_RULES)
            .expect("the embedded default rules are valid")
    }

    /// Parses and validates a rules file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Rules, RulesError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| RulesError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if raw.bus.trim().is_empty() {
            return Err(RulesError::Syntax {
                file: file.to_owned(),
                message: "`bus` must name the event bus".to_owned(),
            });
        }
        let default_retry = raw.default_retry.unwrap_or_default();
        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut set = PatternSet::new();
        for (index, r) in raw.rules.into_iter().enumerate() {
            let err = |field: &'static str, message: String| RulesError::Rule {
                file: file.to_owned(),
                index,
                name: r.name.clone(),
                field,
                message,
            };
            if !valid_rule_name(&r.name) {
                return Err(err("name", format!("{:?} is not a valid EventBridge rule name (1-64 of letters, digits, '.', '-', '_')", r.name)));
            }
            if rules.iter().any(|x: &Rule| x.name == r.name) {
                return Err(err("name", "another rule already has this name".to_owned()));
            }
            let chars = r.pattern.chars().count();
            if chars > MAX_PATTERN_CHARS {
                return Err(err("pattern", format!("{chars} characters; EventBridge allows at most {MAX_PATTERN_CHARS} in an event pattern")));
            }
            let pattern =
                Pattern::compile(&r.pattern).map_err(|e| err("pattern", e.to_string()))?;
            if r.targets.is_empty() {
                return Err(err(
                    "targets",
                    "a rule needs at least one target".to_owned(),
                ));
            }
            if r.targets.len() > 5 {
                return Err(err(
                    "targets",
                    format!(
                        "{} targets; EventBridge allows at most 5 per rule",
                        r.targets.len()
                    ),
                ));
            }
            for t in &r.targets {
                if !TARGETS.contains(&t.as_str()) {
                    return Err(err(
                        "targets",
                        format!(
                            "unknown target {t:?}; known targets: {}",
                            TARGETS.join(", ")
                        ),
                    ));
                }
            }
            let retry = r.retry.unwrap_or(default_retry);
            check_retry(&retry).map_err(|m| err("retry", m))?;
            if r.dead_letter_queue.trim().is_empty() {
                return Err(err(
                    "dead_letter_queue",
                    "must name a queue: an event that runs out of retries has to land somewhere"
                        .to_owned(),
                ));
            }
            set.add(&pattern);
            rules.push(Rule {
                name: r.name,
                description: r.description,
                pattern,
                targets: r.targets,
                retry,
                dead_letter_queue: r.dead_letter_queue,
            });
        }
        check_retry(&default_retry).map_err(|message| RulesError::Syntax {
            file: file.to_owned(),
            message: format!("default_retry: {message}"),
        })?;
        Ok(Rules {
            bus: raw.bus,
            rules,
            set,
        })
    }

    /// Indices of the rules whose pattern matches a delivered event (its
    /// JSON text), in file order.
    pub fn route(
        &self,
        delivered_json: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<usize>,
    ) -> Result<(), crate::pattern::EventJsonError> {
        out.clear();
        self.set.matches_into(delivered_json, scratch, out)?;
        out.sort_unstable();
        Ok(())
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

fn valid_rule_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn check_retry(r: &RetryPolicy) -> Result<(), String> {
    if r.maximum_retry_attempts > MAX_RETRY_ATTEMPTS {
        return Err(format!(
            "maximum_retry_attempts = {}; EventBridge allows 0 to {MAX_RETRY_ATTEMPTS}",
            r.maximum_retry_attempts
        ));
    }
    if !(MIN_EVENT_AGE_SECONDS..=MAX_EVENT_AGE_SECONDS).contains(&r.maximum_event_age_seconds) {
        return Err(format!(
            "maximum_event_age_seconds = {}; EventBridge allows {MIN_EVENT_AGE_SECONDS} to {MAX_EVENT_AGE_SECONDS}",
            r.maximum_event_age_seconds
        ));
    }
    Ok(())
}
