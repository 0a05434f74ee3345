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

use super::compile::{CBranch, Matcher};
use super::error::EventJsonError;
use super::ip;
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

#[derive(Debug, Clone, Default)]
struct Node {
    leaf: Option<u32>,
    children: Vec<(Box<[u8]>, u32)>,
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
    rules: Vec<Rule>,
}

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
}

impl PatternSet {
    /// An empty set.
    pub fn new() -> Self {
        PatternSet {
            nodes: vec![Node::default()],
            paths: Vec::new(),
            path_ids: FxHashMap::default(),
            rules: Vec::new(),
        }
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
                        .map(|f| Field {
                            path: self.intern(&f.path),
                            matchers: f.matchers.clone(),
                            absent: f.absent,
                        })
                        .collect()
                })
                .collect(),
        };
        self.rules.push(rule);
        self.rules.len() - 1
    }

    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.to_string());
        self.path_ids.insert(path.to_string(), id);
        let mut node = 0u32;
        for seg in path.as_bytes().split(|&c| c == b'.') {
            node = match self.child(node, seg) {
                Some(n) => n,
                None => {
                    let n = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    let parent = &mut self.nodes[node as usize];
                    parent.children.push((seg.into(), n));
                    if parent.children.len() > LINEAR_CHILDREN {
                        let map = parent.map.get_or_insert_with(FxHashMap::default);
                        for (k, v) in &parent.children {
                            map.insert(k.clone(), *v);
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
        let n = &self.nodes[node as usize];
        if let Some(map) = &n.map {
            return map.get(seg).copied();
        }
        for (k, v) in &n.children {
            if k.len() == seg.len() && **k == *seg {
                return Some(*v);
            }
        }
        None
    }

    #[inline]
    fn step_key(&self, node: u32, key: &[u8]) -> Option<u32> {
        if memchr::memchr(b'.', key).is_none() {
            return self.child(node, key);
        }
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
        }
        .run()?;
        for (idx, rule) in self.rules.iter().enumerate() {
            if rule
                .branches
                .iter()
                .any(|fields| eval_branch(fields, event, scratch))
            {
                out.push(idx);
            }
        }
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
            Matcher::IpExact(want) => is_str && ip::parse_ip(v.bytes) == Some(*want),
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
            Matcher::Cidr(range) => {
                is_str && ip::parse_ip(v.bytes).is_some_and(|a| range.contains(a))
            }
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
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("a string key"));
            }
            let next = self.key(node)?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(self.err("':'"));
            }
            self.i += 1;
            self.ws();
            match next {
                Some(n) => self.value(n, depth)?,
                None => self.skip_value(depth)?,
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
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
        let rel = match memchr::memchr2(b'"', b'\\', &self.b[start..]) {
            Some(r) => r,
            None => {
                self.i = self.b.len();
                return Err(self.err("a closing quote"));
            }
        };
        if self.b[start + rel] == b'"' {
            self.i = start + rel + 1;
            let k = &self.b[start..start + rel];
            return Ok(self.set.step_key(node, k));
        }
        let mut buf = std::mem::take(&mut self.s.keybuf);
        buf.clear();
        let r = unescape_into(self.b, start, &mut buf);
        let out = match r {
            Ok(end) => {
                self.i = end;
                Ok(self.set.step_key(node, &buf))
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
                let rel = match memchr::memchr2(b'"', b'\\', &b[start..]) {
                    Some(r) => r,
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
        let head = &mut self.s.heads[path as usize];
        if *head == NONE {
            self.s.touched.push(path);
        }
        let rec = Rec {
            next: *head,
            kind,
            in_buf,
            start: start as u32,
            len: len as u32,
            num,
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
    #[inline]
    fn skip_string(&mut self, mut i: usize) -> Result<usize, EventJsonError> {
        let b = self.b;
        loop {
            match memchr::memchr2(b'"', b'\\', &b[i.min(b.len())..]) {
                Some(rel) => {
                    let at = i + rel;
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

    fn skip_container(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let b = self.b;
        let mut stack = std::mem::take(&mut self.s.stack);
        stack.clear();
        let mut i = self.i;
        let r = loop {
            while i < b.len() && CLASS[b[i] as usize] == 0 {
                i += 1;
            }
            if i >= b.len() {
                self.i = b.len();
                break Err(self.err("a closing bracket"));
            }
            let c = b[i];
            match CLASS[c as usize] {
                1 => match self.skip_string(i + 1) {
                    Ok(e) => i = e,
                    Err(e) => break Err(e),
                },
                2 => {
                    if depth + stack.len() >= MAX_EVENT_DEPTH {
                        self.i = i;
                        break Err(self.err("less deeply nested JSON"));
                    }
                    stack.push(c);
                    i += 1;
                }
                _ => {
                    let open = stack.pop();
                    let ok = matches!((open, c), (Some(b'{'), b'}') | (Some(b'['), b']'));
                    if !ok {
                        self.i = i;
                        break Err(self.err("a matching bracket"));
                    }
                    i += 1;
                    if stack.is_empty() {
                        self.i = i;
                        break Ok(());
                    }
                }
            }
        };
        self.s.stack = stack;
        r
    }
}
