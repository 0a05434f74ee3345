//! The template's structure, read back from the printed JSON: least
//! privilege (only the executor deletes data or content), each function's
//! environment exactly what it uses, its trigger, the tables as
//! `layout::TABLES` describes them, the outputs.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use tally_core::rules::{Rules, TARGETS};
use tally_deploy::layout::{KeyType, TABLES};
use tally_deploy::template::{function_id, table_id, target_function};
use tally_deploy::{env, Access, Resource, Trigger, FUNCTIONS};

fn default_template() -> Value {
    printed(&Rules::default_rules())
}

/// The consumers that claim first and give the claim back when their work
/// fails (`tally_core::consumers`): a release deletes the claim, so they
/// may delete from the idempotency table, and from nothing else.
const RELEASE_CLAIMS: &[&str] = &[
    "analytics",
    "analytics-voter",
    "notification",
    "file-processor",
];

/// `(Sid, actions, resources)` of every statement of a function's role.
fn statements(t: &Value, function: &str) -> Vec<(String, Vec<String>, Vec<Value>)> {
    let f = resource(t, &function_id(function));
    let role = target_of(&f["Properties"]["Role"]).expect("the function names its role");
    let policies = resource(t, role)["Properties"]["Policies"]
        .as_array()
        .unwrap();
    let mut out = Vec::new();
    for p in policies {
        for s in p["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            let resources = match &s["Resource"] {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            out.push((
                s["Sid"].as_str().unwrap_or("").to_owned(),
                as_strings(&s["Action"]),
                resources,
            ));
        }
    }
    out
}

/// Actions that delete data or content (consuming one's own queue's
/// messages, `sqs:DeleteMessage`, is not one).
fn deletes(action: &str) -> bool {
    action != "sqs:DeleteMessage"
        && (action.contains("Delete") || action.ends_with("BatchWriteItem"))
}

#[test]
fn only_the_executor_deletes_content_files_or_transactions() {
    let t = default_template();
    for f in FUNCTIONS {
        for (sid, actions, _) in statements(&t, f.name) {
            for a in actions.iter().filter(|a| deletes(a)) {
                let allowed = f.name == "executor"
                    || (sid == "IdempotencyTable" && RELEASE_CLAIMS.contains(&f.name));
                assert!(allowed, "{} may {a} (statement {sid})", f.name);
            }
        }
    }
}

#[test]
fn only_the_executor_gets_s3_delete_object() {
    let t = default_template();
    let with: Vec<&str> = FUNCTIONS
        .iter()
        .filter(|f| {
            statements(&t, f.name)
                .iter()
                .any(|(_, actions, _)| actions.iter().any(|a| a.starts_with("s3:Delete")))
        })
        .map(|f| f.name)
        .collect();
    assert_eq!(with, ["executor"]);
}

#[test]
fn no_wildcard_actions_and_no_resource_outside_the_stack() {
    let t = default_template();
    for f in FUNCTIONS {
        for (sid, actions, resources) in statements(&t, f.name) {
            for a in &actions {
                assert!(!a.contains('*'), "{}: {sid}: action {a}", f.name);
            }
            for r in &resources {
                let points_at = match r.get("Fn::Sub").and_then(Value::as_str) {
                    Some(sub) => sub
                        .strip_prefix("${")
                        .and_then(|s| s.split_once('.'))
                        .map(|(id, _)| id),
                    None => target_of(r),
                };
                let id = points_at.unwrap_or_else(|| {
                    panic!("{}: {sid}: resource {r} is not the stack's", f.name)
                });
                resource(&t, id);
            }
        }
    }
}

/// Per function, the actions on each table, in the template.
#[test]
fn every_function_gets_exactly_what_its_uses_grant() {
    let t = default_template();
    for f in FUNCTIONS {
        let stmts = statements(&t, f.name);
        let mut expected_sids: BTreeSet<String> = ["Logs".to_owned()].into();
        if f.trigger == Trigger::Rules {
            expected_sids.insert("Queue".into());
        }
        for &(resource, access) in f.uses {
            match resource {
                Resource::Table(logical) => {
                    let sid = format!("{logical}Table");
                    let (_, actions, resources) = stmts
                        .iter()
                        .find(|(s, _, _)| *s == sid)
                        .unwrap_or_else(|| panic!("{}: no statement for table {logical}", f.name));
                    let has = |a: &str| actions.iter().any(|x| x == a);
                    assert!(has("dynamodb:GetItem") && has("dynamodb:Query"));
                    assert_eq!(
                        has("dynamodb:PutItem"),
                        access != Access::Read,
                        "{}",
                        f.name
                    );
                    assert_eq!(has("dynamodb:UpdateItem"), access != Access::Read);
                    assert_eq!(
                        has("dynamodb:DeleteItem"),
                        access == Access::ReadWriteDelete,
                        "{}: {logical}",
                        f.name
                    );
                    assert_eq!(
                        has("dynamodb:BatchWriteItem"),
                        access == Access::ReadWriteDelete
                    );
                    let table = tally_deploy::layout::table(logical).unwrap();
                    assert_eq!(
                        target_of(&resources[0]),
                        Some(table_id(logical).as_str()),
                        "{}: {sid}",
                        f.name
                    );
                    assert_eq!(resources.len(), 1 + table.indexes.len());
                    expected_sids.insert(sid);
                }
                Resource::ContentBucket => {
                    expected_sids.insert("ContentObjects".into());
                    expected_sids.insert("ContentList".into());
                }
                Resource::Bus => {
                    if access != Access::Read {
                        let (_, actions, resources) = stmts
                            .iter()
                            .find(|(s, _, _)| s == "Bus")
                            .unwrap_or_else(|| panic!("{}: no Bus statement", f.name));
                        assert_eq!(actions, &["events:PutEvents"]);
                        assert_eq!(target_of(&resources[0]), Some("EventBus"));
                        expected_sids.insert("Bus".into());
                    }
                }
            }
        }
        let sids: BTreeSet<String> = stmts.iter().map(|(s, _, _)| s.clone()).collect();
        assert_eq!(sids, expected_sids, "{}: statements", f.name);
        assert_eq!(sids.len(), stmts.len(), "{}: one statement per Sid", f.name);
    }
}

#[test]
fn every_function_env_names_exactly_what_it_uses() {
    let t = default_template();
    let functions = of_type(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), FUNCTIONS.len());
    for f in FUNCTIONS {
        let vars = resource(&t, &function_id(f.name))["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap();
        let names: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = f.env_vars().into_iter().collect();
        assert_eq!(names, expected, "{}", f.name);

        // The tables: exactly those it uses, each pointing at its table.
        let used_tables: BTreeSet<&str> = f
            .uses
            .iter()
            .filter_map(|(r, _)| match r {
                Resource::Table(t) => Some(*t),
                _ => None,
            })
            .collect();
        let env_tables: BTreeSet<&str> = TABLES
            .iter()
            .filter(|t| vars.contains_key(t.env))
            .map(|t| t.logical)
            .collect();
        assert_eq!(
            env_tables, used_tables,
            "{}: tables in its environment",
            f.name
        );
        for table in TABLES.iter().filter(|t| vars.contains_key(t.env)) {
            assert_eq!(
                target_of(&vars[table.env]),
                Some(table_id(table.logical).as_str())
            );
        }
        let uses = |r: Resource| f.uses.iter().any(|(x, _)| *x == r);
        assert_eq!(
            vars.contains_key(env::CONTENT_BUCKET),
            uses(Resource::ContentBucket)
        );
        assert_eq!(vars.contains_key(env::EVENT_BUS_NAME), uses(Resource::Bus));
        if let Some(v) = vars.get(env::CONTENT_BUCKET) {
            assert_eq!(target_of(v), Some("ContentBucket"));
        }
        if let Some(v) = vars.get(env::EVENT_BUS_NAME) {
            assert_eq!(target_of(v), Some("EventBus"));
        }
        assert!(!vars.contains_key(env::AWS_ENDPOINT_URL));
        // Every parameter a variable refers to exists.
        for v in vars.values() {
            if let Some(id) = v.get("Ref").and_then(Value::as_str) {
                assert!(
                    t["Parameters"].get(id).is_some() || resources(&t).contains_key(id),
                    "{}: Ref {id}",
                    f.name
                );
            }
        }
    }
}

#[test]
fn functions_run_the_cargo_lambda_builds_with_their_triggers() {
    let t = default_template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(
        t["Parameters"]["Architecture"]["AllowedValues"],
        serde_json::json!(["arm64", "x86_64"])
    );
    for f in FUNCTIONS {
        let p = &resource(&t, &function_id(f.name))["Properties"];
        // SAM's convention for Rust: the package, its binary, cargo-lambda.
        assert_eq!(p["CodeUri"], "adapters/lambda");
        let metadata = &resource(&t, &function_id(f.name))["Metadata"];
        assert_eq!(metadata["BuildMethod"], "rust-cargolambda", "{}", f.name);
        assert_eq!(metadata["BuildProperties"]["Binary"], f.name);
        let events = p["Events"].as_object().unwrap();
        assert_eq!(events.len(), 1, "{}", f.name);
        let e = events.values().next().unwrap();
        let ep = &e["Properties"];
        match f.trigger {
            Trigger::Rules => {
                assert_eq!(e["Type"], "SQS");
                assert_eq!(
                    ep["FunctionResponseTypes"],
                    serde_json::json!(["ReportBatchItemFailures"])
                );
                let queue = resource(&t, target_of(&ep["Queue"]).unwrap());
                let redrive = &queue["Properties"]["RedrivePolicy"];
                let dlq = target_of(&redrive["deadLetterTargetArn"]).unwrap();
                assert_eq!(resource(&t, dlq)["Type"], "AWS::SQS::Queue", "{}", f.name);
                assert!(redrive["maxReceiveCount"].as_u64().unwrap() >= 1);
                let visibility = queue["Properties"]["VisibilityTimeout"].as_u64().unwrap();
                let timeout = p["Timeout"].as_u64().unwrap();
                assert!(
                    visibility >= 6 * timeout,
                    "{}: {visibility} < 6 x {timeout}",
                    f.name
                );
            }
            Trigger::Api => {
                assert_eq!(e["Type"], "Api");
                assert_eq!(ep["Path"], "/files/{id}");
                assert_eq!(ep["Method"].as_str().unwrap().to_uppercase(), "DELETE");
                // Behind the user pool authorizer: the function takes the
                // caller from the token's claims and refuses a call without.
                let api = resource(&t, target_of(&ep["RestApiId"]).unwrap());
                assert_eq!(api["Type"], "AWS::Serverless::Api");
                let auth = &api["Properties"]["Auth"];
                let default = auth["DefaultAuthorizer"].as_str().unwrap();
                assert_eq!(
                    auth["Authorizers"][default]["UserPoolArn"],
                    serde_json::json!({ "Ref": "UserPoolArn" })
                );
                let pool = &t["Parameters"]["UserPoolArn"];
                assert!(pool.get("Default").is_none(), "{pool}");
            }
            Trigger::ObjectCreated => {
                assert_eq!(e["Type"], "S3");
                assert_eq!(target_of(&ep["Bucket"]), Some("ContentBucket"));
                assert_eq!(ep["Events"], "s3:ObjectCreated:*");
            }
            Trigger::Schedule => {
                assert_eq!(e["Type"], "Schedule");
                assert_eq!(ep["Schedule"], "rate(1 minute)");
            }
        }
    }
}

#[test]
fn every_rule_target_is_a_function_started_by_rules() {
    for target in TARGETS {
        let f = target_function(target).unwrap_or_else(|| panic!("no function for {target}"));
        assert_eq!(f.trigger, Trigger::Rules, "{target}");
    }
    for f in FUNCTIONS {
        assert_eq!(
            f.target.is_some(),
            f.trigger == Trigger::Rules,
            "{}",
            f.name
        );
        let mut seen = BTreeSet::new();
        for (r, _) in f.uses {
            assert!(seen.insert(format!("{r:?}")), "{} uses {r:?} twice", f.name);
            if let Resource::Table(t) = r {
                assert!(
                    tally_deploy::layout::table(t).is_some(),
                    "{}: table {t}",
                    f.name
                );
            }
        }
    }
}

#[test]
fn tables_follow_the_layout() {
    let t = default_template();
    assert_eq!(of_type(&t, "AWS::DynamoDB::Table").len(), TABLES.len());
    for table in TABLES {
        let r = resource(&t, &table_id(table.logical));
        assert_eq!(r["DeletionPolicy"], "Retain");
        let p = &r["Properties"];
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
        let keys = p["KeySchema"].as_array().unwrap();
        assert_eq!(keys[0]["AttributeName"], table.pk);
        assert_eq!(keys[0]["KeyType"], "HASH");
        assert_eq!(
            keys.get(1).map(|k| k["AttributeName"].as_str().unwrap()),
            table.sk
        );
        let defined: Vec<(&str, &str)> = p["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["AttributeName"].as_str().unwrap(),
                    a["AttributeType"].as_str().unwrap(),
                )
            })
            .collect();
        let mut want: Vec<(&str, &str)> = vec![(table.pk, "S")];
        want.extend(table.sk.map(|sk| (sk, "S")));
        let gsis = p["GlobalSecondaryIndexes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(gsis.len(), table.indexes.len(), "{}", table.logical);
        for (index, gsi) in table.indexes.iter().zip(&gsis) {
            assert_eq!(gsi["IndexName"], index.name);
            assert_eq!(gsi["KeySchema"][0]["AttributeName"], index.pk.0);
            assert_eq!(gsi["KeySchema"][0]["KeyType"], "HASH");
            let ty = |k: KeyType| if k == KeyType::S { "S" } else { "N" };
            want.push((index.pk.0, ty(index.pk.1)));
            if let Some((sk, k)) = index.sk {
                assert_eq!(gsi["KeySchema"][1]["AttributeName"], sk);
                assert_eq!(gsi["KeySchema"][1]["KeyType"], "RANGE");
                want.push((sk, ty(k)));
            }
        }
        let mut once: Vec<(&str, &str)> = Vec::new();
        for (name, ty) in want {
            match once.iter().find(|(n, _)| *n == name) {
                Some((_, t)) => assert_eq!(*t, ty, "{}: {name} has two types", table.logical),
                None => once.push((name, ty)),
            }
        }
        assert_eq!(defined, once, "{}: attribute definitions", table.logical);
        match table.ttl {
            Some(ttl) => {
                assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], ttl);
                assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
            }
            None => assert!(p.get("TimeToLiveSpecification").is_none()),
        }
    }
    assert_eq!(resource(&t, "ContentBucket")["Type"], "AWS::S3::Bucket");
}

#[test]
fn outputs_name_the_bus_and_the_tables() {
    let t = default_template();
    let outputs = t["Outputs"].as_object().unwrap();
    assert_eq!(
        target_of(&outputs["EventBusName"]["Value"]),
        Some("EventBus")
    );
    for table in TABLES {
        let id = table_id(table.logical);
        let out = &outputs[&format!("{id}Name")];
        assert_eq!(target_of(&out["Value"]), Some(id.as_str()));
    }
    assert_eq!(
        target_of(&outputs["ContentBucketName"]["Value"]),
        Some("ContentBucket")
    );
}

#[test]
fn the_template_is_deterministic() {
    let rules = Rules::default_rules();
    let policy = tally_core::coordination::Policy::default();
    assert_eq!(
        tally_deploy::template::template(&rules, &policy),
        tally_deploy::template::template(&rules, &policy)
    );
}
