//! Tests added to catch the rules-file mutants that cargo-mutants found
//! surviving (see docs/mutants.md).

use tally_core::rules::{Rules, RulesError};

fn with_rule_named(name: &str) -> Result<Rules, RulesError> {
    Rules::parse(
        "names.toml",
        &format!(
            "bus = \"b\"\n[[rule]]\nname = {name:?}\npattern = '{{\"source\": [\"file.service\"]}}'\ntargets = [\"audit\"]\ndead_letter_queue = \"dlq\"\n"
        ),
    )
}

/// A rule is found by its own name, and only by it.
#[test]
fn rule_finds_each_rule_by_its_name() {
    let rules = Rules::default_rules();
    assert!(rules.rules.len() > 1);
    for r in &rules.rules {
        let found = rules.rule(&r.name).expect("every rule is found by name");
        assert_eq!(found.name, r.name);
        assert_eq!(found.targets, r.targets);
    }
    assert!(rules.rule("no-such-rule").is_none());
}

/// Rule names are 1 to 64 of letters, digits, '.', '-' and '_', as
/// EventBridge requires; anything else is refused naming the `name` field.
#[test]
fn rule_names_follow_eventbridge_rules() {
    for ok in ["a", "File.uploads-2_x", &"n".repeat(64)] {
        let rules = with_rule_named(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert_eq!(rules.rules[0].name, ok);
    }
    for bad in ["", &"n".repeat(65), "has space", "slash/name", "ünïcode"] {
        match with_rule_named(bad) {
            Err(RulesError::Rule { field, .. }) => assert_eq!(field, "name", "{bad:?}"),
            other => panic!("{bad:?} must be refused, got {other:?}"),
        }
    }
}
