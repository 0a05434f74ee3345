//! `tally rules lint`: the gaps a real implementation of the notes had,
//! found before deployment. Every known event type, from each source that
//! publishes it, is routed through the rules as EventBridge would deliver it.

use super::Rules;
use crate::event::{all_publishers, samples};
use crate::pattern::Scratch;
use crate::wire::{DeliveredEvent, Delivery};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A type that a publisher sends reaches no rule at all.
    Unrouted { event_type: String, source: String },
    /// The audit consumer does not see this type from this source.
    NotAudited { event_type: String, source: String },
    /// No rule targets the audit consumer.
    NoAuditRule,
    /// A rule whose pattern no known event matches.
    DeadRule { rule: String },
    /// A rule names a source that no publisher uses.
    UnknownSource { rule: String, source: String },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Unrouted { event_type, source } => {
                write!(f, "unrouted: {event_type} from {source} matches no rule")
            }
            Finding::NotAudited { event_type, source } => write!(
                f,
                "not audited: {event_type} from {source} reaches no rule that targets audit"
            ),
            Finding::NoAuditRule => write!(f, "no audit: no rule targets the audit consumer"),
            Finding::DeadRule { rule } => write!(
                f,
                "dead rule: {rule} matches no event that any publisher sends"
            ),
            Finding::UnknownSource { rule, source } => write!(
                f,
                "unknown source: {rule} names source {source:?}, which no publisher uses"
            ),
        }
    }
}

pub fn lint(rules: &Rules) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut used = vec![false; rules.rules.len()];
    let audit_rules: Vec<usize> = (0..rules.rules.len())
        .filter(|&i| rules.rules[i].targets.iter().any(|t| t == "audit"))
        .collect();
    if audit_rules.is_empty() {
        findings.push(Finding::NoAuditRule);
    }
    let mut scratch = Scratch::default();
    let mut hits = Vec::new();
    for event in samples::all() {
        let json = DeliveredEvent::wrap(&event, "lint", &Delivery::default()).to_json();
        // The samples are our own well-formed JSON: a matcher error here is
        // a matcher bug, and it shows as the event being unrouted.
        if rules
            .route(json.as_bytes(), &mut scratch, &mut hits)
            .is_err()
        {
            hits.clear();
        }
        for &i in &hits {
            used[i] = true;
        }
        let (event_type, source) = (event.event_type().to_owned(), event.source.clone());
        if hits.is_empty() {
            findings.push(Finding::Unrouted { event_type, source });
        } else if !audit_rules.is_empty() && !hits.iter().any(|i| audit_rules.contains(i)) {
            findings.push(Finding::NotAudited { event_type, source });
        }
    }
    let publishers = all_publishers();
    for (i, rule) in rules.rules.iter().enumerate() {
        if !used[i] {
            findings.push(Finding::DeadRule {
                rule: rule.name.clone(),
            });
        }
        let mut named = Vec::new();
        sources_named(rule.pattern.source(), &mut named);
        for s in named {
            if !publishers.contains(&s.as_str()) {
                findings.push(Finding::UnknownSource {
                    rule: rule.name.clone(),
                    source: s,
                });
            }
        }
    }
    findings
}

/// Exact strings a pattern lists under the top-level `source`, including
/// inside top-level `$or` alternatives.
fn sources_named(pattern: &Value, out: &mut Vec<String>) {
    let Some(obj) = pattern.as_object() else {
        return;
    };
    if let Some(Value::Array(values)) = obj.get("source") {
        out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(Value::Array(alternatives)) = obj.get("$or") {
        for alt in alternatives {
            sources_named(alt, out);
        }
    }
}

/// One line per known event type and source: the rules and targets it
/// reaches, as `tally rules routes` prints it.
pub fn routing_table(rules: &Rules) -> Vec<String> {
    let mut scratch = Scratch::default();
    let mut hits = Vec::new();
    samples::all()
        .into_iter()
        .map(|event| {
            let json = DeliveredEvent::wrap(&event, "routes", &Delivery::default()).to_json();
            if rules
                .route(json.as_bytes(), &mut scratch, &mut hits)
                .is_err()
            {
                hits.clear();
            }
            let reached: Vec<String> = hits
                .iter()
                .map(|&i| {
                    format!(
                        "{} -> {}",
                        rules.rules[i].name,
                        rules.rules[i].targets.join(",")
                    )
                })
                .collect();
            format!(
                "{:<26} {:<20} {}",
                event.event_type(),
                event.source,
                if reached.is_empty() {
                    "(nowhere)".to_owned()
                } else {
                    reached.join("; ")
                }
            )
        })
        .collect()
}
