//! Tests added to catch the rules-file mutants that cargo-mutants found
//! surviving (see docs/mutants.md).

use tally_core::event::samples;
use tally_core::rules::{routing_table, Rules, RulesError, MAX_PATTERN_CHARS};

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

/// The routing table has one line per known event type and publishing
/// source, naming each rule it reaches with that rule's targets, or
/// "(nowhere)" when it reaches none.
#[test]
fn the_routing_table_lists_every_sample_and_where_it_goes() {
    let samples = samples::all();
    let table = routing_table(&Rules::default_rules());
    assert_eq!(table.len(), samples.len());
    for (line, event) in table.iter().zip(&samples) {
        let mut cols = line.split_whitespace();
        assert_eq!(cols.next(), Some(event.event_type()), "{line}");
        assert_eq!(cols.next(), Some(event.source.as_str()), "{line}");
    }
    let uploaded = table
        .iter()
        .find(|l| l.starts_with("file.uploaded "))
        .expect("file.uploaded has a line");
    assert!(
        uploaded.contains("file-uploads -> file_processor"),
        "{uploaded}"
    );

    let only_uploads = Rules::parse(
        "one.toml",
        "bus = \"b\"\n[[rule]]\nname = \"uploads\"\npattern = '{\"detail-type\": [\"file.uploaded\"]}'\ntargets = [\"file_processor\", \"audit\"]\ndead_letter_queue = \"dlq\"\n",
    )
    .unwrap();
    let table = routing_table(&only_uploads);
    for (line, event) in table.iter().zip(&samples) {
        if event.event_type() == "file.uploaded" {
            assert!(line.ends_with("uploads -> file_processor,audit"), "{line}");
        } else {
            assert!(line.ends_with("(nowhere)"), "{line}");
        }
    }
}

fn with_pattern_of(chars: usize) -> Result<Rules, RulesError> {
    // `{"detail-type": ["é…"]}`: 21 characters around the padding, which is
    // multi-byte so that characters, not bytes, are what is counted.
    let pattern = format!("{{\"detail-type\": [\"{}\"]}}", "é".repeat(chars - 21));
    assert_eq!(pattern.chars().count(), chars);
    Rules::parse(
        "long.toml",
        &format!(
            "bus = \"b\"\n[[rule]]\nname = \"long\"\npattern = '{pattern}'\ntargets = [\"audit\"]\ndead_letter_queue = \"dlq\"\n"
        ),
    )
}

/// A pattern may be as long as EventBridge's quota of 2048 characters and
/// no longer; a longer one is refused naming the `pattern` field.
#[test]
fn patterns_up_to_the_quota_are_accepted() {
    assert_eq!(MAX_PATTERN_CHARS, 2048);
    assert!(with_pattern_of(MAX_PATTERN_CHARS).is_ok());
    match with_pattern_of(MAX_PATTERN_CHARS + 1) {
        Err(RulesError::Rule { field, .. }) => assert_eq!(field, "pattern"),
        other => panic!("a pattern over the quota must be refused, got {other:?}"),
    }
}
