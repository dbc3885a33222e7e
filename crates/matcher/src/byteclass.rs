//! Byte classes of a 64-byte block as bitmasks (bit `i` = byte `i`), for the line prefilter.
//!
//! [`classify_scalar`] is the reference; [`avx2_classifier`] hands out an AVX2 version (32
//! bytes per compare) when the CPU has it. Both must agree bit for bit (tested below). The
//! same for the classes of a token run of up to 32 bytes ([`run_masks_scalar`],
//! [`avx2_run_classifier`]), from which the prefilter gets a run's class bits without a byte
//! loop. This is the module of the crate's SIMD `unsafe`: the intrinsics, the target-feature
//! calls and a cache prefetch hint.

/// Classes of one 64-byte block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockMasks {
    /// Bytes outside the tokeniser's token bytes (`[A-Za-z0-9._-]`, `:`, `@`, `+`).
    pub nonrun: u64,
    /// `.` and `:`: runs holding one are walked.
    pub anchor: u64,
    /// `:`, `@`, `+`: run bytes that split pieces.
    pub split: u64,
    /// Bytes that may send the line down the full path: ≥ 0x80, `\`, `[`, `(`, `{`.
    pub special: u64,
    /// Bytes equal to the separator.
    pub sep: u64,
    /// `\n`: line ends, so a buffer of many lines is classified once (`segment`).
    pub newline: u64,
    /// `"`: JSON string bounds, so the JSON validator jumps from quote to quote.
    pub quote: u64,
}

/// A block classifier: safe to call once obtained.
pub(crate) type Classifier = fn(&[u8; 64], u8) -> BlockMasks;

#[inline]
fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'@' | b'+')
}

/// Reference classifier, one byte at a time (used by tests; the scalar prefilter pass works
/// eight bytes at a time instead).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn classify_scalar(block: &[u8; 64], sep: u8) -> BlockMasks {
    let mut m = BlockMasks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if !is_run_byte(b) {
            m.nonrun |= bit;
        }
        if b == b'.' || b == b':' {
            m.anchor |= bit;
        }
        if matches!(b, b':' | b'@' | b'+') {
            m.split |= bit;
        }
        if b >= 0x80 || matches!(b, b'\\' | b'[' | b'(' | b'{') {
            m.special |= bit;
        }
        if b == sep {
            m.sep |= bit;
        }
        if b == b'\n' {
            m.newline |= bit;
        }
        if b == b'"' {
            m.quote |= bit;
        }
    }
    m
}

/// Start loading the cache line that holds `x`, without waiting for it: a hint, with no
/// effect on any result (the prefilter's batched table lookups use it).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program; `x` is a valid
    // reference anyway, and SSE (the intrinsic's target feature) is part of x86-64.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(x as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Classes of the bytes of a token run, up to 32 bytes (bit `i`: byte `i`), from which the
/// prefilter folds a run's class bits without a byte loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RunMasks {
    pub dot: u32,
    pub colon: u32,
    /// `:`, `@`, `+`.
    pub split: u32,
    pub digit: u32,
    /// `[0-9A-Fa-f]`.
    pub hex: u32,
}

/// A run-mask maker: safe to call once obtained.
pub(crate) type RunClassifier = fn(&[u8; 32]) -> RunMasks;

/// Reference for [`avx2_run_classifier`], one byte at a time.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn run_masks_scalar(bytes: &[u8; 32]) -> RunMasks {
    let mut m = RunMasks::default();
    for (i, &b) in bytes.iter().enumerate() {
        let bit = 1u32 << i;
        if b == b'.' {
            m.dot |= bit;
        }
        if b == b':' {
            m.colon |= bit;
        }
        if matches!(b, b':' | b'@' | b'+') {
            m.split |= bit;
        }
        if b.is_ascii_digit() {
            m.digit |= bit;
        }
        if b.is_ascii_hexdigit() {
            m.hex |= bit;
        }
    }
    m
}

/// The AVX2 run-mask maker, if this CPU runs it.
pub(crate) fn avx2_run_classifier() -> Option<RunClassifier> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some(x86::run_masks_avx2_checked);
        }
    }
    None
}

/// JSON's white space (` `, `\t`, `\r`, `\n`) and structural bytes (`{}[]:,`) of a 64-byte
/// block, for the JSON validator of a segment (`Segment::json_accepts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct JsonMasks {
    pub ws: u64,
    pub structural: u64,
}

/// A JSON mask maker: safe to call once obtained.
pub(crate) type JsonClassifier = fn(&[u8; 64]) -> JsonMasks;

/// Reference for [`avx2_json_classifier`] (and the fallback), one byte at a time.
pub(crate) fn json_masks_scalar(block: &[u8; 64]) -> JsonMasks {
    let mut m = JsonMasks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            m.ws |= bit;
        }
        if matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',') {
            m.structural |= bit;
        }
    }
    m
}

/// The AVX2 JSON mask maker, if this CPU runs it.
pub(crate) fn avx2_json_classifier() -> Option<JsonClassifier> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some(x86::json_masks_avx2_checked);
        }
    }
    None
}

/// The AVX2 classifier, if this CPU runs it.
pub(crate) fn avx2_classifier() -> Option<Classifier> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some(x86::classify_avx2_checked);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::BlockMasks;
    use std::arch::x86_64::*;

    /// Only handed out by `avx2_run_classifier` after AVX2 was detected.
    pub(super) fn run_masks_avx2_checked(bytes: &[u8; 32]) -> super::RunMasks {
        // SAFETY: only reachable through `avx2_run_classifier`, which returns it only when
        // `is_x86_feature_detected!("avx2")` is true on this CPU.
        unsafe { run_masks_avx2(bytes) }
    }

    #[target_feature(enable = "avx2")]
    fn run_masks_avx2(bytes: &[u8; 32]) -> super::RunMasks {
        // SAFETY: `bytes` is 32 readable bytes; `loadu` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(bytes.as_ptr() as *const __m256i) };
        let set = |b: u8| _mm256_set1_epi8(b as i8);
        let eq = |b: u8| _mm256_cmpeq_epi8(v, set(b));
        let within = |x: __m256i, lo: u8, hi: u8| {
            _mm256_and_si256(
                _mm256_cmpgt_epi8(x, set(lo - 1)),
                _mm256_cmpgt_epi8(set(hi + 1), x),
            )
        };
        let mask = |x: __m256i| _mm256_movemask_epi8(x) as u32;
        let colon = eq(b':');
        let digit = within(v, b'0', b'9');
        let folded = _mm256_or_si256(v, set(0x20));
        super::RunMasks {
            dot: mask(eq(b'.')),
            colon: mask(colon),
            split: mask(_mm256_or_si256(colon, _mm256_or_si256(eq(b'@'), eq(b'+')))),
            digit: mask(digit),
            hex: mask(_mm256_or_si256(digit, within(folded, b'a', b'f'))),
        }
    }

    /// Only handed out by `avx2_json_classifier` after AVX2 was detected.
    pub(super) fn json_masks_avx2_checked(block: &[u8; 64]) -> super::JsonMasks {
        // SAFETY: only reachable through `avx2_json_classifier`, which returns it only when
        // `is_x86_feature_detected!("avx2")` is true on this CPU.
        unsafe { json_masks_avx2(block) }
    }

    #[target_feature(enable = "avx2")]
    fn json_masks_avx2(block: &[u8; 64]) -> super::JsonMasks {
        let half = |bytes: &[u8]| {
            // SAFETY: `bytes` is 32 readable bytes (a half of the block); `loadu` has no
            // alignment requirement.
            let v = unsafe { _mm256_loadu_si256(bytes.as_ptr() as *const __m256i) };
            let eq = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
            let ws = _mm256_or_si256(
                _mm256_or_si256(eq(b' '), eq(b'\t')),
                _mm256_or_si256(eq(b'\r'), eq(b'\n')),
            );
            let st = _mm256_or_si256(
                _mm256_or_si256(
                    _mm256_or_si256(eq(b'{'), eq(b'}')),
                    _mm256_or_si256(eq(b'['), eq(b']')),
                ),
                _mm256_or_si256(eq(b':'), eq(b',')),
            );
            (
                _mm256_movemask_epi8(ws) as u32,
                _mm256_movemask_epi8(st) as u32,
            )
        };
        let (lo, hi) = (half(&block[..32]), half(&block[32..]));
        let join = |a: u32, b: u32| a as u64 | (b as u64) << 32;
        super::JsonMasks {
            ws: join(lo.0, hi.0),
            structural: join(lo.1, hi.1),
        }
    }

    /// Only handed out by `avx2_classifier` after AVX2 was detected.
    pub(super) fn classify_avx2_checked(block: &[u8; 64], sep: u8) -> BlockMasks {
        // SAFETY: this function is only reachable through `avx2_classifier`, which returns it
        // only when `is_x86_feature_detected!("avx2")` is true on this CPU.
        unsafe { classify_avx2(block, sep) }
    }

    #[target_feature(enable = "avx2")]
    fn classify_avx2(block: &[u8; 64], sep: u8) -> BlockMasks {
        let (lo, hi) = (
            half(block[..32].try_into().expect("32 bytes"), sep),
            half(block[32..].try_into().expect("32 bytes"), sep),
        );
        let join = |a: u32, b: u32| a as u64 | (b as u64) << 32;
        BlockMasks {
            nonrun: join(lo.0, hi.0),
            anchor: join(lo.1, hi.1),
            split: join(lo.2, hi.2),
            special: join(lo.3, hi.3),
            sep: join(lo.4, hi.4),
            newline: join(lo.5, hi.5),
            quote: join(lo.6, hi.6),
        }
    }

    /// (nonrun, anchor, split, special, sep, newline, quote) of 32 bytes. Compares are signed, so bytes ≥ 0x80
    /// (negative) fall outside every ASCII range.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn half(bytes: &[u8; 32], sep: u8) -> (u32, u32, u32, u32, u32, u32, u32) {
        // SAFETY: `bytes` is 32 readable bytes; `loadu` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(bytes.as_ptr() as *const __m256i) };
        let set = |b: u8| _mm256_set1_epi8(b as i8);
        let eq = |b: u8| _mm256_cmpeq_epi8(v, set(b));
        // within(x, lo, hi): lo <= x <= hi for ASCII bounds.
        let within = |x: __m256i, lo: u8, hi: u8| {
            _mm256_and_si256(
                _mm256_cmpgt_epi8(x, set(lo - 1)),
                _mm256_cmpgt_epi8(set(hi + 1), x),
            )
        };
        let folded = _mm256_or_si256(v, set(0x20));
        let alnum = _mm256_or_si256(within(folded, b'a', b'z'), within(v, b'0', b'9'));
        let dot = eq(b'.');
        let colon = eq(b':');
        let anchor = _mm256_or_si256(dot, colon);
        let split = _mm256_or_si256(colon, _mm256_or_si256(eq(b'@'), eq(b'+')));
        let punct = _mm256_or_si256(_mm256_or_si256(eq(b'-'), eq(b'_')), split);
        let run = _mm256_or_si256(_mm256_or_si256(alnum, anchor), punct);
        let open = _mm256_or_si256(
            _mm256_or_si256(eq(b'\\'), eq(b'[')),
            _mm256_or_si256(eq(b'('), eq(b'{')),
        );
        let special = _mm256_or_si256(open, v); // the high bit marks bytes >= 0x80
        let mask = |x: __m256i| _mm256_movemask_epi8(x) as u32;
        (
            !mask(run),
            mask(anchor),
            mask(split),
            mask(special),
            mask(eq(sep)),
            mask(eq(b'\n')),
            mask(eq(b'"')),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Xorshift(u64);
    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// 20,000 blocks seeded by `seed`, each of random bytes or of bytes drawn from `edges`
    /// (those near the class boundaries), handed to `check` with the generator.
    fn random_blocks<const N: usize>(
        seed: u64,
        edges: &[u8],
        mut check: impl FnMut(&[u8; N], &mut Xorshift),
    ) {
        let mut rng = Xorshift(seed);
        for _ in 0..20_000 {
            let mut block = [0u8; N];
            let raw = rng.next() % 2 == 0;
            for b in block.iter_mut() {
                let r = rng.next();
                *b = if raw {
                    r as u8
                } else {
                    edges[(r % edges.len() as u64) as usize]
                };
            }
            check(&block, &mut rng);
        }
    }

    #[test]
    fn avx2_and_scalar_run_masks_agree() {
        let Some(avx2) = avx2_run_classifier() else {
            return;
        };
        for b in 0..=255u8 {
            for pos in [0, 1, 15, 16, 31] {
                let mut block = [b'a'; 32];
                block[pos] = b;
                assert_eq!(avx2(&block), run_masks_scalar(&block), "{b} at {pos}");
            }
        }
        random_blocks::<32>(
            0x1f83_d9ab_fb41_bd6b,
            b"/0:9@AFGZ`afgz.-_+\x7f\x80\xff",
            |block, _| {
                assert_eq!(avx2(block), run_masks_scalar(block), "{block:?}");
            },
        );
    }

    #[test]
    fn avx2_and_scalar_json_masks_agree() {
        let Some(avx2) = avx2_json_classifier() else {
            return;
        };
        for b in 0..=255u8 {
            for pos in [0, 1, 31, 32, 33, 63] {
                let mut block = [b'a'; 64];
                block[pos] = b;
                assert_eq!(avx2(&block), json_masks_scalar(&block), "{b} at {pos}");
            }
        }
        let edges = b"{}[]:,\" \t\r\nYy[]_;+-09tfn\x0b\x0c\x7f\x80\xff";
        random_blocks::<64>(0x9e37_79b9_7f4a_7c15, edges, |block, _| {
            assert_eq!(avx2(block), json_masks_scalar(block), "{block:?}");
        });
    }

    #[test]
    fn avx2_and_scalar_classify_identically() {
        let Some(avx2) = avx2_classifier() else {
            eprintln!("no AVX2 on this CPU: only the scalar classifier runs");
            return;
        };
        let check = |block: &[u8; 64], sep: u8| {
            assert_eq!(
                avx2(block, sep),
                classify_scalar(block, sep),
                "{block:?} sep {sep}"
            );
        };
        // Every byte value at every position, including both halves' edges (0, 31, 32, 63).
        for b in 0..=255u8 {
            for pos in 0..64 {
                let mut block = [b'a'; 64];
                block[pos] = b;
                check(&block, b'\t');
                check(&block, b);
                let mut block = [b; 64];
                block[pos] = b'.';
                check(&block, b'\n');
            }
        }
        // Random blocks, raw and drawn from the bytes near the class edges.
        let edges = b"@[`{/0:9AZaz.-_+\\(\x7f\x80\xff\t\n\" ";
        random_blocks::<64>(0x2545_f491_4f6c_dd1d, edges, |block, rng| {
            check(block, (rng.next() as u8) | 1);
            check(block, b'\t');
        });
    }
}
