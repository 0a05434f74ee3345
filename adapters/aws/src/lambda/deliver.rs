//! One delivered event through one function: decode the envelope with the
//! core's wire form, run the core's handler for the function's target
//! (`tally_core::handlers::dispatch`) over the AWS ports. The same envelope arrives directly from EventBridge or
//! as the body of an SQS message; both come here as text.

use crate::{AwsPorts, Config};
use serde_json::Value;
use tally_core::coordination::{Command, Input, Metric};
use tally_core::event::Event;
use tally_core::handlers::dispatch::dispatch_text;
use tally_core::handlers::HandlerError;
use tally_core::time::Millis;

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
    let (event, d) = dispatch_text(ports, target, text, now, &cfg.policy, &cfg.settings).await?;
    let mut out = match &event {
        Some(event) => Delivered {
            event_id: Some(event.event_id.clone()),
            event_type: Some(event.event_type().to_owned()),
            correlation_id: event.correlation_id.clone(),
            request_id: request_id_of(event),
            ..Delivered::default()
        },
        None => Delivered::default(),
    };
    out.metrics = d
        .commands
        .into_iter()
        .filter_map(|c| match c {
            Command::Metric(m) => Some(m),
            _ => None,
        })
        .collect();
    out.report = d.report;
    Ok(out)
}
