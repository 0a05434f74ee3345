//! Every rule reaches the template whole: its pattern, read back out of the
//! printed JSON, compiles with the core's compiler, equals the rules file's
//! pattern and routes every known event as the rules file does; its
//! targets, retry policy and dead-letter queue are the file's; and the
//! queues it sends to let it (and only the rules that target them) send.
//! cfn-lint does not look inside `EventPattern`, so this is the check.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use tally_core::event::samples;
use tally_core::pattern::Pattern;
use tally_core::rules::Rules;
use tally_core::wire::{DeliveredEvent, Delivery};
use tally_deploy::template::target_function;

fn check_patterns(rules: &Rules) {
    let t = printed(rules);
    let events: Vec<String> = samples::all()
        .iter()
        .map(|e| DeliveredEvent::wrap(e, "template-test", &Delivery::default()).to_json())
        .collect();
    assert_eq!(
        of_type(&t, "AWS::Events::Rule").len(),
        rules.rules.len(),
        "one AWS::Events::Rule per rule"
    );
    for rule in &rules.rules {
        let (_, r) = common::rule(&t, &rule.name);
        let embedded = &r["Properties"]["EventPattern"];
        assert!(
            embedded.is_object(),
            "rule {}: EventPattern must be a JSON object, found {embedded}",
            rule.name
        );
        assert_eq!(
            embedded,
            rule.pattern.source(),
            "rule {}: the template's pattern differs from the rules file's",
            rule.name
        );
        let from_value = Pattern::from_value(embedded)
            .unwrap_or_else(|e| panic!("rule {}: the template's pattern: {e}", rule.name));
        let from_text = Pattern::compile(&embedded.to_string())
            .unwrap_or_else(|e| panic!("rule {}: the template's pattern text: {e}", rule.name));
        for json in &events {
            let want = rule.pattern.matches(json.as_bytes()).unwrap();
            assert_eq!(
                from_value.matches(json.as_bytes()).unwrap(),
                want,
                "rule {}: the template's pattern routes differently: {json}",
                rule.name
            );
            assert_eq!(from_text.matches(json.as_bytes()).unwrap(), want);
        }
    }
}

#[test]
fn default_rules_patterns_round_trip_through_the_template() {
    check_patterns(&Rules::default_rules());
}

#[test]
fn every_pattern_operator_round_trips_through_the_template() {
    check_patterns(&tricky_rules());
}

/// The logical ID of the queue each target of a rule must point at.
fn function_queue(target: &str) -> String {
    let f = target_function(target).unwrap_or_else(|| panic!("no function for {target}"));
    format!("{}Queue", tally_deploy::template::pascal(f.name))
}

fn check_rules_wiring(rules: &Rules) {
    let t = printed(rules);
    let bus = resource(&t, "EventBus");
    assert_eq!(bus["Type"], "AWS::Events::EventBus");
    // The stack's name, then the rules file's bus name.
    assert_eq!(
        bus["Properties"]["Name"]["Fn::Sub"],
        format!("${{AWS::StackName}}-{}", rules.bus)
    );
    let rule_ids: BTreeSet<&str> = of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        rule_ids.len(),
        rules.rules.len(),
        "every rule has its own logical ID"
    );
    for rule in &rules.rules {
        let (rule_id, r) = common::rule(&t, &rule.name);
        let p = &r["Properties"];
        assert_eq!(target_of(&p["EventBusName"]), Some("EventBus"));
        assert_eq!(p["State"], "ENABLED");
        let targets = p["Targets"].as_array().unwrap();
        let mut distinct: Vec<&String> = Vec::new();
        for target in &rule.targets {
            if !distinct.contains(&target) {
                distinct.push(target);
            }
        }
        assert_eq!(targets.len(), distinct.len(), "rule {}", rule.name);
        let mut dlq = None;
        for (target, x) in distinct.iter().zip(targets) {
            assert_eq!(x["Id"], target.as_str());
            let queue = target_of(&x["Arn"]).unwrap();
            assert_eq!(queue, function_queue(target), "rule {}", rule.name);
            assert_eq!(
                x["RetryPolicy"]["MaximumRetryAttempts"],
                rule.retry.maximum_retry_attempts
            );
            assert_eq!(
                x["RetryPolicy"]["MaximumEventAgeInSeconds"],
                rule.retry.maximum_event_age_seconds
            );
            let this_dlq = target_of(&x["DeadLetterConfig"]["Arn"]).unwrap();
            assert_eq!(resource(&t, this_dlq)["Type"], "AWS::SQS::Queue");
            assert_eq!(*dlq.get_or_insert(this_dlq), this_dlq);
            assert!(
                queue_senders(&t, queue).contains(rule_id),
                "{queue}'s policy must let rule {} send",
                rule.name
            );
            assert!(
                queue_senders(&t, this_dlq).contains(rule_id),
                "{this_dlq}'s policy must let rule {} dead-letter into it",
                rule.name
            );
        }
    }
    // One dead-letter queue per distinct name, shared by the rules naming it.
    let names: BTreeSet<&str> = rules
        .rules
        .iter()
        .map(|r| r.dead_letter_queue.as_str())
        .collect();
    for name in names {
        let queues: BTreeSet<&str> = rules
            .rules
            .iter()
            .filter(|r| r.dead_letter_queue == name)
            .map(|r| {
                let (_, x) = common::rule(&t, &r.name);
                target_of(&x["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]).unwrap()
            })
            .collect();
        assert_eq!(queues.len(), 1, "dead-letter queue {name}: {queues:?}");
    }
    // Every queue policy names only rules that really send there.
    for (id, qp) in of_type(&t, "AWS::SQS::QueuePolicy") {
        let queue = target_of(&qp["Properties"]["Queues"][0]).unwrap();
        for sender in queue_senders(&t, queue) {
            let (_, x) = resources(&t)
                .iter()
                .find(|(rid, _)| rid.as_str() == sender)
                .unwrap();
            let sends_there = x["Properties"]["Targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|tg| {
                    target_of(&tg["Arn"]) == Some(queue)
                        || target_of(&tg["DeadLetterConfig"]["Arn"]) == Some(queue)
                });
            assert!(
                sends_there,
                "{id} lets {sender} send to {queue}, which it never does"
            );
        }
    }
}

/// The rules a queue's policy lets EventBridge send from.
fn queue_senders<'a>(t: &'a Value, queue: &str) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    for (_, qp) in of_type(t, "AWS::SQS::QueuePolicy") {
        let p = &qp["Properties"];
        if target_of(&p["Queues"][0]) != Some(queue) {
            continue;
        }
        for s in p["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(s["Principal"]["Service"], "events.amazonaws.com");
            assert_eq!(s["Action"], "sqs:SendMessage");
            assert_eq!(target_of(&s["Resource"]), Some(queue));
            for arn in s["Condition"]["ArnEquals"]["aws:SourceArn"]
                .as_array()
                .unwrap()
            {
                out.insert(target_of(arn).unwrap());
            }
        }
    }
    out
}

#[test]
fn default_rules_target_their_functions_queues_with_retry_and_dead_letters() {
    check_rules_wiring(&Rules::default_rules());
}

#[test]
fn rule_names_that_collide_as_logical_ids_get_their_own() {
    let rules = tricky_rules();
    check_rules_wiring(&rules);
    let t = printed(&rules);
    // `a-b` and `a.b` both read `AB`; `ApiFunction` reads like the API's ID.
    assert_eq!(common::rule(&t, "a-b").0, "ABRule");
    assert_eq!(common::rule(&t, "a.b").0, "ABRule2");
    assert_eq!(common::rule(&t, "ApiFunction").0, "ApiFunctionRule");
    assert_eq!(
        resource(&t, "ApiFunction")["Type"],
        "AWS::Serverless::Function"
    );
    // The dead-letter queue `executor` must not be the executor's queue.
    let (_, ab) = common::rule(&t, "a-b");
    let dlq = target_of(&ab["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]).unwrap();
    assert_ne!(dlq, "ExecutorQueue");
    assert!(resource(&t, "ExecutorQueue")["Properties"]["RedrivePolicy"].is_object());
}
