//! Which handler a rule target runs: the one map from the rules file's
//! target names to the core's handlers. The Lambda functions use it as it
//! is; the simulator uses it for every target whose faults it does not
//! inject itself (its voters stall, slow down or deny before they vote).

use super::aggregator::aggregate;
use super::HandlerError;
use crate::consumers::{self, voter::Answer, Settings};
use crate::coordination::{Command, Input, Policy};
use crate::event::{Event, EventData};
use crate::ports::{
    AnalyticsStore, AuditLog, CategoryRuleStore, Conduct, ContentStore, FileStore,
    IdempotencyStore, Notifier, Publisher, RecordStore, TransactionStore, VoterConduct,
};
use crate::targets::Role;
use crate::time::Millis;
use crate::wire::{sqs, DecodeError, DeliveredEvent};
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
    + AuditLog
    + VoterConduct
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
        + AuditLog
        + VoterConduct
{
}

/// What a target did with one event: the handler's report (for a log
/// line) and, for the aggregator, the step's commands (the refusals and
/// metrics are the caller's to log and emit).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dispatched {
    pub report: Value,
    pub commands: Vec<Command>,
}

fn silent(why: &str) -> Dispatched {
    Dispatched {
        report: json!({ "silent": why }),
        commands: Vec::new(),
    }
}

/// A handler's report as JSON, for a log line.
pub fn report<T: serde::Serialize>(r: &T) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| json!({ "unserializable": e.to_string() }))
}

/// What reading a delivered body gave (`sqs::decode_body`: the envelope
/// and the typed event inside). A caller that hands one body to several
/// targets (the simulated bus: every rule target, every duplicate and
/// retry) reads it once and gives each invocation the same reading.
pub type Read = Result<(DeliveredEvent, Event), DecodeError>;

/// Reads a delivered body as every target but the audit needs it.
pub fn read_body(body: &str) -> Read {
    sqs::decode_body(body)
}

/// Runs `target`'s handler on a delivered body (an SQS message's body, or
/// the event EventBridge delivered, as text): the one entry of every
/// function, in the Lambdas and in the simulator. The audit target takes
/// the text as it came (it keeps events no other target could read);
/// every other one the decoded event, which is returned for the caller's
/// log.
pub async fn dispatch_text<P: TargetPorts>(
    ports: &P,
    target: &str,
    body: &str,
    now: Millis,
    policy: &Policy,
    settings: &Settings,
) -> Result<(Option<Event>, Dispatched), HandlerError> {
    let read = read_body(body);
    let d = dispatch_read(ports, target, body, &read, now, policy, settings).await?;
    let event = match target_of(target)?.role {
        Role::Audit => None,
        _ => read.ok().map(|(_, event)| event),
    };
    Ok((event, d))
}

/// `dispatch_text` on a body already read (`read` is `read_body(body)`):
/// the same handlers on the same input, without reading the text again.
pub async fn dispatch_read<P: TargetPorts>(
    ports: &P,
    target: &str,
    body: &str,
    read: &Read,
    now: Millis,
    policy: &Policy,
    settings: &Settings,
) -> Result<Dispatched, HandlerError> {
    if target_of(target)?.role == Role::Audit {
        let r = match read {
            Ok((delivered, event)) => {
                let entry = consumers::audit::entry_of_read(delivered, Some(event), body, now);
                Box::pin(consumers::audit::append(ports, entry)).await?
            }
            // Not an event the catalogue reads, or not even an envelope:
            // the audit reads the text itself (and says why it cannot).
            Err(_) => Box::pin(consumers::audit::handle_text(ports, body, now)).await?,
        };
        return Ok(Dispatched {
            report: report(&r),
            commands: Vec::new(),
        });
    }
    let (_, event) = read
        .as_ref()
        .map_err(|e| HandlerError::Permanent(e.to_string()))?;
    dispatch(ports, target, event, now, policy, settings).await
}

fn target_of(name: &str) -> Result<&'static crate::targets::Target, HandlerError> {
    crate::targets::target(name).ok_or_else(|| {
        HandlerError::Permanent(format!("no function is deployed for target {name}"))
    })
}

/// Runs `target`'s handler on a decoded event. The audit target takes the
/// delivered text instead (`dispatch_text`): it keeps events no other
/// target could read.
pub async fn dispatch<P: TargetPorts>(
    ports: &P,
    target: &str,
    event: &Event,
    now: Millis,
    policy: &Policy,
    settings: &Settings,
) -> Result<Dispatched, HandlerError> {
    let s = settings;
    let t = target_of(target)?;
    if let Some(consumer) = t.reports_as {
        // A completion consumer answers a coordination as a voter does, so
        // its conduct is the ports' to say.
        if matches!(event.data, EventData::DeleteRequested(_))
            && ports.conduct(t.name, consumer, now).await.0 == Conduct::Silent
        {
            return Ok(silent("the consumer does not report"));
        }
    }
    let report =
        match t.role {
            Role::Aggregator => {
                let input = Input::from_event(event).ok_or_else(|| {
                    HandlerError::Permanent(format!(
                        "the aggregator has no use for {}",
                        event.event_type()
                    ))
                })?;
                let handled = Box::pin(aggregate(ports, ports, &input, now, policy)).await?;
                let refused: Vec<Value> = handled
                    .refusals()
                    .map(|(event_id, reason)| json!({ "eventId": event_id, "reason": reason }))
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
                    commands: handled.commands,
                });
            }
            Role::Voter(voter) => {
                if let EventData::DeletionRequested(r) = &event.data {
                    if !policy.requires(voter.name(), r) {
                        return Ok(silent(
                            "the policy does not require this voter for this request",
                        ));
                    }
                }
                let (conduct, at) = ports.conduct(t.name, voter.name(), now).await;
                let how = match &conduct {
                    Conduct::OwnWork => Answer::OwnWork,
                    Conduct::Object(reason) => Answer::Object(reason),
                    Conduct::Silent => return Ok(silent("the voter is silent")),
                };
                // The deployed policy says where a voter's votes count from.
                let source = policy
                    .voter_sources
                    .get(voter.name())
                    .map_or(voter.source(), String::as_str);
                let answered = consumers::voter::answer(ports, voter, source, event, at, s, how);
                report(&Box::pin(answered).await?)
            }
            Role::Executor => {
                report(&Box::pin(consumers::executor::handle(ports, event, now, s)).await?)
            }
            Role::Analytics => {
                report(&Box::pin(consumers::analytics::handle(ports, event, now, s)).await?)
            }
            Role::Categorization => {
                report(&Box::pin(consumers::categorization::handle(ports, event, now, s)).await?)
            }
            Role::Notification => {
                report(&Box::pin(consumers::notification::handle(ports, event, now, s)).await?)
            }
            Role::FileProcessor => {
                report(&Box::pin(consumers::file_processor::handle(ports, event, now, s)).await?)
            }
            Role::Audit => return Err(HandlerError::Permanent(
                "the audit keeps the delivered text, not a decoded event: dispatch_text runs it"
                    .to_owned(),
            )),
        };
    Ok(Dispatched {
        report,
        commands: Vec::new(),
    })
}
