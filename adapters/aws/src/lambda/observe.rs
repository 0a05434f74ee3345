//! What a function tells CloudWatch: structured JSON log lines (one per
//! input, carrying requestId and correlationId) and the core's metrics in
//! CloudWatch's embedded metric format (EMF), one JSON line each, which
//! CloudWatch turns into metrics without an API call.

use serde_json::{json, Map, Value};
use tally_core::coordination::Metric;
use tally_core::time::Millis;

/// The CloudWatch namespace of every tally metric.
pub const NAMESPACE: &str = "tally";

/// JSON logs on stdout, without ANSI colours; `RUST_LOG` filters.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}

/// EMF documents for `metrics` of `function` at `now`: one per distinct
/// dimension value (a document has one value per dimension), each metric
/// summed within its document.
pub fn emf(function: &str, metrics: &[Metric], now: Millis) -> Vec<String> {
    type Sums = Vec<(&'static str, u64)>;
    let mut groups: Vec<(Option<&(&'static str, String)>, Sums)> = Vec::new();
    for m in metrics {
        let dim = m.dimension.as_ref();
        let idx = match groups.iter().position(|(d, _)| *d == dim) {
            Some(i) => i,
            None => {
                groups.push((dim, Vec::new()));
                groups.len() - 1
            }
        };
        let sums = &mut groups[idx].1;
        match sums.iter_mut().find(|(n, _)| *n == m.name) {
            Some((_, v)) => *v += m.value,
            None => sums.push((m.name, m.value)),
        }
    }
    groups
        .into_iter()
        .map(|(dim, sums)| {
            let mut root = Map::new();
            root.insert("function".into(), json!(function));
            let mut dims = vec!["function"];
            if let Some((name, value)) = dim {
                root.insert((*name).into(), json!(value));
                dims.push(name);
            }
            let defs: Vec<Value> = sums
                .iter()
                .map(|(name, v)| {
                    root.insert((*name).into(), json!(v));
                    json!({ "Name": name, "Unit": "Count" })
                })
                .collect();
            root.insert(
                "_aws".into(),
                json!({
                    "Timestamp": now,
                    "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [dims], "Metrics": defs }],
                }),
            );
            Value::Object(root).to_string()
        })
        .collect()
}

/// A plain count, for the functions whose core handlers report no metrics.
pub fn count(name: &'static str, value: u64) -> Metric {
    Metric {
        name,
        dimension: None,
        value,
    }
}
