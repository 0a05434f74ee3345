//! The SAM CLI validates the generated template as `sam deploy` would read
//! it: `sam validate --lint` (SAM's own translation, then cfn-lint on the
//! result), offline, for the default rules and policy and for the tricky
//! rules with scenario 12's policy file.
//!
//! The `sam` executable is the one in `TALLY_SAM` (see `common::validator`): `./scripts/test`
//! installs it (pinned, with `scripts/venv`) and sets the variable.
//! Without it this test fails rather than skip.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tally_core::coordination::Policy;
use tally_core::rules::Rules;

const SAM_VAR: &str = "TALLY_SAM";

fn sam() -> PathBuf {
    validator(SAM_VAR, "the SAM CLI", "sam", "sam")
}

/// `sam validate --lint` on one template, offline and without telemetry.
fn validate(template: &Path) -> Output {
    Command::new(sam())
        .args([
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template-file",
        ])
        .arg(template)
        .env("SAM_CLI_TELEMETRY", "0")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run sam ({SAM_VAR}): {e}"))
}

fn scenario_policy() -> Policy {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/12-a-policy-of-its-own.policy.toml"
    );
    Policy::parse(file, &std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn sam_validate_lint_passes_the_generated_templates() {
    let templates = [
        ("tally-sam-default", printed(&Rules::default_rules())),
        (
            "tally-sam-policy",
            tally_deploy::template::template(&tricky_rules(), &scenario_policy()).unwrap(),
        ),
    ];
    for (name, t) in templates {
        let path = write_template(name, &t);
        let out = validate(&path);
        let text = printed_by(&out);
        assert!(
            out.status.success() && text.contains("is a valid SAM Template"),
            "sam validate --lint: {name} ({}):\n{text}",
            out.status
        );
        let _ = std::fs::remove_file(&path);
    }
}

/// The check itself works: an SQS event source without its queue is
/// refused (SAM cannot translate it).
#[test]
fn sam_validate_lint_catches_a_broken_template() {
    let mut t = printed(&Rules::default_rules());
    let events = &mut t["Resources"]["ExecutorFunction"]["Properties"]["Events"];
    events["Queue"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("Queue");
    let path = write_template("tally-sam-broken", &t);
    let out = validate(&path);
    let text = printed_by(&out);
    assert!(
        !out.status.success(),
        "sam validate passed a broken template:\n{text}"
    );
    assert!(text.contains("'Queue' is a required property"), "{text}");
    let _ = std::fs::remove_file(&path);
}
