//! Many patterns compiled together, matched in one pass over each event.
//!
//! All pattern paths are split at `.` into a trie of segments (`trie.rs`).
//! The scanner (`scan.rs`) walks the event bytes once: each key is split the
//! same way and looked up from the current trie node; a key that leads
//! nowhere has its value skipped by a bracket/quote skipper; a leaf value at a
//! path some pattern names is recorded (strings borrowed when they hold no
//! escape). Array elements carry their (array id, index) membership only when
//! they sit inside an array. Rules are then evaluated against the recorded
//! values (`eval.rs`).
//!
//! The three files import one another in one direction only: this one uses
//! all three, `scan` uses `trie`, `eval` uses what `scan` records.

mod eval;
mod scan;
mod trie;

use rustc_hash::FxHashMap;

use super::compile::{CBranch, Matcher};
use super::error::EventJsonError;
use eval::{EvalScratch, Field, Rule, Rules};
use scan::{Recorded, Scanner};
use trie::Trie;

/// Patterns compiled together; each added pattern gets a rule index.
#[derive(Debug, Clone)]
pub struct PatternSet {
    trie: Trie,
    paths: Vec<String>,
    path_ids: FxHashMap<String, u32>,
    /// Per path: whether some matcher reads the value as an IP address.
    needs_ip: Vec<bool>,
    rules: Rules,
    lazy: bool,
}

impl Default for PatternSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Buffers reused from one event to the next. One per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    recorded: Recorded,
    eval: EvalScratch,
}

impl Scratch {
    /// Empty buffers; they grow to fit the events seen.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PatternSet {
    /// An empty set.
    pub fn new() -> Self {
        PatternSet {
            trie: Trie::new(),
            paths: Vec::new(),
            path_ids: FxHashMap::default(),
            needs_ip: Vec::new(),
            rules: Rules::default(),
            lazy: false,
        }
    }

    /// Lazy scanning: stop reading an object as soon as every key that
    /// some pattern names under it has been read, and stop reading the
    /// event when that happens at the top level. This is how the `quamina`
    /// crate reads events. It is faster on events whose unnamed fields come
    /// last, but it assumes that no key repeats within an object (a later
    /// duplicate would be missed, where EventBridge sees both values) and it
    /// does not check the JSON after the point where it stops. Off by default.
    pub fn set_lazy_scan(&mut self, on: bool) {
        self.lazy = on;
    }

    /// Number of patterns added.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no pattern was added.
    pub fn is_empty(&self) -> bool {
        self.rules.len() == 0
    }

    /// Adds a compiled pattern's branches; returns its rule index (0, 1, 2, ...).
    pub(crate) fn add_branches(&mut self, branches: &[CBranch]) -> usize {
        let rule = Rule {
            branches: branches
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|f| {
                            let path = self.intern(&f.path);
                            if f.matchers
                                .iter()
                                .any(|m| matches!(m, Matcher::IpExact(_) | Matcher::Cidr(_)))
                            {
                                self.needs_ip[path as usize] = true;
                            }
                            Field {
                                path,
                                matchers: f.matchers.clone(),
                                absent: f.absent,
                            }
                        })
                        .collect()
                })
                .collect(),
        };
        self.rules.push(rule)
    }

    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.to_string());
        self.needs_ip.push(false);
        self.rules.add_path();
        self.path_ids.insert(path.to_string(), id);
        self.trie.insert(path, id);
        id
    }

    /// Matches one event; appends the indexes of matching rules to `out`
    /// (which is not cleared), in increasing order.
    pub fn matches_into(
        &self,
        event: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<usize>,
    ) -> Result<(), EventJsonError> {
        Scanner::scan(
            event,
            &self.trie,
            &self.needs_ip,
            self.lazy,
            &mut scratch.recorded,
        )?;
        self.rules
            .evaluate(event, &scratch.recorded, &mut scratch.eval, out);
        Ok(())
    }

    /// Matches one event; returns the indexes of matching rules.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<usize>, EventJsonError> {
        let mut scratch = Scratch::new();
        let mut out = Vec::new();
        self.matches_into(event, &mut scratch, &mut out)?;
        Ok(out)
    }
}
