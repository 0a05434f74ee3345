//! The SAM/CloudFormation template, generated from the rules file and the
//! deployment description of this crate ([`FUNCTIONS`], [`TABLES`],
//! [`crate::env`]). Pure: [`template`] builds a JSON value; `tally template`
//! prints it.
//!
//! What it declares:
//!
//! * the custom event bus named by the rules file;
//! * one `AWS::Events::Rule` per rule on that bus, with the rule's pattern
//!   as its `EventPattern` and one target per rule target: the target
//!   function's SQS queue, with the rule's retry policy and a dead-letter
//!   queue per distinct `dead_letter_queue` name;
//! * per function started by rules, its queue (with a redrive policy to the
//!   function's own dead-letter queue) and an SQS event source reporting
//!   partial batch failures; queue policies let exactly the rules that
//!   target a queue (or dead-letter into it) send to it;
//! * the functions (`provided.al2023`, `bootstrap`), each built by `sam
//!   build` with cargo-lambda from its binary in tally-lambda
//!   (`BuildMethod: rust-cargolambda`), with its own timeout and memory,
//!   exactly the environment variables of [`Function::env_vars`] (the
//!   whole policy in `POLICY`) and an IAM role granting exactly what its
//!   `uses` says on exactly those ARNs;
//! * the tables of [`TABLES`] (on demand, with their indexes and TTL) and
//!   the content bucket;
//! * the REST API, behind a Cognito user pool authorizer (the pool's ARN
//!   is a parameter without a default);
//! * alarms on every dead-letter queue's depth, every function's errors
//!   and throttles, voter timeouts and the share of denied deletions, sent
//!   to an SNS topic when one is given; one dashboard of the deletion flow,
//!   the queues and the functions;
//! * parameters for the architecture, the alarms' topic and the policy's
//!   single-field overrides (empty: the policy file's own values), and
//!   outputs naming the bus, the tables, the bucket, the dead-letter
//!   queues and the API's URL.
//!
//! Physical names that must be unique in an account and region derive
//! from the stack's name (the bus) or are left to CloudFormation (tables,
//! queues, bucket, roles, log groups), so two stacks coexist.

use crate::layout::{KeyType, Table, TABLES};
use crate::{env, metrics, Access, Function, Resource, Trigger, FUNCTIONS};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use tally_core::coordination::{Outcome, Policy};
use tally_core::rules::{Rule, Rules};

/// Where `sam build` finds the functions' Cargo package, relative to the
/// template (written at the repository's root).
pub const CODE_URI: &str = "adapters/lambda";
/// SAM's build method for Rust: `cargo lambda build --release --bin NAME`.
pub const BUILD_METHOD: &str = "rust-cargolambda";
/// The architecture the template deploys unless told otherwise; the one
/// `scripts/lambda-build` builds by default (a test holds them together).
pub const DEFAULT_ARCHITECTURE: &str = "x86_64";
/// Receives of one message before its queue moves it to the function's
/// dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// How long a function's queue keeps a message: 4 days (SQS's default,
/// written out).
pub const QUEUE_RETENTION_SECONDS: u32 = 4 * 24 * 60 * 60;
/// How long dead-letter queues keep messages: 14 days, SQS's maximum. A
/// standard queue's message keeps its first enqueue time when redriven, so
/// this must be longer than [`QUEUE_RETENTION_SECONDS`].
pub const DEAD_LETTER_RETENTION_SECONDS: u32 = 14 * 24 * 60 * 60;
/// How often the sweeper runs.
pub const SWEEP_SCHEDULE: &str = "rate(1 minute)";
/// The API's one route.
pub const API_PATH: &str = "/files/{id}";
pub const API_METHOD: &str = "delete";
/// How long function logs are kept.
pub const LOG_RETENTION_DAYS: u32 = 30;

/// The bus's logical ID.
pub const BUS_ID: &str = "EventBus";
/// The content bucket's logical ID.
pub const BUCKET_ID: &str = "ContentBucket";
/// The API's logical ID (an explicit `AWS::Serverless::Api`, so that it
/// can carry the authorizer).
pub const API_ID: &str = "FilesApi";
/// The parameter naming the Cognito user pool whose users may call the API.
pub const USER_POOL_PARAMETER: &str = "UserPoolArn";
/// The API's stage.
pub const API_STAGE: &str = "Prod";

/// The parameter choosing the functions' architecture. The others are one
/// per policy variable of [`crate::env`] that is a deployment choice.
pub const ARCHITECTURE_PARAMETER: &str = "Architecture";
/// The SNS topic alarms notify; empty: none.
pub const ALARM_TOPIC_PARAMETER: &str = "AlarmTopicArn";
const HAS_ALARM_TOPIC: &str = "HasAlarmTopic";
/// The share of decided deletions (percent, over 15 minutes) above which
/// the denial-rate alarm fires.
pub const DENIAL_RATE_PARAMETER: &str = "DenialRatePercent";
/// The dashboard's logical ID.
pub const DASHBOARD_ID: &str = "Dashboard";
/// Every parameter that overrides a field of the policy, with its variable.
pub const OVERRIDES: &[(&str, &str)] = &[
    ("RequiredVoters", env::REQUIRED_VOTERS),
    ("DeadlineSeconds", env::DEADLINE_SECONDS),
    ("TimeoutOutcome", env::TIMEOUT_OUTCOME),
    ("ErrorOutcome", env::ERROR_OUTCOME),
];
/// The longest value a parameter may take (a name CloudFormation makes
/// is shorter): the bound [`template`] holds Lambda's 4 KB environment to.
const PARAMETER_MAX_LENGTH: usize = 256;

/// `file-processor` -> `FileProcessor`: CloudFormation logical IDs are
/// alphanumeric.
pub fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// A function's logical ID (`api` -> `ApiFunction`).
pub fn function_id(name: &str) -> String {
    format!("{}Function", pascal(name))
}

/// A table's logical ID (`Records` -> `RecordsTable`).
pub fn table_id(logical: &str) -> String {
    format!("{logical}Table")
}

fn role_id(f: &Function) -> String {
    format!("{}Role", pascal(f.name))
}

fn logs_id(f: &Function) -> String {
    format!("{}Logs", pascal(f.name))
}

fn queue_id(f: &Function) -> String {
    format!("{}Queue", pascal(f.name))
}

fn function_dlq_id(f: &Function) -> String {
    format!("{}DeadLetterQueue", pascal(f.name))
}

fn queue_policy_id(f: &Function) -> String {
    format!("{}QueuePolicy", pascal(f.name))
}

fn errors_alarm_id(f: &Function) -> String {
    format!("{}ErrorsAlarm", pascal(f.name))
}

fn throttles_alarm_id(f: &Function) -> String {
    format!("{}ThrottlesAlarm", pascal(f.name))
}

fn depth_alarm_id(queue_id: &str) -> String {
    format!("{queue_id}DepthAlarm")
}

/// The alarms on the coordination's own metrics.
pub const VOTER_TIMEOUT_ALARM_ID: &str = "VoterTimeoutAlarm";
pub const DENIAL_RATE_ALARM_ID: &str = "DenialRateAlarm";

/// The name of a function's event in `Events` (SAM derives resource IDs
/// `<function ID><event name>` and `...Permission` from it).
fn event_name(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Rules => "Queue",
        Trigger::Api => "Api",
        Trigger::ObjectCreated => "Upload",
        Trigger::Schedule => "Sweep",
    }
}

fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

/// Hands out logical IDs for names that come from the rules file, so that
/// two names that differ only in punctuation (`a-b`, `a.b`), or one that
/// reads like a fixed ID, never share one: the second gets a number.
struct Ids {
    taken: BTreeSet<String>,
}

impl Ids {
    fn new() -> Ids {
        let mut taken = BTreeSet::new();
        for id in [
            BUS_ID,
            BUCKET_ID,
            API_ID,
            "ServerlessRestApi",
            DASHBOARD_ID,
            VOTER_TIMEOUT_ALARM_ID,
            DENIAL_RATE_ALARM_ID,
        ] {
            taken.insert(id.to_owned());
        }
        for t in TABLES {
            taken.insert(table_id(t.logical));
        }
        for f in FUNCTIONS {
            let fid = function_id(f.name);
            let event = format!("{fid}{}", event_name(f.trigger));
            taken.extend([
                role_id(f),
                logs_id(f),
                queue_id(f),
                function_dlq_id(f),
                depth_alarm_id(&function_dlq_id(f)),
                errors_alarm_id(f),
                throttles_alarm_id(f),
                queue_policy_id(f),
                format!("{event}Permission"),
                event,
                fid,
            ]);
        }
        Ids { taken }
    }

    fn allocate(&mut self, base: String) -> String {
        let mut id = base.clone();
        let mut n = 2;
        while !self.taken.insert(id.clone()) {
            id = format!("{base}{n}");
            n += 1;
        }
        id
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Proceed => "proceed",
        Outcome::Deny => "deny",
    }
}

/// The parameter (or constant) each policy variable of [`crate::env`]
/// takes its value from.
fn setting_value(var: &str, policy_text: &str) -> Value {
    if let Some((parameter, _)) = OVERRIDES.iter().find(|(_, v)| *v == var) {
        return reference(parameter);
    }
    match var {
        // Direct deletion (publishing off) would need delete rights the
        // API is not given: the deployment always publishes.
        env::ENABLE_EVENT_PUBLISHING => json!("true"),
        env::COORDINATION_FLAVOUR => reference("CoordinationFlavour"),
        env::POLICY => json!(policy_text),
        other => panic!("tally-deploy: no template value for the setting {other}"),
    }
}

fn parameters(policy: &Policy) -> Value {
    // Empty, the default of every override, leaves the policy's own value.
    let outcomes = json!(["", "deny", "proceed"]);
    let from_policy =
        |field: &str, value: String| format!("Empty: the policy's {field} ({value}).");
    json!({
        ARCHITECTURE_PARAMETER: {
            "Type": "String",
            "Default": DEFAULT_ARCHITECTURE,
            "AllowedValues": ["arm64", "x86_64"],
            "Description": "The functions' architecture, passed to cargo lambda by sam build (scripts/lambda-build builds x86_64 unless given --arm64)."
        },
        ALARM_TOPIC_PARAMETER: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[\\w-]+)?",
            "ConstraintDescription": "empty, or the ARN of an SNS topic",
            "Description": "The SNS topic every alarm notifies; empty: the alarms notify no one."
        },
        DENIAL_RATE_PARAMETER: {
            "Type": "Number",
            "Default": 50,
            "MinValue": 0,
            "MaxValue": 100,
            "Description": "The share of decided deletions denied over 15 minutes (percent) above which the denial-rate alarm fires."
        },
        USER_POOL_PARAMETER: {
            "Type": "String",
            "AllowedPattern": "arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{12}:userpool/[\\w-]+_[0-9a-zA-Z]+",
            "ConstraintDescription": "the ARN of a Cognito user pool (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID)",
            "Description": "The Cognito user pool whose users may call the API; a token's sub claim is the caller."
        },
        "CoordinationFlavour": {
            "Type": "String",
            "Default": "voting",
            "AllowedValues": ["voting", "completion"],
            "Description": "Which coordination a deletion request starts (COORDINATION_FLAVOUR)."
        },
        "RequiredVoters": {
            "Type": "String",
            "Default": "",
            "MaxLength": PARAMETER_MAX_LENGTH,
            "AllowedPattern": "[a-z0-9_, ]*",
            "Description": format!(
                "Comma-separated voters the voting flavour always waits for (REQUIRED_VOTERS). {}",
                from_policy("voting.required", policy.voting.required.join(","))
            )
        },
        "DeadlineSeconds": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "([1-9][0-9]{0,8})?",
            "ConstraintDescription": "empty, or a whole number of seconds above 0",
            "Description": format!(
                "Seconds from a request to its deadline, both flavours (DEADLINE_SECONDS). {}",
                from_policy("deadline_ms", format!("voting {} ms, completion {} ms", policy.voting.deadline_ms, policy.completion.deadline_ms))
            )
        },
        "TimeoutOutcome": {
            "Type": "String",
            "Default": "",
            "AllowedValues": outcomes,
            "Description": format!(
                "What an expired deadline decides in the voting flavour (TIMEOUT_OUTCOME). {}",
                from_policy("voting.timeout_outcome", outcome(policy.voting.timeout_outcome).into())
            )
        },
        "ErrorOutcome": {
            "Type": "String",
            "Default": "",
            "AllowedValues": outcomes,
            "Description": format!(
                "What a voter's error decides in the voting flavour (ERROR_OUTCOME). {}",
                from_policy("voting.error_outcome", outcome(policy.voting.error_outcome).into())
            )
        }
    })
}

fn key_type(k: KeyType) -> &'static str {
    match k {
        KeyType::S => "S",
        KeyType::N => "N",
    }
}

fn key_schema(pk: &str, sk: Option<&str>) -> Value {
    let mut keys = vec![json!({ "AttributeName": pk, "KeyType": "HASH" })];
    if let Some(sk) = sk {
        keys.push(json!({ "AttributeName": sk, "KeyType": "RANGE" }));
    }
    Value::Array(keys)
}

/// A table resource. The table's own keys are strings; each index names
/// its keys' types. An attribute is defined once, at its first mention.
fn table_resource(t: &Table) -> Value {
    let mut attributes: Vec<(&str, KeyType)> = Vec::new();
    let mut define = |name: &'static str, k: KeyType| {
        if !attributes.iter().any(|(n, _)| *n == name) {
            attributes.push((name, k));
        }
    };
    define(t.pk, KeyType::S);
    if let Some(sk) = t.sk {
        define(sk, KeyType::S);
    }
    for i in t.indexes {
        define(i.pk.0, i.pk.1);
        if let Some((sk, k)) = i.sk {
            define(sk, k);
        }
    }
    let mut props = Map::new();
    props.insert("BillingMode".into(), json!("PAY_PER_REQUEST"));
    props.insert(
        "AttributeDefinitions".into(),
        attributes
            .iter()
            .map(|(n, k)| json!({ "AttributeName": n, "AttributeType": key_type(*k) }))
            .collect(),
    );
    props.insert("KeySchema".into(), key_schema(t.pk, t.sk));
    if !t.indexes.is_empty() {
        props.insert(
            "GlobalSecondaryIndexes".into(),
            t.indexes
                .iter()
                .map(|i| {
                    json!({
                        "IndexName": i.name,
                        "KeySchema": key_schema(i.pk.0, i.sk.map(|(n, _)| n)),
                        "Projection": { "ProjectionType": "ALL" }
                    })
                })
                .collect(),
        );
    }
    if let Some(ttl) = t.ttl {
        props.insert(
            "TimeToLiveSpecification".into(),
            json!({ "AttributeName": ttl, "Enabled": true }),
        );
    }
    json!({
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props
    })
}

fn bucket_resource() -> Value {
    json!({
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true
            }
        }
    })
}

/// DynamoDB actions per access level.
pub fn table_actions(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read => &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
        Access::Write => &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        Access::ReadWriteDelete => &[
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    }
}

/// S3 object actions per access level (`s3:ListBucket` on the bucket
/// itself comes with every level).
pub fn object_actions(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read => &["s3:GetObject"],
        Access::Write => &["s3:GetObject", "s3:PutObject"],
        Access::ReadWriteDelete => &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
    }
}

fn statement(sid: String, actions: &[&str], resources: Vec<Value>) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources
    })
}

/// The statements of a function's role: its logs, its queue, and exactly
/// what `uses` grants on exactly those resources.
fn role_statements(f: &Function) -> Vec<Value> {
    let mut statements = vec![statement(
        "Logs".into(),
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![get_att(&logs_id(f), "Arn")],
    )];
    if f.trigger == Trigger::Rules {
        statements.push(statement(
            "Queue".into(),
            &[
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            vec![get_att(&queue_id(f), "Arn")],
        ));
    }
    for &(resource, access) in f.uses {
        match resource {
            Resource::Table(logical) => {
                let t = crate::layout::table(logical).unwrap_or_else(|| {
                    panic!(
                        "tally-deploy: function {} uses table {logical}, which layout::TABLES lacks",
                        f.name
                    )
                });
                let id = table_id(t.logical);
                let mut resources = vec![get_att(&id, "Arn")];
                resources.extend(
                    t.indexes
                        .iter()
                        .map(|i| json!({ "Fn::Sub": format!("${{{id}.Arn}}/index/{}", i.name) })),
                );
                statements.push(statement(
                    format!("{}Table", t.logical),
                    table_actions(access),
                    resources,
                ));
            }
            Resource::ContentBucket => {
                statements.push(statement(
                    "ContentObjects".into(),
                    object_actions(access),
                    vec![json!({ "Fn::Sub": format!("${{{BUCKET_ID}.Arn}}/*") })],
                ));
                // Without it a missing key answers 403, not 404.
                statements.push(statement(
                    "ContentList".into(),
                    &["s3:ListBucket"],
                    vec![get_att(BUCKET_ID, "Arn")],
                ));
            }
            Resource::Bus => {
                if access != Access::Read {
                    statements.push(statement(
                        "Bus".into(),
                        &["events:PutEvents"],
                        vec![get_att(BUS_ID, "Arn")],
                    ));
                }
            }
        }
    }
    statements
}

fn role_resource(f: &Function) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": format!("tally {}: exactly what it uses", f.name),
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "lambda.amazonaws.com" },
                    "Action": "sts:AssumeRole"
                }]
            },
            "Policies": [{
                "PolicyName": format!("tally-{}", f.name),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": role_statements(f)
                }
            }]
        }
    })
}

fn environment(f: &Function, policy_text: &str) -> Map<String, Value> {
    let mut vars = Map::new();
    for var in f.env_vars() {
        let value = if var == env::CONTENT_BUCKET {
            reference(BUCKET_ID)
        } else if var == env::EVENT_BUS_NAME {
            reference(BUS_ID)
        } else if let Some(t) = TABLES.iter().find(|t| t.env == var) {
            reference(&table_id(t.logical))
        } else {
            setting_value(var, policy_text)
        };
        vars.insert(var.to_owned(), value);
    }
    vars
}

fn function_event(f: &Function) -> Value {
    match f.trigger {
        Trigger::Rules => json!({
            "Type": "SQS",
            "Properties": {
                "Queue": get_att(&queue_id(f), "Arn"),
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]
            }
        }),
        Trigger::Api => json!({
            "Type": "Api",
            "Properties": { "Path": API_PATH, "Method": API_METHOD, "RestApiId": reference(API_ID) }
        }),
        Trigger::ObjectCreated => json!({
            "Type": "S3",
            "Properties": { "Bucket": reference(BUCKET_ID), "Events": "s3:ObjectCreated:*" }
        }),
        Trigger::Schedule => json!({
            "Type": "Schedule",
            "Properties": { "Schedule": SWEEP_SCHEDULE }
        }),
    }
}

/// The REST API, every route behind a Cognito user pool authorizer: the
/// API function takes the caller from the token's `sub` claim (and answers
/// 401 without one), so a route without an authorizer would refuse every
/// call.
fn api_resource() -> Value {
    json!({
        "Type": "AWS::Serverless::Api",
        "Properties": {
            "StageName": API_STAGE,
            "Auth": {
                "DefaultAuthorizer": "CognitoAuthorizer",
                "Authorizers": {
                    "CognitoAuthorizer": { "UserPoolArn": reference(USER_POOL_PARAMETER) }
                }
            }
        }
    })
}

fn trigger_text(f: &Function) -> String {
    match f.trigger {
        Trigger::Rules => format!(
            "the rules that target {}, through its queue",
            f.target_name().unwrap_or(f.name)
        ),
        Trigger::Api => format!("{} {API_PATH}", API_METHOD.to_uppercase()),
        Trigger::ObjectCreated => "objects created in the content bucket".to_owned(),
        Trigger::Schedule => format!("{SWEEP_SCHEDULE}: expired deadlines, stuck outboxes"),
    }
}

fn function_resource(f: &Function, policy_text: &str) -> Value {
    json!({
        "Type": "AWS::Serverless::Function",
        "Metadata": {
            "BuildMethod": BUILD_METHOD,
            // One package, one binary per function: SAM builds this one.
            "BuildProperties": { "Binary": f.name }
        },
        "Properties": {
            "Description": format!("tally {}: {}", f.name, trigger_text(f)),
            "CodeUri": CODE_URI,
            "Timeout": f.timeout_seconds,
            "MemorySize": f.memory_mb,
            "Role": get_att(&role_id(f), "Arn"),
            "LoggingConfig": { "LogGroup": reference(&logs_id(f)), "LogFormat": "JSON" },
            "Environment": { "Variables": environment(f, policy_text) },
            "Events": { event_name(f.trigger): function_event(f) }
        }
    })
}

/// The most a function's environment can take, in bytes: every key, the
/// policy's text, and for every other value the longest it can be.
fn environment_bound(f: &Function, policy_text: &str) -> usize {
    f.env_vars()
        .iter()
        .map(|var| {
            let value = match *var {
                env::POLICY => policy_text.len(),
                env::ENABLE_EVENT_PUBLISHING => "false".len(),
                _ => PARAMETER_MAX_LENGTH,
            };
            var.len() + value
        })
        .sum()
}

/// A function's queue: what it holds is in flight and goes with the stack.
fn function_queue(f: &Function) -> Value {
    json!({
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
            "VisibilityTimeout": f.visibility_timeout_seconds(),
            "SqsManagedSseEnabled": true,
            "RedrivePolicy": {
                "deadLetterTargetArn": get_att(&function_dlq_id(f), "Arn"),
                "maxReceiveCount": MAX_RECEIVE_COUNT
            }
        }
    })
}

/// A dead-letter queue: what it holds waits for a human, so it outlives
/// the stack.
fn dead_letter_queue() -> Value {
    json!({
        "Type": "AWS::SQS::Queue",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            "SqsManagedSseEnabled": true
        }
    })
}

/// Lets EventBridge send to a queue from exactly these rules.
fn queue_policy(queue: &str, rule_ids: &BTreeSet<String>) -> Value {
    let sources: Vec<Value> = rule_ids.iter().map(|r| get_att(r, "Arn")).collect();
    json!({
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [reference(queue)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "EventBridgeRules",
                    "Effect": "Allow",
                    "Principal": { "Service": "events.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": get_att(queue, "Arn"),
                    "Condition": { "ArnEquals": { "aws:SourceArn": sources } }
                }]
            }
        }
    })
}

/// Where alarms go: the topic, when one is given.
fn alarm_actions() -> Value {
    json!({ "Fn::If": [HAS_ALARM_TOPIC, [reference(ALARM_TOPIC_PARAMETER)], reference("AWS::NoValue")] })
}

/// An alarm that fires on any datapoint above `threshold` in five minutes.
fn alarm(description: String, metric: Value) -> Value {
    let mut props = json!({
        "AlarmDescription": description,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        // No datapoint is no failure: an idle stack is a healthy one.
        "TreatMissingData": "notBreaching",
        "AlarmActions": alarm_actions()
    });
    let (Value::Object(p), Value::Object(m)) = (&mut props, metric) else {
        unreachable!("both are objects");
    };
    p.extend(m);
    json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": props })
}

fn function_alarm(f: &Function, metric: &str, what: &str) -> Value {
    alarm(
        format!("tally {}: {what} (AWS/Lambda {metric})", f.name),
        json!({
            "Namespace": "AWS/Lambda",
            "MetricName": metric,
            "Dimensions": [{ "Name": "FunctionName", "Value": reference(&function_id(f.name)) }],
            "Statistic": "Sum",
            "Period": 300
        }),
    )
}

/// A message in a dead-letter queue waits for a person: one is enough.
fn dead_letter_alarm(queue: &str) -> Value {
    alarm(
        format!("tally: messages in the dead-letter queue {queue}"),
        json!({
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{ "Name": "QueueName", "Value": get_att(queue, "QueueName") }],
            "Statistic": "Maximum",
            "Period": 300
        }),
    )
}

/// The functions that step coordination records, so write the
/// coordination's metrics (each under its own `function` dimension: its
/// physical name, which CloudFormation makes unique to the stack).
pub fn stepping_functions() -> impl Iterator<Item = &'static Function> {
    FUNCTIONS.iter().filter(|f| {
        f.uses
            .contains(&(Resource::Table("Records"), Access::Write))
    })
}

/// One `MetricStat` query per stepping function of `metric`, ids
/// `<prefix>0`, `<prefix>1`, ...; and the expression summing them.
fn summed(metric: &str, prefix: &str, period: u32) -> (Vec<Value>, String) {
    let mut queries = Vec::new();
    let mut ids = Vec::new();
    for (i, f) in stepping_functions().enumerate() {
        let id = format!("{prefix}{i}");
        queries.push(json!({
            "Id": id,
            "ReturnData": false,
            "MetricStat": {
                "Metric": {
                    "Namespace": metrics::NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{ "Name": metrics::FUNCTION_DIMENSION, "Value": reference(&function_id(f.name)) }]
                },
                "Period": period,
                "Stat": "Sum"
            }
        }));
        ids.push(id);
    }
    (queries, format!("SUM([{}])", ids.join(",")))
}

fn voter_timeout_alarm() -> Value {
    let (mut queries, total) = summed("VoterTimeout", "t", 300);
    queries.push(json!({ "Id": "timeouts", "Expression": total, "Label": "VoterTimeout", "ReturnData": true }));
    alarm(
        "tally: a deletion request timed out waiting for a voter (VoterTimeout)".into(),
        json!({ "Metrics": queries }),
    )
}

fn denial_rate_alarm() -> Value {
    let (mut queries, denials) = summed("DeletionDenials", "d", 900);
    let (approvals_q, approvals) = summed("DeletionApprovals", "a", 900);
    queries.extend(approvals_q);
    queries.push(json!({
        "Id": "rate",
        "Expression": format!("100 * {denials} / ({denials} + {approvals})"),
        "Label": "DeletionDenials, percent of decisions",
        "ReturnData": true
    }));
    let mut a = alarm(
        format!("tally: more than {DENIAL_RATE_PARAMETER} percent of the deletions decided in 15 minutes were denied (DeletionDenials)"),
        json!({ "Metrics": queries }),
    );
    a["Properties"]["Threshold"] = reference(DENIAL_RATE_PARAMETER);
    a
}

/// A dashboard widget of metrics (rows as CloudWatch's dashboard body
/// takes them), `width` of 24 columns.
fn widget(title: &str, stat: &str, rows: Vec<Value>, x: u32, y: u32) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stat": stat,
            "period": 300,
            "metrics": rows
        }
    })
}

/// A dashboard row: every series of `metric` with exactly these dimensions,
/// written by one of `functions` of this stack (by their physical names).
fn search<'a>(
    metric: &str,
    dimensions: &[&str],
    functions: impl Iterator<Item = &'a Function>,
    id: &str,
) -> Value {
    let mut keys = vec![metrics::NAMESPACE];
    keys.extend(dimensions);
    let ours: Vec<String> = functions
        .map(|f| {
            format!(
                "{}=\"${{{}}}\"",
                metrics::FUNCTION_DIMENSION,
                function_id(f.name)
            )
        })
        .collect();
    json!([{
        "expression": format!(
            "SEARCH('{{{}}} MetricName=\"{metric}\" ({})', 'Sum', 300)",
            keys.join(","),
            ours.join(" OR ")
        ),
        "label": metric,
        "id": id
    }])
}

/// The dashboard: the deletion flow (requests, votes by voter, approvals,
/// denials, timeouts), what each function handled, retried and rejected,
/// every queue's depth, and every function's errors and throttles. Its
/// body names resources as `${ID}` for `Fn::Sub` to fill in.
fn dashboard(dead_letter_ids: &[String]) -> Value {
    let by_function = [metrics::FUNCTION_DIMENSION];
    let by_voter = [metrics::FUNCTION_DIMENSION, metrics::VOTER_DIMENSION];
    let mut flow = Vec::new();
    for metric in metrics::COORDINATION {
        for f in stepping_functions() {
            flow.push(json!([
                metrics::NAMESPACE,
                metric,
                metrics::FUNCTION_DIMENSION,
                format!("${{{}}}", function_id(f.name))
            ]));
        }
    }
    let mut queues = Vec::new();
    for f in FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Rules) {
        queues.push(json!([
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            format!("${{{}.QueueName}}", queue_id(f))
        ]));
    }
    for id in dead_letter_ids {
        queues.push(json!([
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            format!("${{{id}.QueueName}}")
        ]));
    }
    let lambda = |metric: &str| -> Vec<Value> {
        FUNCTIONS
            .iter()
            .map(|f| {
                json!([
                    "AWS/Lambda",
                    metric,
                    "FunctionName",
                    format!("${{{}}}", function_id(f.name))
                ])
            })
            .collect()
    };
    let per_function: Vec<Value> = metrics::PER_FUNCTION
        .iter()
        .enumerate()
        .map(|(i, m)| search(m, &by_function, FUNCTIONS.iter(), &format!("f{i}")))
        .collect();
    let widgets = vec![
        widget(
            "Deletion flow: requests, votes, approvals, denials, timeouts",
            "Sum",
            flow,
            0,
            0,
        ),
        widget(
            "Votes by voter (DeletionVotes)",
            "Sum",
            vec![search(
                "DeletionVotes",
                &by_voter,
                stepping_functions(),
                "v",
            )],
            12,
            0,
        ),
        widget(
            "Timeouts by voter (VoterTimeout)",
            "Sum",
            vec![search("VoterTimeout", &by_voter, stepping_functions(), "t")],
            0,
            6,
        ),
        widget(
            "Inputs by function: handled, retried, rejected, swept",
            "Sum",
            per_function,
            12,
            6,
        ),
        widget(
            "Queue depths (function queues and dead-letter queues)",
            "Maximum",
            queues,
            0,
            12,
        ),
        widget("Function errors", "Sum", lambda("Errors"), 12, 12),
        widget("Function throttles", "Sum", lambda("Throttles"), 0, 18),
    ];
    let body =
        serde_json::to_string(&json!({ "widgets": widgets })).expect("a dashboard serializes");
    json!({
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": { "DashboardBody": { "Fn::Sub": body } }
    })
}

/// The function a rule target names. Every target the rules file accepts
/// has exactly one (`tally_core::targets::TARGETS`; checked as the crate
/// compiles).
pub fn target_function(target: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.target_name() == Some(target))
}

/// A rule's description, within EventBridge's 512 characters.
fn rule_description(rule: &Rule) -> String {
    rule.description.chars().take(512).collect()
}

/// The template for these rules and this policy, as JSON. Errors when the
/// policy is too large for a function's environment.
pub fn template(rules: &Rules, policy: &Policy) -> Result<Value, String> {
    let policy_text = crate::policy::render(policy)?;
    for f in FUNCTIONS {
        let bound = environment_bound(f, &policy_text);
        if bound > crate::policy::LAMBDA_ENVIRONMENT_LIMIT {
            return Err(format!(
                "the policy is {} bytes as {} holds it: with the other variables of the {} \
                 function (up to {} bytes in all) it exceeds Lambda's {} bytes of environment",
                policy_text.len(),
                env::POLICY,
                f.name,
                bound,
                crate::policy::LAMBDA_ENVIRONMENT_LIMIT
            ));
        }
    }
    let mut ids = Ids::new();
    let mut resources = Map::new();
    let mut outputs = Map::new();

    // The stack's name in the bus's: two stacks in one account and
    // region would otherwise fight over one bus.
    resources.insert(
        BUS_ID.into(),
        json!({
            "Type": "AWS::Events::EventBus",
            "Properties": { "Name": { "Fn::Sub": format!("${{AWS::StackName}}-{}", rules.bus) } }
        }),
    );
    outputs.insert(
        "EventBusName".into(),
        json!({ "Description": "The event bus", "Value": reference(BUS_ID) }),
    );
    for t in TABLES {
        let id = table_id(t.logical);
        resources.insert(id.clone(), table_resource(t));
        outputs.insert(
            format!("{id}Name"),
            json!({ "Description": format!("{} ({})", t.logical, t.env), "Value": reference(&id) }),
        );
    }
    resources.insert(BUCKET_ID.into(), bucket_resource());
    outputs.insert(
        "ContentBucketName".into(),
        json!({ "Description": "The content bucket (CONTENT_BUCKET)", "Value": reference(BUCKET_ID) }),
    );

    // The rules' dead-letter queues, one per distinct name, and the rules
    // that send to each.
    let mut dlqs: Vec<(String, String, BTreeSet<String>)> = Vec::new();
    // Per function, the rules that send to its queue.
    let mut senders: Vec<BTreeSet<String>> = vec![BTreeSet::new(); FUNCTIONS.len()];
    for rule in &rules.rules {
        let rule_id = ids.allocate(format!("{}Rule", pascal(&rule.name)));
        let dlq = match dlqs
            .iter()
            .position(|(n, _, _)| *n == rule.dead_letter_queue)
        {
            Some(i) => i,
            None => {
                let id = ids.allocate(format!("{}Queue", pascal(&rule.dead_letter_queue)));
                dlqs.push((rule.dead_letter_queue.clone(), id, BTreeSet::new()));
                dlqs.len() - 1
            }
        };
        dlqs[dlq].2.insert(rule_id.clone());
        let mut targets = Vec::new();
        let mut seen = BTreeSet::new();
        for target in &rule.targets {
            if !seen.insert(target.as_str()) {
                continue;
            }
            let Some(i) = FUNCTIONS
                .iter()
                .position(|f| f.target_name() == Some(target))
            else {
                panic!("tally-deploy: no function in FUNCTIONS for the rule target {target:?}");
            };
            senders[i].insert(rule_id.clone());
            targets.push(json!({
                "Id": target,
                "Arn": get_att(&queue_id(&FUNCTIONS[i]), "Arn"),
                "RetryPolicy": {
                    "MaximumRetryAttempts": rule.retry.maximum_retry_attempts,
                    "MaximumEventAgeInSeconds": rule.retry.maximum_event_age_seconds
                },
                "DeadLetterConfig": { "Arn": get_att(&dlqs[dlq].1, "Arn") }
            }));
        }
        let mut props = Map::new();
        props.insert("Name".into(), json!(rule.name));
        let description = rule_description(rule);
        if !description.is_empty() {
            props.insert("Description".into(), json!(description));
        }
        props.insert("EventBusName".into(), reference(BUS_ID));
        props.insert("EventPattern".into(), rule.pattern.source().clone());
        props.insert("State".into(), json!("ENABLED"));
        props.insert("Targets".into(), Value::Array(targets));
        resources.insert(
            rule_id,
            json!({ "Type": "AWS::Events::Rule", "Properties": props }),
        );
    }
    let mut dead_letter_ids = Vec::new();
    for (name, id, rule_ids) in &dlqs {
        dead_letter_ids.push(id.clone());
        resources.insert(id.clone(), dead_letter_queue());
        // The rules file names these queues: their alarms' IDs are handed
        // out like theirs (the functions' own are reserved in `Ids`).
        let alarm = ids.allocate(depth_alarm_id(id));
        resources.insert(alarm, dead_letter_alarm(id));
        let policy = ids.allocate(format!("{id}Policy"));
        resources.insert(policy, queue_policy(id, rule_ids));
        outputs.insert(
            ids.allocate(format!("{id}Url")),
            json!({
                "Description": format!("The rules' dead-letter queue {name}"),
                "Value": reference(id)
            }),
        );
    }

    for (f, rule_ids) in FUNCTIONS.iter().zip(&senders) {
        if f.trigger == Trigger::Rules {
            resources.insert(queue_id(f), function_queue(f));
            resources.insert(function_dlq_id(f), dead_letter_queue());
            dead_letter_ids.push(function_dlq_id(f));
            resources.insert(
                depth_alarm_id(&function_dlq_id(f)),
                dead_letter_alarm(&function_dlq_id(f)),
            );
            if !rule_ids.is_empty() {
                resources.insert(queue_policy_id(f), queue_policy(&queue_id(f), rule_ids));
            }
        }
        resources.insert(
            logs_id(f),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": { "RetentionInDays": LOG_RETENTION_DAYS }
            }),
        );
        resources.insert(role_id(f), role_resource(f));
        resources.insert(function_id(f.name), function_resource(f, &policy_text));
        resources.insert(
            errors_alarm_id(f),
            function_alarm(f, "Errors", "failed invocations"),
        );
        resources.insert(
            throttles_alarm_id(f),
            function_alarm(f, "Throttles", "throttled invocations"),
        );
        if f.trigger == Trigger::Api {
            resources.insert(API_ID.into(), api_resource());
            outputs.insert(
                "ApiUrl".into(),
                json!({
                    "Description": format!("{} {API_PATH}", API_METHOD.to_uppercase()),
                    "Value": {
                        "Fn::Sub": format!("https://${{{API_ID}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{API_STAGE}/files/")
                    }
                }),
            );
        }
    }

    resources.insert(VOTER_TIMEOUT_ALARM_ID.into(), voter_timeout_alarm());
    resources.insert(DENIAL_RATE_ALARM_ID.into(), denial_rate_alarm());
    resources.insert(DASHBOARD_ID.into(), dashboard(&dead_letter_ids));

    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": format!(
            "tally: the event bus {}, its {} rules, the functions, tables and content bucket. \
             Generated by `tally template`; edit the rules file or tally-deploy, not this.",
            rules.bus,
            rules.rules.len()
        ),
        "Parameters": parameters(policy),
        "Conditions": {
            HAS_ALARM_TOPIC: { "Fn::Not": [{ "Fn::Equals": [reference(ALARM_TOPIC_PARAMETER), ""] }] }
        },
        "Globals": {
            "Function": {
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Architectures": [reference(ARCHITECTURE_PARAMETER)]
            }
        },
        "Resources": resources,
        "Outputs": outputs
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_pascal_case_alphanumerics() {
        assert_eq!(pascal("file-processor"), "FileProcessor");
        assert_eq!(pascal("analytics_voter"), "AnalyticsVoter");
        assert_eq!(pascal("deletion.dlq-2"), "DeletionDlq2");
        assert_eq!(pascal("--"), "");
        assert_eq!(function_id("object-created"), "ObjectCreatedFunction");
    }

    #[test]
    fn allocated_ids_never_repeat_a_fixed_or_earlier_one() {
        let mut ids = Ids::new();
        assert_eq!(ids.allocate("ExecutorQueue".into()), "ExecutorQueue2");
        assert_eq!(ids.allocate("ABRule".into()), "ABRule");
        assert_eq!(ids.allocate("ABRule".into()), "ABRule2");
        assert_eq!(ids.allocate("ABRule".into()), "ABRule3");
    }
}
