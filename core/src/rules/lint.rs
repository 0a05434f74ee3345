//! `tally rules lint`: the gaps a real implementation of the notes had,
//! found before deployment. Every known event type, from each source that
//! publishes it, is routed through the rules as EventBridge would deliver it;
//! and every delivery the coordination needs (derived from the policy, see
//! [`required_paths`]) is checked to reach its target.

use super::{Rules, TARGETS};
use crate::coordination::{FlavourPolicy, Policy};
use crate::event::{all_publishers, samples, Event, EventData, EventKind};
use crate::pattern::Scratch;
use crate::targets::{completion_consumer_of, voter_of, AGGREGATOR, AUDIT, EXECUTOR};
use crate::wire::{DeliveredEvent, Delivery};
use serde_json::Value;
use std::collections::BTreeSet;

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
    /// The coordination needs `event_type` from `source` delivered to
    /// `target`, and no rule delivers it there.
    MissingPath {
        event_type: String,
        source: String,
        target: String,
        /// Every target the event reaches instead (sorted).
        reached: Vec<String>,
        /// The rule of the default rules that delivers it there, if any.
        default_route: Option<DefaultRoute>,
    },
    /// The policy requires a voter (or completion consumer) that no rule
    /// target runs: nothing would ever publish its vote.
    NoTarget { flavour: String, voter: String },
    /// A voter publishes from one source and the policy counts its votes
    /// only from another: every vote it casts would be refused.
    VoterSource {
        voter: String,
        publishes_from: String,
        counted_from: String,
    },
}

/// Where the default rules deliver a required event: the rule, and the
/// source it expects (which differs from the finding's when the policy, not
/// the rules file, moved the publisher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    pub rule: String,
    pub source: String,
}

/// One delivery the coordination cannot work without.
#[derive(Debug, Clone)]
pub struct RequiredPath {
    /// A sample of the event, as its publisher sends it.
    pub event: Event,
    pub target: &'static str,
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
            Finding::MissingPath {
                event_type,
                source,
                target,
                reached,
                default_route,
            } => {
                write!(
                    f,
                    "missing path: {event_type} from {source} never reaches {target} (it reaches {}); ",
                    if reached.is_empty() {
                        "no target".to_owned()
                    } else {
                        reached.join(", ")
                    }
                )?;
                match default_route {
                    Some(d) if d.source == *source => {
                        write!(f, "the default rules deliver it by rule {}", d.rule)
                    }
                    Some(d) => write!(
                        f,
                        "the default rules deliver it, by rule {}, only from {}",
                        d.rule, d.source
                    ),
                    None => write!(f, "no rule of the default rules delivers it there either"),
                }
            }
            Finding::NoTarget { flavour, voter } => write!(
                f,
                "no target: the policy's {flavour} flavour requires {voter}, which no rule target runs"
            ),
            Finding::VoterSource {
                voter,
                publishes_from,
                counted_from,
            } => write!(
                f,
                "voter source: {voter} publishes its votes from {publishes_from}, but voter_sources counts them only from {counted_from}"
            ),
        }
    }
}

/// Everything wrong with `rules` for the coordination `policy` configures.
pub fn lint(rules: &Rules, policy: &Policy) -> Vec<Finding> {
    let mut findings = lint_catalogue(rules);
    findings.extend(policy_findings(policy));
    let defaults = Rules::default_rules();
    let mut scratch = Scratch::default();
    for path in required_paths(policy) {
        let reached = targets_reached(rules, &path.event, &mut scratch);
        if reached.iter().any(|t| t == path.target) {
            continue;
        }
        let finding = Finding::MissingPath {
            event_type: path.event.event_type().to_owned(),
            source: path.event.source.clone(),
            target: path.target.to_owned(),
            reached,
            default_route: default_route(&defaults, &path.event, path.target, &mut scratch),
        };
        if !findings.contains(&finding) {
            findings.push(finding);
        }
    }
    findings
}

/// The voters (or consumers) a flavour may wait for, sorted.
fn voters_of(f: &FlavourPolicy) -> BTreeSet<&str> {
    f.required
        .iter()
        .chain(&f.large_file_voters)
        .chain(f.account_type_voters.values().flatten())
        .map(String::as_str)
        .collect()
}

fn voter_target(voter: &str) -> Option<&'static str> {
    TARGETS
        .iter()
        .copied()
        .find(|t| voter_of(t).is_some_and(|v| v.name() == voter))
}

fn consumer_target(consumer: &str) -> Option<&'static str> {
    TARGETS
        .iter()
        .copied()
        .find(|t| completion_consumer_of(t) == Some(consumer))
}

/// Every delivery the coordination `policy` configures depends on, derived
/// from who the policy makes vote and which sources it counts: a request
/// reaches the aggregator and every voter it may require; each voter's vote,
/// from the source it is counted from, reaches the aggregator; a decision,
/// from the aggregator's source, reaches the executor; and the same for the
/// completion flavour's request, consumers and reports.
pub fn required_paths(policy: &Policy) -> Vec<RequiredPath> {
    let mut paths = Vec::new();
    let mut to = |event: &Event, targets: &[&'static str]| {
        for &target in targets {
            paths.push(RequiredPath {
                event: event.clone(),
                target,
            });
        }
    };
    let voters = voters_of(&policy.voting);
    let mut request_targets = vec![AGGREGATOR.name];
    request_targets.extend(voters.iter().filter_map(|v| voter_target(v)));
    for src in EventKind::DeletionRequested.publishers() {
        to(
            &samples::sample(EventKind::DeletionRequested, src),
            &request_targets,
        );
    }
    for voter in &voters {
        // A voter without a binding is refused by Policy::validate.
        let Some(source) = policy.voter_sources.get(*voter) else {
            continue;
        };
        let mut vote = samples::sample(EventKind::DeletionVote, source);
        if let EventData::DeletionVote(v) = &mut vote.data {
            v.voter = (*voter).to_owned();
        }
        to(&vote, &[AGGREGATOR.name]);
    }
    to(
        &samples::sample(EventKind::DeletionApproved, &policy.aggregator_source),
        &[EXECUTOR.name],
    );
    let consumers = voters_of(&policy.completion);
    let mut request_targets = vec![AGGREGATOR.name];
    request_targets.extend(consumers.iter().filter_map(|c| consumer_target(c)));
    for src in EventKind::DeleteRequested.publishers() {
        to(
            &samples::sample(EventKind::DeleteRequested, src),
            &request_targets,
        );
    }
    for consumer in &consumers {
        let Some(source) = policy.voter_sources.get(*consumer) else {
            continue;
        };
        let mut report = samples::sample(EventKind::ConsumerCompletion, source);
        if let EventData::ConsumerCompletion(c) = &mut report.data {
            c.consumer = (*consumer).to_owned();
        }
        to(&report, &[AGGREGATOR.name]);
    }
    paths
}

/// What the policy asks that no deployment of these targets can do.
fn policy_findings(policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    for voter in voters_of(&policy.voting) {
        let Some(target) = voter_target(voter) else {
            findings.push(Finding::NoTarget {
                flavour: "voting".into(),
                voter: voter.to_owned(),
            });
            continue;
        };
        let publishes_from = voter_of(target).expect("a voter's target").source();
        match policy.voter_sources.get(voter) {
            Some(counted) if counted != publishes_from => findings.push(Finding::VoterSource {
                voter: voter.to_owned(),
                publishes_from: publishes_from.to_owned(),
                counted_from: counted.clone(),
            }),
            _ => {}
        }
    }
    for consumer in voters_of(&policy.completion) {
        if consumer_target(consumer).is_none() {
            findings.push(Finding::NoTarget {
                flavour: "completion".into(),
                voter: consumer.to_owned(),
            });
        }
    }
    findings
}

/// The targets `event` is delivered to, sorted, without repeats.
fn targets_reached(rules: &Rules, event: &Event, scratch: &mut Scratch) -> Vec<String> {
    let json = DeliveredEvent::wrap(event, "lint", &Delivery::default()).to_json();
    let mut hits = Vec::new();
    // Our own samples: a matcher error is a matcher bug, shown as no route.
    if rules.route(json.as_bytes(), scratch, &mut hits).is_err() {
        hits.clear();
    }
    let reached: BTreeSet<&str> = hits
        .iter()
        .flat_map(|&i| rules.rules[i].targets.iter().map(String::as_str))
        .collect();
    reached.into_iter().map(str::to_owned).collect()
}

/// The default rule that delivers `event` to `target`: from the event's own
/// source, or else from another source the catalogue says publishes it.
fn default_route(
    defaults: &Rules,
    event: &Event,
    target: &str,
    scratch: &mut Scratch,
) -> Option<DefaultRoute> {
    let others = event
        .kind()
        .map_or(&[][..], EventKind::publishers)
        .iter()
        .filter(|s| **s != event.source);
    for source in std::iter::once(event.source.as_str()).chain(others.copied()) {
        let mut e = event.clone();
        e.source = source.to_owned();
        let json = DeliveredEvent::wrap(&e, "lint", &Delivery::default()).to_json();
        let mut hits = Vec::new();
        if defaults.route(json.as_bytes(), scratch, &mut hits).is_err() {
            continue;
        }
        if let Some(&i) = hits
            .iter()
            .find(|&&i| defaults.rules[i].targets.iter().any(|t| t == target))
        {
            return Some(DefaultRoute {
                rule: defaults.rules[i].name.clone(),
                source: source.to_owned(),
            });
        }
    }
    None
}

/// The catalogue checks: every known type from each of its publishers is
/// routed and audited, every rule is used and names only real sources.
fn lint_catalogue(rules: &Rules) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut used = vec![false; rules.rules.len()];
    let audit_rules: Vec<usize> = (0..rules.rules.len())
        .filter(|&i| rules.rules[i].targets.iter().any(|t| t == AUDIT.name))
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
