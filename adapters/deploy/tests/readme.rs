//! The README's deploy commands (between `<!-- deploy -->` and
//! `<!-- /deploy -->`) are a sequence a user can paste: `./scripts/test`
//! runs all but `sam deploy` as they are written; this checks what it
//! cannot run: the files they name exist and read, and `sam deploy` has
//! every flag a first deployment needs.

mod common;

use common::*;
use tally_core::coordination::Policy;
use tally_core::rules::Rules;
use tally_deploy::policy::deciding_alike;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn readme() -> String {
    std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap()
}

/// The deploy block's commands, one a line.
fn deploy_commands(readme: &str) -> Vec<String> {
    let (_, rest) = readme
        .split_once("<!-- deploy -->\n")
        .expect("the README marks its deploy commands with <!-- deploy -->");
    let (block, _) = rest
        .split_once("<!-- /deploy -->")
        .expect("and <!-- /deploy -->");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The value after `flag` in a command's words.
fn flag<'a>(words: &'a [&'a str], name: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| *w == name)?;
    words.get(at + 1).copied()
}

/// What is wrong with a deploy block, one line per problem.
fn problems(commands: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let find = |start: &str| commands.iter().find(|c| c.starts_with(start));
    if find("./scripts/venv && export PATH=\"$PWD/.venv/bin:$PATH\"").is_none() {
        found.push("no line installs the tools (scripts/venv) and puts them on PATH".into());
    }
    match find("cargo run -q -p tally-sim --bin tally -- template ") {
        None => found.push("no `tally template` line".into()),
        Some(c) => {
            let words: Vec<&str> = c.split_whitespace().collect();
            match flag(&words, "--rules") {
                Some(f) => {
                    let text = std::fs::read_to_string(format!("{ROOT}/{f}")).unwrap_or_default();
                    if let Err(e) = Rules::parse(f, &text) {
                        found.push(format!("the rules file {f}: {e}"));
                    }
                }
                None => found.push("`tally template` without --rules".into()),
            }
            match flag(&words, "--policy") {
                Some(f) => {
                    let text = std::fs::read_to_string(format!("{ROOT}/{f}")).unwrap_or_default();
                    if let Err(e) = Policy::parse(f, &text) {
                        found.push(format!("the policy file {f}: {e}"));
                    }
                }
                None => found.push("`tally template` without --policy".into()),
            }
            if !c.ends_with("> template.json") {
                found.push("`tally template` does not write template.json".into());
            }
        }
    }
    for line in [
        "sam validate --lint --template-file template.json",
        "sam build --beta-features --template-file template.json",
    ] {
        if !commands.iter().any(|c| c == line) {
            found.push(format!("no `{line}`"));
        }
    }
    let Some(deploy) = find("sam deploy ") else {
        found.push("no `sam deploy`".into());
        return found;
    };
    let words: Vec<&str> = deploy.split_whitespace().collect();
    // The built template: the other one's CodeUri is the source folder.
    if flag(&words, "--template-file") != Some(".aws-sam/build/template.yaml") {
        found.push(
            "sam deploy: --template-file is not the built .aws-sam/build/template.yaml".into(),
        );
    }
    if flag(&words, "--stack-name").is_none_or(|s| s.starts_with("--")) {
        found.push("sam deploy: no --stack-name".into());
    }
    if !words.contains(&"--resolve-s3") {
        found.push("sam deploy: no --resolve-s3 (or --s3-bucket)".into());
    }
    if flag(&words, "--capabilities") != Some("CAPABILITY_IAM") {
        found
            .push("sam deploy: no --capabilities CAPABILITY_IAM (the template makes roles)".into());
    }
    let template = printed(&Rules::default_rules());
    let parameters = template["Parameters"].as_object().unwrap();
    let overrides: Vec<&str> = match words.iter().position(|w| *w == "--parameter-overrides") {
        Some(at) => words[at + 1..]
            .iter()
            .take_while(|w| !w.starts_with("--"))
            .copied()
            .collect(),
        None => Vec::new(),
    };
    for o in &overrides {
        match o.split_once('=') {
            Some((k, _)) if parameters.contains_key(k) => {}
            _ => found.push(format!(
                "sam deploy: {o} overrides no parameter of the template"
            )),
        }
    }
    for (name, p) in parameters {
        if p.get("Default").is_none()
            && !overrides.iter().any(|o| o.starts_with(&format!("{name}=")))
        {
            found.push(format!(
                "sam deploy: the parameter {name} has no default and is not given"
            ));
        }
    }
    found
}

#[test]
fn the_readme_deploys_as_documented() {
    let commands = deploy_commands(&readme());
    assert_eq!(problems(&commands), Vec::<String>::new(), "{commands:#?}");
}

/// The check itself works: the README as issue 16 found it, and a
/// `sam deploy` missing its bucket, are caught.
#[test]
fn a_deploy_line_missing_what_sam_needs_is_caught() {
    let commands = deploy_commands(&readme());
    let without_s3: Vec<String> = commands
        .iter()
        .map(|c| c.replace(" --resolve-s3", ""))
        .collect();
    assert_eq!(
        problems(&without_s3),
        ["sam deploy: no --resolve-s3 (or --s3-bucket)"]
    );
    let before = vec![
        "sam deploy --template-file template.json --parameter-overrides UserPoolArn=arn:aws:cognito-idp:x".to_owned(),
    ];
    let p = problems(&before);
    for want in [
        "no `tally template` line",
        "sam deploy: --template-file is not the built .aws-sam/build/template.yaml",
        "sam deploy: no --stack-name",
        "sam deploy: no --capabilities CAPABILITY_IAM (the template makes roles)",
    ] {
        assert!(p.iter().any(|x| x == want), "{want}: {p:#?}");
    }
}

/// The policy file the README deploys is the notes' policy, written out.
#[test]
fn the_default_policy_file_is_the_default_policy() {
    let file = format!("{ROOT}/rules/default.policy.toml");
    let p = Policy::parse(&file, &std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(deciding_alike(&p), deciding_alike(&Policy::default()));
}
