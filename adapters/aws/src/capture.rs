//! Captures a production trace from the audit table: every audited event
//! in a time range, as the delivered JSON text it arrived as, one per line,
//! in time order. `tally replay` reads the result. The table is read and
//! written a page at a time, so a long range is never held in memory.

use crate::ports::AwsPorts;
use std::io::Write;
use tally_core::ports::PortError;
use tally_core::time::Millis;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("reading the audit table: {0}")]
    Port(#[from] PortError),
    #[error("writing the trace: {0}")]
    Write(#[from] std::io::Error),
}

/// How many audit entries a page holds at most (a page is also at most
/// DynamoDB's 1 MB): the grain of the progress count.
pub const PAGE_ITEMS: i32 = 1000;

/// Writes the audited events with `since <= timestamp < until` to `out`,
/// reading pages of at most `page_items` entries and telling `progress`
/// the running count after each; returns how many.
pub async fn capture(
    ports: &AwsPorts,
    since: Millis,
    until: Millis,
    page_items: i32,
    out: &mut impl Write,
    mut progress: impl FnMut(usize),
) -> Result<usize, CaptureError> {
    let mut written = 0;
    ports
        .audit_pages(since, until, Some(page_items), |page| {
            for e in &page {
                write_line(out, &e.delivered, &e.event_id)?;
                written += 1;
            }
            progress(written);
            Ok::<_, CaptureError>(())
        })
        .await?;
    Ok(written)
}

/// One trace line: the text as it arrived, unless a line break inside it
/// would split the line (then compacted).
fn write_line(out: &mut impl Write, delivered: &str, event_id: &str) -> Result<(), CaptureError> {
    if delivered.contains('\n') {
        let compact: serde_json::Value = serde_json::from_str(delivered)
            .map_err(|err| PortError::Permanent(format!("audit entry {event_id}: {err}")))?;
        writeln!(out, "{compact}")?;
    } else {
        writeln!(out, "{delivered}")?;
    }
    Ok(())
}
