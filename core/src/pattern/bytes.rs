//! Fast byte searches for the scanner (SWAR on u64 words, SSE2 on x86_64).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// High bit set in each byte of `x` equal to `n` (exact for the lowest such byte).
#[inline(always)]
fn eq_mask(x: u64, n: u8) -> u64 {
    let v = x ^ (LO * n as u64);
    v.wrapping_sub(LO) & !v & HI
}

/// Like `find_quote_or_backslash`, and also tells whether a `.` comes
/// before that offset (for splitting keys into path segments).
#[inline]
pub(crate) fn find_key_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        find_end_sse2::<FLAG_DOT>(b, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        find_key_end_swar(b, i)
    }
}

/// Like `find_quote_or_backslash`, and also tells whether a raw control
/// character (below 0x20, which JSON strings may not hold) comes before
/// that offset.
#[inline]
pub(crate) fn find_string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        find_end_sse2::<FLAG_CONTROL>(b, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let end = find_quote_or_backslash_swar(b, i)?;
        Some((end, b[i..end].iter().any(|&c| c < 0x20)))
    }
}

/// Offset of the first `"` or `\` at or after `i`.
#[inline]
pub(crate) fn find_quote_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        find_end_sse2::<FLAG_NONE>(b, i).map(|(end, _)| end)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        find_quote_or_backslash_swar(b, i)
    }
}

const FLAG_NONE: u8 = 0;
const FLAG_DOT: u8 = 1;
const FLAG_CONTROL: u8 = 2;

/// The first `"` or `\` at or after `i`, 16 bytes at a time, and whether a
/// byte of the `FLAG` class came before it. Keys and values are mostly
/// under 16 bytes, so one load usually decides, where words of 8 took two.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn find_end_sse2<const FLAG: u8>(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    use std::arch::x86_64::*;
    let mut flagged = false;
    while i + 16 <= b.len() {
        // SAFETY: SSE2 is part of the x86_64 baseline, and i + 16 <= b.len()
        // keeps the unaligned 16-byte load inside `b`.
        let (stop, flag) = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let stop = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
            );
            let flag = match FLAG {
                FLAG_DOT => _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8))),
                FLAG_CONTROL => {
                    // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
                    let lim = _mm_set1_epi8(0x1f);
                    _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, lim), lim))
                }
                _ => 0,
            } as u32;
            (_mm_movemask_epi8(stop) as u32, flag)
        };
        if stop != 0 {
            let at = stop.trailing_zeros();
            return Some((i + at as usize, flagged || flag & ((1u32 << at) - 1) != 0));
        }
        flagged |= flag != 0;
        i += 16;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' {
            return Some((i, flagged));
        }
        flagged |= match FLAG {
            FLAG_DOT => c == b'.',
            FLAG_CONTROL => c < 0x20,
            _ => false,
        };
        i += 1;
    }
    None
}

/// `find_key_end` on 8-byte words (where SSE2 is not the baseline).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn find_key_end_swar(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut dot = false;
    while i + 8 <= b.len() {
        let x = word(b, i);
        let m = eq_mask(x, b'"') | eq_mask(x, b'\\');
        let d = eq_mask(x, b'.');
        if m != 0 {
            let at = m.trailing_zeros();
            return Some((
                i + (at / 8) as usize,
                dot || (d != 0 && d.trailing_zeros() < at),
            ));
        }
        dot |= d != 0;
        i += 8;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' {
            return Some((i, dot));
        }
        dot |= c == b'.';
        i += 1;
    }
    None
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

/// `find_quote_or_backslash` on 8-byte words.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn find_quote_or_backslash_swar(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 8 <= b.len() {
        let x = word(b, i);
        let m = eq_mask(x, b'"') | eq_mask(x, b'\\');
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' {
            return Some(i);
        }
        i += 1;
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
        let (no, nc) = (pop64(w.open) as i64, pop64(w.close) as i64);
        if sq - nc > 0 && sq + no <= cap {
            sq += no - nc;
        } else {
            match walk_squares(w.open, w.close, sq, cap) {
                Some(s2) => sq = s2,
                None => break,
            }
        }
        i += 64;
    }
    (i, sq)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn skip_square_windows_avx2(b: &[u8], mut i: usize, mut sq: i64, cap: i64) -> (usize, i64) {
    use std::arch::x86_64::*;
    let q = _mm256_set1_epi8(b'"' as i8);
    let bo = _mm256_set1_epi8(b'{' as i8);
    let bc = _mm256_set1_epi8(b'}' as i8);
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
        let spec = |v| {
            _mm256_movemask_epi8(_mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, q), _mm256_cmpeq_epi8(v, bo)),
                _mm256_cmpeq_epi8(v, bc),
            )) as u32 as u64
        };
        if spec(lo) | spec(hi) != 0 {
            break;
        }
        let mask = |v, c| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, c)) as u32 as u64;
        let opens = mask(lo, so) | (mask(hi, so) << 32);
        let closes = mask(lo, sc) | (mask(hi, sc) << 32);
        let (no, nc) = (opens.count_ones() as i64, closes.count_ones() as i64);
        if sq - nc > 0 && sq + no <= cap {
            sq += no - nc;
        } else {
            match walk_squares(opens, closes, sq, cap) {
                Some(s2) => sq = s2,
                None => break,
            }
        }
        i += 64;
    }
    (i, sq)
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

/// Population count of a 64-bit mask. Without the `popcnt` instruction
/// (not in the x86-64 baseline) this is a handful of shifts and adds; a
/// table of byte counts, tried before, cost eight dependent loads a window.
#[inline(always)]
pub(crate) fn pop64(m: u64) -> u32 {
    m.count_ones()
}

/// Masks of one 16-byte block: quotes, `[`, `]`, `{`, `}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub quote: u32,
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
            sq_open: 0,
            sq_close: 0,
            brace_open: 0,
            brace_close: 0,
        };
        for k in 0..16 {
            let bit = 1u32 << k;
            match b[i + k] {
                b'"' => blk.quote |= bit,
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
                let naive_q = (start..s.len()).find(|&k| s[k] == b'"' || s[k] == b'\\');
                assert_eq!(find_quote_or_backslash(s, start), naive_q);
                let naive_k = naive_q.map(|e| (e, s[start..e].contains(&b'.')));
                assert_eq!(find_key_end(s, start), naive_k);
                assert_eq!(find_key_end_swar(s, start), naive_k);
                assert_eq!(find_quote_or_backslash_swar(s, start), naive_q);
                let naive_s = naive_q.map(|e| (e, s[start..e].iter().any(|&c| c < 0x20)));
                assert_eq!(find_string_end(s, start), naive_s);
                if start + 64 <= s.len() {
                    let w = window64(s, start);
                    for k in 0..64 {
                        let c = s[start + k];
                        assert_eq!(w.special >> k & 1 == 1, matches!(c, b'"' | b'{' | b'}'));
                        assert_eq!(w.open >> k & 1 == 1, c == b'[');
                        assert_eq!(w.close >> k & 1 == 1, c == b']');
                    }
                    assert_eq!(
                        pop64(w.open),
                        s[start..start + 64].iter().filter(|&&c| c == b'[').count() as u32
                    );
                }
                if start + 16 <= s.len() {
                    let blk = block16(s, start);
                    for k in 0..16 {
                        let c = s[start + k];
                        assert_eq!(blk.quote >> k & 1 == 1, c == b'"');
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
