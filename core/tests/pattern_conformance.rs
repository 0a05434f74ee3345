//! The AWS-validated conformance vectors: every case must agree.

use tally_core::pattern::conformance;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/eventbridge-patterns.jsonl"
);

#[test]
fn all_aws_vectors_agree() {
    let text = std::fs::read_to_string(FILE).expect("conformance file");
    let results = conformance::run_text(&text);
    assert_eq!(results.len(), 157, "the shared file holds 157 cases");
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{} (line {}): expected {:?}, got {:?}, message {:?}\n  pattern {}\n  event {}",
                r.name, r.line, r.expected, r.got, r.message, r.pattern, r.event
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} disagreements:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
