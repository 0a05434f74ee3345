//! Colour for the words a person scans for (FAILED, passed). Printed with
//! `anstream`'s macros, which drop the colour when the stream is not a
//! terminal or NO_COLOR is set (CLICOLOR_FORCE forces it), as cargo does.

use anstyle::{AnsiColor, Style};

pub const FAIL: Style = AnsiColor::Red.on_default().bold();
pub const PASS: Style = AnsiColor::Green.on_default().bold();
// Only `run`, which needs the simulator, prints notes.
#[cfg_attr(not(madsim), allow(dead_code))]
pub const NOTE: Style = AnsiColor::Yellow.on_default();

/// `text` in `style`.
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}
