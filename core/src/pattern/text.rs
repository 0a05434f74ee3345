//! String operators: case-insensitive comparison and wildcards.

use super::bytes::{ends_with, find, same, starts_with};

/// One pattern character and the byte strings it accepts (its lower and
/// upper case forms), as event-ruler builds equals-ignore-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IgnoreCase {
    /// ASCII patterns take the fast path: compare with eq_ignore_ascii_case.
    ascii: Option<Vec<u8>>,
    alts: Vec<[Vec<u8>; 2]>,
}

impl IgnoreCase {
    pub(crate) fn new(s: &str) -> Self {
        if s.is_ascii() {
            return IgnoreCase {
                ascii: Some(s.as_bytes().to_vec()),
                alts: Vec::new(),
            };
        }
        let alts = s
            .chars()
            .map(|c| {
                let lo: String = c.to_lowercase().collect();
                let up: String = c.to_uppercase().collect();
                [lo.into_bytes(), up.into_bytes()]
            })
            .collect();
        IgnoreCase { ascii: None, alts }
    }

    pub(crate) fn equals(&self, v: &[u8]) -> bool {
        if let Some(a) = &self.ascii {
            return a.len() == v.len() && a.eq_ignore_ascii_case(v);
        }
        self.ends(v, 0).contains(&v.len())
    }

    pub(crate) fn is_prefix_of(&self, v: &[u8]) -> bool {
        if let Some(a) = &self.ascii {
            return v.len() >= a.len() && a.eq_ignore_ascii_case(&v[..a.len()]);
        }
        !self.ends(v, 0).is_empty()
    }

    pub(crate) fn is_suffix_of(&self, v: &[u8]) -> bool {
        if let Some(a) = &self.ascii {
            return v.len() >= a.len() && a.eq_ignore_ascii_case(&v[v.len() - a.len()..]);
        }
        // Try every start; strings are short, and the first char filters fast.
        (0..=v.len()).any(|start| self.ends(v, start).contains(&v.len()))
    }

    /// Offsets in `v` where a match of the whole pattern starting at `start` can end.
    fn ends(&self, v: &[u8], start: usize) -> Vec<usize> {
        let mut cur = vec![start];
        for alt in &self.alts {
            let mut next: Vec<usize> = Vec::with_capacity(2);
            for &i in &cur {
                for a in alt {
                    if v.len() >= i + a.len() && &v[i..i + a.len()] == a.as_slice() {
                        let e = i + a.len();
                        if !next.contains(&e) {
                            next.push(e);
                        }
                    }
                }
            }
            if next.is_empty() {
                return next;
            }
            cur = next;
        }
        cur
    }
}

/// A wildcard: literal byte runs separated by `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// Literal pieces; a star lies between each two.
    pieces: Vec<Vec<u8>>,
}

/// Byte tokens of a wildcard: a literal byte or a star.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WTok {
    Byte(u8),
    Star,
}

/// Parses a wildcard as event-ruler does: `\*` and `\\` are the only
/// escapes, `**` is rejected. Error positions count the leading quote, as
/// event-ruler's messages do.
pub(crate) fn parse_wildcard(s: &str) -> Result<Vec<WTok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => {
                if b.get(i + 1) == Some(&b'*') {
                    return Err(format!("Consecutive wildcard characters at pos {}", i + 1));
                }
                out.push(WTok::Star);
            }
            b'\\' => match b.get(i + 1) {
                Some(&c @ (b'*' | b'\\')) => {
                    out.push(WTok::Byte(c));
                    i += 1;
                }
                _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
            },
            c => out.push(WTok::Byte(c)),
        }
        i += 1;
    }
    Ok(out)
}

impl Wildcard {
    pub(crate) fn new(tokens: &[WTok]) -> Self {
        let mut pieces = vec![Vec::new()];
        for t in tokens {
            match t {
                WTok::Byte(c) => pieces.last_mut().expect("non-empty").push(*c),
                WTok::Star => pieces.push(Vec::new()),
            }
        }
        Wildcard { pieces }
    }

    pub(crate) fn matches(&self, v: &[u8]) -> bool {
        let n = self.pieces.len();
        if n == 1 {
            return same(v, &self.pieces[0]);
        }
        let first = &self.pieces[0];
        let last = &self.pieces[n - 1];
        if v.len() < first.len() + last.len() || !starts_with(v, first) || !ends_with(v, last) {
            return false;
        }
        let mut rest = &v[first.len()..v.len() - last.len()];
        for p in &self.pieces[1..n - 1] {
            if p.is_empty() {
                continue;
            }
            match find(rest, p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Wildcard complexity limit: the most pattern prefixes that one input may
/// match at once, over all wildcards of one field. See `complexity`.
pub(crate) const MAX_WILDCARD_COMPLEXITY: usize = 10;

/// Upper bound of distinct joint states explored before giving up (and
/// calling the field too complex).
const MAX_EXPLORED: usize = 20_000;

/// EventBridge's wildcard complexity, after event-ruler's
/// MachineComplexityEvaluator: the largest number of wildcard-pattern
/// prefixes (each pattern taken with its enclosing quotes, as event-ruler
/// stores string values) that some input can match at the same time, summed
/// over the distinct wildcards of one field. Returns `None` when it exceeds
/// `MAX_WILDCARD_COMPLEXITY` (or when exploration would be too long).
pub(crate) fn complexity(patterns: &[Vec<WTok>]) -> Option<usize> {
    use rustc_hash::FxHashSet;
    let mut pats: Vec<Vec<WTok>> = patterns
        .iter()
        .map(|p| {
            let mut t = Vec::with_capacity(p.len() + 2);
            t.push(WTok::Byte(b'"'));
            t.extend_from_slice(p);
            t.push(WTok::Byte(b'"'));
            t
        })
        .collect();
    pats.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    pats.dedup();
    // Alphabet: every literal byte, plus one byte no pattern names.
    let mut seen = [false; 256];
    for p in &pats {
        for t in p {
            if let WTok::Byte(c) = t {
                seen[*c as usize] = true;
            }
        }
    }
    let mut alphabet: Vec<u8> = (0u8..=255).filter(|c| seen[*c as usize]).collect();
    if let Some(other) = (0u8..=255).find(|c| !seen[*c as usize]) {
        alphabet.push(other);
    }
    // A joint state: for each pattern, the sorted positions (prefix lengths) matched.
    type Joint = Vec<Vec<u16>>;
    let close = |t: &[WTok], s: &mut Vec<u16>| {
        let mut k = 0;
        while k < s.len() {
            let p = s[k] as usize;
            if p < t.len() && t[p] == WTok::Star && !s.contains(&((p + 1) as u16)) {
                s.push((p + 1) as u16);
            }
            k += 1;
        }
        s.sort_unstable();
    };
    if pats.iter().any(|p| p.len() >= u16::MAX as usize) {
        return None;
    }
    let init: Joint = pats
        .iter()
        .map(|t| {
            let mut s = vec![0u16];
            close(t, &mut s);
            s
        })
        .collect();
    let mut visited: FxHashSet<Joint> = FxHashSet::default();
    let mut stack = vec![init];
    let mut max = 0usize;
    while let Some(state) = stack.pop() {
        for &c in &alphabet {
            let mut next: Joint = Vec::with_capacity(pats.len());
            let mut count = 0usize;
            let mut any = false;
            for (t, s) in pats.iter().zip(&state) {
                let mut n: Vec<u16> = Vec::new();
                for &p in s {
                    let p = p as usize;
                    if p < t.len() && t[p] == WTok::Byte(c) && !n.contains(&((p + 1) as u16)) {
                        n.push((p + 1) as u16);
                    }
                    if p >= 1 && t[p - 1] == WTok::Star && !n.contains(&(p as u16)) {
                        n.push(p as u16);
                    }
                }
                close(t, &mut n);
                count += n.iter().filter(|&&p| p != 0).count();
                any |= !n.is_empty();
                next.push(n);
            }
            if !any {
                continue;
            }
            if count > MAX_WILDCARD_COMPLEXITY {
                return None;
            }
            max = max.max(count);
            if !visited.contains(&next) {
                if visited.len() >= MAX_EXPLORED {
                    return None;
                }
                visited.insert(next.clone());
                stack.push(next);
            }
        }
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(ps: &[&str]) -> Option<usize> {
        let toks: Vec<Vec<WTok>> = ps.iter().map(|p| parse_wildcard(p).unwrap()).collect();
        complexity(&toks)
    }

    #[test]
    fn complexity_follows_event_ruler() {
        // Quote-free figures from event-ruler's own tests are reproduced when
        // the pattern does not start or end with a star.
        assert_eq!(cx(&["a*bbb"]), Some(4));
        assert_eq!(cx(&["a*aaa", "aa*aa"]), Some(7));
        assert_eq!(
            cx(&["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"]),
            Some(10)
        );
        assert_eq!(cx(&["arn:aws:events:us-east-1:*:event-bus/*"]), Some(3));
        assert_eq!(cx(&["/Users/*/dir/dir/dir/dir/dir/doc.txt"]), Some(7));
        assert_eq!(cx(&["*:*:*:*:*:event-bus/*"]), None);
        assert_eq!(cx(&["*a*a*a*a*a*a*a*a*"]), None);
    }

    #[test]
    fn wildcard_matching() {
        let w = Wildcard::new(&parse_wildcard("/Users/*/doc.txt").unwrap());
        assert!(w.matches(b"/Users/me/doc.txt"));
        assert!(w.matches(b"/Users//doc.txt"));
        assert!(!w.matches(b"/Users/doc.txt"));
        let w = Wildcard::new(&parse_wildcard("a\\*b*").unwrap());
        assert!(w.matches(b"a*bc"));
        assert!(!w.matches(b"axbc"));
        let w = Wildcard::new(&parse_wildcard("").unwrap());
        assert!(w.matches(b""));
        assert!(!w.matches(b"x"));
        assert!(parse_wildcard("a**").is_err());
        assert!(parse_wildcard("a\\n").is_err());
        assert!(parse_wildcard("a\\").is_err());
    }

    #[test]
    fn ignore_case() {
        let ic = IgnoreCase::new("EventB");
        assert!(ic.is_prefix_of(b"eventbridge"));
        assert!(!ic.is_prefix_of(b"eventzz"));
        let ic = IgnoreCase::new("straße");
        assert!(ic.equals("STRASSE".as_bytes()));
        assert!(ic.equals("Straße".as_bytes()));
        assert!(ic.is_suffix_of("xx STRAßE".as_bytes()));
    }
}
