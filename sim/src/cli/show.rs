//! `tally show --seed N`: one run, as its decision log, as JSON, as a
//! Mermaid sequence diagram of the deletion flow, or as one self-contained
//! HTML page; `--request ID` or `--file ID` narrows every format to that
//! request's (or file's) decisions, flow and faults.

use clap::{Args, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The decision log, one line per decision.
    Text,
    /// One JSON object per decision (as `tally replay --json`).
    Json,
    /// A Mermaid sequence diagram of the deletion flow: deliveries with
    /// their request, decisions, timeouts, refusals, deletions and faults.
    Mermaid,
    /// One self-contained HTML page (no network): a timeline with a lane
    /// per function, a request filter, each event's JSON on a click.
    Html,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only this request (its requestId, or coordinationId in the
    /// completion flavour): its decision, its flow and its faults.
    #[arg(long, value_name = "ID", conflicts_with = "file")]
    pub request: Option<String>,
    /// Only the requests for this file (its fileId).
    #[arg(long, value_name = "ID")]
    pub file: Option<String>,
    /// Workload, rules, policy and pinned faults, as `explore` takes them.
    #[command(flatten)]
    pub config: tally_sim::args::ConfigArgs,
}

#[cfg(not(madsim))]
pub fn run(_: ShowArgs) -> ExitCode {
    eprintln!("error: this `tally` was built without the simulator (it needs --cfg madsim); run ./scripts/tally show ...");
    ExitCode::from(2)
}

#[cfg(madsim)]
pub fn run(args: ShowArgs) -> ExitCode {
    use tally_sim::timeline::Only;
    let (rules, policy) = match args.config.load() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut c = args.config.run_config(args.seed, &rules, &policy);
    c.record_deliveries =
        !matches!(args.format, Format::Json) || args.request.is_some() || args.file.is_some();
    let r = tally_sim::world::run(&c);
    let only = match (&args.request, &args.file) {
        (Some(id), _) => Only::Request(id),
        (None, Some(id)) => Only::File(id),
        (None, None) => Only::All,
    };
    match render(args.format, only, &r) {
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

/// A request id short enough for a diagram's arrow (a UUID's first block).
#[cfg_attr(not(madsim), allow(dead_code))]
fn short(id: &str) -> &str {
    if id.len() > 12 {
        id.get(..8).unwrap_or(id)
    } else {
        id
    }
}

/// Mermaid participant ids must be plain words; names keep their dots as labels.
#[cfg_attr(not(madsim), allow(dead_code))]
fn mermaid_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text Mermaid would read as syntax (`;`, `#`, `:` inside a message)
/// written so that it cannot.
#[cfg_attr(not(madsim), allow(dead_code))]
fn mermaid_text(text: &str) -> String {
    text.replace(';', ",")
        .replace('#', "no.")
        .replace(['\n', '\r'], " ")
}

/// The run in `format`, narrowed to `only` (an error naming the request
/// or file when the run has none such).
#[cfg(madsim)]
fn render(
    format: Format,
    only: tally_sim::timeline::Only<'_>,
    r: &tally_sim::world::RunReport,
) -> Result<String, String> {
    use std::fmt::Write;
    use tally_core::time::to_rfc3339_millis;
    use tally_sim::timeline::{self, DecisionAt, Kind, Only, Parts};
    let decided: Vec<DecisionAt> = r
        .decisions
        .iter()
        .map(|d| DecisionAt {
            at: d.at,
            request_id: d.request_id.clone(),
            file_id: d.file_id.clone(),
            outcome: d.outcome.clone(),
            cause: d.cause.clone(),
        })
        .collect();
    let parts = Parts {
        deliveries: &r.deliveries,
        decisions: &decided,
        refusals: &r.refusals,
        marks: &r.marks,
    };
    let entries = timeline::build(&parts, only);
    let decisions: Vec<&tally_sim::trace::DecisionOut> = r
        .decisions
        .iter()
        .filter(|d| only.keeps(Some(&d.request_id), Some(&d.file_id)))
        .collect();
    let none = |flag: &str, id: &str, known: Vec<String>| {
        format!(
            "--{flag} {id:?}: the run of seed {} has no such {flag}; its {flag}s are: {}",
            r.seed,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
    };
    if entries.is_empty() && decisions.is_empty() {
        match only {
            Only::Request(id) => return Err(none("request", id, timeline::requests(&parts))),
            Only::File(id) => return Err(none("file", id, timeline::files(&parts))),
            Only::All => {}
        }
    }
    let narrowed = !matches!(only, Only::All);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let mut line = |l: String| {
        let _ = writeln!(out, "{l}");
    };
    match format {
        Format::Text => {
            line(format!("# seed {} | {}", r.seed, r.mix.describe()));
            // A decision line is `<time> <requestId> file=...` (coordination::log).
            let kept = |l: &&String| {
                !narrowed
                    || decisions
                        .iter()
                        .any(|d| l.split(' ').nth(1) == Some(d.request_id.as_str()))
            };
            for l in r.decision_log.iter().filter(kept) {
                line(l.clone());
            }
            if narrowed {
                for e in entries
                    .iter()
                    .filter(|e| !matches!(e.kind, Kind::Decision | Kind::Timeout))
                {
                    let at = to_rfc3339_millis(e.at);
                    match e.kind {
                        Kind::Delivery => {
                            line(format!("  {at} {} -> {}: {}", e.from, e.to, e.event_type))
                        }
                        _ => line(format!("  {at} {}: {}", e.from, e.label)),
                    }
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
            let mut names: Vec<&str> = entries
                .iter()
                .flat_map(|e| [e.from.as_str(), e.to.as_str()])
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            names.retain(|n| seen.insert(*n));
            for n in &names {
                line(format!("    participant {} as {n}", mermaid_id(n)));
            }
            for e in &entries {
                let at = to_rfc3339_millis(e.at).get(11..23).unwrap_or("").to_owned();
                let req = e
                    .request
                    .as_deref()
                    .map_or(String::new(), |id| format!(" [{}]", short(id)));
                match e.kind {
                    Kind::Delivery => line(format!(
                        "    {}->>{}: {at} {}{req}",
                        mermaid_id(&e.from),
                        mermaid_id(&e.to),
                        e.event_type
                    )),
                    kind => {
                        let mark = if kind.is_fault() { "FAULT " } else { "" };
                        line(format!(
                            "    Note over {}: {at} {mark}{}{req}",
                            mermaid_id(&e.from),
                            mermaid_text(&e.label)
                        ))
                    }
                }
            }
        }
        Format::Html => {
            let title = match only {
                Only::All => format!("tally: seed {}", r.seed),
                Only::Request(id) => format!("tally: seed {}, request {id}", r.seed),
                Only::File(id) => format!("tally: seed {}, file {id}", r.seed),
            };
            out.push_str(&super::html::page(
                &title,
                &r.mix.describe(),
                &r.reproducer,
                &entries,
            ));
        }
    }
    Ok(out)
}

#[cfg(all(test, madsim))]
mod tests {
    use super::*;
    use tally_sim::timeline::Only;
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
        let text = render(Format::Text, Only::Request(id), &r).unwrap();
        // Its decision line, once (a refusal's reason may name it too).
        let decided = |l: &&str| l.contains(id) && l.contains(" cause=");
        assert_eq!(text.lines().filter(decided).count(), 1, "{text}");
        assert!(text.contains(" -> aggregator: "), "{text}");
        let json = render(Format::Json, Only::Request(id), &r).unwrap();
        assert_eq!(json.lines().count(), 1, "{json}");
        assert!(json.contains(id), "{json}");
        let all = render(Format::Mermaid, Only::All, &r).unwrap();
        let one = render(Format::Mermaid, Only::Request(id), &r).unwrap();
        assert!(one.lines().count() > 3 && one.lines().count() < all.lines().count());
        for other in others {
            assert!(!text.contains(other) && !json.contains(other), "{other}");
        }
    }

    /// A run with every kind of fault the diagram must show.
    fn faulty_report() -> tally_sim::world::RunReport {
        // A seed whose run has timeouts and an approval among its faults.
        let mut c = RunConfig::new(13);
        c.workload.files = 4;
        c.workload.traffic = 0;
        c.pins = tally_sim::faults::Pins {
            no_faults: true,
            duplicate_rate: Some(0.4),
            invoke_failure_rate: Some(0.2),
            crash_rate: Some(0.2),
            drop_rate: Some(0.05),
            stalled_voter: Some("category_manager".into()),
            ..Default::default()
        };
        c.record_deliveries = true;
        run(&c)
    }

    /// Every arrow names its request, and the diagram shows each decision,
    /// each timeout and the faults injected, not only the deliveries.
    #[test]
    fn the_diagram_names_requests_and_shows_decisions_and_faults() {
        let r = faulty_report();
        let d = render(Format::Mermaid, Only::All, &r).unwrap();
        let arrows: Vec<&str> = d.lines().filter(|l| l.contains("->>")).collect();
        assert!(!arrows.is_empty(), "{d}");
        for a in &arrows {
            assert!(
                a.ends_with(']') && a.contains(" ["),
                "an arrow without its request: {a}"
            );
        }
        for dec in &r.decisions {
            let note = format!("{} ({})", dec.outcome, dec.cause);
            let id = short(&dec.request_id);
            assert!(
                d.lines().any(|l| l.contains("Note over aggregator")
                    && l.contains(&note)
                    && l.contains(id)),
                "{note} of {id} not drawn:\n{d}"
            );
        }
        assert!(
            r.decisions.iter().any(|x| x.cause == "timeout"),
            "the stalled voter times requests out"
        );
        let approved: Vec<_> = r
            .decisions
            .iter()
            .filter(|x| x.outcome == "approved")
            .collect();
        assert!(!approved.is_empty());
        for a in approved {
            let note = format!("deleted file {} [{}]", a.file_id, short(&a.request_id));
            assert!(
                d.lines()
                    .any(|l| l.contains("Note over executor") && l.ends_with(&note)),
                "{note}:\n{d}"
            );
        }
        for kind in ["duplicate", "crash", "retry"] {
            assert!(
                d.lines().any(|l| l.contains(&format!("FAULT {kind}: "))),
                "no {kind} drawn:\n{d}"
            );
        }
    }

    /// `--file` keeps the requests for that file and nothing else.
    #[test]
    fn one_file_only() {
        let r = faulty_report();
        let file = r.decisions[0].file_id.as_str();
        let text = render(Format::Json, Only::File(file), &r).unwrap();
        let mine = r.decisions.iter().filter(|d| d.file_id == file).count();
        assert_eq!(text.lines().count(), mine, "{text}");
        assert!(
            text.lines()
                .all(|l| l.contains(&format!("\"fileId\":\"{file}\""))),
            "{text}"
        );
        let d = render(Format::Mermaid, Only::File(file), &r).unwrap();
        for other in r.decisions.iter().filter(|d| d.file_id != file) {
            assert!(!d.contains(short(&other.request_id)), "{d}");
        }
        let e = render(Format::Text, Only::File("file-nope"), &r).unwrap_err();
        assert!(
            e.starts_with(
                "--file \"file-nope\": the run of seed 13 has no such file; its files are: "
            ),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_request_is_an_error_naming_it() {
        let r = report();
        let e = render(Format::Json, Only::Request("req-nope"), &r).unwrap_err();
        assert!(
            e.starts_with(
                "--request \"req-nope\": the run of seed 5 has no such request; its requests are: "
            ),
            "{e}"
        );
        assert!(e.contains(&r.decisions[0].request_id), "{e}");
    }
}
