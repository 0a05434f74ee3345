//! What a function tells CloudWatch: structured JSON log lines (one per
//! input, carrying requestId and correlationId) and the core's metrics in
//! CloudWatch's embedded metric format (EMF), one JSON line each, which
//! CloudWatch turns into metrics without an API call.

use serde_json::{json, Map, Value};
use tally_core::coordination::Metric;
use tally_core::time::Millis;

/// The CloudWatch namespace of every tally metric.
pub const NAMESPACE: &str = tally_deploy::metrics::NAMESPACE;

/// The functions' log format: one flat JSON object per line, no ANSI
/// colours, written to `writer` (stdout in Lambda; a buffer in tests).
pub fn json_logs<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// JSON logs on stdout; `RUST_LOG` filters.
pub fn init_logs() {
    let _ = tracing::subscriber::set_global_default(json_logs(std::io::stdout));
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
            let by_function = tally_deploy::metrics::FUNCTION_DIMENSION;
            root.insert(by_function.into(), json!(function));
            // A per-voter metric is also written per function alone, so
            // that an alarm can watch one series per function instead of
            // one per function and voter (tally_deploy's alarms do).
            let mut dimension_sets = vec![vec![by_function]];
            if let Some((name, value)) = dim {
                root.insert((*name).into(), json!(value));
                dimension_sets.insert(0, vec![by_function, name]);
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
                    "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": dimension_sets, "Metrics": defs }],
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

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &'static str, dim: Option<&str>, value: u64) -> Metric {
        Metric {
            name,
            dimension: dim.map(|d| ("Voter", d.to_owned())),
            value,
        }
    }

    fn docs(metrics: &[Metric]) -> Vec<Value> {
        emf("aggregator", metrics, 1_736_937_000_000)
            .iter()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    /// Checks a document is valid EMF: _aws.Timestamp, one CloudWatchMetrics
    /// directive in namespace tally, whose dimensions and metric names are
    /// all keys of the root (metrics as numbers), and no other numbers.
    fn assert_emf(doc: &Value) {
        assert_eq!(doc["_aws"]["Timestamp"], 1_736_937_000_000_i64, "{doc}");
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1, "{doc}");
        let d = &directives[0];
        assert_eq!(d["Namespace"], NAMESPACE);
        assert_eq!(NAMESPACE, "tally");
        let dimension_sets = d["Dimensions"].as_array().unwrap();
        assert!(!dimension_sets.is_empty());
        for set in dimension_sets {
            for dim in set.as_array().unwrap() {
                let name = dim.as_str().unwrap();
                assert!(
                    doc[name].is_string(),
                    "dimension {name} is not a root string: {doc}"
                );
            }
        }
        let root = doc.as_object().unwrap();
        let metrics = d["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty());
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert_eq!(m["Unit"], "Count");
            assert!(
                root[name].is_u64(),
                "metric {name} is not a root number: {doc}"
            );
        }
        // Every numeric root key is a declared metric.
        for (k, v) in root {
            if v.is_number() {
                assert!(
                    metrics.iter().any(|m| m["Name"] == *k.as_str()),
                    "{k}: {doc}"
                );
            }
        }
        assert_eq!(doc["function"], "aggregator");
    }

    /// One document per distinct dimension value (and one without a
    /// dimension), each metric summed within its document.
    #[test]
    fn one_document_per_dimension_value_with_sums() {
        let out = docs(&[
            metric("DeletionVotes", Some("analytics_manager"), 1),
            metric("Handled", None, 1),
            metric("DeletionVotes", Some("category_manager"), 1),
            metric("DeletionVotes", Some("analytics_manager"), 2),
            metric("Handled", None, 4),
            metric("Decided", None, 1),
        ]);
        assert_eq!(out.len(), 3, "{out:?}");
        for d in &out {
            assert_emf(d);
        }
        let by_voter = |v: &str| {
            out.iter()
                .find(|d| d["Voter"] == v)
                .unwrap_or_else(|| panic!("no document for {v}: {out:?}"))
        };
        assert_eq!(by_voter("analytics_manager")["DeletionVotes"], 3);
        assert_eq!(by_voter("category_manager")["DeletionVotes"], 1);
        assert_eq!(
            by_voter("analytics_manager")["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function", "Voter"], ["function"]])
        );
        let plain = out.iter().find(|d| d.get("Voter").is_none()).unwrap();
        assert_eq!(plain["Handled"], 5);
        assert_eq!(plain["Decided"], 1);
        assert_eq!(
            plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function"]])
        );
        assert!(plain.get("DeletionVotes").is_none());
    }

    /// Every alarm on a tally metric watches a series these documents
    /// write: its metric under exactly the dimensions one of them declares.
    #[test]
    fn every_alarm_watches_a_series_the_functions_write() {
        let template = tally_deploy::template::template(
            &tally_core::rules::Rules::default_rules(),
            &tally_core::coordination::Policy::default(),
        )
        .unwrap();
        let mut watched = 0;
        for (id, r) in template["Resources"].as_object().unwrap() {
            if r["Type"] != "AWS::CloudWatch::Alarm" {
                continue;
            }
            for q in r["Properties"]["Metrics"].as_array().into_iter().flatten() {
                let m = &q["MetricStat"]["Metric"];
                if m["Namespace"] != NAMESPACE {
                    continue;
                }
                let name = m["MetricName"].as_str().unwrap();
                let dims = m["Dimensions"].as_array().unwrap();
                // The function's physical name, as Lambda tells it.
                let function = &dims.iter().find(|d| d["Name"] == "function").unwrap()["Value"];
                let logical = function["Ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: {function}"));
                assert!(
                    tally_deploy::FUNCTIONS
                        .iter()
                        .any(|f| tally_deploy::template::function_id(f.name) == logical),
                    "{id}: {function}"
                );
                let function = "tally-AggregatorFunction-0123456789AB";
                let names: Vec<&str> = dims.iter().map(|d| d["Name"].as_str().unwrap()).collect();
                let static_name = tally_deploy::metrics::COORDINATION
                    .iter()
                    .chain(tally_deploy::metrics::PER_FUNCTION)
                    .find(|n| **n == name)
                    .unwrap_or_else(|| panic!("{id}: {name} is no metric the functions write"));
                let dimension = tally_deploy::metrics::BY_VOTER
                    .contains(static_name)
                    .then(|| ("Voter", "analytics_manager".to_owned()));
                let metric = Metric {
                    name: static_name,
                    dimension,
                    value: 1,
                };
                let doc: Value = serde_json::from_str(&emf(function, &[metric], 0)[0]).unwrap();
                let sets = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone();
                assert!(
                    sets.as_array().unwrap().contains(&json!(names)),
                    "{id}: {name} by {names:?}, but the functions write {sets}"
                );
                watched += 1;
            }
        }
        assert!(watched >= 4, "{watched}");
    }

    /// No metrics, no documents; `count` is a plain metric.
    #[test]
    fn nothing_to_say_and_plain_counts() {
        assert!(docs(&[]).is_empty());
        let out = docs(&[count("Swept", 0)]);
        assert_eq!(out.len(), 1);
        assert_emf(&out[0]);
        assert_eq!(out[0]["Swept"], 0);
    }
}
