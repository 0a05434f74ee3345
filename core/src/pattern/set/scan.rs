//! The byte-level event scanner: reads the values at paths some pattern
//! names, skips the rest, and checks the JSON as it goes.

use super::super::bytes::{
    prefix_xor, skip_masks, skip_square_windows, squares_after, string_masks, string_masks_full,
    StringMasks,
};
use super::super::error::EventJsonError;
use super::super::ip::{self, Ip};
use super::super::number;
use super::super::unescape::unescape_into;
use super::trie::{key_head_in, Trie};

/// End of a list of records, and a path with no record yet.
pub(super) const NONE: u32 = u32::MAX;
/// A number with no comparable form (see `number::comparable`).
pub(super) const NO_NUM: i64 = i64::MIN;
/// Deepest nesting the scanner follows (objects and arrays on pattern paths,
/// and containers it skips).
const MAX_EVENT_DEPTH: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Num,
    True,
    False,
    Null,
}

/// One leaf value read at a pattern path.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rec {
    /// The previous record at the same path (`NONE` for the first).
    pub(super) next: u32,
    pub(super) kind: Kind,
    /// Whether the bytes are in `Recorded::strbuf` (an unescaped string)
    /// rather than in the event.
    pub(super) in_buf: bool,
    pub(super) start: u32,
    pub(super) len: u32,
    pub(super) num: i64,
    /// The value read as an IP address, when some matcher wants that.
    pub(super) ip: Option<Ip>,
    /// Its (array id, index) memberships, in `Recorded::members`.
    pub(super) mem_start: u32,
    pub(super) mem_len: u32,
}

/// What the scanner recorded of one event, and its own buffers.
#[derive(Debug, Default)]
pub(super) struct Recorded {
    /// Per path: its latest record, or `NONE`.
    pub(super) heads: Vec<u32>,
    /// The paths with a record, each once.
    pub(super) touched: Vec<u32>,
    pub(super) recs: Vec<Rec>,
    pub(super) members: Vec<(u32, u32)>,
    pub(super) strbuf: Vec<u8>,
    /// Whether some record sits inside an array.
    pub(super) any_array: bool,
    keybuf: Vec<u8>,
    stack: Vec<u8>,
    arr: Vec<(u32, u32)>,
    next_array: u32,
}

impl Recorded {
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

/// Asks for every cache line of the event at once. The scanner's reads
/// each wait on the one before (where a token ends decides where the next
/// read is), so lines that are not yet in the cache would otherwise arrive
/// one after another.
#[inline(always)]
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let mut k = 0;
        while k < b.len() {
            // SAFETY: SSE is part of the x86_64 baseline; a prefetch reads
            // nothing and cannot fault, and `k` stays inside `b`.
            unsafe { _mm_prefetch(b.as_ptr().add(k) as *const i8, _MM_HINT_T0) };
            k += 64;
        }
    }
}

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

/// The first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn ws_from(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
            i += 1;
        } else {
            break;
        }
    }
    i
}

pub(super) struct Scanner<'a, 's> {
    b: &'a [u8],
    i: usize,
    trie: &'a Trie,
    /// Per path: whether some matcher reads the value as an IP address.
    needs_ip: &'a [bool],
    lazy: bool,
    s: &'s mut Recorded,
    /// Lazy scanning read everything the patterns need at the top level.
    stopped: bool,
    /// The 64-byte block whose string masks are in `masks` (`usize::MAX`
    /// before the first): the scanner only moves forward, so one block
    /// serves most searches, and finding a string's end is a shift and a
    /// count of trailing zeros instead of a load and compare that waits on
    /// the previous token's end.
    mbase: usize,
    masks: StringMasks,
}

impl<'a, 's> Scanner<'a, 's> {
    /// Reads `event` into `s`, forgetting the previous event's records.
    pub(super) fn scan(
        event: &'a [u8],
        trie: &'a Trie,
        needs_ip: &'a [bool],
        lazy: bool,
        s: &'s mut Recorded,
    ) -> Result<(), EventJsonError> {
        s.reset(needs_ip.len());
        Scanner {
            b: event,
            i: 0,
            trie,
            needs_ip,
            lazy,
            s,
            stopped: false,
            mbase: usize::MAX,
            masks: StringMasks {
                stop: 0,
                dot: 0,
                control: 0,
            },
        }
        .run()
    }

    /// The first `"` or `\\` at or after `i`, and whether a `.` and whether
    /// a raw control character came before it.
    #[inline(always)]
    fn string_end(&mut self, i: usize) -> Option<(usize, bool, bool)> {
        let mut base = i & !63;
        let mut shift = i - base;
        let (mut dot, mut control) = (false, false);
        while base < self.b.len() {
            if base != self.mbase {
                // Whole blocks inline; the event's last, partial one aside.
                self.masks = if base + 64 <= self.b.len() {
                    string_masks_full(self.b, base)
                } else {
                    string_masks(self.b, base)
                };
                self.mbase = base;
            }
            let m = self.masks;
            let stop = m.stop >> shift;
            let (d, c) = (m.dot >> shift, m.control >> shift);
            if stop != 0 {
                let at = stop.trailing_zeros();
                let before = (1u64 << at) - 1;
                return Some((
                    base + shift + at as usize,
                    dot || d & before != 0,
                    control || c & before != 0,
                ));
            }
            dot |= d != 0;
            control |= c != 0;
            base += 64;
            shift = 0;
        }
        None
    }

    fn err(&self, expected: &'static str) -> EventJsonError {
        EventJsonError::at(self.b, self.i, expected)
    }

    #[inline]
    fn ws(&mut self) {
        self.i = ws_from(self.b, self.i);
    }

    fn run(mut self) -> Result<(), EventJsonError> {
        prefetch(self.b);
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

    fn err_at(&self, i: usize, expected: &'static str) -> EventJsonError {
        EventJsonError::at(self.b, i, expected)
    }

    /// After the opening brace. The position lives in a local while the
    /// loop steps through keys and skipped strings, and goes back to
    /// `self.i` only around calls that read it, so that it stays in a
    /// register instead of going through memory at every token.
    fn object(&mut self, node: u32, depth: usize) -> Result<(), EventJsonError> {
        let b = self.b;
        let mut i = ws_from(b, self.i);
        if b.get(i) == Some(&b'}') {
            self.i = i + 1;
            return Ok(());
        }
        let (lazy, full) = {
            let n = &self.trie.node(node);
            (
                self.lazy && n.children.len() <= 64 && n.full_mask != 0,
                n.full_mask,
            )
        };
        let mut found = 0u64;
        loop {
            if b.get(i) != Some(&b'"') {
                self.i = i;
                return Err(self.err("a string key"));
            }
            let (after, next, dotted) = self.key(i, node)?;
            i = after;
            let plain = lazy && !dotted;
            if b.get(i) != Some(&b':') {
                i = ws_from(b, i);
                if b.get(i) != Some(&b':') {
                    self.i = i;
                    return Err(self.err("':'"));
                }
            }
            i += 1;
            if !matches!(b.get(i), Some(&c) if c > b' ') {
                i = ws_from(b, i);
            }
            match next {
                Some(n) => {
                    self.i = i;
                    self.value(n, depth)?;
                    i = self.i;
                    if plain {
                        found |= 1u64 << self.trie.node(n).slot;
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
                    if b.get(i) == Some(&b'"') {
                        i = match self.string_close(i + 1) {
                            Some(e) => e,
                            None => return Err(self.err_at(b.len(), "a closing quote")),
                        };
                    } else {
                        self.i = i;
                        self.skip_value(depth)?;
                        i = self.i;
                    }
                }
            }
            // Compact JSON first, whitespace second.
            let c = match b.get(i) {
                Some(&c) if c > b' ' => c,
                _ => {
                    i = ws_from(b, i);
                    match b.get(i) {
                        Some(&c) => c,
                        None => return Err(self.err_at(i, "',' or '}'")),
                    }
                }
            };
            match c {
                b',' => {
                    i += 1;
                    if b.get(i) != Some(&b'"') {
                        i = ws_from(b, i);
                    }
                }
                b'}' => {
                    self.i = i + 1;
                    return Ok(());
                }
                _ => return Err(self.err_at(i, "',' or '}'")),
            }
        }
    }

    /// Reads the key at `at` (its quote) and steps the trie: the offset
    /// after the key, the node it leads to, and whether the key as written
    /// holds a `.`.
    #[inline(always)]
    fn key(&mut self, at: usize, node: u32) -> Result<(usize, Option<u32>, bool), EventJsonError> {
        let start = at + 1;
        let Some((end, dot, _)) = self.string_end(start) else {
            return Err(self.err_at(self.b.len(), "a closing quote"));
        };
        if self.b[end] == b'"' {
            let k = &self.b[start..end];
            let next = if dot {
                self.trie.step_dotted(node, k)
            } else {
                self.trie
                    .child_h(node, k, key_head_in(self.b, start, end - start))
            };
            return Ok((end + 1, next, dot));
        }
        self.escaped_key(start, node)
    }

    /// A key holding an escape: unescaped into `keybuf`, then split at `.`.
    #[cold]
    fn escaped_key(
        &mut self,
        start: usize,
        node: u32,
    ) -> Result<(usize, Option<u32>, bool), EventJsonError> {
        let mut buf = std::mem::take(&mut self.s.keybuf);
        buf.clear();
        let r = unescape_into(self.b, start, &mut buf);
        let out = match r {
            Ok(end) => {
                let dotted = self.b[start..end].contains(&b'.');
                Ok((end, self.trie.step_dotted(node, &buf), dotted))
            }
            Err(at) => Err(self.err_at(at, "a valid string")),
        };
        self.s.keybuf = buf;
        out
    }

    fn value(&mut self, node: u32, depth: usize) -> Result<(), EventJsonError> {
        let n = &self.trie.node(node);
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
                let (rel, control) = match self.string_end(start).map(|(e, _, c)| (e, c)) {
                    Some((at, control)) => (at - start, control),
                    None => {
                        self.i = b.len();
                        return Err(self.err("a closing quote"));
                    }
                };
                if b[start + rel] == b'"' {
                    if control {
                        let bad = b[start..start + rel].iter().position(|&c| c < 0x20);
                        self.i = start + bad.unwrap_or(0);
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
        let ip = if kind == Kind::Str && self.needs_ip[path as usize] {
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
    fn skip_string(&mut self, i: usize) -> Result<usize, EventJsonError> {
        match self.string_close(i) {
            Some(e) => Ok(e),
            None => {
                self.i = self.b.len();
                Err(self.err("a closing quote"))
            }
        }
    }

    /// Just after the quote that closes the string whose contents start at
    /// `i`; `None` when the event ends first.
    #[inline(always)]
    fn string_close(&mut self, mut i: usize) -> Option<usize> {
        let b = self.b;
        loop {
            let at = self.string_end(i.min(b.len()))?.0;
            if b[at] == b'"' {
                return Some(at + 1);
            }
            i = at + 2;
            if i > b.len() {
                return None;
            }
        }
    }

    /// Skips the rest of an object whose remaining keys no pattern needs.
    fn leave_object(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let mut stack = std::mem::take(&mut self.s.stack);
        stack.clear();
        stack.push(b'{');
        let r = self.skip_container_with(depth, &mut stack);
        self.s.stack = stack;
        r
    }

    /// Skips an object or array (at its opening bracket).
    fn skip_container(&mut self, depth: usize) -> Result<(), EventJsonError> {
        let mut stack = std::mem::take(&mut self.s.stack);
        stack.clear();
        let r = self.skip_container_with(depth, &mut stack);
        self.s.stack = stack;
        r
    }

    /// Skips to the end of the container open on `stack` (or opening at
    /// `self.i`), 64 bytes at a time. Each block's quotes give, by a running
    /// parity, which bytes are inside strings, so strings cost nothing and
    /// only the brackets outside them are followed, one at a time and with
    /// their kinds checked. Square brackets on top of the stack are only
    /// counted (`sq`) while they cannot close, so that long runs of nested
    /// arrays of numbers (GeoJSON coordinates) go through a whole block with
    /// one check. A block holding a backslash (an escape, which the parity
    /// cannot follow) is walked byte by byte instead.
    fn skip_container_with(
        &mut self,
        depth: usize,
        stack: &mut Vec<u8>,
    ) -> Result<(), EventJsonError> {
        let b = self.b;
        let limit = MAX_EVENT_DEPTH.saturating_sub(depth) as i64;
        let mut i = self.i;
        let mut sq: i64 = 0;
        // Whether the bytes from `i` on are inside a string whose opening
        // quote was in an earlier block.
        let mut in_str = false;
        loop {
            if sq > 0 && !in_str && i + 64 <= b.len() {
                let cap = limit - stack.len() as i64;
                (i, sq) = skip_square_windows(b, i, sq, cap);
            }
            if i >= b.len() {
                self.i = b.len();
                return Err(self.err(if in_str {
                    "a closing quote"
                } else {
                    "a closing bracket"
                }));
            }
            let m = skip_masks(b, i);
            if m.backslash != 0 {
                let end = (i + 64).min(b.len());
                if in_str {
                    i = self.skip_string(i)?;
                    in_str = false;
                }
                while i < end {
                    if CLASS[b[i] as usize] == 0 {
                        i += 1;
                        continue;
                    }
                    if b[i] == b'"' {
                        i = self.skip_string(i + 1)?;
                        continue;
                    }
                    if self.bracket(b[i], i, &mut sq, stack, limit)? {
                        self.i = i + 1;
                        return Ok(());
                    }
                    i += 1;
                }
                continue;
            }
            let inside = prefix_xor(m.quote) ^ if in_str { u64::MAX } else { 0 };
            let out = !inside;
            let (so, sc) = (m.sq_open & out, m.sq_close & out);
            let braces = (m.brace_open | m.brace_close) & out;
            // With only squares in the block and a run open that neither
            // closes nor passes the limit in it, the depth is all there is.
            let counted = so | sc | braces == 0
                || braces == 0
                    && sq > 0
                    && squares_after(so, sc, sq, limit - stack.len() as i64)
                        .map(|d| sq = d)
                        .is_some();
            if !counted {
                let mut bits = so | sc | braces;
                while bits != 0 {
                    let p = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if self.bracket(b[i + p], i + p, &mut sq, stack, limit)? {
                        self.i = i + p + 1;
                        return Ok(());
                    }
                }
            }
            in_str = inside >> 63 == 1;
            i += 64;
        }
    }

    /// Follows one bracket at `at` outside strings; true when it closes the
    /// container being skipped.
    #[inline(always)]
    fn bracket(
        &mut self,
        c: u8,
        at: usize,
        sq: &mut i64,
        stack: &mut Vec<u8>,
        limit: i64,
    ) -> Result<bool, EventJsonError> {
        match c {
            b'[' => {
                *sq += 1;
                if *sq + stack.len() as i64 > limit {
                    self.i = at;
                    return Err(self.err("less deeply nested JSON"));
                }
                Ok(false)
            }
            b']' => {
                *sq -= 1;
                if *sq < 0 {
                    self.i = at;
                    return Err(self.err("a matching bracket"));
                }
                Ok(*sq == 0 && stack.is_empty())
            }
            b'{' => {
                for _ in 0..*sq {
                    stack.push(b'[');
                }
                *sq = 0;
                stack.push(b'{');
                if stack.len() as i64 > limit {
                    self.i = at;
                    return Err(self.err("less deeply nested JSON"));
                }
                Ok(false)
            }
            _ => {
                if *sq != 0 || stack.pop() != Some(b'{') {
                    self.i = at;
                    return Err(self.err("a matching bracket"));
                }
                if stack.is_empty() {
                    return Ok(true);
                }
                while stack.last() == Some(&b'[') {
                    stack.pop();
                    *sq += 1;
                }
                Ok(false)
            }
        }
    }
}
