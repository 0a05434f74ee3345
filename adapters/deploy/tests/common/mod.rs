//! Reading the generated template back: the tests look at the JSON, as
//! CloudFormation would, never at the generator's internals.

#![allow(dead_code)]

use serde_json::Value;
use tally_core::rules::Rules;
use tally_deploy::template::template;

/// The template as `tally template` prints it, parsed back from its text.
pub fn printed(rules: &Rules) -> Value {
    let policy = tally_core::coordination::Policy::default();
    let text = serde_json::to_string_pretty(&template(rules, &policy).expect("a template"))
        .expect("the template serializes");
    serde_json::from_str(&text).expect("the printed template is JSON")
}

pub fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"]
        .as_object()
        .expect("the template has Resources")
}

/// `(logical ID, resource)` of every resource of this type.
pub fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

pub fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    resources(t)
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id} in the template"))
}

/// The logical ID an intrinsic (`Ref` or `Fn::GetAtt`) points at.
pub fn target_of(v: &Value) -> Option<&str> {
    if let Some(r) = v.get("Ref") {
        return r.as_str();
    }
    v.get("Fn::GetAtt")?.get(0)?.as_str()
}

/// The events rule whose `Name` is `name`.
pub fn rule<'a>(t: &'a Value, name: &str) -> (&'a str, &'a Value) {
    of_type(t, "AWS::Events::Rule")
        .into_iter()
        .find(|(_, r)| r["Properties"]["Name"] == name)
        .unwrap_or_else(|| panic!("no AWS::Events::Rule named {name}"))
}

pub fn as_strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("expected a string or a list of strings, found {other}"),
    }
}

/// A rules file that exercises the generator: names that differ only in
/// punctuation, a name that reads like a fixed logical ID, every pattern
/// operator, a rule whose targets repeat, a second bus name.
pub const TRICKY_RULES: &str = r#"
bus = "other-bus"

[[rule]]
name = "a-b"
pattern = '{"source": ["file.service"], "detail-type": [{"prefix": "file."}]}'
targets = ["audit", "audit"]
dead_letter_queue = "executor"

[[rule]]
name = "a.b"
description = "numbers, exists, anything-but, $or"
pattern = '''{
  "detail": {"data": {"transactionCount": [{"numeric": [">", 0, "<=", 1000]}],
                      "fileName": [{"exists": true}],
                      "processingStatus": [{"anything-but": ["failed", "pending"]}]}},
  "$or": [{"source": ["a.service"]}, {"detail-type": [{"suffix": ".created"}]}]
}'''
targets = ["analytics", "categorization", "executor"]
dead_letter_queue = "a.b"
retry = { maximum_retry_attempts = 0, maximum_event_age_seconds = 60 }

[[rule]]
name = "ApiFunction"
pattern = '{"source": [{"equals-ignore-case": "FILE.SERVICE"}], "detail": {"userId": [{"wildcard": "user-*"}]}}'
targets = ["aggregator"]
dead_letter_queue = "deletion-dlq"
"#;

pub fn tricky_rules() -> Rules {
    Rules::parse("tricky.toml", TRICKY_RULES).expect("the tricky rules are valid")
}
