//! `tally show --seed N`: one run, as its decision log, as JSON, or as a
//! Mermaid sequence diagram of the deletion events between services.

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
    #[command(flatten)]
    pub workload: tally_sim::workload::Workload,
    #[command(flatten)]
    pub pins: tally_sim::faults::Pins,
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

#[cfg(not(madsim))]
pub fn run(_: ShowArgs) -> ExitCode {
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally show ...");
    ExitCode::from(2)
}

#[cfg(madsim)]
pub fn run(args: ShowArgs) -> ExitCode {
    use tally_sim::world::{run as run_one, RunConfig};
    let mut c = RunConfig::new(args.seed);
    c.pins = args.pins.clone();
    c.workload = args.workload.clone();
    c.record_deliveries = matches!(args.format, Format::Mermaid);
    let r = run_one(&c);
    match args.format {
        Format::Text => {
            println!("# seed {} | {}", r.seed, r.mix.describe());
            for l in &r.decision_log {
                println!("{l}");
            }
        }
        Format::Json => {
            for d in &r.decisions {
                println!("{}", d.to_json());
            }
        }
        Format::Mermaid => {
            println!("sequenceDiagram");
            let mut names: Vec<&str> = r
                .deliveries
                .iter()
                .filter(|d| FLOW.contains(&d.event_type.as_str()) && d.target != "audit")
                .flat_map(|d| [d.source.as_str(), d.target.as_str()])
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            names.retain(|n| seen.insert(*n));
            for n in &names {
                println!("    participant {} as {n}", mermaid_id(n));
            }
            for d in r
                .deliveries
                .iter()
                .filter(|d| FLOW.contains(&d.event_type.as_str()) && d.target != "audit")
            {
                println!(
                    "    {}->>{}: {} {}",
                    mermaid_id(&d.source),
                    mermaid_id(&d.target),
                    tally_core::time::to_rfc3339_millis(d.at)
                        .get(11..23)
                        .unwrap_or(""),
                    d.event_type
                );
            }
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
