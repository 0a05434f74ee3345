//! Rules evaluated against the values the scanner recorded.

use rustc_hash::FxHashSet;

use super::super::bytes::{ends_with, same, starts_with};
use super::super::compile::Matcher;
use super::super::ip::Ip;
use super::scan::{Kind, Rec, Recorded, NONE, NO_NUM};

/// Below this many rules every rule is evaluated; above, only the rules
/// that some recorded path can satisfy.
const INDEX_FROM: usize = 16;

/// One condition of a branch: the matchers for the values at one path.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) path: u32,
    pub(super) matchers: Vec<Matcher>,
    pub(super) absent: bool,
}

/// One added pattern: it matches when any of its branches does.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) branches: Vec<Vec<Field>>,
}

/// The rules, with the index that picks candidates once there are many.
#[derive(Debug, Clone, Default)]
pub(super) struct Rules {
    list: Vec<Rule>,
    /// Per path: rules one of whose branches needs a value at that path
    /// (its first field that is not `exists: false`).
    by_path: Vec<Vec<u32>>,
    /// Rules with a branch that needs no value at all (only `exists: false`).
    always: Vec<u32>,
}

/// The evaluation's buffers, reused from one event to the next.
#[derive(Debug, Default)]
pub(super) struct EvalScratch {
    memo: FxHashSet<(u32, Vec<(u32, u32)>)>,
    acc: Vec<(u32, u32)>,
    cands: Vec<u32>,
    seen: Vec<bool>,
}

/// A recorded value as the matchers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValRef<'a> {
    pub kind: Kind,
    pub bytes: &'a [u8],
    pub num: Option<i64>,
    pub ip: Option<Ip>,
}

impl Rules {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Makes room in the index for one more path.
    pub(super) fn add_path(&mut self) {
        self.by_path.push(Vec::new());
    }

    /// Adds a rule (its paths already added); returns its index.
    pub(super) fn push(&mut self, rule: Rule) -> usize {
        let idx = self.list.len() as u32;
        let mut keys: Vec<Option<u32>> = rule
            .branches
            .iter()
            .map(|b| b.iter().find(|f| !f.absent).map(|f| f.path))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            match k {
                Some(p) => self.by_path[p as usize].push(idx),
                None => self.always.push(idx),
            }
        }
        self.list.push(rule);
        idx as usize
    }

    /// Appends the indexes of the rules that the recorded values satisfy.
    pub(super) fn evaluate(
        &self,
        event: &[u8],
        s: &Recorded,
        es: &mut EvalScratch,
        out: &mut Vec<usize>,
    ) {
        if self.list.len() < INDEX_FROM {
            for (idx, rule) in self.list.iter().enumerate() {
                for fields in &rule.branches {
                    if eval_branch(fields, event, s, es) {
                        out.push(idx);
                        break;
                    }
                }
            }
            return;
        }
        // Candidates: rules reachable from a recorded path, and the rules
        // that need no value.
        let mut cands = std::mem::take(&mut es.cands);
        cands.clear();
        if es.seen.len() < self.list.len() {
            es.seen.resize(self.list.len(), false);
        }
        for &p in &s.touched {
            for &r in &self.by_path[p as usize] {
                if !es.seen[r as usize] {
                    es.seen[r as usize] = true;
                    cands.push(r);
                }
            }
        }
        for &r in &self.always {
            if !es.seen[r as usize] {
                es.seen[r as usize] = true;
                cands.push(r);
            }
        }
        cands.sort_unstable();
        for &r in &cands {
            es.seen[r as usize] = false;
            if self.list[r as usize]
                .branches
                .iter()
                .any(|fields| eval_branch(fields, event, s, es))
            {
                out.push(r as usize);
            }
        }
        es.cands = cands;
    }
}

#[inline(always)]
fn val<'a>(r: &Rec, event: &'a [u8], strbuf: &'a [u8]) -> ValRef<'a> {
    let src = if r.in_buf { strbuf } else { event };
    ValRef {
        kind: r.kind,
        bytes: &src[r.start as usize..(r.start + r.len) as usize],
        num: if r.num == NO_NUM { None } else { Some(r.num) },
        ip: r.ip,
    }
}

#[inline(always)]
fn any_match(f: &Field, r: &Rec, event: &[u8], strbuf: &[u8]) -> bool {
    if f.matchers.is_empty() {
        return false;
    }
    let v = val(r, event, strbuf);
    for m in &f.matchers {
        if m.matches(&v) {
            return true;
        }
    }
    false
}

#[inline(always)]
fn eval_branch(fields: &[Field], event: &[u8], s: &Recorded, es: &mut EvalScratch) -> bool {
    if !s.any_array {
        return eval_flat(fields, event, s);
    }
    eval_arrays(fields, event, s, es)
}

/// A branch over values none of which sits inside an array: each field
/// needs one value that a matcher accepts (or none, for `exists: false`).
#[inline(always)]
fn eval_flat(fields: &[Field], event: &[u8], s: &Recorded) -> bool {
    for f in fields {
        let mut at = s.heads[f.path as usize];
        if at == NONE {
            if f.absent {
                continue;
            }
            return false;
        }
        let mut ok = false;
        while at != NONE {
            let r = &s.recs[at as usize];
            if any_match(f, r, event, &s.strbuf) {
                ok = true;
                break;
            }
            at = r.next;
        }
        if !ok {
            return false;
        }
    }
    true
}

/// Array-consistent search, fields in path order as event-ruler steps them.
#[inline(never)]
fn eval_arrays(fields: &[Field], event: &[u8], s: &Recorded, es: &mut EvalScratch) -> bool {
    es.memo.clear();
    es.acc.clear();
    dfs(fields, 0, event, s, &mut es.acc, &mut es.memo)
}

fn consistent(mem: &[(u32, u32)], acc: &[(u32, u32)]) -> bool {
    mem.iter()
        .all(|&(a, i)| acc.iter().all(|&(b, j)| a != b || i == j))
}

fn dfs(
    fields: &[Field],
    k: usize,
    event: &[u8],
    s: &Recorded,
    acc: &mut Vec<(u32, u32)>,
    memo: &mut FxHashSet<(u32, Vec<(u32, u32)>)>,
) -> bool {
    if k == fields.len() {
        return true;
    }
    let key = {
        let mut m = acc.clone();
        m.sort_unstable();
        (k as u32, m)
    };
    if memo.contains(&key) {
        return false;
    }
    let f = &fields[k];
    let mut at = s.heads[f.path as usize];
    let mut any_consistent = false;
    while at != NONE {
        let r = &s.recs[at as usize];
        let mem = &s.members[r.mem_start as usize..(r.mem_start + r.mem_len) as usize];
        if consistent(mem, acc) {
            any_consistent = true;
            if any_match(f, r, event, &s.strbuf) {
                let before = acc.len();
                for &(a, i) in mem {
                    if !acc.iter().any(|&(b, _)| b == a) {
                        acc.push((a, i));
                    }
                }
                let ok = dfs(fields, k + 1, event, s, acc, memo);
                acc.truncate(before);
                if ok {
                    return true;
                }
            }
        }
        at = r.next;
    }
    if f.absent && !any_consistent && dfs(fields, k + 1, event, s, acc, memo) {
        return true;
    }
    memo.insert(key);
    false
}

impl Matcher {
    #[inline]
    pub(crate) fn matches(&self, v: &ValRef<'_>) -> bool {
        let is_str = v.kind == Kind::Str;
        match self {
            Matcher::ExactStr(s) => is_str && same(v.bytes, s),
            Matcher::ExactNum { text, cmp } => {
                v.kind == Kind::Num && ((cmp.is_some() && *cmp == v.num) || same(v.bytes, text))
            }
            Matcher::ExactTrue => v.kind == Kind::True,
            Matcher::ExactFalse => v.kind == Kind::False,
            Matcher::ExactNull => v.kind == Kind::Null,
            Matcher::IpExact(want) => is_str && v.ip == Some(*want),
            Matcher::Prefix(p) => is_str && starts_with(v.bytes, p),
            Matcher::PrefixIc(ic) => is_str && ic.is_prefix_of(v.bytes),
            Matcher::Suffix(p) => is_str && ends_with(v.bytes, p),
            Matcher::SuffixIc(ic) => is_str && ic.is_suffix_of(v.bytes),
            Matcher::EqIc(ic) => is_str && ic.equals(v.bytes),
            Matcher::Wildcard(w) => is_str && w.matches(v.bytes),
            Matcher::Numeric { lo, hi } => match v.num {
                Some(n) if v.kind == Kind::Num => {
                    lo.is_none_or(|(b, incl)| if incl { n >= b } else { n > b })
                        && hi.is_none_or(|(t, incl)| if incl { n <= t } else { n < t })
                }
                _ => false,
            },
            Matcher::Cidr(range) => is_str && v.ip.is_some_and(|a| range.contains(a)),
            Matcher::Exists => true,
            Matcher::ButStr(set) => !(is_str && set.iter().any(|s| same(v.bytes, s))),
            Matcher::ButNum(set) => {
                !(v.kind == Kind::Num && v.num.is_some_and(|n| set.contains(&n)))
            }
            Matcher::ButIc(set) => !(is_str && set.iter().any(|ic| ic.equals(v.bytes))),
            Matcher::ButPrefix(set) => !(is_str && set.iter().any(|p| starts_with(v.bytes, p))),
            Matcher::ButSuffix(set) => !(is_str && set.iter().any(|p| ends_with(v.bytes, p))),
            Matcher::ButWildcard(set) => !(is_str && set.iter().any(|w| w.matches(v.bytes))),
        }
    }
}
