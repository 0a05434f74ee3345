//! Exploring one seed range on many machines: `explore --shard I/N` runs
//! the I-th of N slices of the range, and `explore merge` reads the
//! shards' `--json` outputs back into one verdict.
//!
//! The slices are contiguous: shard I of N over `first..first+seeds` is
//! `first + (I-1)*seeds/N .. first + I*seeds/N` (whole-number division),
//! so each is itself an ordinary `--first F --seeds S` range that can be
//! re-run without `--shard`, a shard that stopped at a failure leaves one
//! range unrun, and the merge checks coverage as arithmetic on ranges.
//! Slices differ in size by at most one seed; a seed's cost does not
//! depend on its number (each draws its fault mix from a generator seeded
//! by it), so contiguous slices balance as well as strided ones would.
//!
//! Plain code, no simulator: `explore merge` works in any build.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One of N slices, counted from 1 as a person (and a CI matrix) counts:
/// `1/4` to `4/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole range as one shard (a run without `--shard`).
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Reads `I/N` as clap reads `--shard`'s value: N at least 1, I from 1
    /// to N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let expected = "expected I/N, the I-th of N shards counted from 1 (1/4 to 4/4)";
        let (i, n) = text.split_once('/').ok_or_else(|| expected.to_owned())?;
        let number = |s: &str| s.trim().parse::<u64>().map_err(|_| expected.to_owned());
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 {
            return Err("expected at least 1 shard (N >= 1)".to_owned());
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index} of {count}: shards count from 1, so I is 1 to {count}"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds `first..first+seeds`, refused when empty or when it runs past
/// the last `u64` (the end is exclusive, so it must fit too).
pub fn seed_range(first: u64, seeds: u64) -> Result<Range<u64>, String> {
    if seeds == 0 {
        return Err(format!("--seeds {seeds}: expected at least 1"));
    }
    match first.checked_add(seeds) {
        Some(end) => Ok(first..end),
        None => Err(format!(
            "--first {first} --seeds {seeds}: the range runs past the last seed ({}); use fewer seeds or a lower --first",
            u64::MAX - 1
        )),
    }
}

/// Shard `shard`'s slice of `range` (contiguous; see the module's notes).
/// Empty only when there are more shards than seeds, which
/// [`check_shard`] refuses.
pub fn slice(range: &Range<u64>, shard: Shard) -> Range<u64> {
    let len = u128::from(range.end - range.start);
    let (n, i) = (u128::from(shard.count), u128::from(shard.index));
    // i * len / n <= len, which fits in u64 again.
    let at = |k: u128| range.start + (k * len / n) as u64;
    at(i - 1)..at(i)
}

/// A shard that can run over `range`: no empty slice.
pub fn check_shard(range: &Range<u64>, shard: Shard) -> Result<(), String> {
    let seeds = range.end - range.start;
    if shard.count > seeds {
        return Err(format!(
            "--shard {shard}: {} shards of {seeds} seeds would leave some shards no seed; use at most {seeds} shards (or more --seeds)",
            shard.count
        ));
    }
    Ok(())
}

/// The `range` object of an explore summary or failure: the whole range
/// the shards split and the configuration they ran, which every shard of
/// one merge must share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeOut {
    pub first: u64,
    pub seeds: u64,
    /// The configuration's flags as the reproducer writes them (empty: the
    /// defaults).
    pub config: String,
}

/// The `shard` object of an explore summary or failure: which slice this
/// output covers (`index` of `of`, counted from 1) and its seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardOut {
    pub index: u64,
    pub of: u64,
    pub first: u64,
    pub seeds: u64,
}

impl ShardOut {
    pub fn new(range: &Range<u64>, shard: Shard) -> ShardOut {
        let s = slice(range, shard);
        ShardOut {
            index: shard.index,
            of: shard.count,
            first: s.start,
            seeds: s.end - s.start,
        }
    }

    fn shard(&self) -> Shard {
        Shard {
            index: self.index,
            count: self.of,
        }
    }

    fn seeds(&self) -> Range<u64> {
        self.first..self.first.saturating_add(self.seeds)
    }
}

/// The fields of a `summary` line the merge reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryIn {
    seeds: u64,
    decisions: u64,
    invariants_checked: u64,
    deliveries: u64,
    range: RangeOut,
    shard: ShardOut,
}

/// The fields of a `failure` line the merge reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureIn {
    seed: u64,
    reason: String,
    violations: Vec<String>,
    reproducer: String,
    show: String,
    seeds_run: u64,
    range: RangeOut,
    shard: ShardOut,
}

/// One failed seed, as the merge reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub seed: u64,
    pub file: String,
    pub shard: Shard,
    /// `invariant` or `determinism`.
    pub reason: String,
    pub violations: Vec<String>,
    pub reproducer: String,
    pub show: String,
}

/// One shard's output file, read.
#[derive(Debug)]
struct Part {
    file: String,
    range: RangeOut,
    shard: ShardOut,
    seeds_run: u64,
    decisions: u64,
    invariants_checked: u64,
    deliveries: u64,
    failure: Option<Failed>,
}

/// Reads one explore `--json` output (`--quiet` or not): optional `seed`
/// lines, then a `summary` or a `failure` last.
fn read_part(file: &str, text: &str) -> Result<Part, String> {
    let mut seed_lines: Vec<u64> = Vec::new();
    let mut last: Option<(usize, serde_json::Value)> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some((at, v)) = &last {
            return Err(format!(
                "{file}: line {}: the `{}` line of line {} must be the last",
                n + 1,
                v["type"].as_str().unwrap_or_default(),
                at + 1
            ));
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            format!(
                "{file}: line {}: not JSON ({e}); expected explore --json output",
                n + 1
            )
        })?;
        match v["type"].as_str() {
            Some("seed") => match v["seed"].as_u64() {
                Some(seed) => seed_lines.push(seed),
                None => return Err(format!("{file}: line {}: a `seed` line without a seed number", n + 1)),
            },
            Some("summary" | "failure") => last = Some((n, v)),
            Some(other) => {
                return Err(format!(
                    "{file}: line {}: a `{other}` object; expected explore --json output (`seed` lines, then a `summary` or `failure`)",
                    n + 1
                ))
            }
            None => {
                return Err(format!(
                    "{file}: line {}: an object without a `type`; expected explore --json output",
                    n + 1
                ))
            }
        }
    }
    let Some((at, v)) = last else {
        return Err(format!(
            "{file}: no `summary` or `failure` line: not explore --json output, or a run cut short"
        ));
    };
    let field_error = |e: serde_json::Error| {
        format!(
            "{file}: line {}: {e} (written by a tally without --shard, or not by explore --json)",
            at + 1
        )
    };
    let part = if v["type"] == "summary" {
        let s: SummaryIn = serde_json::from_value(v).map_err(field_error)?;
        Part {
            file: file.to_owned(),
            range: s.range,
            shard: s.shard,
            seeds_run: s.seeds,
            decisions: s.decisions,
            invariants_checked: s.invariants_checked,
            deliveries: s.deliveries,
            failure: None,
        }
    } else {
        let f: FailureIn = serde_json::from_value(v).map_err(field_error)?;
        let failed = Failed {
            seed: f.seed,
            file: file.to_owned(),
            shard: f.shard.shard(),
            reason: f.reason,
            violations: f.violations,
            reproducer: f.reproducer,
            show: f.show,
        };
        Part {
            file: file.to_owned(),
            range: f.range,
            shard: f.shard,
            seeds_run: f.seeds_run,
            decisions: 0,
            invariants_checked: 0,
            deliveries: 0,
            failure: Some(failed),
        }
    };
    check_part(&part, &seed_lines)?;
    Ok(part)
}

/// What one output says about itself holds together: its shard is a
/// shard of its range, it ran what its shard holds (all of it, or up to
/// its failure), and its `seed` lines (when not `--quiet`) are exactly
/// the seeds it ran, in order.
fn check_part(p: &Part, seed_lines: &[u64]) -> Result<(), String> {
    let file = &p.file;
    let range = seed_range(p.range.first, p.range.seeds).map_err(|e| format!("{file}: {e}"))?;
    let shard = Shard::parse(&format!("{}/{}", p.shard.index, p.shard.of))
        .map_err(|e| format!("{file}: shard {}/{}: {e}", p.shard.index, p.shard.of))?;
    check_shard(&range, shard).map_err(|e| format!("{file}: {e}"))?;
    let expected = ShardOut::new(&range, shard);
    if p.shard != expected {
        return Err(format!(
            "{file}: shard {shard} of {} is {}, but the file says {}",
            seeds_text(&range),
            seeds_text(&expected.seeds()),
            seeds_text(&p.shard.seeds())
        ));
    }
    let held = p.shard.seeds;
    match &p.failure {
        None if p.seeds_run != held => {
            return Err(format!(
                "{file}: shard {shard} holds {held} seeds, but its summary says {} ran",
                p.seeds_run
            ))
        }
        Some(f) if p.seeds_run == 0 || p.seeds_run > held || f.seed != p.shard.first + p.seeds_run - 1 => {
            return Err(format!(
                "{file}: its failure (seed {}, after {} seeds run) does not lie in shard {shard}, {}",
                f.seed,
                p.seeds_run,
                seeds_text(&p.shard.seeds())
            ))
        }
        _ => {}
    }
    if !seed_lines.is_empty() {
        let mut ran = p.shard.first..p.shard.first + p.seeds_run;
        // A seed that ran twice differently gets no `seed` line.
        if p.failure
            .as_ref()
            .is_some_and(|f| f.reason == "determinism")
        {
            ran.end -= 1;
        }
        if !seed_lines.iter().copied().eq(ran.clone()) {
            return Err(format!(
                "{file}: its {} `seed` lines are not the {} it says it ran",
                seed_lines.len(),
                seeds_text(&ran)
            ));
        }
    }
    Ok(())
}

/// Seeds as a person reads them: `seeds 10..19` (both ends run), `seed 8`.
pub fn seeds_text(r: &Range<u64>) -> String {
    match r.end.checked_sub(r.start) {
        Some(0) | None => "no seeds".to_owned(),
        Some(1) => format!("seed {}", r.start),
        Some(_) => format!("seeds {}..{}", r.start, r.end - 1),
    }
}

/// The merged verdict of every shard of one range.
#[derive(Debug)]
pub struct Verdict {
    pub range: Range<u64>,
    pub config: String,
    pub shards: u64,
    pub seeds_run: u64,
    pub decisions: u64,
    pub invariants_checked: u64,
    pub deliveries: u64,
    /// Every failed seed, once, in seed order.
    pub failures: Vec<Failed>,
    /// The seeds a shard did not run because it stopped at its failure.
    pub unrun: Vec<(Shard, Range<u64>)>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Merges explore `--json` outputs, given as (file name, text): one verdict
/// when they are the shards of one range and one configuration, each
/// exactly once; otherwise every reason they are not (a file that is not
/// such an output, mixed ranges or configurations, a gap, an overlap).
/// Nothing read is never a pass.
pub fn merge(files: &[(String, String)]) -> Result<Verdict, Vec<String>> {
    if files.is_empty() {
        return Err(vec![
            "no files to merge: zero seeds read is not a pass".to_owned()
        ]);
    }
    let (mut parts, mut errors) = (Vec::<Part>::new(), Vec::new());
    for (file, text) in files {
        match read_part(file, text) {
            Ok(p) => parts.push(p),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let first = &parts[0];
    let describe = |p: &Part| {
        format!(
            "{} runs --first {} --seeds {} in {} shards, configuration {}",
            p.file,
            p.range.first,
            p.range.seeds,
            p.shard.of,
            if p.range.config.is_empty() {
                "the defaults".to_owned()
            } else {
                format!("`{}`", p.range.config)
            }
        )
    };
    for p in &parts[1..] {
        if p.range != first.range || p.shard.of != first.shard.of {
            errors.push(format!(
                "mixed runs, not shards of one: {}; {}",
                describe(first),
                describe(p)
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let range = first.range.first..first.range.first + first.range.seeds;
    let count = first.shard.of;
    let mut by_index: std::collections::BTreeMap<u64, Vec<&Part>> = Default::default();
    for p in &parts {
        by_index.entry(p.shard.index).or_default().push(p);
    }
    for index in 1..=count {
        let shard = Shard { index, count };
        let seeds = seeds_text(&slice(&range, shard));
        match by_index.get(&index).map(Vec::as_slice) {
            None | Some([]) => errors.push(format!(
                "gap: shard {shard} ({seeds}) is in no file; run it with ./scripts/tally explore --first {} --seeds {}{} --shard {shard} --json",
                range.start,
                range.end - range.start,
                if first.range.config.is_empty() {
                    String::new()
                } else {
                    format!(" {}", first.range.config)
                }
            )),
            Some([_]) => {}
            Some(many) => errors.push(format!(
                "overlap: shard {shard} ({seeds}) is in {} files: {}",
                many.len(),
                many.iter().map(|p| p.file.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut verdict = Verdict {
        range,
        config: first.range.config.clone(),
        shards: count,
        seeds_run: 0,
        decisions: 0,
        invariants_checked: 0,
        deliveries: 0,
        failures: Vec::new(),
        unrun: Vec::new(),
    };
    for p in by_index.values().flatten() {
        verdict.seeds_run += p.seeds_run;
        verdict.decisions += p.decisions;
        verdict.invariants_checked += p.invariants_checked;
        verdict.deliveries += p.deliveries;
        if let Some(f) = &p.failure {
            verdict.failures.push(f.clone());
            let left = p.shard.first + p.seeds_run..p.shard.first + p.shard.seeds;
            if !left.is_empty() {
                verdict.unrun.push((p.shard.shard(), left));
            }
        }
    }
    if verdict.seeds_run == 0 {
        return Err(vec![
            "zero seeds read: nothing was shown, which is not a pass".to_owned(),
        ]);
    }
    verdict.failures.sort_by_key(|f| f.seed);
    Ok(verdict)
}
