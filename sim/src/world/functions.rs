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
use tally_core::coordination::{Command, Flavour, Input};
use tally_core::event::{self, Event, EventData, CURRENT_VERSION};
use tally_core::handlers::dispatch::{dispatch_read, Dispatched};
use tally_core::handlers::HandlerError;
use tally_core::ports::memory::run_ready;
use tally_core::ports::{ContentStore, FileStore, Publisher};
use tally_core::targets::Role;
use tally_core::time::Millis;

impl World {
    /// One invocation of `target`'s function on a delivered body: the
    /// core's dispatch, as the Lambda runs it. Faults come only through the
    /// ports (and the bus that made this delivery).
    pub(crate) async fn invoke(
        &self,
        target: &str,
        body: &super::bus::Parcel,
    ) -> Result<(), HandlerError> {
        if !self.deployed.runs(target) {
            return Ok(());
        }
        let now = self.clock(target);
        let (text, read) = (&body.json, &body.read);
        let d = dispatch_read(self, target, text, read, now, &self.policy, &self.settings).await?;
        let audit = tally_core::targets::target(target).is_some_and(|t| t.role == Role::Audit);
        if let (Ok((_, event)), false) = (read, audit) {
            self.observe_dispatch(target, event, d, now);
        }
        Ok(())
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
        super::lock(&self.content_keys).insert(file_id.to_owned(), key.clone());
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

    /// A client retries its call once a second until it goes through: a
    /// 503 or a 500 (a store that throttled, or denied access while the
    /// swarm's permanent fault was on) is tried again; an answer such as
    /// 404 is not an error and ends it.
    async fn retry_client<F, Fut, T>(&self, mut call: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, HandlerError>>,
    {
        while call().await.is_err() {
            madsim::time::sleep(Duration::from_millis(1_000)).await
        }
    }

    /// Settled: nothing in flight and every registered request decided
    /// with its outbox published.
    pub(crate) fn settled(&self) -> bool {
        self.inflight() == 0
            && self.mem.with_records(|records| {
                records
                    .filter(|r| r.request.is_some())
                    .all(|r| r.is_decided() && r.outbox.is_empty())
            })
    }

    /// Files uploaded by the workload whose metadata is gone.
    /// The adversary of the swarm: while faults are on, every few seconds
    /// it forges votes for each request it has not yet seen (a deny from a
    /// source no voter is bound to, a deny for a voter the request does not
    /// require, a deny about another file from the voter's own source), and
    /// repeats a real vote of each decided request. None of them may
    /// change an outcome; the oracle holds the run to that.
    pub(crate) async fn forge(&self) {
        use crate::observe::Behaviour;
        let mut forged = BTreeSet::new();
        let mut repeated = BTreeSet::new();
        let mut seconded = BTreeSet::new();
        while self.faults_on() {
            madsim::time::sleep(Duration::from_millis(self.draw(2_000, 20_000))).await;
            let decided: BTreeSet<String> = self.mem.with_records(|records| {
                records
                    .filter(|r| r.is_decided())
                    .map(|r| r.request_id.clone())
                    .collect()
            });
            // Only the events the loop below may still act on are copied
            // out of the log (the sets it keeps only grow, so an event
            // left out here would fail its guard there too): a request
            // not yet forged against, a vote of a decided request not yet
            // repeated, any vote of an undecided one.
            let published: Vec<Event> = self
                .observations()
                .published
                .iter()
                .map(|(_, e)| e)
                .filter(|e| match &e.data {
                    EventData::DeletionRequested(r) => !forged.contains(&r.request_id),
                    EventData::DeletionVote(v) => {
                        !decided.contains(&v.request_id) || !repeated.contains(&v.request_id)
                    }
                    _ => false,
                })
                .cloned()
                .collect();
            for e in &published {
                match &e.data {
                    EventData::DeletionRequested(r) if forged.insert(r.request_id.clone()) => {
                        let unrequired = tally_core::targets::VOTERS
                            .iter()
                            .map(|v| v.name)
                            .find(|v| !self.policy.requires(v, r));
                        let bound = |v: &str| {
                            self.policy
                                .voter_sources
                                .get(v)
                                .cloned()
                                .unwrap_or_default()
                        };
                        let mut forgeries = vec![
                            (
                                "category_manager",
                                "forged.service".to_owned(),
                                r.file_id.clone(),
                            ),
                            // A source the rules route (another voter's):
                            // only the aggregator's own check stops it.
                            (
                                "category_manager",
                                bound("analytics_manager"),
                                r.file_id.clone(),
                            ),
                            (
                                "category_manager",
                                bound("category_manager"),
                                format!("{}-other", r.file_id),
                            ),
                        ];
                        if let Some(v) = unrequired {
                            forgeries.push((v, bound(v), r.file_id.clone()));
                        }
                        for (n, (voter, source, file_id)) in forgeries.into_iter().enumerate() {
                            let vote = Event {
                                event_id: tally_core::ids::derive(
                                    "forged",
                                    &[&r.request_id, &n.to_string()],
                                ),
                                event_version: CURRENT_VERSION.to_owned(),
                                timestamp: self.now(),
                                source,
                                user_id: e.user_id.clone(),
                                correlation_id: e.correlation_id.clone(),
                                causation_id: Some(e.event_id.clone()),
                                data: EventData::DeletionVote(event::DeletionVote {
                                    file_id,
                                    request_id: r.request_id.clone(),
                                    voter: voter.to_owned(),
                                    decision: tally_core::event::VoteDecision::Deny,
                                    reason: Some("forged".into()),
                                }),
                                metadata: None,
                            };
                            self.put_event(&vote);
                            self.observations()
                                .coverage
                                .add(Behaviour::ForgedVotePublished, 1);
                        }
                    }
                    EventData::DeletionVote(v)
                        if decided.contains(&v.request_id)
                            && e.source != "forged.service"
                            && repeated.insert(v.request_id.clone()) =>
                    {
                        self.put_event(e);
                    }
                    // A second, opposite vote of a real voter from its own
                    // source (a replayed or buggy voter): its first vote
                    // is the one that counts.
                    EventData::DeletionVote(v)
                        if !decided.contains(&v.request_id)
                            && self.policy.voter_sources.get(&v.voter) == Some(&e.source)
                            && !e.event_id.starts_with("forged")
                            && seconded.insert((v.request_id.clone(), v.voter.clone())) =>
                    {
                        let mut second = e.clone();
                        second.event_id = tally_core::ids::derive("forged-second", &[&e.event_id]);
                        second.timestamp = self.now();
                        if let EventData::DeletionVote(d) = &mut second.data {
                            d.decision = match d.decision {
                                tally_core::event::VoteDecision::Proceed => {
                                    tally_core::event::VoteDecision::Deny
                                }
                                _ => tally_core::event::VoteDecision::Proceed,
                            };
                            d.reason = Some("second thoughts".into());
                        }
                        self.put_event(&second);
                        self.observations()
                            .coverage
                            .add(Behaviour::ForgedVotePublished, 1);
                    }
                    _ => {}
                }
            }
        }
    }

    /// After each handled delivery: the record-level invariants on the
    /// record an aggregator call wrote (every step, not every minute), and
    /// the behaviours the coverage table counts.
    fn observe_dispatch(&self, target: &str, event: &Event, d: Dispatched, now: Millis) {
        use crate::observe::Behaviour;
        let report = &d.report;
        let role = tally_core::targets::target(target).map(|t| t.role);
        match role {
            Some(Role::Aggregator) => {
                let races = report["races"].as_u64().unwrap_or(0);
                let request_id = Input::from_event(event).map(|i| i.request_id().to_owned());
                let found = request_id
                    .as_deref()
                    .and_then(|id| self.mem.record(id))
                    .map(|r| crate::invariants::check_record(&r, &self.policy))
                    .unwrap_or_default();
                let marked_at = self.now();
                let mut obs = self.observations();
                obs.coverage.add(Behaviour::LostRaceRestepped, races);
                if races > 0 {
                    let ids = || crate::timeline::ids_of_data(event.data.clone());
                    let kind = crate::timeline::Kind::LostRace;
                    obs.mark(|| {
                        crate::timeline::Mark::new(
                            marked_at,
                            kind,
                            (&event.event_id, event.event_type(), target),
                            format!("{races} lost, stepped again"),
                        )
                        .about(ids())
                    });
                }
                obs.step_violations.extend(found);
                for c in d.commands {
                    if let Command::Refused { event_id, reason } = c {
                        let request_id = request_id.clone().unwrap_or_default();
                        obs.refusals.push((now, request_id, event_id, reason));
                    }
                }
            }
            Some(Role::Executor) => {
                let again = report["report"] == "already_executed" || report["resumed"] == true;
                if again {
                    self.observations()
                        .coverage
                        .add(Behaviour::DuplicateApprovalAtExecutor, 1);
                }
            }
            // Every request a voter handled gets a vote, and always the
            // same one (one id per request and voter, whatever the
            // deliveries): what each-voter-votes-once holds it to.
            Some(Role::Voter(_)) if report["report"] == "voted" => {
                let key = (
                    report["request_id"].as_str().unwrap_or_default().to_owned(),
                    report["voter"].as_str().unwrap_or_default().to_owned(),
                );
                let vote_id = report["vote_id"].as_str().unwrap_or_default().to_owned();
                self.observations()
                    .voted
                    .entry(key)
                    .or_default()
                    .insert(vote_id);
            }
            _ => {}
        }
    }

    /// What the oracle needs of the world: its clocks and the end state of
    /// every file the run uploaded.
    pub(crate) fn view(&self) -> crate::oracle::WorldView {
        let uploaded = super::lock(&self.uploaded).clone();
        let txs = self.mem.transactions_per_file();
        let content_keys = super::lock(&self.content_keys);
        let files = uploaded
            .into_iter()
            .map(|f| {
                let meta = run_ready(self.mem.get_file(&f)).ok().flatten();
                let state = crate::oracle::FileState {
                    metadata: meta.is_some(),
                    transactions: txs.get(&f).copied().unwrap_or(0),
                    content: self
                        .mem
                        .has_content(content_keys.get(&f).map_or("", String::as_str)),
                };
                (f, state)
            })
            .collect();
        drop(content_keys);
        crate::oracle::WorldView {
            aggregator_skew: self.skew.get("aggregator").copied().unwrap_or(0),
            sweeper_skew: self.skew.get("sweeper").copied().unwrap_or(0),
            files,
            rules: None,
        }
    }

    pub(crate) fn deleted_files(&self) -> BTreeSet<String> {
        let uploaded = super::lock(&self.uploaded).clone();
        uploaded
            .into_iter()
            .filter(|f| run_ready(self.mem.get_file(f)).is_ok_and(|m| m.is_none()))
            .collect()
    }
}
