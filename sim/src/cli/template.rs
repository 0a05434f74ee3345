//! `tally template`: the deployment's SAM/CloudFormation template (JSON),
//! generated from the rules file, the policy file and tally-deploy's
//! description of the functions, tables and environment.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// A rules file (TOML); the embedded default rules when omitted.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// A policy file (TOML), deployed whole to every function that decides
    /// or votes; the defaults when omitted.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// The template's text, or an error naming the rules or policy file.
pub fn render(args: &TemplateArgs) -> Result<String, String> {
    let rules = super::rules::load(args.rules.as_ref())?;
    let policy = tally_sim::args::load_policy(args.policy.as_deref())?;
    let template =
        tally_deploy::template::template(&rules, &policy).map_err(|e| match &args.policy {
            Some(p) => format!("{}: {e}", p.display()),
            None => e,
        })?;
    serde_json::to_string_pretty(&template).map_err(|e| format!("cannot print the template: {e}"))
}

pub fn run(args: TemplateArgs) -> ExitCode {
    match render(&args) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rules_make_a_template() {
        let text = render(&TemplateArgs {
            rules: None,
            policy: None,
        })
        .unwrap();
        let t: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
        assert_eq!(
            t["Resources"]["EventBus"]["Properties"]["Name"]["Fn::Sub"],
            "${AWS::StackName}-tally-events"
        );
    }

    /// --policy reaches every function that decides or votes, whole.
    #[test]
    fn the_policy_file_is_deployed_whole() {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/12-a-policy-of-its-own.policy.toml"
        );
        let text = render(&TemplateArgs {
            rules: None,
            policy: Some(file.into()),
        })
        .unwrap();
        let t: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want = tally_sim::args::load_policy(Some(std::path::Path::new(file))).unwrap();
        for f in [
            "AggregatorFunction",
            "SweeperFunction",
            "ComplianceVoterFunction",
        ] {
            let policy = t["Resources"][f]["Properties"]["Environment"]["Variables"]["POLICY"]
                .as_str()
                .unwrap_or_else(|| panic!("{f} has no POLICY"));
            let deployed = tally_core::coordination::Policy::parse("POLICY", policy).unwrap();
            assert_eq!(deployed, want, "{f}");
        }
        let bad =
            std::env::temp_dir().join(format!("tally-bad-policy-{}.toml", std::process::id()));
        std::fs::write(&bad, "[voting]\nrequired = []\n").unwrap();
        let err = render(&TemplateArgs {
            rules: None,
            policy: Some(bad.clone()),
        })
        .unwrap_err();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        assert!(err.contains("voting.required"), "{err}");
        let _ = std::fs::remove_file(&bad);
    }

    #[test]
    fn a_bad_rules_file_is_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("tally-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad-rules.toml");
        std::fs::write(&bad, "bus = \"b\"\n[[rule]]\nname = \"r\"\npattern = '{\"source\": \"x\"}'\ntargets = [\"audit\"]\ndead_letter_queue = \"d\"\n").unwrap();
        let err = render(&TemplateArgs {
            rules: Some(bad.clone()),
            policy: None,
        })
        .unwrap_err();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        assert!(err.contains("pattern"), "{err}");
        let missing = dir.join("missing.toml");
        let err = render(&TemplateArgs {
            rules: Some(missing.clone()),
            policy: None,
        })
        .unwrap_err();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
