//! Captures a production trace from the audit table: every audited event
//! in a time range, as the delivered JSON text it arrived as, one per line,
//! in time order. `tally replay` reads the result.

use std::io::Write;
use tally_core::ports::{AuditLog, PortError};
use tally_core::time::Millis;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("reading the audit table: {0}")]
    Port(#[from] PortError),
    #[error("writing the trace: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes the audited events with `since <= timestamp < until` to `out`;
/// returns how many.
pub async fn capture<L: AuditLog>(
    log: &L,
    since: Millis,
    until: Millis,
    out: &mut impl Write,
) -> Result<usize, CaptureError> {
    let entries = log.entries(since, until).await?;
    for e in &entries {
        // The text as it arrived; a line break inside would split the line.
        if e.delivered.contains('\n') {
            let compact: serde_json::Value = serde_json::from_str(&e.delivered).map_err(|err| {
                PortError::Permanent(format!("audit entry {}: {err}", e.event_id))
            })?;
            writeln!(out, "{compact}")?;
        } else {
            writeln!(out, "{}", e.delivered)?;
        }
    }
    Ok(entries.len())
}
