//! The aggregator: load the record, step, carry out the step's commands:
//! write it back on the version it read (a lost race re-reads and
//! re-steps), publish the outbox, and step the publish's completion, which
//! clears it.
//! A crash between any two of these loses nothing: the outbox is in the
//! record, and the redelivered input (a duplicate to the step) finds it and
//! publishes it again with the same event ids.

use super::HandlerError;
use crate::coordination::{step, Command, Input, Policy, Record, Step};
use crate::ports::{PortError, Publisher, RecordStore};
use crate::time::Millis;

/// How many lost races a handler re-steps before handing the input back
/// to the bus as a transient failure.
pub const MAX_RACES: usize = 16;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handled {
    /// The step's commands (the save and publish carried out; the
    /// refusals to audit and the metrics to emit are left to the caller).
    pub commands: Vec<Command>,
    /// The record as written, if there is one.
    pub record: Option<Record>,
    /// How many lost races it took.
    pub races: usize,
    /// Events published by this call (new ones and any left in the outbox).
    pub published: usize,
}

impl Handled {
    /// The refusals, as (event id, reason).
    pub fn refusals(&self) -> impl Iterator<Item = (&str, &str)> {
        self.commands.iter().filter_map(|c| match c {
            Command::Refused { event_id, reason } => Some((event_id.as_str(), reason.as_str())),
            _ => None,
        })
    }
}

/// The aggregator's one loop: step the input on the stored record and
/// carry out the commands: the save (a lost race re-reads and re-steps),
/// then the publish, whose completion is itself an input stepped the same
/// way.
pub async fn aggregate<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    input: &Input,
    now: Millis,
    policy: &Policy,
) -> Result<Handled, HandlerError> {
    let (s, races) = settle(store, input, now, policy).await?;
    let published = s.to_publish().map_or(0, <[String]>::len);
    let Some(mut record) = s.record else {
        return Ok(Handled {
            commands: s.commands,
            ..Handled::default()
        });
    };
    if published > 0 {
        record = flush_outbox(store, bus, record, now, policy).await?;
    }
    Ok(Handled {
        commands: s.commands,
        record: Some(record),
        races,
        published,
    })
}

/// Publishes what the outbox holds, then steps the publish's completion
/// (`Input::Published`), which takes those events out of the newest
/// version of the record (another writer may have moved it meanwhile).
pub async fn flush_outbox<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    record: Record,
    now: Millis,
    policy: &Policy,
) -> Result<Record, HandlerError> {
    if record.outbox.is_empty() {
        return Ok(record);
    }
    bus.publish(&record.outbox).await?;
    let done = Input::Published {
        request_id: record.request_id.clone(),
        event_ids: record.outbox.iter().map(|e| e.event_id.clone()).collect(),
    };
    // The first try steps the record in hand; only a lost race reloads.
    let s = step(Some(record), &done, now, policy);
    let (Some(expected), Some(cleared)) = (s.save(), s.record.as_ref()) else {
        return Ok(s.record.expect("a record in, a record out"));
    };
    match store.save(cleared, expected).await {
        Ok(()) => Ok(s.record.expect("saved just now")),
        Err(PortError::Conflict(_)) => {
            let (newer, _) = settle(store, &done, now, policy).await?;
            Ok(newer.record.or(s.record).expect("one of them is there"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Steps `input` on the record as loaded and saves what the step
/// changed, on the version it read; a lost race loads the newer record and
/// steps again. Returns the step that was saved (or needed no save).
async fn settle<S: RecordStore>(
    store: &S,
    input: &Input,
    now: Millis,
    policy: &Policy,
) -> Result<(Step, usize), HandlerError> {
    for races in 0..MAX_RACES {
        let loaded = store.load(input.request_id()).await?;
        let s = step(loaded, input, now, policy);
        let (Some(expected), Some(record)) = (s.save(), s.record.as_ref()) else {
            return Ok((s, races));
        };
        match store.save(record, expected).await {
            Ok(()) => return Ok((s, races)),
            Err(PortError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(HandlerError::Transient(format!(
        "lost {MAX_RACES} races for record {}",
        input.request_id()
    )))
}

/// The sweeper: delivers a timer input for every waiting record whose
/// deadline has passed, and publishes what any record still holds in its
/// outbox (a timer decision whose publish died is never redelivered, so
/// the sweeper is what finishes it). Returns the records it visited that
/// are decided.
pub async fn sweep<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    now: Millis,
    policy: &Policy,
    limit: usize,
) -> Result<Vec<Record>, HandlerError> {
    let handled = sweep_handled(store, bus, now, policy, limit).await?;
    Ok(handled
        .into_iter()
        .filter_map(|h| h.record.filter(Record::is_decided))
        .collect())
}

/// [`sweep`], answering what each visit did: its commands too (the
/// metrics of a timeout are the sweeper's to report).
pub async fn sweep_handled<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    now: Millis,
    policy: &Policy,
    limit: usize,
) -> Result<Vec<Handled>, HandlerError> {
    let mut handled = Vec::new();
    for request_id in store.due(now, limit).await? {
        handled.push(aggregate(store, bus, &Input::Timer { request_id }, now, policy).await?);
    }
    Ok(handled)
}
