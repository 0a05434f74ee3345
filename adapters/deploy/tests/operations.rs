//! What running the stack needs, read back from the printed template: the
//! notes' timeouts and memory with each queue's visibility at six times
//! its function's timeout, names that let two stacks share an account,
//! the default architecture `scripts/lambda-build` builds, an alarm on
//! every dead-letter queue and every function, and a dashboard with every
//! metric the functions write.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use tally_core::coordination::{step, Flavour, Input, Policy, Request, Vote};
use tally_core::event::VoteDecision;
use tally_core::rules::Rules;
use tally_deploy::template::{function_id, DEFAULT_ARCHITECTURE};
use tally_deploy::{metrics, Trigger, FUNCTIONS};

fn default_template() -> Value {
    printed(&Rules::default_rules())
}

/// The function behind a queue, if a function's event source reads it.
fn reader_of<'a>(t: &'a Value, queue: &str) -> Option<&'a Value> {
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(_, f)| f)
        .find(|f| {
            f["Properties"]["Events"]
                .as_object()
                .into_iter()
                .flat_map(|e| e.values())
                .any(|e| e["Type"] == "SQS" && target_of(&e["Properties"]["Queue"]) == Some(queue))
        })
}

/// AWS's rule for SQS event sources, over the template as printed: every
/// queue a function reads hides a message at least six times as long as
/// that function may run.
fn visibility_violations(t: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (id, q) in of_type(t, "AWS::SQS::Queue") {
        let Some(f) = reader_of(t, id) else { continue };
        let timeout = f["Properties"]["Timeout"].as_u64().expect("a Timeout");
        let visibility = q["Properties"]["VisibilityTimeout"].as_u64().unwrap_or(30);
        if visibility < 6 * timeout {
            found.push(format!("{id}: visibility {visibility} s < 6 x {timeout} s"));
        }
    }
    found
}

#[test]
fn every_queue_hides_a_message_six_times_its_functions_timeout() {
    let t = default_template();
    assert_eq!(visibility_violations(&t), Vec::<String>::new());
    let readers = of_type(&t, "AWS::SQS::Queue")
        .into_iter()
        .filter(|(id, _)| reader_of(&t, id).is_some())
        .count();
    let by_rules = FUNCTIONS
        .iter()
        .filter(|f| f.trigger == Trigger::Rules)
        .count();
    assert_eq!(
        readers, by_rules,
        "each rule-started function reads one queue"
    );
}

/// The check itself fails on a template whose queue is too short.
#[test]
fn a_queue_below_six_times_is_caught() {
    let mut t = default_template();
    t["Resources"]["FileProcessorQueue"]["Properties"]["VisibilityTimeout"] = 3599.into();
    assert_eq!(
        visibility_violations(&t),
        ["FileProcessorQueue: visibility 3599 s < 6 x 600 s"]
    );
}

#[test]
fn timeouts_and_memory_are_the_notes() {
    let t = default_template();
    let props = |name: &str| resource(&t, &function_id(name))["Properties"].clone();
    // Note 003: the S3 event handler 60 s, the file processor 600 s,
    // the other consumers 300 s. Note 001: the deletion consumer 5
    // minutes and 512 MB.
    assert_eq!(props("object-created")["Timeout"], 60);
    assert_eq!(props("file-processor")["Timeout"], 600);
    assert_eq!(props("executor")["Timeout"], 300);
    assert_eq!(props("executor")["MemorySize"], 512);
    for f in FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Rules) {
        if !["file-processor", "executor"].contains(&f.name) {
            assert_eq!(props(f.name)["Timeout"], 300, "{}", f.name);
        }
    }
    // The API may not outlive API Gateway's 29 s.
    assert!(props("api")["Timeout"].as_u64().unwrap() <= 29);
    for f in FUNCTIONS {
        assert_eq!(props(f.name)["Timeout"], f.timeout_seconds, "{}", f.name);
        assert_eq!(props(f.name)["MemorySize"], f.memory_mb, "{}", f.name);
    }
}

/// Properties that name a resource for the whole account and region.
const PHYSICAL_NAMES: &[&str] = &[
    "Name",
    "TableName",
    "QueueName",
    "BucketName",
    "FunctionName",
    "RoleName",
    "LogGroupName",
    "DashboardName",
    "AlarmName",
    "TopicName",
    "StateMachineName",
];

/// Every fixed physical name that would clash between two stacks: one
/// without the stack's name in it. Rules are named within their bus.
fn clashing_names(t: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (id, r) in resources(t) {
        if r["Type"] == "AWS::Events::Rule" {
            continue;
        }
        for p in PHYSICAL_NAMES {
            if let Some(v) = r["Properties"].get(*p) {
                if !v.to_string().contains("AWS::StackName") {
                    found.push(format!("{id}.{p} = {v}"));
                }
            }
        }
    }
    found
}

#[test]
fn two_stacks_can_share_an_account_and_region() {
    let t = default_template();
    assert_eq!(clashing_names(&t), Vec::<String>::new());
    let rules = of_type(&t, "AWS::Events::Rule");
    assert!(!rules.is_empty());
    for (id, r) in rules {
        assert_eq!(
            target_of(&r["Properties"]["EventBusName"]),
            Some("EventBus"),
            "{id}"
        );
    }
}

#[test]
fn a_fixed_bus_name_is_caught() {
    let mut t = default_template();
    t["Resources"]["EventBus"]["Properties"]["Name"] = "tally-events".into();
    assert_eq!(clashing_names(&t), ["EventBus.Name = \"tally-events\""]);
}

/// The template's default architecture is the one scripts/lambda-build
/// builds when given none.
#[test]
fn the_default_architecture_is_the_one_lambda_build_builds() {
    let t = default_template();
    assert_eq!(
        t["Parameters"]["Architecture"]["Default"],
        DEFAULT_ARCHITECTURE
    );
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/lambda-build"
    ))
    .unwrap();
    let flag = match DEFAULT_ARCHITECTURE {
        "x86_64" => "--x86-64",
        "arm64" => "--arm64",
        other => panic!("no cargo lambda flag for {other}"),
    };
    assert!(
        script.contains(&format!("\narchitecture={flag}\n")),
        "scripts/lambda-build does not default to {flag}"
    );
}

/// Each alarm's metric, as `(namespace, metric, dimension values)`.
fn alarmed(t: &Value) -> Vec<(String, String, Vec<Value>)> {
    let mut out = Vec::new();
    for (_, a) in of_type(t, "AWS::CloudWatch::Alarm") {
        let p = &a["Properties"];
        let mut add = |ns: &Value, m: &Value, dims: &Value| {
            let values = dims
                .as_array()
                .map(|d| d.iter().map(|d| d["Value"].clone()).collect())
                .unwrap_or_default();
            out.push((
                ns.as_str().unwrap().to_owned(),
                m.as_str().unwrap().to_owned(),
                values,
            ));
        };
        if let Some(queries) = p["Metrics"].as_array() {
            for q in queries.iter().filter(|q| q.get("MetricStat").is_some()) {
                let m = &q["MetricStat"]["Metric"];
                add(&m["Namespace"], &m["MetricName"], &m["Dimensions"]);
            }
        } else {
            add(&p["Namespace"], &p["MetricName"], &p["Dimensions"]);
        }
    }
    out
}

fn alarm_gaps(t: &Value) -> Vec<String> {
    let alarms = alarmed(t);
    let has = |ns: &str, metric: &str, dim: &Value| {
        alarms
            .iter()
            .any(|(n, m, d)| n == ns && m == metric && d.contains(dim))
    };
    let mut gaps = Vec::new();
    // Every dead-letter queue: what no queue reads, and no rule targets.
    for (id, _) in of_type(t, "AWS::SQS::Queue") {
        if reader_of(t, id).is_some() {
            continue;
        }
        let depth = serde_json::json!({ "Fn::GetAtt": [id, "QueueName"] });
        if !has("AWS/SQS", "ApproximateNumberOfMessagesVisible", &depth) {
            gaps.push(format!("no depth alarm on the dead-letter queue {id}"));
        }
    }
    for f in FUNCTIONS {
        let name = serde_json::json!({ "Ref": function_id(f.name) });
        for metric in ["Errors", "Throttles"] {
            if !has("AWS/Lambda", metric, &name) {
                gaps.push(format!("no {metric} alarm on {}", f.name));
            }
        }
    }
    for metric in ["VoterTimeout", "DeletionDenials"] {
        for f in tally_deploy::template::stepping_functions() {
            let name = serde_json::json!({ "Ref": function_id(f.name) });
            if !has(metrics::NAMESPACE, metric, &name) {
                gaps.push(format!("no {metric} alarm over {}", f.name));
            }
        }
    }
    gaps
}

#[test]
fn every_dead_letter_queue_and_function_has_its_alarms() {
    let t = default_template();
    assert_eq!(alarm_gaps(&t), Vec::<String>::new());
    let dead_letters = of_type(&t, "AWS::SQS::Queue")
        .into_iter()
        .filter(|(id, _)| reader_of(&t, id).is_none())
        .count();
    // The functions' own, and at least one the rules dead-letter into.
    assert!(
        dead_letters
            > FUNCTIONS
                .iter()
                .filter(|f| f.trigger == Trigger::Rules)
                .count()
    );
    // Every alarm notifies the topic when one is given, and no one otherwise.
    for (id, a) in of_type(&t, "AWS::CloudWatch::Alarm") {
        let actions = &a["Properties"]["AlarmActions"]["Fn::If"];
        assert_eq!(actions[0], "HasAlarmTopic", "{id}");
        assert_eq!(
            actions[1],
            serde_json::json!([{ "Ref": "AlarmTopicArn" }]),
            "{id}"
        );
        assert_eq!(
            actions[2],
            serde_json::json!({ "Ref": "AWS::NoValue" }),
            "{id}"
        );
    }
    assert_eq!(t["Parameters"]["AlarmTopicArn"]["Default"], "");
}

#[test]
fn a_missing_alarm_is_caught() {
    let mut t = default_template();
    let r = t["Resources"].as_object_mut().unwrap();
    r.remove("ExecutorThrottlesAlarm");
    r.remove("DeletionDlqQueueDepthAlarm");
    assert_eq!(
        alarm_gaps(&t),
        [
            "no depth alarm on the dead-letter queue DeletionDlqQueue",
            "no Throttles alarm on executor"
        ]
    );
}

/// The metric names the core writes, as it runs: a request approved, one
/// vetoed, one timed out.
fn core_metrics() -> BTreeSet<String> {
    let policy = Policy::default();
    let request = |id: &str| {
        Input::Request(Request {
            flavour: Flavour::Voting,
            event_id: format!("request-{id}"),
            request_id: id.into(),
            file_id: format!("file-{id}"),
            user_id: "alice".into(),
            account_id: "acc-alice".into(),
            account_type: None,
            transaction_count: 1,
            correlation_id: None,
            requested_at: 1_000,
        })
    };
    let vote = |id: &str, voter: &str, decision: VoteDecision| {
        Input::Vote(Vote {
            flavour: Flavour::Voting,
            event_id: format!("vote-{id}-{voter}"),
            request_id: id.into(),
            file_id: format!("file-{id}"),
            voter: voter.into(),
            source: policy.voter_sources[voter].clone(),
            decision,
            reason: Some("checked".into()),
        })
    };
    let runs = [
        vec![
            request("a"),
            vote("a", "analytics_manager", VoteDecision::Proceed),
            vote("a", "category_manager", VoteDecision::Proceed),
        ],
        vec![
            request("d"),
            vote("d", "analytics_manager", VoteDecision::Deny),
        ],
        vec![
            request("t"),
            Input::Timer {
                request_id: "t".into(),
            },
        ],
    ];
    let mut names = BTreeSet::new();
    for inputs in runs {
        let mut record = None;
        for (i, input) in inputs.iter().enumerate() {
            let now = if matches!(input, Input::Timer { .. }) {
                1_000 + policy.voting.deadline_ms + 1
            } else {
                1_000 + i as i64
            };
            let s = step(record.take(), input, now, &policy);
            for m in s.metrics() {
                names.insert(m.name.to_owned());
            }
            record = s.record;
        }
    }
    names
}

/// The metric names a dashboard shows: in its rows, and in its SEARCH
/// expressions' `MetricName="..."`.
fn dashboard_metrics(t: &Value) -> BTreeSet<String> {
    let dashboards = of_type(t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = dashboards[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("the body is one Fn::Sub");
    let body: Value = serde_json::from_str(body).expect("the body is JSON");
    let mut names = BTreeSet::new();
    for w in body["widgets"].as_array().unwrap() {
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            assert!(row.is_array(), "a dashboard row is an array: {row}");
            if row[0] == metrics::NAMESPACE {
                names.insert(row[1].as_str().unwrap().to_owned());
            }
            if let Some(e) = row[0]["expression"].as_str() {
                if let Some((_, rest)) = e.split_once("MetricName=\"") {
                    names.insert(rest.split('"').next().unwrap().to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn every_metric_the_functions_write_is_on_the_dashboard() {
    let emitted = core_metrics();
    // The core's, as it runs, are the ones tally-deploy lists.
    let listed: BTreeSet<String> = metrics::COORDINATION
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(
        emitted, listed,
        "the core's metrics and tally_deploy::metrics::COORDINATION"
    );
    let shown = dashboard_metrics(&default_template());
    for m in emitted
        .iter()
        .map(String::as_str)
        .chain(metrics::PER_FUNCTION.iter().copied())
    {
        assert!(shown.contains(m), "{m} is not on the dashboard: {shown:?}");
    }
}

#[test]
fn the_dashboard_shows_every_queue_and_function() {
    let t = default_template();
    let body = resource(&t, "Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, _) in of_type(&t, "AWS::SQS::Queue") {
        assert!(body.contains(&format!("${{{id}.QueueName}}")), "queue {id}");
    }
    for f in FUNCTIONS {
        assert!(
            body.contains(&format!("${{{}}}", function_id(f.name))),
            "{}",
            f.name
        );
    }
    // Fn::Sub fills in only what exists.
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        let id = name.split('.').next().unwrap();
        assert!(
            id.starts_with("AWS::") || resources(&t).contains_key(id),
            "${{{name}}}"
        );
        rest = &rest[end..];
    }
}

/// A policy too large for Lambda's 4 KB of environment is refused when
/// the template is made, naming the function and the sizes.
#[test]
fn a_policy_too_large_for_a_functions_environment_is_refused() {
    let mut p = Policy::default();
    for i in 0..100 {
        p.voter_sources
            .insert(format!("voter_{i:03}"), format!("source-{i:03}.service"));
    }
    let e = tally_deploy::template::template(&Rules::default_rules(), &p).unwrap_err();
    assert!(e.contains("4096 bytes of environment"), "{e}");
    assert!(
        e.contains("the aggregator function") || e.contains("function"),
        "{e}"
    );
    assert!(tally_deploy::template::template(&Rules::default_rules(), &Policy::default()).is_ok());
}
