//! Many patterns compiled together, and the byte-level event scanner.
//!
//! All pattern paths are split at `.` into a trie of segments. The scanner
//! walks the event bytes once: each key is split the same way and looked up
//! from the current trie node; a key that leads nowhere has its value skipped
//! by a bracket/quote skipper; a leaf value at a path some pattern names is
//! recorded (strings borrowed when they hold no escape). Array elements carry
//! their (array id, index) membership only when they sit inside an array.
//! Rules are then evaluated against the recorded values.

use rustc_hash::{FxHashMap, FxHashSet};

use super::bytes::{
    block16, find_key_end, find_quote_or_backslash, pop64, skip_square_windows, window64,
};
use super::compile::{CBranch, Matcher};
use super::error::EventJsonError;
use super::ip::{self, Ip};
use super::number;
use super::unescape::unescape_into;
use super::Pattern;

const NONE: u32 = u32::MAX;
const NO_NUM: i64 = i64::MIN;
/// Deepest nesting the scanner follows (objects and arrays on pattern paths,
/// and containers it skips).
pub(crate) const MAX_EVENT_DEPTH: usize = 512;
/// A node switches from a list of children to a hash map past this many.
const LINEAR_CHILDREN: usize = 8;

#[derive(Debug, Clone)]
struct Child {
    /// First eight bytes of the key, zero padded, with its length mixed in.
    head: u64,
    key: Box<[u8]>,
    node: u32,
}

#[inline(always)]
fn key_head(k: &[u8]) -> u64 {
    let mut h = 0u64;
    for (j, &c) in k.iter().take(8).enumerate() {
        h |= (c as u64) << (8 * j);
    }
    h ^ (k.len() as u64).rotate_right(8)
}

/// `key_head` of `b[start..start + len]`, reading a whole word when the
/// buffer allows (the bytes past the key are masked off).
#[inline(always)]
fn key_head_in(b: &[u8], start: usize, len: usize) -> u64 {
    if start + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[start..start + 8]);
        let x = u64::from_le_bytes(w);
        let x = if len >= 8 {
            x
        } else {
            x & ((1u64 << (8 * len)) - 1)
        };
        x ^ (len as u64).rotate_right(8)
    } else {
        key_head(&b[start..start + len])
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    leaf: Option<u32>,
    /// Index of this node among its parent's children.
    slot: u32,
    /// One bit per child (when there are at most 64).
    full_mask: u64,
    children: Vec<Child>,
    map: Option<FxHashMap<Box<[u8]>, u32>>,
}

#[derive(Debug, Clone)]
struct Field {
    path: u32,
    matchers: Vec<Matcher>,
    absent: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    branches: Vec<Vec<Field>>,
}

/// Patterns compiled together; each added pattern gets a rule index.
#[derive(Debug, Clone)]
pub struct PatternSet {
    nodes: Vec<Node>,
    paths: Vec<String>,
    path_ids: FxHashMap<String, u32>,
    /// Per path: whether some matcher reads the value as an IP address.
    needs_ip: Vec<bool>,
    rules: Vec<Rule>,
    /// Per path: rules one of whose branches needs a value at that path
    /// (its first field that is not `exists: false`).
    by_path: Vec<Vec<u32>>,
    /// Rules with a branch that needs no value at all (only `exists: false`).
    always: Vec<u32>,
    lazy: bool,
}

/// Below this many rules every rule is evaluated; above, only the rules
/// that some recorded path can satisfy.
const INDEX_FROM: usize = 16;

impl Default for PatternSet {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Num,
    True,
    False,
    Null,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    next: u32,
    kind: Kind,
    in_buf: bool,
    start: u32,
    len: u32,
    num: i64,
    /// The value read as an IP address, when some matcher wants that.
    ip: Option<Ip>,
    mem_start: u32,
    mem_len: u32,
}

/// Buffers reused from one event to the next. One per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    heads: Vec<u32>,
    touched: Vec<u32>,
    recs: Vec<Rec>,
    members: Vec<(u32, u32)>,
    strbuf: Vec<u8>,
    keybuf: Vec<u8>,
    stack: Vec<u8>,
    arr: Vec<(u32, u32)>,
    next_array: u32,
    any_array: bool,
    memo: FxHashSet<(u32, Vec<(u32, u32)>)>,
    acc: Vec<(u32, u32)>,
    cands: Vec<u32>,
    seen: Vec<bool>,
}

impl Scratch {
    /// Empty buffers; they grow to fit the events seen.
    pub fn new() -> Self {
        Self::default()
    }

    fn reset(&mut self, npaths: usize) {
        if self.heads.len() < npaths {
            self.heads.resize(npaths, NONE);
        }
        for &p in &self.touched {
            self.heads[p as usize] = NONE;
        }
        self.touched.clear();
        self.recs.clear();
        self.members.clear();
        self.strbuf.clear();
        self.arr.clear();
        self.next_array = 0;
        self.any_array = false;
    }
}

/// A recorded value as the matchers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValRef<'a> {
    pub kind: Kind,
    pub bytes: &'a [u8],
    pub num: Option<i64>,
    pub ip: Option<Ip>,
}

impl PatternSet {
    /// An empty set.
    pub fn new() -> Self {
        PatternSet {
            nodes: vec![Node::default()],
            paths: Vec::new(),
            path_ids: FxHashMap::default(),
            needs_ip: Vec::new(),
            rules: Vec::new(),
            by_path: Vec::new(),
            always: Vec::new(),
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
        self.rules.is_empty()
    }

    /// Adds a compiled pattern; returns its rule index (0, 1, 2, ...).
    pub fn add(&mut self, pattern: &Pattern) -> usize {
        self.add_branches(&pattern.branches)
    }

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
        let idx = self.rules.len() as u32;
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
        self.rules.push(rule);
        idx as usize
    }

    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.to_string());
        self.needs_ip.push(false);
        self.by_path.push(Vec::new());
        self.path_ids.insert(path.to_string(), id);
        let mut node = 0u32;
        for seg in path.as_bytes().split(|&c| c == b'.') {
            node = match self.child(node, seg) {
                Some(n) => n,
                None => {
                    let n = self.nodes.len() as u32;
                    let slot = self.nodes[node as usize].children.len() as u32;
                    self.nodes.push(Node {
                        slot,
                        ..Node::default()
                    });
                    let parent = &mut self.nodes[node as usize];
                    if slot < 64 {
                        parent.full_mask |= 1u64 << slot;
                    }
                    parent.children.push(Child {
                        head: key_head(seg),
                        key: seg.into(),
                        node: n,
                    });
                    if parent.children.len() > LINEAR_CHILDREN {
                        let map = parent.map.get_or_insert_with(FxHashMap::default);
                        for c in &parent.children {
                            map.insert(c.key.clone(), c.node);
                        }
                    }
                    n
                }
            };
        }
        self.nodes[node as usize].leaf = Some(id);
        id
    }

    #[inline]
    fn child(&self, node: u32, seg: &[u8]) -> Option<u32> {
        self.child_h(node, seg, key_head(seg))
    }

    #[inline(always)]
    fn child_h(&self, node: u32, seg: &[u8], head: u64) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if let Some(map) = &n.map {
            return map.get(seg).copied();
        }
        for c in &n.children {
            if c.head == head && c.key.len() == seg.len() && (seg.len() <= 8 || *c.key == *seg) {
                return Some(c.node);
            }
        }
        None
    }

    fn step_dotted(&self, node: u32, key: &[u8]) -> Option<u32> {
        let mut n = node;
        for seg in key.split(|&c| c == b'.') {
            n = self.child(n, seg)?;
        }
        Some(n)
    }

    /// Matches one event; appends the indexes of matching rules to `out`
    /// (which is not cleared), in increasing order.
    pub fn matches_into(
        &self,
        event: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<usize>,
    ) -> Result<(), EventJsonError> {
        scratch.reset(self.paths.len());
        Scanner {
            b: event,
            i: 0,
            set: self,
            s: scratch,
            stopped: false,
        }
        .run()?;
        if self.rules.len() < INDEX_FROM {
            for (idx, rule) in self.rules.iter().enumerate() {
                if rule
                    .branches
                    .iter()
                    .any(|fields| eval_branch(fields, event, scratch))
                {
                    out.push(idx);
                }
            }
            return Ok(());
        }
        // Candidates: rules reachable from a recorded path, and the rules
        // that need no value.
        let mut cands = std::mem::take(&mut scratch.cands);
        cands.clear();
        if scratch.seen.len() < self.rules.len() {
            scratch.seen.resize(self.rules.len(), false);
        }
        for &p in &scratch.touched {
            for &r in &self.by_path[p as usize] {
                if !scratch.seen[r as usize] {
                    scratch.seen[r as usize] = true;
                    cands.push(r);
                }
            }
        }
        for &r in &self.always {
            if !scratch.seen[r as usize] {
                scratch.seen[r as usize] = true;
                cands.push(r);
            }
        }
        cands.sort_unstable();
        for &r in &cands {
            scratch.seen[r as usize] = false;
            if self.rules[r as usize]
                .branches
                .iter()
                .any(|fields| eval_branch(fields, event, scratch))
            {
                out.push(r as usize);
            }
        }
        scratch.cands = cands;
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

// ---------------------------------------------------------------- evaluation

fn val<'a>(r: &Rec, event: &'a [u8], strbuf: &'a [u8]) -> ValRef<'a> {
    let src = if r.in_buf { strbuf } else { event };
    ValRef {
        kind: r.kind,
        bytes: &src[r.start as usize..(r.start + r.len) as usize],
        num: if r.num == NO_NUM { None } else { Some(r.num) },
        ip: r.ip,
    }
}

fn any_match(f: &Field, r: &Rec, event: &[u8], strbuf: &[u8]) -> bool {
    if f.matchers.is_empty() {
        return false;
    }
    let v = val(r, event, strbuf);
    f.matchers.iter().any(|m| m.matches(&v))
}

fn eval_branch(fields: &[Field], event: &[u8], s: &mut Scratch) -> bool {
    if !s.any_array {
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
        return true;
    }
    // Array-consistent search, fields in path order as event-ruler steps them.
    s.memo.clear();
    s.acc.clear();
    let mut acc = std::mem::take(&mut s.acc);
    let mut memo = std::mem::take(&mut s.memo);
    let r = dfs(fields, 0, event, s, &mut acc, &mut memo);
    s.acc = acc;
    s.memo = memo;
    r
}

fn consistent(mem: &[(u32, u32)], acc: &[(u32, u32)]) -> bool {
    mem.iter()
        .all(|&(a, i)| acc.iter().all(|&(b, j)| a != b || i == j))
}

fn dfs(
    fields: &[Field],
    k: usize,
    event: &[u8],
    s: &Scratch,
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
    pub(crate) fn matches(&self, v: &ValRef<'_>) -> bool {
        let is_str = v.kind == Kind::Str;
        match self {
            Matcher::ExactStr(s) => is_str && v.bytes == &**s,
            Matcher::ExactNum { text, cmp } => {
                v.kind == Kind::Num && ((cmp.is_some() && *cmp == v.num) || v.bytes == &**text)
            }
            Matcher::ExactTrue => v.kind == Kind::True,
            Matcher::ExactFalse => v.kind == Kind::False,
            Matcher::ExactNull => v.kind == Kind::Null,
            Matcher::IpExact(want) => is_str && v.ip == Some(*want),
            Matcher::Prefix(p) => is_str && v.bytes.starts_with(p),
            Matcher::PrefixIc(ic) => is_str && ic.is_prefix_of(v.bytes),
            Matcher::Suffix(p) => is_str && v.bytes.ends_with(p),
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
            Matcher::ButStr(set) => !(is_str && set.iter().any(|s| v.bytes == &**s)),
            Matcher::ButNum(set) => {
                !(v.kind == Kind::Num && v.num.is_some_and(|n| set.contains(&n)))
            }
            Matcher::ButIc(set) => !(is_str && set.iter().any(|ic| ic.equals(v.bytes))),
            Matcher::ButPrefix(set) => !(is_str && set.iter().any(|p| v.bytes.starts_with(p))),
            Matcher::ButSuffix(set) => !(is_str && set.iter().any(|p| v.bytes.ends_with(p))),
            Matcher::ButWildcard(set) => !(is_str && set.iter().any(|w| w.matches(v.bytes))),
        }
    }
}

// ------------------------------------------------------------------- scanner

/// Byte classes for the skipper: 1 quote, 2 open, 3 close, 0 anything else.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = 1;
    t[b'{' as usize] = 2;
    t[b'[' as usize] = 2;
    t[b'}' as usize] = 3;
    t[b']' as usize] = 3;
    t
};

struct Scanner<'a, 's> {
    b: &'a [u8],
    i: usize,
    set: &'a PatternSet,
    s: &'s mut Scratch,
    /// Lazy scanning read everything the patterns need at the top level.
    stopped: bool,
}

impl Scanner<'_, '_> {
    fn err(&self, expected: &'static str) -> EventJsonError {
        EventJsonError::at(self.b, self.i, expected)
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn run(mut self) -> Result<(), EventJsonError> {
        self.ws();
        if self.b.get(self.i) != Some(&b'{') {
            return Err(self.err("a JSON object"));
        }
        self.i += 1;
        self.object(0, 1)?;
        if self.stopped {
            return Ok(());
        }
        self.ws();
        if self.i != self.b.len() {
            return Err(self.err("end of input"));
        }
        Ok(())
    }

    /// After the opening brace.
    fn object(&mut self, node: u32, depth: usize) -> Result<(), EventJsonError> {
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        let (lazy, full) = {
            let n = &self.set.nodes[node as usize];
            (
                self.set.lazy && n.children.len() <= 64 && n.full_mask != 0,
                n.full_mask,
            )
        };
        let mut found = 0u64;
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("a string key"));
            }
            let key_start = self.i;
            let next = self.key(node)?;
            let plain = lazy && !self.b[key_start..self.i].contains(&b'.');
            if self.b.get(self.i) != Some(&b':') {
                self.ws();
                if self.b.get(self.i) != Some(&b':') {
                    return Err(self.err("':'"));
                }
            }
            self.i += 1;
            if !matches!(self.b.get(self.i), Some(&c) if c > b' ') {
                self.ws();
            }
            match next {
                Some(n) => {
                    self.value(n, depth)?;
                    if plain {
                        found |= 1u64 << self.set.nodes[n as usize].slot;
                        if found == full {
                            if node == 0 {
                                self.stopped = true;
                                return Ok(());
                            }
                            return self.leave_object(depth);
                        }
                    }
                }
                None => {
                    if self.b.get(self.i) == Some(&b'"') {
                        self.i = self.skip_string(self.i + 1)?;
                    } else {
                        self.skip_value(depth)?;
                    }
                }
            }
            // Compact JSON first, whitespace second.
            let c = match self.b.get(self.i) {
                Some(&c) if c > b' ' => c,
                _ => {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(&c) => c,
                        None => return Err(self.err("',' or '}'")),
                    }
                }
            };
            match c {
                b',' => {
                    self.i += 1;
                    if self.b.get(self.i) != Some(&b'"') {
                        self.ws();
                    }
                }
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("',' or '}'")),
            }
        }
    }

    /// Reads a key (at its quote) and steps the trie.
    #[inline]
    fn key(&mut self, node: u32) -> Result<Option<u32>, EventJsonError> {
        let start = self.i + 1;
        let (end, dot) = match find_key_end(self.b, start) {
            Some(r) => r,
            None => {
                self.i = self.b.len();
                return Err(self.err("a closing quote"));
            }
        };
        if self.b[end] == b'"' {
            self.i = end + 1;
            let k = &self.b[start..end];
            return Ok(if dot {
                self.set.step_dotted(node, k)
            } else {
                self.set
                    .child_h(node, k, key_head_in(self.b, start, end - start))
            });
        }
        let mut buf = std::mem::take(&mut self.s.keybuf);
        buf.clear();
        let r = unescape_into(self.b, start, &mut buf);
        let out = match r {
            Ok(end) => {
                self.i = end;
                Ok(self.set.step_dotted(node, &buf))
            }
            Err(at) => {
                self.i = at;
                Err(self.err("a valid string"))
            }
        };
        self.s.keybuf = buf;
        out
    }

    fn value(&mut self, node: u32, depth: usize) -> Result<(), EventJsonError> {
        let n = &self.set.nodes[node as usize];
        let has_children = !n.children.is_empty();
        let leaf = n.leaf;
        match self.b.get(self.i) {
            Some(b'{') => {
                if has_children {
                    if depth >= MAX_EVENT_DEPTH {
                        return Err(self.err("less deeply nested JSON"));
                    }
                    self.i += 1;
                    self.object(node, depth + 1)
                } else {
                    self.skip_value(depth)
                }
            }
            Some(b'[') => {
                if has_children || leaf.is_some() {
                    self.array(node, depth)
                } else {
                    self.skip_value(depth)
                }
            }
            Some(_) => match leaf {
                Some(path) => self.record(path),
                None => self.skip_value(depth),
            },
            None => Err(self.err("a JSON value")),
        }
    }

    fn array(&mut self, node: u32, depth: usize) -> Result<(), EventJsonError> {
        if depth >= MAX_EVENT_DEPTH {
            return Err(self.err("less deeply nested JSON"));
        }
        self.i += 1;
        let id = self.s.next_array;
        self.s.next_array += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        let mut idx = 0u32;
        loop {
            self.s.arr.push((id, idx));
            let r = self.value(node, depth + 1);
            self.s.arr.pop();
            r?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                    idx += 1;
                }
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("',' or ']'")),
            }
        }
    }

    /// Records the leaf value at `self.i` for `path`.
    fn record(&mut self, path: u32) -> Result<(), EventJsonError> {
        let b = self.b;
        let (kind, in_buf, start, len, num) = match b[self.i] {
            b'"' => {
                let start = self.i + 1;
                let rel = match find_quote_or_backslash(b, start) {
                    Some(at) => at - start,
                    None => {
                        self.i = b.len();
                        return Err(self.err("a closing quote"));
                    }
                };
                if b[start + rel] == b'"' {
                    if let Some(bad) = b[start..start + rel].iter().position(|&c| c < 0x20) {
                        self.i = start + bad;
                        return Err(self.err("no raw control character in a string"));
                    }
                    self.i = start + rel + 1;
                    (Kind::Str, false, start, rel, NO_NUM)
                } else {
                    let off = self.s.strbuf.len();
                    match unescape_into(b, start, &mut self.s.strbuf) {
                        Ok(end) => {
                            self.i = end;
                            (Kind::Str, true, off, self.s.strbuf.len() - off, NO_NUM)
                        }
                        Err(at) => {
                            self.i = at;
                            return Err(self.err("a valid string"));
                        }
                    }
                }
            }
            b't' => self.literal(b"true", Kind::True)?,
            b'f' => self.literal(b"false", Kind::False)?,
            b'n' => self.literal(b"null", Kind::Null)?,
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                let end = match number::scan_number(b, start) {
                    Some(e) => e,
                    None => return Err(self.err("a number")),
                };
                self.i = end;
                let num = number::comparable(&b[start..end]).unwrap_or(NO_NUM);
                (Kind::Num, false, start, end - start, num)
            }
            _ => return Err(self.err("a JSON value")),
        };
        if start > u32::MAX as usize || len > u32::MAX as usize {
            return Err(self.err("an event under 4 GiB"));
        }
        let mem_start = self.s.members.len() as u32;
        let mem_len = self.s.arr.len() as u32;
        if mem_len > 0 {
            self.s.any_array = true;
            self.s.members.extend_from_slice(&self.s.arr);
        }
        if self.s.heads[path as usize] == NONE {
            self.s.touched.push(path);
        }
        let ip = if kind == Kind::Str && self.set.needs_ip[path as usize] {
            let src = if in_buf { &self.s.strbuf[..] } else { b };
            ip::parse_ip(&src[start..start + len])
        } else {
            None
        };
        let head = &mut self.s.heads[path as usize];
        let rec = Rec {
            next: *head,
            kind,
            in_buf,
            start: start as u32,
            len: len as u32,
            num,
            ip,
            mem_start,
            mem_len,
        };
        *head = self.s.recs.len() as u32;
        self.s.recs.push(rec);
        Ok(())
    }

    fn literal(
        &mut self,
        word: &'static [u8],
        kind: Kind,
    ) -> Result<(Kind, bool, usize, usize, i64), EventJsonError> {
        if self.b[self.i..].starts_with(word) {
            let start = self.i;
            self.i += word.len();
            Ok((kind, false, start, word.len(), NO_NUM))
        } else {
            Err(self.err("true, false or null"))
        }
    }

    /// Skips one value that no pattern reads. Scalars are checked; inside
    /// skipped containers only the structure (quotes, brackets) is.
    fn skip_value(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let b = self.b;
        match b.get(self.i) {
            Some(b'"') => {
                self.i = self.skip_string(self.i + 1)?;
                Ok(())
            }
            Some(b'{' | b'[') => self.skip_container(depth),
            Some(b't') => self.literal(b"true", Kind::True).map(|_| ()),
            Some(b'f') => self.literal(b"false", Kind::False).map(|_| ()),
            Some(b'n') => self.literal(b"null", Kind::Null).map(|_| ()),
            Some(b'-' | b'0'..=b'9') => match number::scan_number(b, self.i) {
                Some(e) => {
                    self.i = e;
                    Ok(())
                }
                None => Err(self.err("a number")),
            },
            _ => Err(self.err("a JSON value")),
        }
    }

    /// From just after an opening quote to just after the closing one.
    #[inline(always)]
    fn skip_string(&mut self, mut i: usize) -> Result<usize, EventJsonError> {
        let b = self.b;
        loop {
            match find_quote_or_backslash(b, i.min(b.len())) {
                Some(at) => {
                    if b[at] == b'"' {
                        return Ok(at + 1);
                    }
                    i = at + 2;
                    if i > b.len() {
                        self.i = b.len();
                        return Err(self.err("a closing quote"));
                    }
                }
                None => {
                    self.i = b.len();
                    return Err(self.err("a closing quote"));
                }
            }
        }
    }

    /// Skips an object or array (at its opening bracket). Square brackets
    /// on top of the stack are only counted (`sq`), so that long runs of
    /// nested arrays of numbers (GeoJSON coordinates) go through 16 bytes at
    /// a time with one predictable check per bracket.
    /// Skips the rest of an object whose remaining keys no pattern needs.
    fn leave_object(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let mut stack = std::mem::take(&mut self.s.stack);
        stack.clear();
        stack.push(b'{');
        let r = self.skip_container_with(depth, &mut stack);
        self.s.stack = stack;
        r
    }

    fn skip_container(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let mut stack = std::mem::take(&mut self.s.stack);
        stack.clear();
        let r = self.skip_container_with(depth, &mut stack);
        self.s.stack = stack;
        r
    }

    fn skip_container_with(
        &mut self,
        depth: usize,
        stack: &mut Vec<u8>,
    ) -> Result<(), EventJsonError> {
        let b = self.b;
        let limit = MAX_EVENT_DEPTH.saturating_sub(depth) as i64;
        let mut i = self.i;
        // Squares open on top of `stack`.
        let mut sq: i64 = 0;
        // Structural bytes come in clusters (keys, short strings): after
        // one, look 16 bytes ahead rather than 64.
        let mut near_special = false;
        loop {
            if sq > 0 && i + 64 <= b.len() {
                let cap = limit - stack.len() as i64;
                (i, sq) = skip_square_windows(b, i, sq, cap);
            }
            if i + 16 <= b.len() {
                let (special, opens_all, closes_all, width) = if !near_special && i + 64 <= b.len()
                {
                    let w = window64(b, i);
                    (w.special, w.open, w.close, 64u32)
                } else {
                    let blk = block16(b, i);
                    (
                        (blk.quote | blk.brace_open | blk.brace_close) as u64,
                        blk.sq_open as u64,
                        blk.sq_close as u64,
                        16u32,
                    )
                };
                let upto = if special == 0 {
                    width
                } else {
                    special.trailing_zeros()
                };
                let keep = if upto >= 64 {
                    u64::MAX
                } else {
                    (1u64 << upto) - 1
                };
                let opens = opens_all & keep;
                let closes = closes_all & keep;
                let n_close = pop64(closes) as i64;
                let n_open = pop64(opens) as i64;
                // If the run of squares cannot empty in this window whatever
                // the order, and the depth stays within the limit, count only.
                if sq - n_close > 0 && sq + n_open + stack.len() as i64 <= limit {
                    sq += n_open - n_close;
                } else {
                    let mut bits = opens | closes;
                    while bits != 0 {
                        let p = bits.trailing_zeros();
                        bits &= bits - 1;
                        let open = ((opens >> p) & 1) as i64;
                        sq += 2 * open - 1;
                        if sq <= 0 || sq + stack.len() as i64 > limit {
                            if sq > 0 {
                                self.i = i + p as usize;
                                return Err(self.err("less deeply nested JSON"));
                            }
                            if sq < 0 {
                                self.i = i + p as usize;
                                return Err(self.err("a matching bracket"));
                            }
                            // The run of squares closed.
                            if stack.is_empty() {
                                self.i = i + p as usize + 1;
                                return Ok(());
                            }
                        }
                    }
                }
                near_special = special != 0;
                if special == 0 {
                    i += width as usize;
                    continue;
                }
                i += upto as usize;
            } else {
                while i < b.len() && CLASS[b[i] as usize] == 0 {
                    i += 1;
                }
                if i >= b.len() {
                    self.i = b.len();
                    return Err(self.err("a closing bracket"));
                }
            }
            // One structural byte at `i`, handled exactly.
            match b[i] {
                b'"' => i = self.skip_string(i + 1)?,
                b'[' => {
                    sq += 1;
                    if sq + stack.len() as i64 > limit {
                        self.i = i;
                        return Err(self.err("less deeply nested JSON"));
                    }
                    i += 1;
                }
                b']' => {
                    sq -= 1;
                    if sq < 0 {
                        self.i = i;
                        return Err(self.err("a matching bracket"));
                    }
                    i += 1;
                    if sq == 0 && stack.is_empty() {
                        self.i = i;
                        return Ok(());
                    }
                }
                b'{' => {
                    for _ in 0..sq {
                        stack.push(b'[');
                    }
                    sq = 0;
                    stack.push(b'{');
                    if stack.len() as i64 > limit {
                        self.i = i;
                        return Err(self.err("less deeply nested JSON"));
                    }
                    i += 1;
                }
                b'}' => {
                    if sq != 0 || stack.pop() != Some(b'{') {
                        self.i = i;
                        return Err(self.err("a matching bracket"));
                    }
                    i += 1;
                    if stack.is_empty() {
                        self.i = i;
                        return Ok(());
                    }
                    while stack.last() == Some(&b'[') {
                        stack.pop();
                        sq += 1;
                    }
                }
                _ => i += 1,
            }
        }
    }
}
