//! The line prefilter: one pass over a line's raw bytes that proves most lines cannot hit,
//! so only the rest are parsed, tokenised, canonicalised and probed (`extract`).
//!
//! Contract: if the full path (`formats::parse_line` + `LineCtx`) would report a hit for a
//! line, [`IndicatorSet::prefilter_line`] answers `maybe`. The converse need not hold: a
//! `maybe` only costs the full path. The pass is a superset of the tokeniser by construction:
//!
//! - it sees the line as *runs* of the tokeniser's token bytes (alphanumerics and
//!   `. - _ : @ +`), each made of *pieces* of `[A-Za-z0-9._-]`; every token the tokeniser
//!   classifies (after its trimming, its one-colon split, its e-mail split) is a piece or a
//!   trimmed piece. A piece can only hit if it holds a `.` (addresses, names) or is 32 bytes
//!   or longer (hashes), and an IPv6 address or a URL needs a `:`; so only runs holding a
//!   `.` or `:` are walked, and long pieces are found by sampling every 16th byte. With
//!   AVX2 (`byteclass`), a line up to [`MASKED_MAX_LEN`] bytes is first turned into bitmasks
//!   (64 bytes per block) and run and piece bounds come from bit scans; otherwise a scalar
//!   pass finds anchors 8 bytes at a time and walks runs byte by byte. Both give the same
//!   answer (tested on lines cut at block ends). The scanner mostly uses a third form,
//!   `segment`: many lines classified at once, each answered from its slice of the masks,
//!   with the filter lookups of all of them batched; it answers as the line passes do. Every candidate piece is checked in every shape that could hit: dotted
//!   quad → IPv4 /24 bitmap; other dotted piece → its two-label suffix in a Bloom filter of
//!   the two-label suffixes of indicator domains, URL-indicator hosts and e-mail domains
//!   (trimmed both ways when it starts or ends with `-`); hex piece of hash length → the same
//!   filter holding the hashes; runs shaped like IPv6 → a /16 + hashed /32 bitmap;
//! - a run ending in `:` followed by `//` is a URL: its host is checked with the same
//!   filters, and any host the fast path would not canonicalise itself (percent signs,
//!   brackets, numeric last labels WHATWG reads as IPv4, odd bytes) makes the line `maybe`;
//!   the run without its scheme is checked too (the tokeniser cuts it there);
//! - anything the tokeniser rewrites before matching makes the line `maybe`: a backslash
//!   (JSON escapes), a byte ≥ 0x80 (IDNA), a defang bracket (`[`, `(`, `{` followed by
//!   `.`, `:`, `/`, `@`, `d` or `a`).
//!
//! Filters are keyed by bytes OR-ed with 0x20, so upper and lower case agree without a
//! lower-casing pass. `scan_tests` compares whole scans with and without the prefilter.

use std::net::Ipv6Addr;

use crate::byteclass::{self, Classifier};
use crate::extract::parse_ipv4;
use crate::set::IndicatorSet;

mod segment;
pub(crate) use segment::{Segment, SEGMENT_LEN};

pub(crate) const P_PIECE: u8 = 1; // [A-Za-z0-9._-]
pub(crate) const P_SPLIT: u8 = 2; // ':' '@' '+': token bytes that split pieces
const P_RUN: u8 = P_PIECE | P_SPLIT;
const P_SLOW: u8 = 4; // backslash, >= 0x80: the line takes the full path
const P_OPEN: u8 = 8; // '[' '(' '{': a defang marker may follow
pub(crate) const P_DOT: u8 = 16;
pub(crate) const P_NOT_DIGIT_DOT: u8 = 32;
pub(crate) const P_NOT_HEX: u8 = 64;
pub(crate) const P_NOT_V6: u8 = 128; // run byte outside [0-9A-Fa-f:.]

static PCLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        let piece = b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_';
        if piece {
            c |= P_PIECE;
            if !(b.is_ascii_digit() || b == b'.') {
                c |= P_NOT_DIGIT_DOT;
            }
            if !b.is_ascii_hexdigit() {
                c |= P_NOT_HEX;
            }
        }
        if b == b':' || b == b'@' || b == b'+' {
            c |= P_SPLIT;
        }
        if (piece || c & P_SPLIT != 0) && !(b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            c |= P_NOT_V6;
        }
        if b == b'.' {
            c |= P_DOT;
        }
        if b == b'\\' || b >= 0x80 {
            c |= P_SLOW;
        }
        if b == b'[' || b == b'(' || b == b'{' {
            c |= P_OPEN;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// What the segment prefilter needs to know about a Zeek log's columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Columns {
    /// Zeek http.log: the `host` column, whose span the answer carries.
    pub host: Option<usize>,
    /// Columns the full path does not match (bit `i`: column `i`, counted in separators;
    /// `ZeekHeader::skip_mask`): runs inside them are not walked.
    pub skip: u64,
}

/// What the prefilter learnt about a line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineScan {
    /// The line may hit: run the full path.
    pub maybe: bool,
    /// Separator bytes seen (Zeek: columns − 1). Only complete when `maybe` is false.
    pub seps: usize,
    /// Span of the requested column (Zeek http `host`), when the line has one.
    pub column: Option<(usize, usize)>,
}

/// Where the prefilter's table lookups go. The checks only ever OR lookup answers into
/// "maybe", so a lookup may be answered at once ([`Now`]) or recorded and answered later
/// with many others (`segment::Batch`), whose cache misses then overlap.
pub(crate) trait Probes {
    /// May the string filter (two-label suffixes, hashes) hold `key`?
    fn string(&mut self, set: &IndicatorSet, key: &[u8]) -> bool;
    /// May an IPv4 indicator lie in the /24 of `a`?
    fn ip4(&mut self, set: &IndicatorSet, a: u32) -> bool;
}

/// Lookups answered as they are asked.
pub(crate) struct Now;

impl Probes for Now {
    #[inline]
    fn string(&mut self, set: &IndicatorSet, key: &[u8]) -> bool {
        set.prefilter().strings.may_contain(key)
    }
    #[inline]
    fn ip4(&mut self, set: &IndicatorSet, a: u32) -> bool {
        set.ip4_may_hit(a)
    }
}

/// Can `sep` separate Zeek columns without hiding tokens from the prefilter?
pub(crate) fn usable_separator(sep: u8) -> bool {
    PCLASS[sep as usize] & (P_RUN | P_SLOW) == 0 && !matches!(sep, b'/' | b'[' | b'(' | b'{')
}

/// A blocked Bloom filter: three bits in one 512-bit block per key.
#[derive(Debug, Default)]
pub(crate) struct Bloom {
    blocks: Vec<[u64; 8]>,
}

impl Bloom {
    pub fn with_keys(n: usize) -> Self {
        // ~16 bits per key: ~0.2 % false positives with three bits in one cache line.
        let bits = (n.max(1) * 16).next_power_of_two().clamp(1 << 12, 1 << 28);
        Bloom {
            blocks: vec![[0u64; 8]; bits / 512],
        }
    }

    #[inline]
    fn spots(&self, h: u64) -> (usize, [u32; 3]) {
        let block = ((h >> 32) as usize) & (self.blocks.len() - 1);
        (
            block,
            [
                (h & 511) as u32,
                ((h >> 9) & 511) as u32,
                ((h >> 18) & 511) as u32,
            ],
        )
    }

    pub fn insert(&mut self, key: &[u8]) {
        let (b, bits) = self.spots(key_hash(key));
        for bit in bits {
            self.blocks[b][(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    #[inline]
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.where_is(key)
            .is_some_and(|(b, bits)| self.holds(b, bits))
    }

    /// The block and three bits (9 bits each, packed) that `key` sets; `None` for an empty
    /// filter. [`Self::holds`] answers for them: the lookup split in two, so a batch can
    /// hash every key first and touch the blocks after.
    #[inline]
    pub fn where_is(&self, key: &[u8]) -> Option<(u32, u32)> {
        if self.blocks.is_empty() {
            return None;
        }
        let (b, [x, y, z]) = self.spots(key_hash(key));
        Some((b as u32, x | y << 9 | z << 18))
    }

    /// Start loading `block` (see [`Self::where_is`]).
    #[inline]
    pub fn prefetch(&self, block: u32) {
        byteclass::prefetch(&self.blocks[block as usize]);
    }

    #[inline]
    pub fn holds(&self, block: u32, bits: u32) -> bool {
        let blk = &self.blocks[block as usize];
        let bit = |k: u32| {
            let i = (bits >> (9 * k)) & 511;
            blk[(i / 64) as usize] & (1 << (i % 64)) != 0
        };
        bit(0) & bit(1) & bit(2)
    }

    pub fn memory(&self) -> usize {
        self.blocks.capacity() * 64
    }
}

/// Hash of `key` with every byte OR-ed with 0x20 (ASCII case folded; digits, `.` and `-`
/// unchanged), eight bytes at a time.
#[inline]
fn key_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes")) | 0x2020_2020_2020_2020;
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(buf) | (0x2020_2020_2020_2020 >> (64 - 8 * rest.len()));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 29)
}

/// IPv6 filter: a bitmap of /16s covered by wide CIDRs (prefix < 24) and a hashed bitmap of
/// the /32s of addresses and narrower CIDRs.
#[derive(Debug, Default)]
pub(crate) struct Ip6Filter {
    wide: Vec<u64>,
    fine: Vec<u64>,
}

const IP6_FINE_BITS: usize = 1 << 20;

impl Ip6Filter {
    pub fn build(
        exact: impl Iterator<Item = u128>,
        cidrs: impl Iterator<Item = (u128, u8)>,
    ) -> Self {
        let mut f = Ip6Filter {
            wide: vec![0u64; (1 << 16) / 64],
            fine: vec![0u64; IP6_FINE_BITS / 64],
        };
        let mut any = false;
        for a in exact {
            f.set_fine((a >> 96) as u32);
            any = true;
        }
        for (n, l) in cidrs {
            any = true;
            if l < 24 {
                let last = if l == 0 {
                    u128::MAX
                } else {
                    n | (u128::MAX >> l)
                };
                for t in (n >> 112) as usize..=(last >> 112) as usize {
                    f.wide[t / 64] |= 1 << (t % 64);
                }
            } else {
                let first = (n >> 96) as u32;
                let span = if l >= 32 { 1u32 } else { 1u32 << (32 - l) };
                for k in 0..span {
                    f.set_fine(first.wrapping_add(k));
                }
            }
        }
        if !any {
            return Ip6Filter::default();
        }
        f
    }

    fn fine_bit(top32: u32) -> usize {
        ((top32 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 44) as usize & (IP6_FINE_BITS - 1)
    }

    fn set_fine(&mut self, top32: u32) {
        let b = Self::fine_bit(top32);
        self.fine[b / 64] |= 1 << (b % 64);
    }

    #[inline]
    pub fn may_contain(&self, a: u128) -> bool {
        self.may_contain_top32((a >> 96) as u32)
    }

    /// [`Self::may_contain`] for any address whose top 32 bits are `top32` (all it reads).
    #[inline]
    pub fn may_contain_top32(&self, top32: u32) -> bool {
        if self.fine.is_empty() {
            return false;
        }
        let t = (top32 >> 16) as usize;
        if self.wide[t / 64] & (1 << (t % 64)) != 0 {
            return true;
        }
        let b = Self::fine_bit(top32);
        self.fine[b / 64] & (1 << (b % 64)) != 0
    }

    pub fn memory(&self) -> usize {
        (self.wide.capacity() + self.fine.capacity()) * 8
    }
}

/// The top 16 bits of the address `parse_ipv4(q)` would return, from its first two
/// numbers; `None` when those are not as `parse_ipv4` requires (1–3 digits, no leading
/// zero, at most 255, each followed by a dot), where it fails as well.
#[inline]
fn quad_top16(q: &[u8]) -> Option<u32> {
    #[inline(always)]
    fn number(q: &[u8]) -> Option<(u32, &[u8])> {
        let (mut v, mut k) = (0u32, 0usize);
        loop {
            let b = *q.get(k)?;
            if b == b'.' {
                break;
            }
            let d = b.wrapping_sub(b'0');
            if d > 9 || k == 3 {
                return None;
            }
            v = v * 10 + d as u32;
            k += 1;
        }
        if k == 0 || v > 255 || (k > 1 && q[0] == b'0') {
            return None;
        }
        Some((v, &q[k + 1..]))
    }
    let (a, rest) = number(q)?;
    let (b, _) = number(rest)?;
    Some(a << 8 | b)
}

/// The top 32 bits of the IPv6 address `r` spells if it starts with two explicit groups
/// (`h:h:`, 1–4 hex digits each); `None` otherwise (`::` among them, other bytes), where the
/// full parse decides. Wherever the full parse succeeds, its top 32 bits are these.
#[inline]
fn v6_top32(r: &[u8]) -> Option<u32> {
    #[inline(always)]
    fn group(r: &[u8]) -> Option<(u32, &[u8])> {
        let (mut v, mut k) = (0u32, 0usize);
        loop {
            let b = *r.get(k)?;
            if b == b':' {
                break;
            }
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return None,
            };
            if k == 4 {
                return None;
            }
            v = v << 4 | d as u32;
            k += 1;
        }
        (k > 0).then(|| (v, &r[k + 1..]))
    }
    let (a, rest) = group(r)?;
    let (b, _) = group(rest)?;
    Some(a << 16 | b)
}

/// The last two labels of a name (the whole name if it has one label).
#[inline]
pub(crate) fn two_labels(name: &[u8]) -> &[u8] {
    // Names are short: a plain backwards loop beats setting up two vector searches.
    let mut dots = 0;
    let mut k = name.len();
    while k > 0 {
        k -= 1;
        if name[k] == b'.' {
            dots += 1;
            if dots == 2 {
                return &name[k + 1..];
            }
        }
    }
    name
}

fn trim_dots_dashes(mut p: &[u8]) -> &[u8] {
    while let [b'.' | b'-', rest @ ..] = p {
        p = rest;
    }
    while let [rest @ .., b'.' | b'-'] = p {
        p = rest;
    }
    p
}

fn trim_token_ends(mut p: &[u8]) -> &[u8] {
    while let [b'.' | b'-' | b':' | b'@' | b'+', rest @ ..] = p {
        p = rest;
    }
    while let [rest @ .., b'.' | b'-' | b':' | b'@' | b'+'] = p {
        p = rest;
    }
    p
}

/// How far back from "://" the tokeniser looks for a scheme (`extract::MAX_SCHEME_LEN`).
const MAX_SCHEME_LEN: usize = 20;

impl IndicatorSet {
    /// May `line` hit? Also counts `sep` bytes and finds the span of column `column` (0-based,
    /// split on `sep`).
    ///
    /// Word at a time (8 bytes): bytes that send the line down the full path (≥ 0x80,
    /// backslash, defang brackets) and *anchors* (`.` and `:`) are found with bit tricks;
    /// only runs holding an anchor are walked byte by byte. The other runs can only hit as
    /// hashes (32 bytes or more), and every such piece covers two consecutive samples taken
    /// every 16 bytes, so samples find them.
    pub(crate) fn prefilter_line(&self, s: &[u8], sep: u8, column: Option<usize>) -> LineScan {
        let mut out = LineScan::default();
        let seps = match self.line_may_hit(s, sep) {
            Some(n) => n,
            None => {
                out.maybe = true;
                return out;
            }
        };
        out.seps = seps;
        if let Some(c) = column {
            // Zeek http.log: where the `host` column is.
            let mut col_start = if c == 0 { Some(0) } else { None };
            for (n, k) in memchr::memchr_iter(sep, s).enumerate() {
                if n + 1 == c {
                    col_start = Some(k + 1);
                } else if n == c {
                    out.column = col_start.map(|st| (st, k));
                    break;
                }
            }
            if out.column.is_none() && seps == c {
                out.column = col_start.map(|st| (st, s.len()));
            }
        }
        out
    }

    /// Slow-path bytes, every run holding a `.` or `:`, and long pieces. `None` if the line
    /// may hit, else the number of `sep` bytes.
    #[inline]
    fn line_may_hit(&self, s: &[u8], sep: u8) -> Option<usize> {
        match byteclass::avx2_classifier() {
            Some(classify) if s.len() <= MASKED_MAX_LEN => {
                self.line_may_hit_masked(s, sep, classify)
            }
            _ => self.line_may_hit_words(s, sep),
        }
    }

    /// [`Self::line_may_hit`], scalar: eight bytes at a time, then samples for long pieces.
    pub(crate) fn line_may_hit_words(&self, s: &[u8], sep: u8) -> Option<usize> {
        let seps = self.anchors_may_hit_words(s, sep)?;
        (!self.long_pieces_may_hit(s, &mut Now)).then_some(seps)
    }

    /// [`Self::line_may_hit`] from bitmasks of the whole line (64 bytes per block): run and
    /// piece boundaries come from the masks, so no byte loop decides where one starts or ends.
    pub(crate) fn line_may_hit_masked(
        &self,
        s: &[u8],
        sep: u8,
        classify: Classifier,
    ) -> Option<usize> {
        let n = s.len();
        debug_assert!(n <= MASKED_MAX_LEN);
        let words = n.div_ceil(64);
        let mut nonrun = [0u64; MASKED_MAX_LEN / 64];
        let mut anchor = [0u64; MASKED_MAX_LEN / 64];
        let mut nonpiece = [0u64; MASKED_MAX_LEN / 64];
        let mut seps = 0usize;
        for w in 0..words {
            let base = w * 64;
            let m = match s.get(base..base + 64) {
                Some(block) => classify(block.try_into().expect("64 bytes"), sep),
                None => {
                    // The last, partial block: padding is no run byte, anchor or separator.
                    let mut buf = [0u8; 64];
                    buf[..n - base].copy_from_slice(&s[base..]);
                    let mut m = classify(&buf, sep);
                    let valid = (1u64 << (n - base)) - 1;
                    m.nonrun |= !valid;
                    m.sep &= valid;
                    m
                }
            };
            if sep != b'\n' {
                seps += m.sep.count_ones() as usize;
            }
            let mut sp = m.special;
            while sp != 0 {
                let j = base + sp.trailing_zeros() as usize;
                sp &= sp - 1;
                if slow_at(s, j) {
                    return None;
                }
            }
            nonrun[w] = m.nonrun;
            anchor[w] = m.anchor;
            nonpiece[w] = m.nonrun | m.split;
        }
        let (nonrun, anchor) = (&nonrun[..words], &anchor[..words]);
        let nonpiece = &nonpiece[..words];
        let mut from = 0;
        while let Some(j) = next_bit(anchor, from) {
            let st = prev_bit(nonrun, j).map_or(0, |k| k + 1);
            let en = next_bit(nonrun, j).unwrap_or(n);
            from = en;
            // A lone ':' (JSON's key/value separator) holds no token and, with no scheme
            // before it, starts no URL.
            if en - st == 1 && s[j] == b':' {
                continue;
            }
            if self.run_span_may_hit(s, st, en, &mut Now) {
                return None;
            }
        }
        // Pieces of 32 bytes or more, sampled as in `long_pieces_may_hit`.
        let mut k = 16;
        while k < n {
            if prev_bit(nonpiece, k + 1).is_some_and(|b| b + 16 >= k) {
                k += 16;
                continue;
            }
            let st = prev_bit(nonpiece, k - 16).map_or(0, |b| b + 1);
            let en = next_bit(nonpiece, k).unwrap_or(n);
            let acc = s[st..en].iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
            if self.piece_may_hit(&s[st..en], acc, &mut Now) {
                return None;
            }
            k = en + 17;
        }
        Some(seps)
    }

    /// The scalar version of [`Self::anchors_may_hit`]: eight bytes at a time.
    fn anchors_may_hit_words(&self, s: &[u8], sep: u8) -> Option<usize> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // Bytes equal to `b` in `v`, as high bits; exact.
        #[inline(always)]
        fn eq(v: u64, b: u8) -> u64 {
            let x = v ^ (ONES * b as u64);
            !(((x & !HIGH).wrapping_add(!HIGH)) | x | !HIGH)
        }
        let n = s.len();
        let mut covered = 0usize; // runs before this offset are done
        let mut base = 0usize;
        let mut seps = 0usize;
        let count_seps = sep != b'\n';
        while base < n {
            let w = match s.get(base..base + 8) {
                Some(word) => {
                    let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                    // Bytes equal to `sep`, summed into the top byte (popcnt is not in the
                    // baseline x86-64 target).
                    if count_seps {
                        seps += (((eq(w, sep) >> 7).wrapping_mul(ONES)) >> 56) as usize;
                    }
                    w
                }
                None => {
                    seps += s[base..].iter().filter(|&&b| b == sep).count();
                    let mut buf = [0u8; 8];
                    buf[..n - base].copy_from_slice(&s[base..]);
                    u64::from_le_bytes(buf)
                }
            };
            // Case bit set: '[' and '{', '\\' and '|', '(' and 0x08 share a pattern.
            let v = w | (ONES * 0x20);
            let special = (w & HIGH) | eq(v, b'{') | eq(v, b'|') | eq(v, b'(');
            if special != 0 {
                let mut m = special;
                while m != 0 {
                    let j = base + (m.trailing_zeros() / 8) as usize;
                    m &= m - 1;
                    if j >= n {
                        break;
                    }
                    if slow_at(s, j) {
                        return None;
                    }
                }
            }
            // JSON's `":"` (a colon between quotes, seen within the word) holds no token
            // and starts no URL: not an anchor.
            let colons = eq(w, b':');
            let quotes = eq(w, b'"');
            let mut m = eq(w, b'.') | (colons & !((quotes << 8) & (quotes >> 8)));
            m &= not_before(covered, base);
            while m != 0 {
                let j = base + (m.trailing_zeros() / 8) as usize;
                m &= m - 1;
                if j >= n {
                    break;
                }
                let mut st = j;
                while st > 0 && PCLASS[s[st - 1] as usize] & P_RUN != 0 {
                    st -= 1;
                }
                // A lone ':' (JSON's key/value separator) holds no token and, with no
                // scheme before it, starts no URL.
                if st == j && s[j] == b':' && not_run(s.get(j + 1)) {
                    continue;
                }
                match self.run_from_may_hit(s, st, &mut Now) {
                    Ok(en) => covered = en,
                    Err(()) => return None,
                }
                // Anchors inside the run just walked are done.
                m &= not_before(covered, base);
            }
            base += 8;
        }
        Some(seps)
    }

    /// Pieces of 32 bytes or more (hashes): each covers samples `k` and `k + 16`.
    #[inline]
    fn long_pieces_may_hit<P: Probes>(&self, s: &[u8], p: &mut P) -> bool {
        let n = s.len();
        let piece = |k: usize| PCLASS[s[k] as usize] & P_PIECE != 0;
        let mut k = 16;
        while k < n {
            if !(piece(k) && piece(k - 16) && (k - 15..k).all(piece)) {
                k += 16;
                continue;
            }
            let mut st = k - 16;
            while st > 0 && piece(st - 1) {
                st -= 1;
            }
            let mut en = k + 1;
            while en < n && piece(en) {
                en += 1;
            }
            let acc = s[st..en].iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
            if self.piece_may_hit(&s[st..en], acc, p) {
                return true;
            }
            k = en + 17;
        }
        false
    }

    /// The run starting at `st` (maximal token bytes): its pieces, its IPv6 shape, and the
    /// URL host after it when it ends a scheme. `Ok(end of the run)` if it cannot hit.
    fn run_from_may_hit<P: Probes>(&self, s: &[u8], st: usize, p: &mut P) -> Result<usize, ()> {
        // Find the end first in a tight loop; most runs (addresses, names, times) hold no
        // ':', '@' or '+' and are one piece.
        let tail = &s[st..];
        let mut run_acc = 0u8;
        let k = tail
            .iter()
            .position(|&b| {
                let c = PCLASS[b as usize];
                run_acc |= c;
                c & P_RUN == 0
            })
            .unwrap_or(tail.len());
        if self.run_classes_may_hit(s, st, st + k, run_acc, p) {
            Err(())
        } else {
            Ok(st + k)
        }
    }

    /// The run `s[st..en]` (maximal token bytes), as [`Self::run_from_may_hit`].
    #[inline]
    fn run_span_may_hit<P: Probes>(&self, s: &[u8], st: usize, en: usize, p: &mut P) -> bool {
        let run_acc = s[st..en].iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
        self.run_classes_may_hit(s, st, en, run_acc, p)
    }

    /// The run `s[st..en]`, `run_acc` the OR of its class bits (and perhaps of the byte
    /// after it, which adds only P_SLOW / P_OPEN, which no check below reads).
    fn run_classes_may_hit<P: Probes>(
        &self,
        s: &[u8],
        st: usize,
        en: usize,
        run_acc: u8,
        p: &mut P,
    ) -> bool {
        let run = &s[st..en];
        let (mut acc, mut ps) = (run_acc, 0usize);
        if run_acc & P_DOT == 0 {
            // No dot (times like 22:13:20): its pieces can only hit as hashes (32 bytes or
            // more), which `long_pieces_may_hit` and its masked twin check on every line.
            (acc, ps) = (0, run.len());
        } else if run_acc & P_SPLIT != 0 {
            acc = 0;
            for (i, &b) in run.iter().enumerate() {
                let c = PCLASS[b as usize];
                if c & P_SPLIT != 0 {
                    if worth_checking(acc, i - ps) && self.piece_may_hit(&run[ps..i], acc, p) {
                        return true;
                    }
                    ps = i + 1;
                    acc = 0;
                } else {
                    acc |= c;
                }
            }
        }
        self.run_end_may_hit(s, run, en, acc, ps, run_acc, p)
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn run_end_may_hit<P: Probes>(
        &self,
        s: &[u8],
        run: &[u8],
        en: usize,
        acc: u8,
        ps: usize,
        run_acc: u8,
        p: &mut P,
    ) -> bool {
        let piece = &run[ps..];
        if (worth_checking(acc, piece.len()) && self.last_piece_may_hit(piece, acc, p))
            || (run_acc & P_SPLIT != 0 && self.run_may_hit(run, run_acc))
        {
            return true;
        }
        // A URL: "scheme://".
        if run.last() == Some(&b':') && s[en..].starts_with(b"//") {
            let r = &run[..run.len() - 1];
            let mut k = r.len();
            while k > 0 && r.len() - k < MAX_SCHEME_LEN && is_scheme_byte(r[k - 1]) {
                k -= 1;
            }
            if self.url_host_probe(&s[en + 2..], p) || self.run_prefix_may_hit(&r[..k], p) {
                return true;
            }
        }
        false
    }

    /// [`Self::piece_may_hit`] for a run's last piece, with its commonest case inline: a
    /// dotted number with digits at both ends (no trimming), whose /16 mostly answers.
    #[inline(always)]
    fn last_piece_may_hit<P: Probes>(&self, piece: &[u8], acc: u8, p: &mut P) -> bool {
        if acc & P_NOT_DIGIT_DOT == 0
            && acc & P_DOT != 0
            && matches!(piece.first(), Some(b'0'..=b'9'))
            && matches!(piece.last(), Some(b'0'..=b'9'))
            && (piece.len() > 15 || !quad_top16(piece).is_some_and(|t| self.ip4_16_may_hit(t)))
        {
            return false; // as `piece_may_hit` answers
        }
        self.piece_may_hit(piece, acc, p)
    }

    /// A run cut where the tokeniser cuts it (before a URL scheme): checked in full again.
    fn run_prefix_may_hit<P: Probes>(&self, r: &[u8], p: &mut P) -> bool {
        if r.is_empty() {
            return false;
        }
        let (mut acc, mut run_acc, mut start) = (0u8, 0u8, 0usize);
        for (k, &b) in r.iter().enumerate() {
            let c = PCLASS[b as usize];
            run_acc |= c;
            if c & P_SPLIT != 0 {
                if self.piece_may_hit(&r[start..k], acc, p) {
                    return true;
                }
                start = k + 1;
                acc = 0;
            } else {
                acc |= c;
            }
        }
        self.piece_may_hit(&r[start..], acc, p) || self.run_may_hit(r, run_acc)
    }

    /// Whole-run shapes: IPv6 addresses (the tokeniser parses runs with two colons or more).
    #[inline(never)]
    fn run_may_hit(&self, r: &[u8], acc: u8) -> bool {
        if acc & P_SPLIT == 0 {
            return false; // no ':' (nor '@' / '+')
        }
        let core = if acc & P_NOT_V6 == 0 {
            trim_token_ends(r)
        } else {
            // Bytes outside IPv6 may only sit at the ends, where the tokeniser trims them.
            if !matches!(r.first(), Some(b'-' | b'@' | b'+'))
                && !matches!(r.last(), Some(b'-' | b'@' | b'+'))
            {
                return false;
            }
            let core = trim_token_ends(r);
            if core.iter().any(|&b| PCLASS[b as usize] & P_NOT_V6 != 0) {
                return false;
            }
            core
        };
        if core.len() < 2 || memchr::memchr(b':', core).is_none() {
            return false;
        }
        // Two explicit groups first: their 32 bits are all the filter reads, so most
        // addresses are answered without the full parse (which must still succeed).
        if let Some(t) = v6_top32(core) {
            if !self.prefilter().ip6.may_contain_top32(t) {
                return false;
            }
        }
        match std::str::from_utf8(core)
            .ok()
            .and_then(|t| t.parse::<Ipv6Addr>().ok())
        {
            Some(a) => self.prefilter().ip6.may_contain(u128::from(a)),
            None => false,
        }
    }

    /// One piece: `[A-Za-z0-9._-]+`, `acc` the OR of its class bits.
    #[inline(never)]
    fn piece_may_hit<P: Probes>(&self, piece: &[u8], acc: u8, probes: &mut P) -> bool {
        if acc & P_DOT == 0 {
            if piece.len() < 32 {
                return false;
            }
            // A hash: hex of hash length once the tokeniser's trimming is done.
            let core = trim_dots_dashes(piece);
            return matches!(core.len(), 32 | 40 | 64 | 128)
                && core.iter().all(|&b| PCLASS[b as usize] & P_NOT_HEX == 0)
                && probes.string(self, core);
        }
        let core = trim_dots_dashes(piece);
        if core.is_empty() {
            return false;
        }
        let digit_dot = if acc & P_NOT_DIGIT_DOT == 0 {
            true
        } else {
            core.iter()
                .all(|&b| PCLASS[b as usize] & P_NOT_DIGIT_DOT == 0)
        };
        if digit_dot {
            // The /16 from the first two numbers first (an L1-resident bitmap): most log
            // addresses are dropped before the rest is parsed. `quad_top16` is `None` only
            // where `parse_ipv4` fails too.
            return core.len() <= 15
                && quad_top16(core).is_some_and(|t| self.ip4_16_may_hit(t))
                && parse_ipv4(core).is_some_and(|a| probes.ip4(self, u32::from(a)));
        }
        if probes.string(self, two_labels(core)) {
            return true;
        }
        // E-mail domains and URL hosts keep a leading or trailing '-' that tokens lose.
        if matches!(piece.first(), Some(b'-')) || matches!(piece.last(), Some(b'-')) {
            let mut v = piece;
            while let [rest @ .., b'.'] = v {
                v = rest;
            }
            if !v.is_empty() && v[0] != b'.' && probes.string(self, two_labels(v)) {
                return true;
            }
        }
        false
    }

    /// Would [`Self::url_host_may_hit`] on `h` only ask what the piece check of the run `h`
    /// (a whole Zeek column, which the line and segment passes walk) asks? True for a plain
    /// name: piece bytes only, alphanumeric at both ends, a dot, no `..`, a byte other than a
    /// digit or a dot, and a last label that is neither all digits nor `0x...`. Both checks
    /// then probe exactly `two_labels(h)` (tested), so a line the pass answered "no" needs
    /// no URL-host check of `h`.
    pub(crate) fn host_is_plain_name(h: &[u8]) -> bool {
        let (Some(&first), Some(&last)) = (h.first(), h.last()) else {
            return false;
        };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return false;
        }
        let (mut all, mut any) = (u8::MAX, 0u8);
        let mut prev_dot = false;
        for &b in h {
            let c = PCLASS[b as usize];
            all &= c;
            any |= c;
            let dot = b == b'.';
            if dot && prev_dot {
                return false;
            }
            prev_dot = dot;
        }
        if all & P_PIECE == 0 || any & P_DOT == 0 || any & P_NOT_DIGIT_DOT == 0 {
            return false;
        }
        let label = match memchr::memrchr(b'.', h) {
            Some(d) => &h[d + 1..],
            None => h,
        };
        !(label.iter().all(u8::is_ascii_digit)
            || (label.len() >= 2 && label[0] == b'0' && (label[1] | 0x20) == b'x'))
    }

    /// The host of a URL, `u` starting right after "://" (or a Zeek http `host` column).
    pub(crate) fn url_host_may_hit(&self, u: &[u8]) -> bool {
        self.url_host_probe(u, &mut Now)
    }

    /// [`Self::url_host_may_hit`], its table lookups through `p`.
    fn url_host_probe<P: Probes>(&self, u: &[u8], p: &mut P) -> bool {
        // One pass to the end of the authority, keeping its last '@' and the first ':' after
        // it (hosts are short: byte loops beat setting up vector searches).
        let (mut host_start, mut colon, mut end) = (0, None, u.len());
        for (i, &b) in u.iter().enumerate() {
            match AUTHORITY[b as usize] {
                A_END => {
                    end = i;
                    break;
                }
                A_AT => (host_start, colon) = (i + 1, None),
                A_COLON if colon.is_none() => colon = Some(i),
                _ => {}
            }
        }
        if u.get(host_start) == Some(&b'[') && host_start < end {
            return true;
        }
        let h = &u[host_start..colon.unwrap_or(end)];
        if h.is_empty() {
            return false; // the matcher gives up on such a URL
        }
        let (mut all, mut any) = (u8::MAX, 0u8);
        for &b in h {
            all &= PCLASS[b as usize];
            any |= PCLASS[b as usize];
        }
        if all & P_PIECE == 0 {
            return true; // percent-encoding, odd bytes: left to the full path
        }
        if any & P_NOT_DIGIT_DOT == 0 {
            return match parse_ipv4(h) {
                Some(a) => p.ip4(self, u32::from(a)),
                None => true, // WHATWG reads odd IPv4 spellings
            };
        }
        let mut hs = h;
        while let [rest @ .., b'.'] = hs {
            hs = rest;
        }
        if hs.is_empty() || hs[0] == b'.' {
            return true;
        }
        // Backwards once: an empty label (".."), the last dot and the one before it.
        let (mut last_dot, mut second_dot) = (None, None);
        let mut k = hs.len();
        while k > 0 {
            k -= 1;
            if hs[k] == b'.' {
                // `hs` does not end with '.', so a byte follows.
                if hs[k + 1] == b'.' {
                    return true;
                }
                if last_dot.is_none() {
                    last_dot = Some(k);
                } else if second_dot.is_none() {
                    second_dot = Some(k);
                }
            }
        }
        let last = last_dot.map_or(hs, |d| &hs[d + 1..]);
        // WHATWG parses a host whose last label is a number as IPv4.
        if last.iter().all(|b| b.is_ascii_digit())
            || (last.len() >= 2 && last[0] == b'0' && (last[1] | 0x20) == b'x')
        {
            return true;
        }
        p.string(self, second_dot.map_or(hs, |d| &hs[d + 1..]))
    }
}

/// Bytes of a URL's authority for `url_host_probe`: where it ends (as the
/// matcher's URL splitter ends it), its userinfo mark and its port colon.
const A_END: u8 = 1;
const A_AT: u8 = 2;
const A_COLON: u8 = 3;
static AUTHORITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'/' | b'?' | b'#' | b'\\' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | 0x7f => A_END,
            0..=b' ' => A_END,
            b'@' => A_AT,
            b':' => A_COLON,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// Longest line the masked pass takes (its masks live on the stack); longer lines take the
/// word-at-a-time pass.
const MASKED_MAX_LEN: usize = 2048;

/// Does the byte at `j` send the line down the full path? A backslash (JSON escape), a byte
/// ≥ 0x80 (IDNA), or a defang bracket followed by what it may hide.
#[inline]
fn slow_at(s: &[u8], j: usize) -> bool {
    let c = PCLASS[s[j] as usize];
    c & P_SLOW != 0
        || (c & P_OPEN != 0
            && matches!(
                s.get(j + 1),
                Some(b'.' | b':' | b'/' | b'@' | b'd' | b'D' | b'a' | b'A')
            ))
}

/// First set bit at or after `from`.
#[inline]
fn next_bit(words: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut m = *words.get(w)? & (u64::MAX << (from % 64));
    loop {
        if m != 0 {
            return Some(w * 64 + m.trailing_zeros() as usize);
        }
        w += 1;
        m = *words.get(w)?;
    }
}

/// Last set bit before `j` (`j` may be one past the last bit: the end of the line).
#[inline]
fn prev_bit(words: &[u64], j: usize) -> Option<usize> {
    let mut w = j / 64;
    let mut m = match words.get(w) {
        Some(&word) => word & ((1u64 << (j % 64)) - 1),
        // `j` at or past the end: every bit of the last word lies before it.
        None => {
            w = words.len().checked_sub(1)?;
            words[w]
        }
    };
    loop {
        if m != 0 {
            return Some(w * 64 + 63 - m.leading_zeros() as usize);
        }
        w = w.checked_sub(1)?;
        m = words[w];
    }
}

/// Only pieces with a dot (IPs, names) or of hash length can hit.
#[inline(always)]
fn worth_checking(acc: u8, len: usize) -> bool {
    acc & P_DOT != 0 || len >= 32
}

/// Mask of the bytes of the word at `base` that lie at or after `covered`.
#[inline(always)]
fn not_before(covered: usize, base: usize) -> u64 {
    match covered.saturating_sub(base) {
        0 => u64::MAX,
        k if k >= 8 => 0,
        k => u64::MAX << (8 * k),
    }
}

/// End of input or a byte outside runs.
#[inline]
fn not_run(b: Option<&u8>) -> bool {
    match b {
        None => true,
        Some(&b) => PCLASS[b as usize] & P_RUN == 0,
    }
}

#[inline]
fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'
}

/// The filters, built with the set.
#[derive(Debug, Default)]
pub(crate) struct Prefilter {
    /// Two-label suffixes of domains, URL hosts and e-mail domains; hashes.
    pub strings: Bloom,
    pub ip6: Ip6Filter,
}

impl Prefilter {
    pub fn memory(&self) -> usize {
        self.strings.memory() + self.ip6.memory()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by CI's fuzz pass (text logs): a run ending exactly at a 64-byte line end
    /// asked for the bit before one past the last word.
    #[test]
    fn prev_bit_at_and_past_the_end() {
        let words = [0b1001u64 | 1 << 63];
        assert_eq!(prev_bit(&words, 64), Some(63));
        assert_eq!(prev_bit(&words, 63), Some(3));
        assert_eq!(prev_bit(&words, 3), Some(0));
        assert_eq!(prev_bit(&words, 0), None);
        assert_eq!(prev_bit(&[0, 1 << 5], 128), Some(69));
        assert_eq!(prev_bit(&[0b10, 0], 128), Some(1));
        assert_eq!(prev_bit(&[], 0), None);
        // The same answers as a bit-by-bit search, for every j up to the end.
        let words = [0x8000_0000_0000_0001u64, 0x0010_0000_0000_0100];
        for j in 0..=128 {
            let slow = (0..j).rev().find(|&b| words[b / 64] >> (b % 64) & 1 == 1);
            assert_eq!(prev_bit(&words, j), slow, "{j}");
        }
    }

    /// The URL-host check as it was written first (several passes, `memchr` searches); the
    /// one-pass version must answer the same.
    fn url_host_reference(set: &IndicatorSet, u: &[u8]) -> bool {
        let end = u
            .iter()
            .position(|&b| {
                matches!(
                    b,
                    b'/' | b'?' | b'#' | b'\\' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | 0x7f
                ) || b <= b' '
            })
            .unwrap_or(u.len());
        let authority = &u[..end];
        let host_port = match memchr::memrchr(b'@', authority) {
            Some(k) => &authority[k + 1..],
            None => authority,
        };
        if host_port.first() == Some(&b'[') {
            return true;
        }
        let h = match memchr::memchr(b':', host_port) {
            Some(k) => &host_port[..k],
            None => host_port,
        };
        if h.is_empty() {
            return false;
        }
        if h.iter().any(|&b| PCLASS[b as usize] & P_PIECE == 0) {
            return true;
        }
        if h.iter().all(|&b| PCLASS[b as usize] & P_NOT_DIGIT_DOT == 0) {
            return match parse_ipv4(h) {
                Some(a) => set.ip4_may_hit(u32::from(a)),
                None => true,
            };
        }
        let mut hs = h;
        while let [rest @ .., b'.'] = hs {
            hs = rest;
        }
        if hs.is_empty() || hs[0] == b'.' || memchr::memmem::find(hs, b"..").is_some() {
            return true;
        }
        let last = match memchr::memrchr(b'.', hs) {
            Some(d) => &hs[d + 1..],
            None => hs,
        };
        if last.iter().all(|b| b.is_ascii_digit())
            || (last.len() >= 2 && last[0] == b'0' && (last[1] | 0x20) == b'x')
        {
            return true;
        }
        set.prefilter().strings.may_contain(two_labels(hs))
    }

    #[test]
    fn url_host_check_agrees_with_reference() {
        let mut b = crate::IndicatorSetBuilder::new();
        b.add(1, observable::Kind::Url, "http://bad.example/x")
            .unwrap();
        b.add(2, observable::Kind::Ipv4, "192.0.2.0/24").unwrap();
        b.add(3, observable::Kind::Domain, "evil.example").unwrap();
        let set = b.build().unwrap();
        let parts: &[&[u8]] = &[
            b"bad.example",
            b"a.evil.example",
            b"BAD.Example",
            b"192.0.2.9",
            b"198.51.100.1",
            b"u:p@",
            b"@",
            b":",
            b":80",
            b"/",
            b"?q",
            b"#f",
            b"[",
            b"]",
            b".",
            b"..",
            b"-",
            b"%2e",
            b"0x",
            b"12",
            b"x",
            b"\xc3\xa9",
            b" ",
            b"\"",
            b"\\",
            b"bg1.test",
        ];
        let mut x = 0x1234_5678_9abc_def1u64;
        let (mut yes, mut total) = (0, 0);
        for _ in 0..100_000 {
            let mut u = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 6) {
                u.extend_from_slice(parts[((x >> (8 * k + 3)) % parts.len() as u64) as usize]);
            }
            let want = url_host_reference(&set, &u);
            assert_eq!(
                set.url_host_may_hit(&u),
                want,
                "{:?}",
                String::from_utf8_lossy(&u)
            );
            yes += usize::from(want);
            total += 1;
        }
        assert!(yes > 1000 && total - yes > 1000, "{yes} of {total}");
    }

    /// Wherever `parse_ipv4` reads an address, `quad_top16` gives its top 16 bits, so the
    /// /16 check before the parse never drops an address the parse would read.
    #[test]
    fn quad_top16_agrees_with_parse_ipv4() {
        let nums: &[&[u8]] = &[
            b"0", b"00", b"01", b"1", b"9", b"10", b"99", b"100", b"255", b"256", b"300", b"999",
            b"1000", b"0255", b"", b"x", b"-", b"1.",
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let (mut read, mut total) = (0, 0);
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly four numbers (from a list of edge cases) joined by dots.
            let n = [4, 4, 4, 4, 3, 5, 2, 1][(x & 7) as usize];
            let q: Vec<u8> = (0..n)
                .map(|k| nums[((x >> (5 * k + 3)) % nums.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(&b'.');
            total += 1;
            if let Some(a) = parse_ipv4(&q) {
                read += 1;
                assert_eq!(
                    quad_top16(&q),
                    Some(u32::from(a) >> 16),
                    "{:?}",
                    String::from_utf8_lossy(&q)
                );
            }
        }
        assert!(read > 1000, "{read} of {total}");
        assert_eq!(quad_top16(b"192.0.2.1"), Some(0xc000));
        assert_eq!(quad_top16(b"10.255"), None);
    }

    /// Wherever the std parser reads an IPv6 address, `v6_top32` (when it answers) gives its
    /// top 32 bits.
    #[test]
    fn v6_top32_agrees_with_std_parse() {
        let parts: &[&str] = &[
            "0", "1", "db8", "2001", "ffff", "FfFf", "12345", "", "g", "1.2.3.4", "::", ":",
            "fe80", "0000", "00000",
        ];
        let mut x = 0x0123_4567_89ab_cdefu64;
        let (mut read, mut quick) = (0, 0);
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 2 + (x & 7) as usize;
            let mut t = String::new();
            for k in 0..n {
                if k > 0 {
                    t.push(':');
                }
                t.push_str(parts[((x >> (4 * k + 3)) % parts.len() as u64) as usize]);
            }
            let top = v6_top32(t.as_bytes());
            if let Ok(a) = t.parse::<Ipv6Addr>() {
                read += 1;
                if let Some(top) = top {
                    quick += 1;
                    assert_eq!(top, (u128::from(a) >> 96) as u32, "{t}");
                }
            }
        }
        assert!(read > 1000 && quick > 500, "{read} {quick}");
        assert_eq!(v6_top32(b"2001:db8::1"), Some(0x2001_0db8));
        assert_eq!(v6_top32(b"2001::1"), None);
    }

    /// The /16 bitmap holds every /16 the /24 bitmap touches, and no other.
    #[test]
    fn ip4_16_filter_covers_the_24_filter() {
        let mut b = crate::IndicatorSetBuilder::new();
        b.add(1, observable::Kind::Ipv4, "192.0.2.7").unwrap();
        b.add(2, observable::Kind::Ipv4, "198.18.0.0/15").unwrap();
        b.add(3, observable::Kind::Url, "http://203.0.113.9/x")
            .unwrap();
        let set = b.build().unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = x as u32;
            if set.ip4_may_hit(a) {
                assert!(set.ip4_16_may_hit(a >> 16), "{a:#x}");
            }
        }
        for t in [0xc000u32, 0xc612, 0xc613, 0xcb00] {
            assert!(set.ip4_16_may_hit(t), "{t:#x}");
        }
        for t in [0x0a00u32, 0xc001, 0xc614, 0x6440] {
            assert!(!set.ip4_16_may_hit(t), "{t:#x}");
        }
    }

    /// For a plain name, the URL-host check and the piece check agree (the scanner skips the
    /// former for Zeek http `host` columns the prefilter walked as runs).
    #[test]
    fn plain_host_url_check_is_the_piece_check() {
        let mut b = crate::IndicatorSetBuilder::new();
        b.add(1, observable::Kind::Url, "http://bad.example/x")
            .unwrap();
        b.add(2, observable::Kind::Domain, "evil.example").unwrap();
        b.add(3, observable::Kind::Domain, "a-b.test").unwrap();
        b.add(4, observable::Kind::Ipv4, "192.0.2.0/24").unwrap();
        let set = b.build().unwrap();
        let parts: &[&[u8]] = &[
            b"bad",
            b"example",
            b"evil",
            b"EVIL",
            b"a-b",
            b"test",
            b".",
            b".",
            b"-",
            b"0x1",
            b"12",
            b"192",
            b"0",
            b"2",
            b"x",
            b"_",
            b"b1",
            b"evil.example",
            b"bad.example",
            b"a-b.test",
        ];
        let mut x = 0x1357_9bdf_2468_ace0u64;
        let (mut plain, mut hits) = (0, 0);
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut h = Vec::new();
            for k in 0..1 + x % 7 {
                h.extend_from_slice(parts[((x >> (5 * k + 3)) % parts.len() as u64) as usize]);
            }
            if !IndicatorSet::host_is_plain_name(&h) {
                continue;
            }
            plain += 1;
            let acc = h.iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
            let piece = set.piece_may_hit(&h, acc, &mut Now);
            assert_eq!(
                set.url_host_may_hit(&h),
                piece,
                "{:?}",
                String::from_utf8_lossy(&h)
            );
            hits += usize::from(piece);
        }
        assert!(plain > 5000 && hits > 500, "{plain} {hits}");
        for h in [
            &b"a..b.c"[..],
            b"1.2.3.4",
            b"a.12",
            b"-a.b",
            b"a.0x1",
            b"ab",
        ] {
            assert!(!IndicatorSet::host_is_plain_name(h), "{h:?}");
        }
    }

    #[test]
    fn key_hash_folds_ascii_case() {
        assert_eq!(key_hash(b"Evil.Example"), key_hash(b"evil.example"));
        assert_eq!(
            key_hash(b"D41D8CD98F00B204E9800998ECF8427E"),
            key_hash(b"d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_ne!(key_hash(b"evil.example"), key_hash(b"evil.exampla"));
        assert_ne!(key_hash(b"a"), key_hash(b"a\0"));
    }

    #[test]
    fn bloom_has_no_false_negatives() {
        let keys: Vec<String> = (0..5000).map(|i| format!("d{i}.example")).collect();
        let mut b = Bloom::with_keys(keys.len());
        for k in &keys {
            b.insert(k.as_bytes());
        }
        assert!(keys.iter().all(|k| b.may_contain(k.as_bytes())));
        let fp = (0..5000)
            .filter(|i| b.may_contain(format!("x{i}.test").as_bytes()))
            .count();
        assert!(fp < 100, "{fp}");
    }
}
