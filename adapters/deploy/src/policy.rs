//! The coordination policy as the deployment carries it: one `POLICY`
//! variable holding a policy file's text, which every function that
//! decides or votes reads with the same `Policy::parse` the simulator and
//! `tally replay` use for `--policy`.

use serde_json::Value as Json;
use tally_core::coordination::Policy;

/// The name `Policy::parse` reports errors under when it reads the
/// variable (so a bad value reads `POLICY: voting.required: ...`).
pub const SOURCE_NAME: &str = crate::env::POLICY;

/// Lambda's limit on a function's environment: every key and value
/// together, in bytes.
pub const LAMBDA_ENVIRONMENT_LIMIT: usize = 4096;

/// The policy as a policy file's text with every field written out, so that
/// what a function decides with never depends on the defaults of the build
/// it runs. Errors if the text does not read back as a policy that decides
/// as this one ([`deciding_alike`]).
pub fn render(policy: &Policy) -> Result<String, String> {
    let json = serde_json::to_value(policy)
        .map_err(|e| format!("the policy cannot be written out: {e}"))?;
    let Some(toml::Value::Table(table)) = to_toml(&json) else {
        return Err("the policy is not a table".into());
    };
    let text = toml::to_string(&table).map_err(|e| format!("the policy cannot be written: {e}"))?;
    let back = Policy::parse(SOURCE_NAME, &text)
        .map_err(|e| format!("the policy as written does not read back: {e}\n{text}"))?;
    if deciding_alike(&back) != deciding_alike(policy) {
        return Err(format!(
            "the policy as written reads back as another policy:\n{text}"
        ));
    }
    Ok(text)
}

/// The policy with what cannot change a decision made equal: a large-file
/// threshold without large-file voters adds no one. (The notes' completion
/// flavour has the threshold "never", `u64::MAX`, which TOML's signed
/// integers cannot state: its text leaves it out.)
pub fn deciding_alike(policy: &Policy) -> Policy {
    let mut p = policy.clone();
    for f in [&mut p.voting, &mut p.completion] {
        if f.large_file_voters.is_empty() {
            f.large_file_threshold = u64::MAX;
        }
    }
    p
}

/// TOML's integers are 64-bit signed: a number above that is left out (see
/// [`deciding_alike`]); the read-back in [`render`] catches what that loses.
fn to_toml(v: &Json) -> Option<toml::Value> {
    Some(match v {
        Json::Null => return None,
        Json::Bool(b) => toml::Value::Boolean(*b),
        Json::Number(n) => toml::Value::Integer(n.as_i64()?),
        Json::String(s) => toml::Value::String(s.clone()),
        Json::Array(items) => toml::Value::Array(items.iter().filter_map(to_toml).collect()),
        Json::Object(fields) => toml::Value::Table(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_reads_back_as_itself() {
        let text = render(&Policy::default()).unwrap();
        let back = Policy::parse(SOURCE_NAME, &text).unwrap();
        assert_eq!(deciding_alike(&back), deciding_alike(&Policy::default()));
        assert_eq!(back.voting, Policy::default().voting);
        assert!(text.contains("[voter_sources]"), "{text}");
        assert!(!text.contains("18446744073709551615"), "{text}");
    }

    #[test]
    fn a_policy_file_reads_back_as_itself() {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/12-a-policy-of-its-own.policy.toml"
        );
        let p = Policy::parse(file, &std::fs::read_to_string(file).unwrap()).unwrap();
        assert_ne!(p, Policy::default());
        let text = render(&p).unwrap();
        assert_eq!(Policy::parse(SOURCE_NAME, &text).unwrap(), p);
    }

    /// What would change a decision is never left out unnoticed.
    #[test]
    fn a_threshold_that_matters_is_kept() {
        let mut p = Policy::default();
        p.voting.large_file_threshold = u64::MAX;
        assert!(
            render(&p).is_err(),
            "u64::MAX with large-file voters must be refused"
        );
    }
}
