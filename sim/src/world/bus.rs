//! The simulated EventBridge bus: routes every event with the rules file and
//! the core's matcher, and delivers it to each target at least once —
//! after a delay (so events reorder), sometimes twice, retried with
//! exponential backoff and full jitter up to the rule's maximum attempts
//! and maximum event age, then into the rule's dead-letter queue.

use super::{lock, DeadLetter, World};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tally_core::event::Event;
use tally_core::handlers::dispatch::{read_body, Read};
use tally_core::handlers::HandlerError;
use tally_core::ids;
use tally_core::wire::{DeliveredEvent, Delivery};

/// The most a retry `n` (1-based) waits: 1 s for the first, doubling,
/// capped at 5 minutes. EventBridge documents "exponential back off and
/// jitter" and points to AWS's full-jitter scheme, which waits a uniform
/// draw from nothing up to this bound (`retry_wait_ms`).
fn backoff_ms(attempt: u32) -> u64 {
    (1000u64 << attempt.saturating_sub(1).min(16)).min(300_000)
}

/// One event as the bus carries it: the delivered JSON text (what the
/// matcher routes, the audit keeps and a dead letter holds) and the typed
/// event with its envelope, as reading that text gives them (`read_body`),
/// shared by every target, duplicate and retry of the event.
pub(crate) struct Parcel {
    pub json: Arc<str>,
    pub read: Read,
}

impl Parcel {
    /// The parcel of an event the bus wrapped itself: the text is written
    /// once and never read back, as it reads back as exactly the values it
    /// was written from (every debug build, the whole test suite included,
    /// reads it back to hold the encoder to that).
    fn wrapped(event: &Event, delivered: DeliveredEvent) -> Arc<Parcel> {
        let json: Arc<str> = delivered.to_json().into();
        let read = Ok((delivered, event.clone()));
        debug_assert!(
            read_body(&json).ok() == read.as_ref().ok().cloned(),
            "the delivered text of {} does not read back as the event it was written from",
            event.event_id
        );
        Arc::new(Parcel { json, read })
    }

    /// The parcel of a text from elsewhere (a redriven dead letter), read.
    pub(crate) fn read(json: Arc<str>) -> Arc<Parcel> {
        let read = read_body(&json);
        Arc::new(Parcel { json, read })
    }
}

impl World {
    /// PutEvents for one event: record it, wrap it as EventBridge delivers
    /// it, route it, and schedule a delivery to every target it matches.
    pub(crate) fn put_event(&self, event: &Event) {
        let now = self.now();
        let seq = self.bus_seq.fetch_add(1, Ordering::SeqCst);
        // EventBridge gives every accepted entry a new id; ours is derived,
        // so the run stays a function of its seed.
        let id = ids::derive("eb", &[&event.event_id, &seq.to_string()]);
        let parcel = Parcel::wrapped(
            event,
            DeliveredEvent::wrap(event, &id, &Delivery::default()),
        );
        self.observations().published.push((now, event.clone()));
        let mut hits = Vec::new();
        let routed = {
            let mut scratch = lock(&self.scratch);
            self.rules
                .route(parcel.json.as_bytes(), &mut scratch, &mut hits)
        };
        if let Err(e) = routed {
            // Our own encoder wrote this JSON; an error is a matcher bug and
            // must not pass unseen.
            panic!("the matcher rejected an event the encoder wrote: {e}");
        }
        if !hits.is_empty() {
            let mut obs = self.observations();
            let routed = obs.routed.entry(event.event_id.clone()).or_default();
            for &rule in &hits {
                routed.extend(self.rules.rules[rule].targets.iter().cloned());
            }
        }
        for rule in hits {
            for target in self.rules.rules[rule].targets.clone() {
                // Each copy's delay: a burst's three share one, so they
                // race on every conditional write the handler makes; a
                // duplicate draws its own.
                let copies = if self.faults_on() && self.fault(self.mix.burst_rate) {
                    let at = self.draw(0, self.mix.max_delay_ms.max(50));
                    vec![Some(at); 3]
                } else if self.fault(self.mix.duplicate_rate) {
                    vec![None, None]
                } else {
                    vec![None]
                };
                let mut obs = self.observations();
                obs.duplicates += copies.len() as u64 - 1;
                if copies.len() > 1 {
                    let kind = if copies.len() == 3 {
                        crate::timeline::Kind::Burst
                    } else {
                        crate::timeline::Kind::Duplicate
                    };
                    let now = self.now();
                    obs.mark(|| {
                        crate::timeline::Mark::new(
                            now,
                            kind,
                            (&event.event_id, event.event_type(), &target),
                            format!("{} copies to {target}", copies.len()),
                        )
                        .about(crate::timeline::ids_of_data(event.data.clone()))
                    });
                }
                drop(obs);
                for delay in copies {
                    self.schedule(
                        parcel.clone(),
                        event.event_id.clone(),
                        event.event_type().to_owned(),
                        rule,
                        target.clone(),
                        delay,
                    );
                }
            }
        }
    }

    /// Schedules one delivery after `delay` (a burst's copies share one),
    /// or after a delay drawn when it starts.
    pub(crate) fn schedule(
        &self,
        parcel: Arc<Parcel>,
        event_id: String,
        event_type: String,
        rule: usize,
        target: String,
        delay: Option<u64>,
    ) {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        self.observations().scheduled += 1;
        let world = self.arc();
        madsim::task::spawn(async move {
            world
                .deliver(parcel, event_id, event_type, rule, target, delay)
                .await;
            world.inflight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    async fn deliver(
        &self,
        parcel: Arc<Parcel>,
        event_id: String,
        event_type: String,
        rule: usize,
        target: String,
        delay: Option<u64>,
    ) {
        let json = &parcel.json;
        let max_delay = if self.faults_on() {
            self.mix.max_delay_ms
        } else {
            0
        };
        // A little jitter always, so that even a calm run interleaves.
        let wait = delay.unwrap_or_else(|| self.draw(0, max_delay.max(50)));
        madsim::time::sleep(Duration::from_millis(wait)).await;
        if self.faults_on()
            && self.mix.request_delay_ms > 0
            && target == "aggregator"
            && matches!(
                event_type.as_str(),
                "file.deletion.requested" | "file.delete_requested"
            )
        {
            let late = self.draw(0, self.mix.request_delay_ms);
            madsim::time::sleep(Duration::from_millis(late)).await;
        }
        let dead = |reason: String| DeadLetter {
            at: self.now(),
            rule: self.rules.rules[rule].name.clone(),
            target: target.clone(),
            event_id: event_id.clone(),
            event_type: event_type.clone(),
            reason,
            json: json.clone(),
        };
        if self.fault(self.mix.drop_rate) {
            self.dead_letter(dead("dropped: ran out of retries (injected loss)".into()));
            return;
        }
        let retry = self.rules.rules[rule].retry;
        let first = self.now();
        let mut attempt = 0u32;
        loop {
            let started = self.now();
            let result = if self.fault(self.mix.invoke_failure_rate) {
                Err(HandlerError::Transient(
                    "simulated throttling of the invocation".into(),
                ))
            } else {
                if target == "aggregator" {
                    // Begun: from here the input may count, whatever
                    // becomes of this invocation (the checks run while it
                    // is in flight).
                    self.observations()
                        .aggregated
                        .push(crate::observe::Aggregated {
                            start: started,
                            end: started,
                            event_id: event_id.clone(),
                            ok: false,
                        });
                }
                self.invoke(&target, &parcel).await
            };
            match result {
                Ok(()) => {
                    let now = self.now();
                    let mut obs = self.observations();
                    obs.consumed += 1;
                    if target == "aggregator" {
                        obs.aggregated.push(crate::observe::Aggregated {
                            start: started,
                            end: now,
                            event_id: event_id.clone(),
                            ok: true,
                        });
                    }
                    if let Some(list) = obs.deliveries.as_mut() {
                        let source = crate::envelope_scan::top(json)
                            .map_or_else(String::new, |t| t.source.to_owned());
                        list.push(crate::observe::Delivered {
                            at: now,
                            event_id: event_id.clone(),
                            event_type: event_type.clone(),
                            source,
                            target: target.clone(),
                            json: json.clone(),
                        });
                    }
                    return;
                }
                Err(HandlerError::Permanent(reason)) => {
                    self.dead_letter(dead(format!("permanent: {reason}")));
                    return;
                }
                Err(HandlerError::Transient(reason)) => {
                    let now = self.now();
                    {
                        let mut obs = self.observations();
                        obs.transient_failures += 1;
                        let kind = if reason.contains("simulated crash") {
                            crate::timeline::Kind::Crash
                        } else {
                            crate::timeline::Kind::Retry
                        };
                        obs.mark(|| {
                            crate::timeline::Mark::new(
                                now,
                                kind,
                                (&event_id, &event_type, &target),
                                reason.clone(),
                            )
                            .about(crate::timeline::ids_of(json))
                        });
                    }
                    attempt += 1;
                    let wait = self.draw(0, backoff_ms(attempt));
                    let age_after = (self.now() - first) as u64 + wait;
                    if attempt > retry.maximum_retry_attempts
                        || age_after > retry.maximum_event_age_seconds as u64 * 1000
                    {
                        self.dead_letter(dead(format!(
                            "ran out of retries after {attempt} attempts: {reason}"
                        )));
                        return;
                    }
                    madsim::time::sleep(Duration::from_millis(wait)).await;
                }
            }
        }
    }

    /// A delivery to the dead-letter queue, marked where it happened.
    fn dead_letter(&self, d: DeadLetter) {
        let mut obs = self.observations();
        let json = d.json.clone();
        obs.mark(|| {
            crate::timeline::Mark::new(
                d.at,
                crate::timeline::Kind::DeadLetter,
                (&d.event_id, &d.event_type, &d.target),
                d.reason.clone(),
            )
            .about(crate::timeline::ids_of(&json))
        });
        obs.dead_letters.push(d);
    }

    /// An operator's redrive: every dead letter is delivered again.
    pub fn redrive(&self) {
        let letters = std::mem::take(&mut self.observations().dead_letters);
        self.observations().redriven += letters.len() as u64;
        for d in letters {
            let rule = self
                .rules
                .rules
                .iter()
                .position(|r| r.name == d.rule)
                .expect("dead letters name real rules");
            self.schedule(
                Parcel::read(d.json),
                d.event_id,
                d.event_type,
                rule,
                d.target,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn the_first_retry_waits_at_most_a_second_and_the_bound_doubles_to_five_minutes() {
        assert_eq!(backoff_ms(1), 1_000);
        assert_eq!(backoff_ms(2), 2_000);
        assert_eq!(backoff_ms(3), 4_000);
        assert_eq!(backoff_ms(9), 256_000);
        assert_eq!(backoff_ms(10), 300_000);
        assert_eq!(backoff_ms(185), 300_000);
    }
}
