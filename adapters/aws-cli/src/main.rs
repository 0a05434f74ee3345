//! `tally-aws`: the commands that need AWS, kept out of the `tally` CLI so
//! that it (and the simulator) never link the AWS SDK.
//!
//! `tally-aws capture --table NAME [--since T] [--until T] [--out FILE]`
//! exports the audit table as a trace that `tally replay` reads. Region and
//! credentials come from the usual AWS environment; `--endpoint` (or
//! AWS_ENDPOINT_URL) points it at an emulator.

use clap::{Parser, Subcommand};
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Export the audit table as a trace (one delivered event per line).
    Capture {
        /// The audit table's name (the stack's AuditTableName output).
        #[arg(long)]
        table: String,
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
    spinner.set_message("reading the audit table");
    let page = tally_aws::capture::PAGE_ITEMS;
    let captured = tally_aws::capture::capture(&ports, since, until, page, &mut sink, |n| {
        spinner.set_message(format!("{n} events captured"));
        spinner.tick();
    })
    .await;
    spinner.finish_and_clear();
    match captured {
        Ok(n) => {
            if let Err(e) = sink.flush() {
                eprintln!("error: writing the trace: {e}");
                return ExitCode::FAILURE;
            }
            eprintln!("{n} events captured from the audit table {table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
