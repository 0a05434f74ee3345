//! Fast byte classification for the scanner: 64-byte blocks as bit masks
//! (SSE2 on x86_64, AVX2 for runs of square brackets when the CPU has it),
//! and the short comparisons the matchers make.

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Where strings end in one 64-byte block of an event, one bit per byte:
/// quotes and backslashes (`stop`), dots (`dot`, for keys that split into
/// path segments) and raw control characters (`control`, which strings may
/// not hold). Bits past the end of the event are clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StringMasks {
    pub stop: u64,
    pub dot: u64,
    pub control: u64,
}

/// Classifies the block `b[base..base + 64]` (cut at the end of `b`).
#[inline(never)]
pub(crate) fn string_masks(b: &[u8], base: usize) -> StringMasks {
    if base + 64 <= b.len() {
        return string_masks_full(b, base);
    }
    if b.len() >= 64 && base < b.len() {
        // The event's last 64 bytes, shifted: bits past its end come out clear.
        let from = b.len() - 64;
        let m = string_masks_full(b, from);
        let k = base - from;
        return StringMasks {
            stop: m.stop >> k,
            dot: m.dot >> k,
            control: m.control >> k,
        };
    }
    let mut pad = [b' '; 64];
    let rest = &b[base.min(b.len())..];
    pad[..rest.len()].copy_from_slice(rest);
    string_masks_full(&pad, 0)
}

/// `string_masks` of a block that lies wholly inside `b`.
#[inline(always)]
pub(crate) fn string_masks_full(b: &[u8], base: usize) -> StringMasks {
    let mut m = StringMasks {
        stop: 0,
        dot: 0,
        control: 0,
    };
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        assert!(base + 64 <= b.len());
        for k in 0..4 {
            // SAFETY: SSE2 is part of the x86_64 baseline; the assert keeps
            // the four unaligned 16-byte loads inside `b`.
            let (stop, dot, control) = unsafe {
                let v = _mm_loadu_si128(b.as_ptr().add(base + 16 * k) as *const __m128i);
                let stop = _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                );
                let dot = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
                // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
                let lim = _mm_set1_epi8(0x1f);
                let control = _mm_cmpeq_epi8(_mm_max_epu8(v, lim), lim);
                (
                    _mm_movemask_epi8(stop) as u32 as u64,
                    _mm_movemask_epi8(dot) as u32 as u64,
                    _mm_movemask_epi8(control) as u32 as u64,
                )
            };
            m.stop |= stop << (16 * k);
            m.dot |= dot << (16 * k);
            m.control |= control << (16 * k);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        for (k, &c) in b[base..base + 64].iter().enumerate() {
            let bit = 1u64 << k;
            if c == b'"' || c == b'\\' {
                m.stop |= bit;
            }
            if c == b'.' {
                m.dot |= bit;
            }
            if c < 0x20 {
                m.control |= bit;
            }
        }
    }
    m
}

/// Whether `a == b`, for the short values and keys the matchers compare:
/// at most two overlapping word loads a side instead of a call to the
/// C library's `memcmp`, whose call and dispatch cost more than the
/// comparison itself at these lengths.
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 16 {
        return a == b;
    }
    if n >= 8 {
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    if n >= 4 {
        let w = |x: &[u8], i: usize| u32::from_le_bytes([x[i], x[i + 1], x[i + 2], x[i + 3]]);
        return w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4);
    }
    if n >= 2 {
        let w = |x: &[u8], i: usize| u16::from_le_bytes([x[i], x[i + 1]]);
        return w(a, 0) == w(b, 0) && w(a, n - 2) == w(b, n - 2);
    }
    n == 0 || a[0] == b[0]
}

/// Whether `v` starts with `p` (see [`same`]).
#[inline(always)]
pub(crate) fn starts_with(v: &[u8], p: &[u8]) -> bool {
    v.len() >= p.len() && same(&v[..p.len()], p)
}

/// Whether `v` ends with `p` (see [`same`]).
#[inline(always)]
pub(crate) fn ends_with(v: &[u8], p: &[u8]) -> bool {
    v.len() >= p.len() && same(&v[v.len() - p.len()..], p)
}

/// Offset of the first `p` in `v`. Values are short, so a scan for the
/// first byte and a [`same`] check beat building a substring searcher.
#[inline]
pub(crate) fn find(v: &[u8], p: &[u8]) -> Option<usize> {
    let Some((&first, _)) = p.split_first() else {
        return Some(0);
    };
    if v.len() > 64 {
        return memchr::memmem::find(v, p);
    }
    let last = v.len().checked_sub(p.len())?;
    let mut at = 0;
    while at <= last {
        let k = at + memchr::memchr(first, &v[at..=last])?;
        if same(&v[k..k + p.len()], p) {
            return Some(k);
        }
        at = k + 1;
    }
    None
}

/// Skips whole 64-byte windows that hold no quote or brace and in which the
/// run of `sq` open square brackets cannot close (nor exceed `cap`), using
/// AVX2 when the CPU has it. Returns the new offset and square depth; the
/// caller handles the window where this stops, exactly.
#[inline]
pub(crate) fn skip_square_windows(b: &[u8], i: usize, sq: i64, cap: i64) -> (usize, i64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the features were just detected.
            return unsafe { skip_square_windows_avx2(b, i, sq, cap) };
        }
    }
    skip_square_windows_portable(b, i, sq, cap)
}

fn skip_square_windows_portable(b: &[u8], mut i: usize, mut sq: i64, cap: i64) -> (usize, i64) {
    while i + 64 <= b.len() {
        let w = window64(b, i);
        if w.special != 0 {
            break;
        }
        match squares_after(w.open, w.close, sq, cap) {
            Some(s2) => sq = s2,
            None => break,
        }
        i += 64;
    }
    (i, sq)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn skip_square_windows_avx2(b: &[u8], mut i: usize, mut sq: i64, cap: i64) -> (usize, i64) {
    use std::arch::x86_64::*;
    // Quotes and braces in one shuffle and one compare: `"`, `{` and `}`
    // have distinct low nibbles (2, B, D), so a byte is one of them exactly
    // when the table entry at its low nibble is the byte itself. Every
    // other entry differs from its index in the low nibble, and bytes with
    // the high bit set shuffle to 0, so nothing else compares equal.
    let mut t = [0i8; 16];
    for (n, e) in t.iter_mut().enumerate() {
        *e = (n ^ 1) as i8;
    }
    t[0x2] = b'"' as i8;
    t[0xb] = b'{' as i8;
    t[0xd] = b'}' as i8;
    // SAFETY: an unaligned 16-byte load of a 16-byte array.
    let t = unsafe { _mm_loadu_si128(t.as_ptr() as *const __m128i) };
    let table = _mm256_broadcastsi128_si256(t);
    let so = _mm256_set1_epi8(b'[' as i8);
    let sc = _mm256_set1_epi8(b']' as i8);
    while i + 64 <= b.len() {
        // SAFETY: i + 64 <= b.len(), so both 32-byte loads are in bounds.
        let (lo, hi) = unsafe {
            let p = b.as_ptr().add(i);
            (
                _mm256_loadu_si256(p as *const __m256i),
                _mm256_loadu_si256(p.add(32) as *const __m256i),
            )
        };
        let spec = |v| _mm256_cmpeq_epi8(_mm256_shuffle_epi8(table, v), v);
        if _mm256_movemask_epi8(_mm256_or_si256(spec(lo), spec(hi))) != 0 {
            break;
        }
        let mask = |v, c| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, c)) as u32 as u64;
        let opens = mask(lo, so) | (mask(hi, so) << 32);
        let closes = mask(lo, sc) | (mask(hi, sc) << 32);
        match squares_after(opens, closes, sq, cap) {
            Some(s2) => sq = s2,
            None => break,
        }
        i += 64;
    }
    (i, sq)
}

/// The square depth after a window whose brackets are `opens` and
/// `closes`, starting at `sq` (> 0), if the run of squares neither closes nor
/// passes `cap` inside it; `None` otherwise. A window of number arrays holds
/// few brackets, so the first four are followed without a branch, and
/// relative to the window's start: the lowest and highest depth reached do
/// not depend on `sq`, so windows ahead are worked out while the one before
/// is still being decided, and only an add and two compares wait on `sq`.
/// Counting the brackets and testing whether the run might close, as
/// before, failed on a third of the windows of GeoJSON coordinates (depth 2
/// to 3, two closes a window), each time a mispredicted branch.
///
/// Windows of GeoJSON coordinates are mostly `],[` between triples, so
/// those come first: a close two bytes before an open, with no other
/// bracket in the window and no two such pairs side by side (`]][[` dips
/// by two), leaves the depth as it was and dips it by one on the way.
#[inline(always)]
pub(crate) fn squares_after(opens: u64, closes: u64, sq: i64, cap: i64) -> Option<i64> {
    let pairs = closes & (opens >> 2);
    if ((opens ^ (pairs << 2)) | (closes ^ pairs)) == 0 && pairs & (pairs << 1) == 0 {
        let lo = (pairs != 0) as i64;
        return (sq > lo && sq <= cap).then_some(sq);
    }
    let mut bits = opens | closes;
    let (mut d, mut lo, mut hi) = (0i64, 0i64, 0i64);
    for _ in 0..4 {
        let low = bits & bits.wrapping_neg();
        d += ((opens & low) != 0) as i64 - ((closes & low) != 0) as i64;
        lo = lo.min(d);
        hi = hi.max(d);
        bits ^= low;
    }
    if bits != 0 {
        return walk_squares(opens, closes, sq, cap);
    }
    (sq + lo > 0 && sq + hi <= cap).then_some(sq + d)
}

/// Follows the brackets of one window in order; `None` if the run of
/// squares would close (or pass `cap`) inside it.
#[inline(always)]
fn walk_squares(opens: u64, closes: u64, mut sq: i64, cap: i64) -> Option<i64> {
    let mut bits = opens | closes;
    while bits != 0 {
        let p = bits.trailing_zeros();
        bits &= bits - 1;
        sq += 2 * ((opens >> p) & 1) as i64 - 1;
        if sq <= 0 || sq > cap {
            return None;
        }
    }
    Some(sq)
}

/// Masks of a 64-byte window: specials (quotes and braces), `[` and `]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub special: u64,
    pub open: u64,
    pub close: u64,
}

/// Classifies `b[i..i + 64]` (the caller guarantees the bytes exist).
#[inline(always)]
pub(crate) fn window64(b: &[u8], i: usize) -> Window {
    let mut w = Window {
        special: 0,
        open: 0,
        close: 0,
    };
    for k in 0..4 {
        let blk = block16(b, i + 16 * k);
        let sh = 16 * k as u32;
        w.special |= ((blk.quote | blk.brace_open | blk.brace_close) as u64) << sh;
        w.open |= (blk.sq_open as u64) << sh;
        w.close |= (blk.sq_close as u64) << sh;
    }
    w
}

/// Masks of a 64-byte block for the container skipper, one bit per byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SkipMasks {
    pub quote: u64,
    pub backslash: u64,
    pub sq_open: u64,
    pub sq_close: u64,
    pub brace_open: u64,
    pub brace_close: u64,
}

/// Classifies `b[i..i + 64]`; past the end of `b` the block reads as
/// spaces (no bits).
#[inline]
pub(crate) fn skip_masks(b: &[u8], i: usize) -> SkipMasks {
    if i + 64 > b.len() && b.len() >= 64 && i < b.len() {
        // The event's last 64 bytes, shifted: bits past its end come out clear.
        let from = b.len() - 64;
        let m = skip_masks(b, from);
        let k = i - from;
        return SkipMasks {
            quote: m.quote >> k,
            backslash: m.backslash >> k,
            sq_open: m.sq_open >> k,
            sq_close: m.sq_close >> k,
            brace_open: m.brace_open >> k,
            brace_close: m.brace_close >> k,
        };
    }
    #[cfg(target_arch = "x86_64")]
    if i + 64 <= b.len() {
        return skip_masks_full(b, i);
    }
    let pad;
    let (src, at) = if i + 64 <= b.len() {
        (b, i)
    } else {
        let mut p = [b' '; 64];
        let rest = &b[i.min(b.len())..];
        p[..rest.len()].copy_from_slice(rest);
        pad = p;
        (&pad[..], 0)
    };
    let mut m = SkipMasks::default();
    for k in 0..4 {
        let blk = block16(src, at + 16 * k);
        let sh = 16 * k as u32;
        m.quote |= (blk.quote as u64) << sh;
        m.backslash |= (blk.backslash as u64) << sh;
        m.sq_open |= (blk.sq_open as u64) << sh;
        m.sq_close |= (blk.sq_close as u64) << sh;
        m.brace_open |= (blk.brace_open as u64) << sh;
        m.brace_close |= (blk.brace_close as u64) << sh;
    }
    m
}

/// `skip_masks` of a block wholly inside `b`: four 16-byte loads straight
/// into vector registers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn skip_masks_full(b: &[u8], i: usize) -> SkipMasks {
    use std::arch::x86_64::*;
    assert!(i + 64 <= b.len());
    let mut m = SkipMasks::default();
    for k in 0..4 {
        // SAFETY: SSE2 is part of the x86_64 baseline; the assert keeps
        // the four unaligned 16-byte loads inside `b`.
        unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i + 16 * k) as *const __m128i);
            let f = |c: u8| {
                (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32 as u64)
                    << (16 * k)
            };
            m.quote |= f(b'"');
            m.backslash |= f(b'\\');
            m.sq_open |= f(b'[');
            m.sq_close |= f(b']');
            m.brace_open |= f(b'{');
            m.brace_close |= f(b'}');
        }
    }
    m
}

/// Bit k set when an odd number of the bits 0..=k of `x` are: given the
/// quotes of a block with no escapes, the bytes from each opening quote up
/// to (not including) its closing one.
#[inline(always)]
pub(crate) fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Masks of one 16-byte block: quotes, `[`, `]`, `{`, `}`, backslashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub quote: u32,
    pub backslash: u32,
    pub sq_open: u32,
    pub sq_close: u32,
    pub brace_open: u32,
    pub brace_close: u32,
}

/// Classifies `b[i..i + 16]` (the caller guarantees the bytes exist).
#[inline(always)]
pub(crate) fn block16(b: &[u8], i: usize) -> Block {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (lo, hi) = (word(b, i), word(b, i + 8));
        // SAFETY: SSE2 is part of the x86_64 baseline; register-only intrinsics.
        #[allow(unused_unsafe)]
        unsafe {
            let v = _mm_set_epi64x(hi as i64, lo as i64);
            let m = |c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u32;
            Block {
                quote: m(b'"'),
                backslash: m(b'\\'),
                sq_open: m(b'['),
                sq_close: m(b']'),
                brace_open: m(b'{'),
                brace_close: m(b'}'),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut blk = Block {
            quote: 0,
            backslash: 0,
            sq_open: 0,
            sq_close: 0,
            brace_open: 0,
            brace_close: 0,
        };
        for k in 0..16 {
            let bit = 1u32 << k;
            match b[i + k] {
                b'"' => blk.quote |= bit,
                b'\\' => blk.backslash |= bit,
                b'[' => blk.sq_open |= bit,
                b']' => blk.sq_close |= bit,
                b'{' => blk.brace_open |= bit,
                b'}' => blk.brace_close |= bit,
                _ => {}
            }
        }
        blk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_agree_with_slices() {
        let words: [&[u8]; 12] = [
            b"",
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"abcde",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefghijklmnop",
            b"abcdefghijklmnopq",
            b"xbcdefghijklmnopq",
        ];
        for a in words {
            for b in words {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
                assert_eq!(starts_with(a, b), a.starts_with(b), "{a:?} {b:?}");
                assert_eq!(ends_with(a, b), a.ends_with(b), "{a:?} {b:?}");
                let naive = (0..=a.len()).find(|&k| a[k..].starts_with(b));
                assert_eq!(find(a, b), naive, "{a:?} {b:?}");
            }
            for k in 0..a.len() {
                let mut c = a.to_vec();
                c[k] ^= 1;
                assert!(!same(a, &c), "{a:?} {c:?}");
            }
        }
        let long = b"0123456789012345678901234567890123456789012345678901234567890123456789xyz";
        assert_eq!(find(long, b"9xyz"), Some(69));
        assert_eq!(find(b"aaab", b"aab"), Some(1));
    }

    #[test]
    fn squares_after_follows_every_bracket() {
        let windows: [&[u8]; 13] = [
            b"[1,2,[3]],[4,5]]]",
            b"],[",
            b"]]]]]]",
            b"[[[[[[[[",
            b"1,2],[3,4],[5,6],[7,8]",
            b"",
            b"]][[",
            b"],[],[",
            b"]][[,],[",
            b"],[,]][[",
            b"1],[2],[",
            b"[],[",
            b"0],",
        ];
        for w in windows {
            let (mut opens, mut closes) = (0u64, 0u64);
            for (k, &c) in w.iter().enumerate() {
                opens |= ((c == b'[') as u64) << k;
                closes |= ((c == b']') as u64) << k;
            }
            for sq in 1..8 {
                for cap in [3, 5, 100] {
                    let mut d = sq;
                    let mut ok = sq <= cap;
                    for &c in w {
                        d += (c == b'[') as i64 - (c == b']') as i64;
                        ok &= d > 0 && d <= cap;
                    }
                    let want = ok.then_some(d);
                    assert_eq!(
                        squares_after(opens, closes, sq, cap),
                        want,
                        "{w:?} {sq} {cap}"
                    );
                }
            }
        }
    }

    #[test]
    fn square_windows_agree_with_portable() {
        // Every byte value, so that the shuffle's table is checked against
        // all of them, between runs of coordinates.
        let every: Vec<u8> = (0..=255u8).collect();
        let coords = b"[-122.4194155,37.7749295,0.0],[-122.4194155,37.7749295,0.0],[1,2]";
        let mut samples: Vec<Vec<u8>> = vec![every.clone()];
        for (k, &c) in every.iter().enumerate() {
            let mut s = coords.repeat(3);
            s[40 + k % 64] = c;
            samples.push(s);
        }
        samples.push(b"]][[,],[".repeat(30));
        for s in &samples {
            for start in 0..s.len().min(70) {
                for sq in 1..5 {
                    for cap in [2, 4, 512] {
                        assert_eq!(
                            skip_square_windows(s, start, sq, cap),
                            skip_square_windows_portable(s, start, sq, cap),
                            "{s:?} {start} {sq} {cap}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn prefix_xor_is_running_parity() {
        for x in [
            0u64,
            1,
            0b1010_0110,
            u64::MAX,
            0x8000_0000_0000_0001,
            0x0123_4567_89ab_cdef,
        ] {
            let px = prefix_xor(x);
            for k in 0..64 {
                let parity = (x & (u64::MAX >> (63 - k))).count_ones() & 1;
                assert_eq!((px >> k & 1) as u32, parity, "{x:#x} bit {k}");
            }
        }
    }

    #[test]
    fn searches_agree_with_naive() {
        let samples: [&[u8]; 7] = [
            b"abcdefghijklmnop.q\x01rstuvwxyz0123456789\"tail\x1f\\end.........\x7f\xff\"",
            b"0123456789abcdef0123456789abcdef\x1f0123456789abcdef.\"",
            b"0123456789abcdef0123456789\"xyz",
            b"[1,2,3,[4,5],{\"a\":1}]    ",
            b"no specials here at all, none, nada......",
            b"a.b.c.d.e.f.g.h.i.j.k\"l.m [[[1,2],[3,4]],[[5,6]]] {\"x\":[7,8,[9]]} \"[\" ]]]]]]]]]]] [[[[",
            b"a\\b\"c\x02{}[]]]]]]]]]]]]]]]]]]",
        ];
        for s in samples {
            for start in 0..s.len() {
                if start + 64 <= s.len() {
                    let w = window64(s, start);
                    for k in 0..64 {
                        let c = s[start + k];
                        assert_eq!(w.special >> k & 1 == 1, matches!(c, b'"' | b'{' | b'}'));
                        assert_eq!(w.open >> k & 1 == 1, c == b'[');
                        assert_eq!(w.close >> k & 1 == 1, c == b']');
                    }
                }
                let km = skip_masks(s, start);
                for k in 0..64 {
                    let c = s.get(start + k).copied();
                    assert_eq!(km.quote >> k & 1 == 1, c == Some(b'"'));
                    assert_eq!(km.backslash >> k & 1 == 1, c == Some(b'\\'));
                    assert_eq!(km.sq_open >> k & 1 == 1, c == Some(b'['));
                    assert_eq!(km.sq_close >> k & 1 == 1, c == Some(b']'));
                    assert_eq!(km.brace_open >> k & 1 == 1, c == Some(b'{'));
                    assert_eq!(km.brace_close >> k & 1 == 1, c == Some(b'}'));
                }
                let sm = string_masks(s, start);
                for k in 0..64 {
                    let c = s.get(start + k).copied();
                    assert_eq!(sm.stop >> k & 1 == 1, matches!(c, Some(b'"' | b'\\')));
                    assert_eq!(sm.dot >> k & 1 == 1, c == Some(b'.'));
                    assert_eq!(sm.control >> k & 1 == 1, c.is_some_and(|c| c < 0x20));
                }
                if start + 16 <= s.len() {
                    let blk = block16(s, start);
                    for k in 0..16 {
                        let c = s[start + k];
                        assert_eq!(blk.quote >> k & 1 == 1, c == b'"');
                        assert_eq!(blk.backslash >> k & 1 == 1, c == b'\\');
                        assert_eq!(blk.sq_open >> k & 1 == 1, c == b'[');
                        assert_eq!(blk.sq_close >> k & 1 == 1, c == b']');
                        assert_eq!(blk.brace_open >> k & 1 == 1, c == b'{');
                        assert_eq!(blk.brace_close >> k & 1 == 1, c == b'}');
                    }
                }
            }
        }
    }
}
