//! cfn-lint validates the generated template (SAM transform included),
//! offline: no errors, no warnings. cfn-lint does not look inside
//! `EventPattern`; `tests/patterns.rs` checks those with the core's own
//! compiler.
//!
//! The cfn-lint executable is the one in `TALLY_CFN_LINT`: `./scripts/test`
//! installs it (pinned, with `scripts/venv`) and sets the variable. Without
//! it this test fails rather than skip, so that a suite that never
//! validated the template cannot pass.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use tally_core::rules::Rules;

/// The environment variable naming the cfn-lint executable.
const CFN_LINT_VAR: &str = "TALLY_CFN_LINT";

fn cfn_lint() -> PathBuf {
    validator(CFN_LINT_VAR, "cfn-lint", "cfn-lint", "cfn_lint")
}

fn write(name: &str, rules: &Rules) -> PathBuf {
    write_template(name, &printed(rules))
}

#[test]
fn cfn_lint_passes_the_templates_without_errors_or_warnings() {
    let lint = cfn_lint();
    let files = [
        write("tally-template-default", &Rules::default_rules()),
        write("tally-template-tricky", &tricky_rules()),
    ];
    // Errors and warnings (cfn-lint's default); none is ignored.
    let out = Command::new(&lint)
        .arg("--format")
        .arg("parseable")
        .arg("--")
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({CFN_LINT_VAR}): {e}", lint.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "cfn-lint ({}) found problems in the generated template ({}):\n{stdout}{stderr}",
        lint.display(),
        out.status
    );
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
}

/// The check itself works: a broken template is caught.
#[test]
fn cfn_lint_catches_a_broken_template() {
    let lint = cfn_lint();
    let mut t = printed(&Rules::default_rules());
    t["Resources"]["RecordsTable"]["Properties"]["BillingMode"] = "PAY_PER_BYTE".into();
    let path = write_template("tally-template-broken", &t);
    let out = Command::new(&lint)
        .arg("--format")
        .arg("parseable")
        .arg("--")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "cfn-lint passed a broken template");
    assert!(stdout.contains("PAY_PER_BYTE"), "{stdout}");
    let _ = std::fs::remove_file(&path);
}
