//! `tally-aws`: the commands that need AWS, kept out of the `tally` CLI so
//! that it (and the simulator) never link the AWS SDK.
//!
//! `tally-aws capture --table NAME [--since T] [--until T] [--out FILE]`
//! exports the audit table as a trace that `tally replay` reads;
//! `--layout event-store [--attribute PART=NAME]...` reads instead an event
//! store another system's audit consumer writes (the notes' system's by
//! default). Region and credentials come from the usual AWS environment;
//! `--endpoint` (or AWS_ENDPOINT_URL) points it at an emulator.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::process::ExitCode;
use tally_aws::config::Tables;
use tally_aws::{AwsPorts, Clients};
use tally_core::time::{parse_rfc3339, Millis};

#[derive(Debug, Parser)]
#[command(name = "tally-aws", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Whose table `--table` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TableLayout {
    /// tally's own audit table.
    Tally,
    /// An event store: one item per event, its parts in attributes (the
    /// notes' system's audit consumer's names; `--attribute` renames any).
    EventStore,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Export the audit table as a trace (one delivered event per line).
    Capture {
        /// The audit table's name (the stack's AuditTableName output), or
        /// with --layout event-store the event store's.
        #[arg(long)]
        table: String,
        #[arg(long, value_enum, default_value_t = TableLayout::Tally)]
        layout: TableLayout,
        /// With --layout event-store, the attribute holding one part of the
        /// event, as PART=NAME (PART: eventId, eventType, eventVersion,
        /// source, timestamp, receivedAt, userId, correlationId,
        /// causationId, data, metadata); repeatable.
        #[arg(long, value_name = "PART=NAME")]
        attribute: Vec<String>,
        /// First instant, RFC 3339 (default: the beginning).
        #[arg(long)]
        since: Option<String>,
        /// Instant after the last, RFC 3339 (default: no end).
        #[arg(long)]
        until: Option<String>,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// An emulator's endpoint (with test credentials and us-east-1).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

fn instant(flag: &str, value: Option<&str>, default: Millis) -> Result<Millis, String> {
    match value {
        None => Ok(default),
        Some(v) => parse_rfc3339(v).ok_or_else(|| {
            format!("--{flag} {v:?}: expected an RFC 3339 time such as 2025-01-15T10:30:00Z")
        }),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Capture {
        table,
        layout,
        attribute,
        since,
        until,
        out,
        endpoint,
    } = Cli::parse().command;
    let range = instant("since", since.as_deref(), Millis::MIN)
        .and_then(|s| Ok((s, instant("until", until.as_deref(), Millis::MAX)?)));
    let (since, until) = match range {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut store = tally_aws::capture::Layout::event_store();
    if layout == TableLayout::Tally && !attribute.is_empty() {
        eprintln!(
            "error: --attribute names an event store's attributes: give --layout event-store too"
        );
        return ExitCode::from(2);
    }
    for spec in &attribute {
        if let Err(e) = store.set(spec) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let clients = match &endpoint {
        Some(url) => Clients::for_endpoint(url).await,
        None => Clients::from_env().await,
    };
    let ports = AwsPorts {
        clients,
        bus: String::new(),
        bucket: None,
        tables: Tables::new([("Audit", table.clone())]),
    };
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    // A running count on a terminal (a long range takes many pages);
    // nothing when stderr is redirected.
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("reading the table");
    let page = tally_aws::capture::PAGE_ITEMS;
    let tick = |n: usize| {
        spinner.set_message(format!("{n} events captured"));
        spinner.tick();
    };
    let captured = match layout {
        TableLayout::Tally => {
            tally_aws::capture::capture(&ports, since, until, page, &mut sink, tick)
                .await
                .map(|n| tally_aws::capture::StoreCapture {
                    written: n,
                    unreadable: Vec::new(),
                })
        }
        TableLayout::EventStore => {
            tally_aws::capture::capture_event_store(
                &ports, &table, &store, since, until, page, &mut sink, tick,
            )
            .await
        }
    };
    spinner.finish_and_clear();
    let what = match layout {
        TableLayout::Tally => "the audit table",
        TableLayout::EventStore => "the event store",
    };
    match captured {
        Ok(c) => {
            if let Err(e) = sink.flush() {
                eprintln!("error: writing the trace: {e}");
                return ExitCode::FAILURE;
            }
            for why in &c.unreadable {
                eprintln!("not captured: {why}");
            }
            eprintln!(
                "{} events captured from {what} {table}, {} items could not be made into events",
                c.written,
                c.unreadable.len()
            );
            if c.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
