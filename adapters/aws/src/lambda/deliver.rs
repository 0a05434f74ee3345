//! One delivered event through one function: decode the envelope with the
//! core's wire form, run the core's handler for the function's target over
//! the AWS ports. The same envelope arrives directly from EventBridge or
//! as the body of an SQS message; both come here as text.

use crate::{AwsPorts, Config};
use serde_json::{json, Value};
use tally_core::consumers::{self, voter::Voter};
use tally_core::coordination::{Effect, Input, Metric};
use tally_core::event::{Event, EventData};
use tally_core::handlers::aggregator::aggregate;
use tally_core::handlers::HandlerError;
use tally_core::time::Millis;
use tally_core::wire::sqs;

/// What a handled event did: the core's report (for the log line) and its
/// metrics (for EMF).
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
    pub report: Value,
    pub metrics: Vec<Metric>,
}

fn report<T: serde::Serialize>(r: &T) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| json!({ "unserializable": e.to_string() }))
}

fn voter_of(target: &str) -> Option<Voter> {
    Some(match target {
        "analytics_voter" => Voter::AnalyticsManager,
        "category_voter" => Voter::CategoryManager,
        "backup_voter" => Voter::BackupManager,
        "compliance_voter" => Voter::ComplianceManager,
        _ => return None,
    })
}

/// The requestId an event is about, for the log line.
fn request_id_of(event: &Event) -> Option<String> {
    Input::from_event(event).map(|i| i.request_id().to_owned())
}

/// EventBridge's 256 KB limit on an entry, plus room for the envelope
/// fields the bus adds on delivery (id, account, region, time, version).
pub const MAX_DELIVERED_BYTES: usize = tally_core::wire::putevents::MAX_ENTRY_BYTES + 4 * 1024;

pub async fn deliver(
    ports: &AwsPorts,
    cfg: &Config,
    target: &str,
    text: &str,
    now: Millis,
) -> Result<Delivered, HandlerError> {
    if text.len() > MAX_DELIVERED_BYTES {
        // No publisher could have put it on the bus: refuse it before it
        // reaches a store (an item over DynamoDB's limit would fail anyway,
        // later and less clearly).
        return Err(HandlerError::Permanent(format!(
            "the delivered event is {} bytes, over EventBridge's {} KB entry limit",
            text.len(),
            tally_core::wire::putevents::MAX_ENTRY_BYTES / 1024
        )));
    }
    if target == "audit" {
        // The audit keeps the text byte for byte, even of events no other
        // consumer could read.
        let r = Box::pin(consumers::audit::handle_text(ports, text, now)).await?;
        return Ok(Delivered {
            report: report(&r),
            ..Delivered::default()
        });
    }
    let (_, event) = sqs::decode_body(text).map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let mut out = Delivered {
        event_id: Some(event.event_id.clone()),
        event_type: Some(event.event_type().to_owned()),
        correlation_id: event.correlation_id.clone(),
        request_id: request_id_of(&event),
        ..Delivered::default()
    };
    let s = &cfg.settings;
    out.report = match target {
        "aggregator" => {
            let input = Input::from_event(&event).ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "the aggregator has no use for {}",
                    event.event_type()
                ))
            })?;
            let handled = Box::pin(aggregate(ports, ports, &input, now, &cfg.policy)).await?;
            let mut refusals = Vec::new();
            for e in &handled.effects {
                match e {
                    Effect::Metric(m) => out.metrics.push(m.clone()),
                    // Refused inputs are audited in the log line, reason and all.
                    Effect::Refused { event_id, reason } => {
                        refusals.push(json!({ "eventId": event_id, "reason": reason }))
                    }
                    _ => {}
                }
            }
            let record = handled.record.as_ref();
            json!({
                "status": record.map(|r| r.status.as_str()),
                "decision": record.and_then(|r| r.decision.as_ref()).map(report),
                "refused": refusals,
                "published": handled.published,
                "races": handled.races,
            })
        }
        t if voter_of(t).is_some() => {
            let voter = voter_of(t).expect("matched");
            if let EventData::DeletionRequested(r) = &event.data {
                if !cfg.policy.requires(voter.name(), r) {
                    return Ok(Delivered {
                        report: json!({ "silent": "the policy does not require this voter for this request" }),
                        ..out
                    });
                }
            }
            report(&Box::pin(consumers::voter::handle(ports, voter, &event, now, s)).await?)
        }
        "executor" => report(&Box::pin(consumers::executor::handle(ports, &event, now, s)).await?),
        "analytics" => {
            report(&Box::pin(consumers::analytics::handle(ports, &event, now, s)).await?)
        }
        "categorization" => {
            report(&Box::pin(consumers::categorization::handle(ports, &event, now, s)).await?)
        }
        "notification" => {
            report(&Box::pin(consumers::notification::handle(ports, &event, now, s)).await?)
        }
        "file_processor" => {
            report(&Box::pin(consumers::file_processor::handle(ports, &event, now, s)).await?)
        }
        other => {
            return Err(HandlerError::Permanent(format!(
                "no function is deployed for target {other}"
            )))
        }
    };
    Ok(out)
}
