//! The aggregator: load the record, step, write it back on the version it
//! read (a lost race re-reads and re-steps), publish the outbox, clear it.
//! A crash between any two of these loses nothing: the outbox is in the
//! record, and the redelivered input (a duplicate to the step) finds it and
//! publishes it again with the same event ids.

use super::HandlerError;
use crate::coordination::{step, Effect, Input, Policy, Record};
use crate::ports::{PortError, Publisher, RecordStore};
use crate::time::Millis;

/// How many lost races a handler re-steps before handing the input back
/// to the bus as a transient failure.
pub const MAX_RACES: usize = 16;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handled {
    /// The step's effects (deadlines to arm, metrics, refusals to audit).
    pub effects: Vec<Effect>,
    /// The record as written, if there is one.
    pub record: Option<Record>,
    /// How many lost races it took.
    pub races: usize,
    /// Events published by this call (new ones and any left in the outbox).
    pub published: usize,
}

pub async fn aggregate<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    input: &Input,
    now: Millis,
    policy: &Policy,
) -> Result<Handled, HandlerError> {
    for races in 0..MAX_RACES {
        let loaded = store.load(input.request_id()).await?;
        let expected = loaded.as_ref().map_or(0, |r| r.version);
        let s = step(loaded, input, now, policy);
        let Some(record) = s.record else {
            return Ok(Handled {
                effects: s.effects,
                record: None,
                races,
                published: 0,
            });
        };
        if s.changed {
            match store.save(&record, expected).await {
                Ok(()) => {}
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let published = record.outbox.len();
        let record = flush_outbox(store, bus, record).await?;
        return Ok(Handled {
            effects: s.effects,
            record: Some(record),
            races,
            published,
        });
    }
    Err(HandlerError::Transient(format!(
        "lost {MAX_RACES} races for record {}",
        input.request_id()
    )))
}

/// Publishes what the outbox holds, then clears it with a versioned write.
/// If another writer moved the record meanwhile, only the events this call
/// published are removed from the newer version.
pub async fn flush_outbox<S: RecordStore, P: Publisher>(
    store: &S,
    bus: &P,
    mut record: Record,
) -> Result<Record, HandlerError> {
    if record.outbox.is_empty() {
        return Ok(record);
    }
    bus.publish(&record.outbox).await?;
    let sent: Vec<String> = record.outbox.iter().map(|e| e.event_id.clone()).collect();
    for _ in 0..MAX_RACES {
        let expected = record.version;
        record.outbox.retain(|e| !sent.contains(&e.event_id));
        record.version += 1;
        match store.save(&record, expected).await {
            Ok(()) => return Ok(record),
            Err(PortError::Conflict(_)) => match store.load(&record.request_id).await? {
                Some(newer) if newer.outbox.iter().any(|e| sent.contains(&e.event_id)) => {
                    record = newer
                }
                Some(newer) => return Ok(newer),
                None => return Ok(record),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Err(HandlerError::Transient(format!(
        "could not clear the outbox of {}",
        record.request_id
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

/// [`sweep`], answering what each visit did: its effects too (the
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
