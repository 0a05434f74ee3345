//! The JSON shapes `tally` prints (`docs/json-output.schema.json`): each
//! line an object whose `type` names its shape.

use crate::faults::FaultMix;
use serde_json::{Map, Value};

/// A fault mix as an object keyed by the flags that pin its knobs, each
/// value a number, a boolean, a voter's name or null. Read off
/// [`FaultMix::describe`], the one place that names every knob, so that a
/// knob added there is here too.
pub fn mix_object(mix: &FaultMix) -> Value {
    let fields = mix.describe();
    let object: Map<String, Value> = fields
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, text)| {
            let value = match text {
                "-" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => serde_json::from_str::<serde_json::Number>(text)
                    .map_or_else(|_| Value::String(text.to_owned()), Value::Number),
            };
            (key.to_owned(), value)
        })
        .collect();
    Value::Object(object)
}

/// `value` (an object) with `"type": kind` added.
pub fn typed(kind: &str, value: Value) -> Value {
    let mut out = Map::new();
    out.insert("type".to_owned(), Value::String(kind.to_owned()));
    if let Value::Object(fields) = value {
        out.extend(fields);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_an_object_of_numbers_booleans_and_names() {
        let mut mix = FaultMix::none();
        mix.duplicate_rate = 0.25;
        mix.max_delay_ms = 900;
        mix.denying_voter = Some("category_manager".into());
        mix.forger = true;
        let v = mix_object(&mix);
        assert_eq!(v["duplicate-rate"], serde_json::json!(0.25));
        assert_eq!(v["max-delay-ms"], serde_json::json!(900));
        assert_eq!(v["denying-voter"], serde_json::json!("category_manager"));
        assert_eq!(v["stalled-voter"], Value::Null);
        assert_eq!(v["forger"], Value::Bool(true));
        assert_eq!(v["crash-rate"].as_f64(), Some(0.0));
        let described = mix.describe();
        assert_eq!(
            v.as_object().unwrap().len(),
            described.split(' ').count(),
            "every knob of {described}"
        );
    }
}
