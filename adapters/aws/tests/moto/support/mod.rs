//! The tests' AWS: moto's server on 127.0.0.1 (started by ./scripts/test,
//! its address in TALLY_MOTO_ENDPOINT), reset before each test, with the
//! deployment built in it from the same description the template uses:
//! every table of tally_deploy::layout, the content bucket, the bus, every
//! rule of the rules file with an SQS queue per function (and a dead-letter
//! queue after three receives). Each function's configuration is the
//! environment the generated template gives it (for the rules file and the
//! policy file), its references resolved to what was built here and its
//! parameters at their defaults, as CloudFormation would. `pump` plays
//! Lambda's SQS event-source mapping: it reads each function's queue,
//! invokes the function with the batch, and deletes what the function did
//! not report failed.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use tally_aws::config::Tables;
use tally_aws::lambda::{Answer, App};
use tally_aws::{AwsPorts, Clients, Config};
use tally_core::coordination::{log, Policy, Record};
use tally_core::ports::{ContentStore, FileStore};
use tally_core::rules::Rules;
use tally_core::time::{to_rfc3339_millis, Millis};
use tally_deploy::{env, layout, Trigger, FUNCTIONS};

pub const BUCKET: &str = "tally-content";
/// 2025-01-15T10:30:00Z, the simulator's epoch.
pub const T0: Millis = 1_736_937_000_000;
pub const MAX_RECEIVES: u32 = 3;
/// The stack's name, as `${AWS::StackName}` in the template.
pub const STACK: &str = "tally-test";

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn endpoint() -> String {
    std::env::var("TALLY_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TALLY_MOTO_ENDPOINT is not set: these tests need moto's server. \
             Run ./scripts/test, which installs moto in .venv and starts it, \
             or start `.venv/bin/moto_server -H 127.0.0.1 -p PORT` and set \
             TALLY_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        )
    })
}

/// POST /moto-api/reset: every test starts from an empty AWS.
fn reset(endpoint: &str) {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr)
        .unwrap_or_else(|e| panic!("moto's server at {endpoint} does not answer: {e}"));
    write!(
        s,
        "POST /moto-api/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "moto reset failed: {answer}"
    );
}

/// One record of an SQS event as Lambda's event-source mapping passes it.
pub fn sqs_record(function: &str, message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("rh-{message_id}"),
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:tally-{function}"),
        "awsRegion": "us-east-1",
    })
}

/// The message ids a batch answer reports failed.
pub fn failed_ids(answer: &Answer) -> Vec<String> {
    match answer {
        Answer::Ok(v) => v["batchItemFailures"]
            .as_array()
            .expect("a batch answer")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect(),
        Answer::Failed(e) => panic!("the whole batch failed: {e}"),
    }
}

/// The requestId of a 202 from the API.
pub fn request_id(answer: &Value) -> String {
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("a body")).unwrap();
    body["requestId"].as_str().expect("a requestId").to_owned()
}

/// A vote by `voter` on `request_id` about alice's f1, from `source`.
pub fn vote(
    id: &str,
    request_id: &str,
    voter: &str,
    source: &str,
    decision: tally_core::event::VoteDecision,
    at: Millis,
) -> tally_core::event::Event {
    use tally_core::event::{DeletionVote, Event, EventData, CURRENT_VERSION};
    Event {
        event_id: id.into(),
        event_version: CURRENT_VERSION.into(),
        timestamp: at,
        source: source.into(),
        user_id: "alice".into(),
        correlation_id: Some(request_id.into()),
        causation_id: None,
        data: EventData::DeletionVote(DeletionVote {
            file_id: "f1".into(),
            request_id: request_id.into(),
            voter: voter.into(),
            decision,
            reason: Some("checked".into()),
        }),
        metadata: None,
    }
}

pub struct Moto {
    pub clients: Clients,
    /// The tables', bucket's and bus's variables, with their names here.
    pub env: BTreeMap<String, String>,
    /// Each function's environment, as the template sets it.
    pub function_env: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// Function name -> its queue's URL.
    pub queues: BTreeMap<&'static str, String>,
    pub dead_letters: BTreeMap<&'static str, String>,
    /// Every event the queues delivered, by its eventId: source, type and
    /// detail without the timestamp, as first seen (one-id-one-content).
    seen: std::sync::Mutex<BTreeMap<String, Value>>,
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

fn key(name: &str) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(KeyType::Hash)
        .build()
        .unwrap()
}

fn range(name: &str) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(KeyType::Range)
        .build()
        .unwrap()
}

fn attr(name: &str, t: layout::KeyType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(match t {
            layout::KeyType::S => ScalarAttributeType::S,
            layout::KeyType::N => ScalarAttributeType::N,
        })
        .build()
        .unwrap()
}

impl Moto {
    pub async fn fresh() -> Moto {
        Moto::with_rules(Rules::default_rules()).await
    }

    pub async fn with_rules(rules: Rules) -> Moto {
        Moto::deploy(rules, &Policy::default()).await
    }

    /// The deployment of `tally template` for these rules and this policy.
    pub async fn deploy(rules: Rules, policy: &Policy) -> Moto {
        let template = tally_deploy::template::template(&rules, policy)
            .unwrap_or_else(|e| panic!("the template: {e}"));
        let guard = LOCK.lock().await;
        let endpoint = endpoint();
        reset(&endpoint);
        let clients = Clients::for_endpoint(&endpoint).await;
        let mut env = BTreeMap::new();
        // Logical ID -> the name of what was built for it here.
        let mut built = BTreeMap::new();
        for t in layout::TABLES {
            let name = format!("tally-{}", t.logical.to_lowercase());
            create_table(&clients, t, &name).await;
            env.insert(t.env.to_owned(), name.clone());
            built.insert(tally_deploy::template::table_id(t.logical), name);
        }
        built.insert(
            tally_deploy::template::BUCKET_ID.to_owned(),
            BUCKET.to_owned(),
        );
        let bus = resolve(
            &template,
            &built,
            &template["Resources"][tally_deploy::template::BUS_ID]["Properties"]["Name"],
        );
        built.insert(tally_deploy::template::BUS_ID.to_owned(), bus.clone());
        clients
            .s3
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        env.insert(env::CONTENT_BUCKET.into(), BUCKET.into());
        clients
            .events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .unwrap();
        env.insert(env::EVENT_BUS_NAME.into(), bus.clone());
        let mut function_env = BTreeMap::new();
        for f in FUNCTIONS {
            let id = tally_deploy::template::function_id(f.name);
            let vars = template["Resources"][&id]["Properties"]["Environment"]["Variables"]
                .as_object()
                .unwrap_or_else(|| panic!("{id} has no environment in the template"));
            let resolved = vars
                .iter()
                .map(|(k, v)| (k.clone(), resolve(&template, &built, v)))
                .collect();
            function_env.insert(f.name, resolved);
        }
        let mut queues = BTreeMap::new();
        let mut dead_letters = BTreeMap::new();
        for f in FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Rules) {
            let dlq = create_queue(&clients, &format!("tally-{}-dlq", f.name), None).await;
            let dlq_arn = queue_arn(&clients, &dlq).await;
            let q = create_queue(&clients, &format!("tally-{}", f.name), Some(&dlq_arn)).await;
            queues.insert(f.name, q);
            dead_letters.insert(f.name, dlq);
        }
        for rule in &rules.rules {
            clients
                .events
                .put_rule()
                .name(&rule.name)
                .event_bus_name(&bus)
                .event_pattern(rule.pattern.source().to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutRule {}: {e:?}", rule.name));
            let mut targets = Vec::new();
            for target in &rule.targets {
                let f = FUNCTIONS
                    .iter()
                    .find(|f| f.target_name() == Some(target.as_str()))
                    .unwrap_or_else(|| panic!("no function for target {target}"));
                let arn = queue_arn(&clients, &queues[f.name]).await;
                targets.push(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id(f.name)
                        .arn(arn)
                        .build()
                        .unwrap(),
                );
            }
            clients
                .events
                .put_targets()
                .rule(&rule.name)
                .event_bus_name(&bus)
                .set_targets(Some(targets))
                .send()
                .await
                .unwrap();
        }
        Moto {
            seen: Default::default(),
            clients,
            env,
            function_env,
            queues,
            dead_letters,
            _guard: guard,
        }
    }

    /// The function's configuration, read from its environment in the
    /// template as the function reads it at start.
    pub fn config(&self, function: &str) -> Config {
        let f = tally_deploy::function(function).unwrap();
        let vars = &self.function_env[f.name];
        Config::from_lookup(f, |k| vars.get(k).cloned())
            .unwrap_or_else(|e| panic!("{function}: its environment in the template: {e}"))
    }

    pub fn app(&self, function: &str) -> App {
        App::new(
            tally_deploy::function(function).unwrap(),
            self.config(function),
            self.clients.clone(),
        )
    }

    /// `function` publishing to a bus that does not exist: every PutEvents
    /// fails after the function has done everything else (a crash before
    /// the publish).
    pub fn app_publishing_nowhere(&self, function: &str) -> App {
        let mut cfg = self.config(function);
        cfg.bus = "no-such-bus".into();
        App::new(
            tally_deploy::function(function).unwrap(),
            cfg,
            self.clients.clone(),
        )
    }

    /// Ports over every table, for setting up and checking.
    pub fn ports(&self) -> AwsPorts {
        AwsPorts {
            clients: self.clients.clone(),
            bus: self.env[env::EVENT_BUS_NAME].clone(),
            bucket: Some(BUCKET.into()),
            tables: Tables::new(
                layout::TABLES
                    .iter()
                    .map(|t| (t.logical, self.env[t.env].clone())),
            ),
        }
    }

    /// Delivers everything the queues hold (and what that publishes) until
    /// every queue is empty; returns the batches' failure reports.
    pub async fn pump(&self, now: Millis) -> Vec<(String, Value)> {
        self.pump_with(now, false, |name| self.app(name)).await
    }

    /// As `pump`, but every batch is delivered twice (two invocations, as
    /// an at-least-once queue may), and every message is put back on its
    /// queue once more after it was handled (a late redelivery).
    pub async fn pump_duplicating(&self, now: Millis) -> Vec<(String, Value)> {
        self.pump_with(now, true, |name| self.app(name)).await
    }

    pub async fn pump_with(
        &self,
        now: Millis,
        duplicate: bool,
        app: impl Fn(&str) -> App,
    ) -> Vec<(String, Value)> {
        let mut redelivered = std::collections::BTreeSet::new();
        let mut failures = Vec::new();
        for _round in 0..200 {
            let mut any = false;
            for (name, url) in &self.queues {
                let messages = self.receive(url).await;
                if messages.is_empty() {
                    continue;
                }
                any = true;
                for m in &messages {
                    self.same_content_as_before(name, m.body().unwrap_or_default());
                }
                let records: Vec<Value> = messages
                    .iter()
                    .map(|m| {
                        sqs_record(name, m.message_id().unwrap(), m.body().unwrap_or_default())
                    })
                    .collect();
                let payload = json!({ "Records": records }).to_string();
                if duplicate {
                    let _ = app(name).invoke(&payload, now).await;
                }
                let answer = app(name).invoke(&payload, now).await;
                if let Answer::Failed(e) = &answer {
                    panic!("{name} failed a whole batch: {e}");
                }
                let failed = failed_ids(&answer);
                for m in &messages {
                    if failed.iter().any(|id| Some(id.as_str()) == m.message_id()) {
                        failures.push((name.to_string(), json!(m.body())));
                        continue;
                    }
                    self.delete_message(url, m).await;
                    let body = m.body().unwrap_or_default().to_owned();
                    if duplicate && redelivered.insert((name.to_string(), body.clone())) {
                        self.clients
                            .sqs
                            .send_message()
                            .queue_url(url)
                            .message_body(body)
                            .send()
                            .await
                            .unwrap();
                    }
                }
            }
            if !any {
                return failures;
            }
        }
        panic!("the queues never drained in 200 rounds");
    }

    /// The simulator's one-id-one-content invariant over what the bus
    /// delivered: every delivery of one eventId carries the same event
    /// (its publish time aside), in every moto test that pumps.
    fn same_content_as_before(&self, queue: &str, body: &str) {
        let Ok(delivered) = serde_json::from_str::<Value>(body) else {
            return;
        };
        let mut detail = delivered["detail"].clone();
        let Some(id) = detail["eventId"].as_str().map(str::to_owned) else {
            return;
        };
        if let Some(d) = detail.as_object_mut() {
            d.remove("timestamp");
        }
        let content = json!({
            "source": delivered["source"],
            "detail-type": delivered["detail-type"],
            "detail": detail,
        });
        let mut seen = self.seen.lock().unwrap();
        match seen.get(&id) {
            Some(first) => assert_eq!(
                first, &content,
                "one-id-one-content: {id} was delivered (to {queue}) with other content than before"
            ),
            None => {
                seen.insert(id, content);
            }
        }
    }

    /// Up to 10 messages of a queue.
    pub async fn receive(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let got = self
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        got.messages.unwrap_or_default()
    }

    /// What Lambda's event-source mapping does with a handled message.
    pub async fn delete_message(&self, url: &str, m: &aws_sdk_sqs::types::Message) {
        self.clients
            .sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }

    /// Takes every message off `function`'s queue and returns the bodies.
    pub async fn drain(&self, function: &str) -> Vec<String> {
        let url = &self.queues[function];
        let mut bodies = Vec::new();
        loop {
            let messages = self.receive(url).await;
            if messages.is_empty() {
                return bodies;
            }
            for m in messages {
                self.delete_message(url, &m).await;
                bodies.extend(m.body);
            }
        }
    }

    /// Drops what `function`'s queue holds: the function never ran (a
    /// voter that returns without voting).
    pub async fn stall(&self, function: &str) {
        self.drain(function).await;
    }

    /// Drops the messages of `function`'s queue whose body `matches`; the
    /// others stay for the next `pump`.
    pub async fn drop_where(&self, function: &str, matches: impl Fn(&str) -> bool) {
        let url = &self.queues[function];
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let messages = self.receive(url).await;
            // Kept messages come straight back (no visibility timeout):
            // stop once a round brings nothing new.
            let mut new = false;
            for m in messages {
                new |= seen.insert(m.message_id.clone());
                if matches(m.body().unwrap_or_default()) {
                    self.delete_message(url, &m).await;
                }
            }
            if !new {
                return;
            }
        }
    }

    /// Bodies that ended in `function`'s dead-letter queue.
    pub async fn dead_lettered(&self, function: &str) -> Vec<String> {
        self.receive(&self.dead_letters[function])
            .await
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    /// Each user has an account and two category rules, as in the simulator.
    pub async fn seed_user(&self, user: &str) {
        let ports = self.ports();
        for rule in tally_sim::scenario::seed_rules(user) {
            ports.put_rule(&rule).await.unwrap();
        }
    }

    /// A user uploads a CSV of `lines` transactions: content and metadata
    /// land, S3 notifies the object-created function.
    pub async fn upload(
        &self,
        file_id: &str,
        owner: &str,
        lines: usize,
        account_type: Option<&str>,
        now: Millis,
    ) {
        let ports = self.ports();
        let csv = tally_sim::scenario::upload_csv(lines);
        let meta = tally_sim::scenario::upload_meta(file_id, owner, account_type);
        let key = meta.s3_key.clone();
        ports.put_content(&key, csv.as_bytes()).await.unwrap();
        ports.put_file(&meta).await.unwrap();
        let notification = json!({ "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": to_rfc3339_millis(now),
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": "AWS:uploader" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": { "x-amz-request-id": "test", "x-amz-id-2": "test" },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "uploads",
                "bucket": { "name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}") },
                "object": { "key": key, "size": csv.len(), "sequencer": format!("{now:016X}") },
            },
        }]});
        match self
            .app("object-created")
            .invoke(&notification.to_string(), now)
            .await
        {
            Answer::Ok(_) => {}
            Answer::Failed(e) => panic!("object-created failed: {e}"),
        }
    }

    /// `DELETE /files/{id}` through the API function.
    pub async fn delete(&self, file_id: &str, caller: Option<&str>, now: Millis) -> Value {
        let request = api_delete(file_id, caller);
        match self.app("api").invoke(&request.to_string(), now).await {
            Answer::Ok(v) => v,
            Answer::Failed(e) => panic!("the api failed: {e}"),
        }
    }
}

/// `DELETE /files/{id}` as API Gateway's proxy integration sends it.
pub fn api_delete(file_id: &str, caller: Option<&str>) -> Value {
    let mut authorizer = json!({});
    if let Some(c) = caller {
        authorizer = json!({ "claims": { "sub": c } });
    }
    json!({
            "resource": "/files/{id}",
            "path": format!("/files/{file_id}"),
            "httpMethod": "DELETE",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "pathParameters": { "id": file_id },
            "requestContext": { "authorizer": authorizer, "httpMethod": "DELETE", "path": format!("/files/{file_id}") },
            "body": null,
            "isBase64Encoded": false,
    })
}

impl Moto {
    pub async fn sweep(&self, now: Millis) -> Value {
        match self
            .app("sweeper")
            .invoke(
                r#"{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#,
                now,
            )
            .await
        {
            Answer::Ok(v) => v,
            Answer::Failed(e) => panic!("the sweeper failed: {e}"),
        }
    }

    /// Every coordination record in the table, by requestId.
    pub async fn records(&self) -> Vec<Record> {
        let out = self
            .clients
            .dynamo
            .scan()
            .table_name(&self.env["RECORDS_TABLE"])
            .send()
            .await
            .unwrap();
        let mut records: Vec<Record> = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| match item.get("body") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(b)) => {
                    serde_json::from_str(b).unwrap()
                }
                other => panic!("a record without a body: {other:?}"),
            })
            .collect();
        records.sort_by(|a, b| a.request_id.cmp(&b.request_id));
        records
    }

    /// The decision log, in decision-time order.
    pub async fn decisions(&self) -> Vec<String> {
        let mut recs = self.records().await;
        recs.sort_by_key(|r| r.decision.as_ref().map(|d| d.at));
        recs.iter().filter_map(log::decision_line).collect()
    }
}

/// A value of the template as CloudFormation would make it: a `Ref` to
/// something built here is its name, to a parameter its default; `Fn::Sub`
/// fills in the stack's name and such references.
fn resolve(template: &Value, built: &BTreeMap<String, String>, v: &Value) -> String {
    let reference = |id: &str| -> String {
        if id == "AWS::StackName" {
            return STACK.to_owned();
        }
        if let Some(name) = built.get(id) {
            return name.clone();
        }
        match &template["Parameters"][id]["Default"] {
            Value::String(s) => s.clone(),
            Value::Null => {
                panic!("the template refers to {id}, neither built nor a parameter with a default")
            }
            other => other.to_string(),
        }
    };
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.len() == 1 && o.contains_key("Ref") => {
            reference(o["Ref"].as_str().expect("a Ref names an ID"))
        }
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::Sub") => {
            let mut text = o["Fn::Sub"]
                .as_str()
                .expect("a Sub of one string")
                .to_owned();
            while let Some(start) = text.find("${") {
                let end = start + text[start..].find('}').expect("a closed ${");
                let value = reference(&text[start + 2..end]);
                text.replace_range(start..=end, &value);
            }
            text
        }
        other => panic!("the harness cannot resolve {other}"),
    }
}

async fn create_table(clients: &Clients, t: &layout::Table, name: &str) {
    let mut defs = vec![attr(t.pk, layout::KeyType::S)];
    let mut schema = vec![key(t.pk)];
    if let Some(sk) = t.sk {
        defs.push(attr(sk, layout::KeyType::S));
        schema.push(range(sk));
    }
    let mut create = clients
        .dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(schema));
    for ix in t.indexes {
        if !defs.iter().any(|d| d.attribute_name() == ix.pk.0) {
            defs.push(attr(ix.pk.0, ix.pk.1));
        }
        let mut ks = vec![key(ix.pk.0)];
        if let Some((sk, ty)) = ix.sk {
            if !defs.iter().any(|d| d.attribute_name() == sk) {
                defs.push(attr(sk, ty));
            }
            ks.push(range(sk));
        }
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ix.name)
                .set_key_schema(Some(ks))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    create
        .set_attribute_definitions(Some(defs))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
}

async fn create_queue(clients: &Clients, name: &str, dlq_arn: Option<&str>) -> String {
    let mut create = clients
        .sqs
        .create_queue()
        .queue_name(name)
        // Failed messages come back at once: the tests need no waiting.
        .attributes(QueueAttributeName::VisibilityTimeout, "0");
    if let Some(arn) = dlq_arn {
        create = create.attributes(
            QueueAttributeName::RedrivePolicy,
            json!({ "deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES.to_string() })
                .to_string(),
        );
    }
    create.send().await.unwrap().queue_url.unwrap()
}

async fn queue_arn(clients: &Clients, url: &str) -> String {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

impl Moto {
    /// Puts `body` as is into `function`'s queue, as if a rule had
    /// delivered it (the next `pump` hands it to the function).
    pub async fn send_raw(&self, function: &str, body: &str) {
        self.clients
            .sqs
            .send_message()
            .queue_url(&self.queues[function])
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendMessage to {function}: {e:?}"));
    }

    /// Invokes `function` once with an SQS batch of `bodies` (message ids
    /// `m0`, `m1`, ...), built as `pump` builds it, without any queue.
    pub async fn invoke_batch(&self, function: &str, bodies: &[&str], now: Millis) -> Answer {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| sqs_record(function, &format!("m{i}"), body))
            .collect();
        self.app(function)
            .invoke(&json!({ "Records": records }).to_string(), now)
            .await
    }

    /// One delivered event through `function`'s handler, with the report
    /// (or the refusal) that its log line carries.
    pub async fn deliver_to(
        &self,
        function: &str,
        body: &str,
        now: Millis,
    ) -> Result<tally_aws::lambda::deliver::Delivered, tally_core::handlers::HandlerError> {
        let app = self.app(function);
        let target = app.function.target_name().unwrap_or(app.function.name);
        Box::pin(tally_aws::lambda::deliver::deliver(
            &app.ports, &app.cfg, target, body, now,
        ))
        .await
    }
}
