//! EventBridge's event-pattern language, with EventBridge's semantics.
//!
//! A [`Pattern`] compiles once from JSON text and matches many events; a
//! [`PatternSet`] holds many patterns and matches them together, reporting
//! the indexes of those that match. Events are never parsed into a tree:
//! a byte-level scanner walks each event once, reads only the values at
//! paths some pattern names, and skips the rest (SIMD bracket/quote skipper).
//!
//! Semantics follow AWS's event-ruler as EventBridge runs it, checked
//! against the AWS-validated vectors in `shared/conformance/`:
//! - fields AND, values in a field OR, `$or` at any level (at least two
//!   objects; operator names are reserved as field names inside it);
//!   nested keys and dotted keys join into one `.` path, in patterns and
//!   events alike; a key repeated in a pattern is read twice (the later leaf
//!   wins, objects merge);
//! - a field in an array matches if any element does, and the values used
//!   for one match come from one element of each array (array consistency);
//!   `exists: false` is judged against the elements chosen so far, fields
//!   taken in path order as event-ruler does;
//! - numbers compare exactly as decimals when in [-5e9, 5e9] with at most
//!   six decimals (`300`, `300.0`, `3.0e2` are equal); other numbers match
//!   only by their text, never by `numeric`, and are rejected in `numeric`
//!   and `anything-but`; strings never equal numbers;
//! - a pattern string that reads as an IP address matches that address in
//!   any spelling; `cidr` ranges run from the address as written to its
//!   last host address, masks below 32 (IPv4) or 128 (IPv6);
//! - `prefix`, `suffix`, `wildcard`, `equals-ignore-case` and `cidr` match
//!   strings only; `anything-but` matches every present value except the
//!   excluded strings (or numbers), so also null and other types, and never
//!   a missing field; only leaf values exist (not objects, not `[]`);
//! - `equals-ignore-case` accepts, per pattern character, its lower- or
//!   upper-case form (as event-ruler builds it);
//! - wildcards allow `\*` and `\\` escapes, reject `**`, and a field whose
//!   wildcards (with their enclosing quotes, as event-ruler stores strings)
//!   can match more than 10 pattern prefixes at once is "too complex", after
//!   event-ruler's MachineComplexityEvaluator.
//!
//! Events are checked as JSON where the scanner reads them; inside values it
//! skips, only the structure (strings, brackets) is checked. Nesting deeper
//! than 512 levels is an error. [`PatternSet::set_lazy_scan`] trades the
//! checks after the last needed key for speed, as the `quamina` crate does.

mod bytes;
mod compile;
pub mod conformance;
mod error;
mod ip;
mod json;
mod number;
mod set;
mod text;
mod unescape;

pub use error::{EventJsonError, PatternError};
pub use set::{PatternSet, Scratch};

use std::cell::RefCell;

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: serde_json::Value,
    branches: Vec<compile::CBranch>,
    single: PatternSet,
}

impl PatternSet {
    /// Adds a compiled pattern; returns its rule index (0, 1, 2, ...).
    pub fn add(&mut self, pattern: &Pattern) -> usize {
        self.add_branches(&pattern.branches)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

impl Pattern {
    /// Compiles pattern JSON text. Keys are read in document order; a key
    /// given twice is read twice (for a leaf the later one wins).
    pub fn compile(text: &str) -> Result<Pattern, PatternError> {
        let parsed = json::parse(text)?;
        Self::build(&parsed, parsed.to_serde())
    }

    /// Compiles a pattern already parsed by serde_json (whose map has no
    /// duplicate keys and may have lost the document order).
    pub fn from_value(value: &serde_json::Value) -> Result<Pattern, PatternError> {
        Self::build(&json::PVal::from_serde(value), value.clone())
    }

    fn build(parsed: &json::PVal, source: serde_json::Value) -> Result<Pattern, PatternError> {
        let branches = compile::compile(parsed)?;
        let mut single = PatternSet::new();
        single.add_branches(&branches);
        Ok(Pattern {
            source,
            branches,
            single,
        })
    }

    /// The pattern as given (for templates and reports).
    pub fn source(&self) -> &serde_json::Value {
        &self.source
    }

    /// Whether the event (JSON bytes) matches.
    pub fn matches(&self, event_json: &[u8]) -> Result<bool, EventJsonError> {
        let mut out = Vec::with_capacity(1);
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.single.matches_into(event_json, &mut scratch, &mut out),
            Err(_) => self
                .single
                .matches_into(event_json, &mut Scratch::new(), &mut out),
        })?;
        Ok(!out.is_empty())
    }
}
