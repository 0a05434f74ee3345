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

/// The validator executable the variable `var` names: `./scripts/test`
/// installs it (pinned, with `scripts/venv`) and sets the variable. Without
/// it a test fails rather than skip, so that a suite that never validated
/// the template cannot pass.
pub fn validator(var: &str, what: &str, venv_bin: &str, test: &str) -> std::path::PathBuf {
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => {
            let path = std::path::PathBuf::from(path);
            assert!(
                path.is_file(),
                "{var}={} is not a file; run ./scripts/test, which installs {what} \
                 with scripts/venv and sets {var}",
                path.display()
            );
            path
        }
        _ => panic!(
            "{var} is not set, so the template cannot be validated by {what}. \
             Run ./scripts/test, which installs it with scripts/venv and sets it \
             (or: ./scripts/venv && {var}=$PWD/.venv/bin/{venv_bin} cargo test -p tally-deploy --test {test})"
        ),
    }
}

/// `template` written as JSON to a file of its own in the test's
/// scratch folder.
pub fn write_template(name: &str, template: &Value) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string_pretty(template).unwrap())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// What a validator printed, standard output then standard error.
pub fn printed_by(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
