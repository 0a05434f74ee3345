//! Conformance files: one JSON object a line,
//! `{"name", "expect": "match"|"no-match"|"invalid", "pattern": "<json text>", "event": "<json text>"}`.

use super::Pattern;
use std::fmt;

/// An outcome of one pattern on one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The pattern compiled and matched the event.
    Match,
    /// The pattern compiled and did not match the event.
    NoMatch,
    /// The pattern was rejected.
    Invalid,
}

impl Outcome {
    /// The spelling used in conformance files.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::NoMatch => "no-match",
            Outcome::Invalid => "invalid",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        match s {
            "match" => Some(Outcome::Match),
            "no-match" => Some(Outcome::NoMatch),
            "invalid" => Some(Outcome::Invalid),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case of a conformance file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// 1-based line number in the file.
    pub line: usize,
    pub name: String,
    pub expect: Outcome,
    /// Pattern as JSON text.
    pub pattern: String,
    /// Event as JSON text.
    pub event: String,
}

/// The result of one line: a case run, or a line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// 1-based line number.
    pub line: usize,
    /// Case name ("line N" for an unreadable line).
    pub name: String,
    /// Expected outcome (None for an unreadable line).
    pub expected: Option<Outcome>,
    /// Outcome we got (None when the line or the event could not be read).
    pub got: Option<Outcome>,
    /// Why: the compile error, the event error, or the line's problem.
    pub message: Option<String>,
    pub pattern: String,
    pub event: String,
}

impl CaseResult {
    /// Whether we agree with the expected outcome.
    pub fn passed(&self) -> bool {
        self.expected.is_some() && self.expected == self.got
    }
}

/// Reads a conformance file's text: one `Result` per non-blank line.
pub fn parse_cases(text: &str) -> Vec<Result<Case, CaseResult>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        out.push(parse_line(line, raw));
    }
    out
}

fn parse_line(line: usize, raw: &str) -> Result<Case, CaseResult> {
    let bad = |msg: String| CaseResult {
        line,
        name: format!("line {line}"),
        expected: None,
        got: None,
        message: Some(msg),
        pattern: String::new(),
        event: String::new(),
    };
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| bad(format!("line {line} is not JSON: {e}")))?;
    let field = |k: &str| -> Result<String, CaseResult> {
        v.get(k)
            .and_then(|x| x.as_str())
            .map(str::to_string)
            .ok_or_else(|| bad(format!("line {line}: \"{k}\" must be a string")))
    };
    let name = field("name")?;
    let expect_s = field("expect")?;
    let expect = Outcome::parse(&expect_s).ok_or_else(|| {
        bad(format!(
            "line {line}: \"expect\" must be match, no-match or invalid, not {expect_s:?}"
        ))
    })?;
    Ok(Case {
        line,
        name,
        expect,
        pattern: field("pattern")?,
        event: field("event")?,
    })
}

/// Runs one case.
pub fn run_case(case: &Case) -> CaseResult {
    let (got, message) = match Pattern::compile(&case.pattern) {
        Err(e) => (Some(Outcome::Invalid), Some(e.to_string())),
        Ok(p) => match p.matches(case.event.as_bytes()) {
            Ok(true) => (Some(Outcome::Match), None),
            Ok(false) => (Some(Outcome::NoMatch), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    CaseResult {
        line: case.line,
        name: case.name.clone(),
        expected: Some(case.expect),
        got,
        message,
        pattern: case.pattern.clone(),
        event: case.event.clone(),
    }
}

/// Runs every line of a conformance file's text.
pub fn run_text(text: &str) -> Vec<CaseResult> {
    parse_cases(text)
        .into_iter()
        .map(|c| match c {
            Ok(case) => run_case(&case),
            Err(bad) => bad,
        })
        .collect()
}
