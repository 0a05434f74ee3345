//! The Lambda functions of the deployment, as the bus invokes them: decode
//! the delivered event (as an SQS body), run the core's handler for the
//! target over the world's ports. Several invocations of one function run
//! at once; the ports' latency lets them interleave. Also the workload's
//! own actions: uploads, deletion requests through the API, ordinary
//! traffic.

use super::World;
use std::collections::BTreeSet;
use std::time::Duration;
use tally_core::consumers;
use tally_core::coordination::{Effect, Flavour, Input};
use tally_core::event::{self, Event, EventData, CURRENT_VERSION};
use tally_core::handlers::dispatch::dispatch;
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::run_ready;
use tally_core::ports::{ContentStore, FileStore, Publisher};
use tally_core::wire::sqs;

impl World {
    pub(crate) async fn invoke(&self, target: &str, body: &str) -> Result<(), HandlerError> {
        let now = self.clock(target);
        if self.replaying.load(std::sync::atomic::Ordering::SeqCst)
            && !matches!(target, "aggregator" | "executor" | "audit")
        {
            return Ok(());
        }
        if target == "audit" {
            return consumers::audit::handle_text(self, body, now)
                .await
                .map(|_| ());
        }
        let (_, event) =
            sqs::decode_body(body).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        match target {
            "analytics_voter" | "category_voter" | "backup_voter" | "compliance_voter" => {
                self.vote(target, &event, now).await
            }
            // In the completion flavour these two report back like voters, and
            // the voter faults (and scripted scenarios) apply to their reports.
            "analytics" | "categorization"
                if matches!(event.data, EventData::DeleteRequested(_)) && !self.reports(target) =>
            {
                Ok(())
            }
            _ => {
                let d = dispatch(self, target, &event, now, &self.policy, &self.settings).await?;
                for e in d.effects {
                    if let Effect::Refused { event_id, reason } = e {
                        let request_id = Input::from_event(&event)
                            .map(|i| i.request_id().to_owned())
                            .unwrap_or_default();
                        self.observations()
                            .refusals
                            .push((now, request_id, event_id, reason));
                    }
                }
                Ok(())
            }
        }
    }

    /// A voter function, with the voter faults of the run's mix: a stalled
    /// voter returns without voting (the failure mode the deadline exists
    /// for), a slow one pauses first, a denying one objects to everything.
    async fn vote(&self, target: &str, event: &Event, now: i64) -> Result<(), HandlerError> {
        let voter = tally_core::handlers::dispatch::voter_of(target).expect("a voter target");
        let name = Some(voter.name().to_owned());
        if !self
            .automatic_voters
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        if let EventData::DeletionRequested(r) = &event.data {
            if !self.policy.requires(voter.name(), r) {
                return Ok(());
            }
        }
        if self.faults_on() && self.mix.stalled_voter == name {
            return Ok(());
        }
        if self.faults_on() && self.mix.slow_voter == name {
            let pause = self.policy.voting.deadline_ms as u64 * 3 / 2;
            madsim::time::sleep(Duration::from_millis(self.draw(pause / 2, pause))).await;
        }
        let how = if self.faults_on() && self.mix.denying_voter == name {
            consumers::voter::Answer::Object("simulated objection")
        } else {
            consumers::voter::Answer::OwnWork
        };
        consumers::voter::answer(
            self,
            voter,
            event,
            self.clock(target).max(now),
            &self.settings,
            how,
        )
        .await
        .map(|_| ())
    }

    /// Whether a completion consumer reports this time: not when scenarios
    /// script the reports, not when the run stalls it.
    fn reports(&self, target: &str) -> bool {
        let consumer = if target == "analytics" {
            "analytics_consumer"
        } else {
            "categorization_consumer"
        };
        self.automatic_voters
            .load(std::sync::atomic::Ordering::SeqCst)
            && !(self.faults_on() && self.mix.stalled_voter.as_deref() == Some(consumer))
    }

    /// Each user has an account and two category rules.
    pub(crate) fn seed_users(&self, users: &[String]) {
        for u in users {
            for rule in crate::scenario::seed_rules(u) {
                self.mem.add_rule(rule);
            }
        }
    }

    /// A user uploads a file of `lines` transactions: content and metadata
    /// land, S3 notifies the object-created handler, and the pipeline takes
    /// it from there.
    pub(crate) async fn upload(
        &self,
        file_id: &str,
        owner: &str,
        lines: usize,
        account_type: Option<&str>,
    ) {
        let csv = crate::scenario::upload_csv(lines);
        let meta = crate::scenario::upload_meta(file_id, owner, account_type);
        let key = meta.s3_key.clone();
        // The upload itself is the user's request: it is retried until the
        // stores take it (faults may throttle them).
        loop {
            let put = async {
                self.put_content(&key, csv.as_bytes()).await?;
                self.put_file(&meta).await
            };
            if put.await.is_ok() {
                break;
            }
            madsim::time::sleep(Duration::from_millis(1_000)).await;
        }
        super::lock(&self.uploaded).insert(file_id.to_owned());
        let sequencer = format!("{:016x}", self.draw(0, u64::MAX));
        let notice = consumers::file_processor::ObjectCreated {
            bucket: "tally-files".into(),
            key,
            size: csv.len() as u64,
            sequencer: Some(sequencer),
        };
        self.retry_client(|| {
            consumers::file_processor::object_created(self, &notice, self.clock("api"))
        })
        .await;
    }

    /// DELETE /files/{id} by `caller`, retried by the client while it fails.
    pub(crate) async fn delete_file(&self, file_id: &str, caller: &str, flavour: Flavour) {
        let cfg = consumers::api::ApiConfig {
            flavour,
            ..Default::default()
        };
        let req = consumers::api::ApiRequest {
            method: "DELETE".into(),
            path: format!("/files/{file_id}"),
            caller: Some(caller.into()),
        };
        // Each attempt is a new HTTP request, so a new invocation with its
        // own entropy, as in Lambda: a retry after a lost response starts a
        // second coordination (the API's module comment says why that is
        // right), never a second event under the first one's id.
        let mut first = Some(self.entropy());
        self.retry_client(|| {
            let entropy = first.take().unwrap_or_else(|| self.entropy());
            consumers::api::handle(self, &req, self.clock("api"), entropy, &cfg)
        })
        .await;
    }

    /// Ordinary traffic: a transaction edit or an account update.
    pub(crate) async fn ordinary_traffic(&self, n: usize, user: &str) {
        let data = if n.is_multiple_of(2) {
            EventData::AccountUpdated(event::AccountUpdated {
                account_id: format!("acc-{user}"),
                changes: vec![event::FieldChange {
                    field: "name".into(),
                    old_value: "Checking".into(),
                    new_value: format!("Checking {n}").into(),
                }],
            })
        } else {
            EventData::TransactionUpdated(event::TransactionUpdated {
                transaction_id: format!("tx-{n}"),
                account_id: format!("acc-{user}"),
                changes: vec![event::FieldChange {
                    field: "memo".into(),
                    old_value: serde_json::Value::Null,
                    new_value: "edited".into(),
                }],
            })
        };
        let source = if n.is_multiple_of(2) {
            event::sources::ACCOUNT_SERVICE
        } else {
            event::sources::TRANSACTION_SERVICE
        };
        let ev = Event {
            event_id: format!("evt-traffic-{n}"),
            event_version: CURRENT_VERSION.into(),
            timestamp: self.now(),
            source: source.into(),
            user_id: user.into(),
            correlation_id: None,
            causation_id: None,
            data,
            metadata: None,
        };
        self.retry_client(|| async {
            self.publish(std::slice::from_ref(&ev))
                .await
                .map_err(HandlerError::from)
        })
        .await;
    }

    /// A client retries its call once a second until it goes through.
    async fn retry_client<F, Fut, T>(&self, mut call: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, HandlerError>>,
    {
        loop {
            match call().await {
                Ok(_) => return,
                Err(HandlerError::Permanent(_)) => return,
                Err(HandlerError::Transient(_)) => {
                    madsim::time::sleep(Duration::from_millis(1_000)).await
                }
            }
        }
    }

    /// Settled: nothing in flight and every registered request decided
    /// with its outbox published.
    pub(crate) fn settled(&self) -> bool {
        self.inflight() == 0
            && self
                .mem
                .records()
                .iter()
                .filter(|r| r.request.is_some())
                .all(|r| r.is_decided() && r.outbox.is_empty())
    }

    /// Files uploaded by the workload whose metadata is gone.
    pub(crate) fn deleted_files(&self) -> BTreeSet<String> {
        let uploaded = super::lock(&self.uploaded).clone();
        uploaded
            .into_iter()
            .filter(|f| run_ready(self.mem.get_file(f)).is_ok_and(|m| m.is_none()))
            .collect()
    }
}
