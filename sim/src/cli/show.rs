//! `tally show --seed N`: one run, as its decision log, as JSON, or as a
//! Mermaid sequence diagram of the deletion events between services;
//! `--request ID` keeps only that request's decision and flow.

use clap::{Args, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The decision log, one line per decision.
    Text,
    /// One JSON object per decision (as `tally replay --json`).
    Json,
    /// A Mermaid sequence diagram of the deletion flow between services.
    Mermaid,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only this request (its requestId, or coordinationId in the
    /// completion flavour): its decision and the deliveries of its flow.
    #[arg(long, value_name = "ID")]
    pub request: Option<String>,
    /// Workload, rules, policy and pinned faults, as `explore` takes them.
    #[command(flatten)]
    pub config: tally_sim::args::ConfigArgs,
}

/// The events of the deletion flow (the rest of the traffic would drown it).
#[cfg_attr(not(madsim), allow(dead_code))]
const FLOW: &[&str] = &[
    "file.deletion.requested",
    "file.deletion.vote",
    "file.deletion.approved",
    "file.deletion.denied",
    "file.deleted",
    "file.delete_requested",
    "consumer.completion",
];

/// Mermaid participant ids must be plain words; names keep their dots as labels.
#[cfg_attr(not(madsim), allow(dead_code))]
fn mermaid_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The request a deletion-flow event is about.
#[cfg_attr(not(madsim), allow(dead_code))]
fn request_of(json: &str) -> Option<String> {
    use tally_core::event::EventData;
    let event = tally_core::wire::DeliveredEvent::from_json(json)
        .ok()?
        .decode()
        .ok()?;
    Some(match event.data {
        EventData::DeletionRequested(r) => r.request_id,
        EventData::DeletionVote(v) => v.request_id,
        EventData::DeletionApproved(a) => a.request_id,
        EventData::DeletionDenied(d) => d.request_id,
        EventData::FileDeleted(f) => f.request_id,
        EventData::DeleteRequested(r) => r.coordination_id,
        EventData::ConsumerCompletion(c) => c.coordination_id,
        _ => return None,
    })
}

#[cfg(not(madsim))]
pub fn run(_: ShowArgs) -> ExitCode {
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally show ...");
    ExitCode::from(2)
}

#[cfg(madsim)]
pub fn run(args: ShowArgs) -> ExitCode {
    let (rules, policy) = match args.config.load() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut c = args.config.run_config(args.seed, &rules, &policy);
    c.record_deliveries = matches!(args.format, Format::Mermaid) || args.request.is_some();
    let r = tally_sim::world::run(&c);
    match render(args.format, args.request.as_deref(), &r) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    for v in &r.violations {
        eprintln!("violated: {v}");
    }
    if r.ok() {
        ExitCode::SUCCESS
    } else {
        eprintln!("reproduce with: {}", r.reproducer);
        ExitCode::FAILURE
    }
}

/// The run in `format`, limited to request `only` when given (an error
/// naming it when the run has no such request).
#[cfg(madsim)]
fn render(
    format: Format,
    only: Option<&str>,
    r: &tally_sim::world::RunReport,
) -> Result<String, String> {
    use std::fmt::Write;
    use tally_core::time::to_rfc3339_millis;
    let flow: Vec<&tally_sim::observe::Delivered> = r
        .deliveries
        .iter()
        .filter(|d| FLOW.contains(&d.event_type.as_str()) && d.target != "audit")
        .filter(|d| only.is_none() || request_of(&d.json).as_deref() == only)
        .collect();
    let decisions: Vec<&tally_sim::trace::DecisionOut> = r
        .decisions
        .iter()
        .filter(|d| only.is_none_or(|id| d.request_id == id))
        .collect();
    if let Some(id) = only {
        if flow.is_empty() && decisions.is_empty() {
            let mut known: Vec<String> = r
                .decisions
                .iter()
                .map(|d| d.request_id.clone())
                .chain(r.deliveries.iter().filter_map(|d| request_of(&d.json)))
                .collect();
            known.sort();
            known.dedup();
            return Err(format!(
                "--request {id:?}: the run of seed {} has no such request; its requests are: {}",
                r.seed,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let mut line = |l: String| {
        let _ = writeln!(out, "{l}");
    };
    match format {
        Format::Text => {
            line(format!("# seed {} | {}", r.seed, r.mix.describe()));
            // A decision line is `<time> <requestId> file=...` (coordination::log).
            for l in r
                .decision_log
                .iter()
                .filter(|l| only.is_none_or(|id| l.split(' ').nth(1) == Some(id)))
            {
                line(l.clone());
            }
            if only.is_some() {
                for d in &flow {
                    line(format!(
                        "  {} {} -> {}: {}",
                        to_rfc3339_millis(d.at),
                        d.source,
                        d.target,
                        d.event_type
                    ));
                }
            }
        }
        Format::Json => {
            for d in &decisions {
                line(d.to_typed_json());
            }
        }
        Format::Mermaid => {
            line("sequenceDiagram".to_owned());
            let mut names: Vec<&str> = flow
                .iter()
                .flat_map(|d| [d.source.as_str(), d.target.as_str()])
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            names.retain(|n| seen.insert(*n));
            for n in &names {
                line(format!("    participant {} as {n}", mermaid_id(n)));
            }
            for d in &flow {
                line(format!(
                    "    {}->>{}: {} {}",
                    mermaid_id(&d.source),
                    mermaid_id(&d.target),
                    to_rfc3339_millis(d.at).get(11..23).unwrap_or(""),
                    d.event_type
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(all(test, madsim))]
mod tests {
    use super::*;
    use tally_sim::world::{run, RunConfig};

    fn report() -> tally_sim::world::RunReport {
        let mut c = RunConfig::new(5);
        c.workload.files = 3;
        c.workload.traffic = 0;
        c.record_deliveries = true;
        let r = run(&c);
        assert!(r.decisions.len() >= 2, "{:?}", r.decision_log);
        r
    }

    /// `--request` keeps that request's decision and flow and nothing of
    /// the others', in every format.
    #[test]
    fn one_request_only() {
        let r = report();
        let id = r.decisions[0].request_id.as_str();
        let others: Vec<&str> = r.decisions[1..]
            .iter()
            .map(|d| d.request_id.as_str())
            .collect();
        let text = render(Format::Text, Some(id), &r).unwrap();
        assert_eq!(text.lines().filter(|l| l.contains(id)).count(), 1, "{text}");
        assert!(text.contains(" -> aggregator: "), "{text}");
        let json = render(Format::Json, Some(id), &r).unwrap();
        assert_eq!(json.lines().count(), 1, "{json}");
        assert!(json.contains(id), "{json}");
        let all = render(Format::Mermaid, None, &r).unwrap();
        let one = render(Format::Mermaid, Some(id), &r).unwrap();
        assert!(one.lines().count() > 3 && one.lines().count() < all.lines().count());
        for other in others {
            assert!(!text.contains(other) && !json.contains(other), "{other}");
        }
    }

    #[test]
    fn an_unknown_request_is_an_error_naming_it() {
        let r = report();
        let e = render(Format::Json, Some("req-nope"), &r).unwrap_err();
        assert!(
            e.starts_with(
                "--request \"req-nope\": the run of seed 5 has no such request; its requests are: "
            ),
            "{e}"
        );
        assert!(e.contains(&r.decisions[0].request_id), "{e}");
    }
}
