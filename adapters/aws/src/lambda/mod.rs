//! The Lambda functions. `run(name)` is each binary's whole `main`: read
//! the configuration (failing at start with the variable named), build the
//! clients once, then serve invocations. `App::invoke` is the same code
//! without the runtime, so the tests drive it with the payloads Lambda
//! would pass: SQS batches (with partial batch failures), events straight
//! from EventBridge, API Gateway proxy requests, S3 notifications and
//! schedule ticks.

pub mod deliver;
pub mod observe;
pub mod payload;

use crate::{AwsPorts, Clients, Config};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use deliver::{deliver, Delivered};
use payload::Payload;
use serde_json::{json, Value};
use tally_core::consumers::{self, api};
use tally_core::coordination::{Command, Metric};
use tally_core::handlers::aggregator::{sweep_handled, Handled};
use tally_core::handlers::HandlerError;
use tally_core::time::Millis;
use tally_deploy::{Function, Trigger};

/// How many records one sweeper tick visits; the rest wait for the next.
pub const SWEEP_LIMIT: usize = 200;

pub struct App {
    pub function: &'static Function,
    pub cfg: Config,
    pub ports: AwsPorts,
}

/// What an invocation answers, and whether Lambda should treat it as failed
/// (a direct EventBridge delivery retries, then dead-letters, on an error).
#[derive(Debug)]
pub enum Answer {
    Ok(Value),
    Failed(HandlerError),
}

impl App {
    pub fn new(function: &'static Function, cfg: Config, clients: Clients) -> App {
        let ports = AwsPorts::new(clients, &cfg);
        App {
            function,
            cfg,
            ports,
        }
    }

    fn target(&self) -> &'static str {
        self.function.target_name().unwrap_or(self.function.name)
    }

    pub async fn invoke(&self, text: &str, now: Millis) -> Answer {
        let payload = match Payload::parse(text) {
            Ok(p) => p,
            Err(why) => {
                tracing::error!(function = self.function.name, error = %why, "refused payload");
                return Answer::Failed(HandlerError::Permanent(why));
            }
        };
        match (self.function.trigger, payload) {
            (Trigger::Rules, Payload::Sqs(records)) => {
                let mut failures = Vec::new();
                for r in records {
                    // A failed message is retried and, after the queue's
                    // maxReceiveCount, dead-lettered.
                    let handled = self.deliver_logged(&r.body, now, Some(&r.message_id)).await;
                    if handled.is_err() {
                        failures.push(r.message_id);
                    }
                }
                let mut response = SqsBatchResponse::default();
                response.batch_item_failures = failures
                    .into_iter()
                    .map(|id| {
                        let mut f = BatchItemFailure::default();
                        f.item_identifier = id;
                        f
                    })
                    .collect();
                Answer::Ok(serde_json::to_value(response).expect("serializable"))
            }
            (Trigger::Rules, Payload::EventBridge(text)) => {
                match self.deliver_logged(&text, now, None).await {
                    Ok(_) => Answer::Ok(json!({})),
                    Err(e) => Answer::Failed(e),
                }
            }
            (Trigger::Api, Payload::Api(req)) => Answer::Ok(self.api(req, now).await),
            (Trigger::Schedule, _) => match self.sweep(now).await {
                Ok(v) => Answer::Ok(v),
                Err(e) => Answer::Failed(e),
            },
            (Trigger::ObjectCreated, Payload::S3(objects)) => {
                let mut reports = Vec::new();
                for obj in objects {
                    match Box::pin(consumers::file_processor::object_created(
                        &self.ports,
                        &obj,
                        now,
                    ))
                    .await
                    {
                        Ok(r) => {
                            tracing::info!(function = self.function.name, key = %obj.key, report = %json!(r), "object created");
                            reports.push(json!(r));
                        }
                        Err(e) => {
                            tracing::error!(function = self.function.name, key = %obj.key, error = %e, "object created failed");
                            return Answer::Failed(e);
                        }
                    }
                }
                Answer::Ok(json!({ "reports": reports }))
            }
            (trigger, p) => {
                let why = format!(
                    "function {} ({trigger:?}) cannot take a {} payload",
                    self.function.name,
                    p.kind()
                );
                tracing::error!(function = self.function.name, error = %why, "refused payload");
                Answer::Failed(HandlerError::Permanent(why))
            }
        }
    }

    async fn deliver_logged(
        &self,
        text: &str,
        now: Millis,
        message_id: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        let name = self.function.name;
        match Box::pin(deliver(&self.ports, &self.cfg, self.target(), text, now)).await {
            Ok(d) => {
                tracing::info!(
                    function = name,
                    messageId = message_id,
                    eventId = d.event_id.as_deref(),
                    eventType = d.event_type.as_deref(),
                    requestId = d.request_id.as_deref(),
                    correlationId = d.correlation_id.as_deref(),
                    report = %d.report,
                    "handled"
                );
                let mut metrics = d.metrics.clone();
                metrics.push(observe::count(tally_deploy::metrics::HANDLED, 1));
                self.emit(&metrics, now);
                Ok(d)
            }
            Err(e) => {
                tracing::error!(
                    function = name,
                    messageId = message_id,
                    transient = e.is_transient(),
                    error = %e,
                    "failed"
                );
                let name = if e.is_transient() {
                    tally_deploy::metrics::RETRIED
                } else {
                    tally_deploy::metrics::REJECTED
                };
                self.emit(&[observe::count(name, 1)], now);
                Err(e)
            }
        }
    }

    fn emit(&self, metrics: &[Metric], now: Millis) {
        for line in observe::emf(&self.cfg.deployed_name, metrics, now) {
            println!("{line}");
        }
    }

    async fn api(&self, req: api::ApiRequest, now: Millis) -> Value {
        let mut entropy = [0u8; 16];
        let response = match getrandom::fill(&mut entropy) {
            Ok(()) => Box::pin(api::handle(&self.ports, &req, now, entropy, &self.cfg.api))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(function = "api", path = %req.path, error = %e, "failed");
                    api::ApiResponse::from_error(&e)
                }),
            Err(e) => {
                let e = HandlerError::Transient(format!("no entropy for a requestId: {e}"));
                tracing::error!(function = "api", error = %e, "failed");
                api::ApiResponse::from_error(&e)
            }
        };
        // A new request's id is also its correlationId.
        let request_id = response.body.get("requestId").and_then(|v| v.as_str());
        tracing::info!(
            function = "api",
            method = %req.method,
            path = %req.path,
            status = response.status,
            requestId = request_id,
            correlationId = request_id,
            "answered"
        );
        payload::api_response(&response)
    }

    async fn sweep(&self, now: Millis) -> Result<Value, HandlerError> {
        let handled = Box::pin(sweep_handled(
            &self.ports,
            &self.ports,
            now,
            &self.cfg.policy,
            SWEEP_LIMIT,
        ))
        .await?;
        let ids: Vec<&str> = handled
            .iter()
            .filter_map(|h| h.record.as_ref().filter(|r| r.is_decided()))
            .map(|r| r.request_id.as_str())
            .collect();
        tracing::info!(function = "sweeper", decided = ?ids, "swept");
        self.emit(&sweep_metrics(&handled, ids.len()), now);
        Ok(json!({ "decided": ids }))
    }
}

/// What a sweep tells CloudWatch: the metrics of every step it took (a
/// timeout is decided here, not in the aggregator, so VoterTimeout and its
/// denial are the sweeper's to write) and how many records it decided.
pub fn sweep_metrics(handled: &[Handled], decided: usize) -> Vec<Metric> {
    let mut metrics: Vec<Metric> = handled
        .iter()
        .flat_map(|h| &h.commands)
        .filter_map(|c| match c {
            Command::Metric(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    metrics.push(observe::count(tally_deploy::metrics::SWEPT, decided as u64));
    metrics
}

/// Milliseconds since the epoch: the one clock, read at the edge.
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Each binary's whole `main`. The runtime is built and blocked on here,
/// in the library, so that the handlers' futures are compiled once, not
/// once per binary (release builds do not share generic instances, and a
/// function this small would otherwise be inlined into each binary,
/// taking every instance with it).
#[inline(never)]
pub fn main(name: &str) -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(name))
}

/// Serves invocations of the function `name` until the runtime stops.
pub async fn run(name: &str) -> Result<(), lambda_runtime::Error> {
    observe::init_logs();
    let function = tally_deploy::function(name)
        .ok_or_else(|| format!("no function named {name} in tally_deploy::FUNCTIONS"))?;
    let cfg = Config::from_env(function).inspect_err(|e| {
        tracing::error!(function = name, error = %e, "bad configuration");
    })?;
    let app = App::new(function, cfg, Clients::from_env().await);
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Box<serde_json::value::RawValue>>| async move {
            match app.invoke(event.payload.get(), now()).await {
                Answer::Ok(v) => Ok::<Value, lambda_runtime::Error>(v),
                Answer::Failed(e) => Err(e.into()),
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_core::coordination::{Flavour, Input, Policy, Request};
    use tally_core::handlers::aggregator::aggregate;
    use tally_core::ports::memory::{run_ready, Memory};

    /// A request whose voters never answer times out in the sweeper, which
    /// reports the timeout of each voter and the denial it decided.
    #[test]
    fn the_sweeper_reports_the_timeouts_it_decides() {
        let policy = Policy::default();
        let m = Memory::new();
        let request = Input::Request(Request {
            flavour: Flavour::Voting,
            event_id: "request-1".into(),
            request_id: "r1".into(),
            file_id: "f1".into(),
            user_id: "alice".into(),
            account_id: "acc-alice".into(),
            account_type: None,
            transaction_count: 1,
            correlation_id: None,
            requested_at: 1_000,
        });
        run_ready(aggregate(&m, &m, &request, 1_000, &policy)).unwrap();
        let later = 1_000 + policy.voting.deadline_ms + 1;
        let handled = run_ready(sweep_handled(&m, &m, later, &policy, 10)).unwrap();
        let decided = handled
            .iter()
            .filter(|h| h.record.as_ref().is_some_and(|r| r.is_decided()))
            .count();
        assert_eq!(decided, 1);
        let metrics = sweep_metrics(&handled, decided);
        let count = |name: &str| {
            metrics
                .iter()
                .filter(|x| x.name == name)
                .map(|x| x.value)
                .sum::<u64>()
        };
        assert_eq!(count("VoterTimeout"), 2, "{metrics:?}");
        assert_eq!(count("DeletionDenials"), 1, "{metrics:?}");
        assert_eq!(count("Swept"), 1, "{metrics:?}");
    }
}
