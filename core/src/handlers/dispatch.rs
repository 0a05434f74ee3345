//! Which handler a rule target runs: the one map from the rules file's
//! target names to the core's handlers. The Lambda functions use it as it
//! is; the simulator uses it for every target whose faults it does not
//! inject itself (its voters stall, slow down or deny before they vote).

use super::aggregator::aggregate;
use super::HandlerError;
use crate::consumers::{self, voter::Voter, Settings};
use crate::coordination::{Effect, Input, Policy};
use crate::event::{Event, EventData};
use crate::ports::{
    AnalyticsStore, CategoryRuleStore, ContentStore, FileStore, IdempotencyStore, Notifier,
    Publisher, RecordStore, TransactionStore,
};
use crate::time::Millis;
use serde_json::{json, Value};

/// Every port a rule target may need.
pub trait TargetPorts:
    RecordStore
    + Publisher
    + FileStore
    + TransactionStore
    + ContentStore
    + IdempotencyStore
    + AnalyticsStore
    + CategoryRuleStore
    + Notifier
{
}

impl<P> TargetPorts for P where
    P: RecordStore
        + Publisher
        + FileStore
        + TransactionStore
        + ContentStore
        + IdempotencyStore
        + AnalyticsStore
        + CategoryRuleStore
        + Notifier
{
}

/// What a target did with one event: the handler's report (for a log
/// line) and, for the aggregator, the step's effects (metrics, refusals).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dispatched {
    pub report: Value,
    pub effects: Vec<Effect>,
}

/// The voter a rule target is, if it is one.
pub fn voter_of(target: &str) -> Option<Voter> {
    Some(match target {
        "analytics_voter" => Voter::AnalyticsManager,
        "category_voter" => Voter::CategoryManager,
        "backup_voter" => Voter::BackupManager,
        "compliance_voter" => Voter::ComplianceManager,
        _ => return None,
    })
}

/// The completion consumer a rule target is, if it is one: the name its
/// `consumer.completion` reports carry (and the policy requires).
pub fn completion_consumer_of(target: &str) -> Option<&'static str> {
    Some(match target {
        "analytics" => consumers::analytics::CONSUMER,
        "categorization" => consumers::categorization::CONSUMER,
        _ => return None,
    })
}

/// A handler's report as JSON, for a log line.
pub fn report<T: serde::Serialize>(r: &T) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| json!({ "unserializable": e.to_string() }))
}

/// Runs `target`'s handler on a decoded event. The audit target takes the
/// delivered text instead (`consumers::audit::handle_text`): it keeps
/// events no other target could read.
pub async fn dispatch<P: TargetPorts>(
    ports: &P,
    target: &str,
    event: &Event,
    now: Millis,
    policy: &Policy,
    settings: &Settings,
) -> Result<Dispatched, HandlerError> {
    let s = settings;
    let report = match target {
        "aggregator" => {
            let input = Input::from_event(event).ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "the aggregator has no use for {}",
                    event.event_type()
                ))
            })?;
            let handled = Box::pin(aggregate(ports, ports, &input, now, policy)).await?;
            let refused: Vec<Value> = handled
                .effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Refused { event_id, reason } => {
                        Some(json!({ "eventId": event_id, "reason": reason }))
                    }
                    _ => None,
                })
                .collect();
            let record = handled.record.as_ref();
            return Ok(Dispatched {
                report: json!({
                    "status": record.map(|r| r.status.as_str()),
                    "decision": record.and_then(|r| r.decision.as_ref()).map(report),
                    "refused": refused,
                    "published": handled.published,
                    "races": handled.races,
                }),
                effects: handled.effects,
            });
        }
        t if voter_of(t).is_some() => {
            let voter = voter_of(t).expect("matched");
            if let EventData::DeletionRequested(r) = &event.data {
                if !policy.requires(voter.name(), r) {
                    return Ok(Dispatched {
                        report: json!({ "silent": "the policy does not require this voter for this request" }),
                        effects: Vec::new(),
                    });
                }
            }
            report(&Box::pin(consumers::voter::handle(ports, voter, event, now, s)).await?)
        }
        "executor" => report(&Box::pin(consumers::executor::handle(ports, event, now, s)).await?),
        "analytics" => report(&Box::pin(consumers::analytics::handle(ports, event, now, s)).await?),
        "categorization" => {
            report(&Box::pin(consumers::categorization::handle(ports, event, now, s)).await?)
        }
        "notification" => {
            report(&Box::pin(consumers::notification::handle(ports, event, now, s)).await?)
        }
        "file_processor" => {
            report(&Box::pin(consumers::file_processor::handle(ports, event, now, s)).await?)
        }
        other => {
            return Err(HandlerError::Permanent(format!(
                "no function is deployed for target {other}"
            )))
        }
    };
    Ok(Dispatched {
        report,
        effects: Vec::new(),
    })
}
