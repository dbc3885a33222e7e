//! The prefilter over many lines at once: a *segment* of whole lines (up to
//! [`SEGMENT_LEN`] bytes) is classified 64 bytes at a time into bitmasks once, newline bits
//! give the line bounds, and each line's answer comes from the slice of the masks it covers.
//! Lines share blocks, so no line pays for copying or classifying a partial block of its own.
//!
//! Each line gets exactly the answer of [`IndicatorSet::prefilter_line`] on that line
//! (tested against the word-at-a-time pass on random multi-line buffers): runs are bounded by
//! non-run bytes, and `\n` and `\r` are non-run bytes, so masks never join two lines.

use super::{
    next_bit, prev_bit, slow_at, Columns, LineScan, Now, Probes, AUTHORITY, A_END, PCLASS, P_DOT,
    P_NOT_DIGIT_DOT, P_NOT_HEX, P_NOT_V6, P_PIECE, P_SPLIT,
};
use crate::byteclass::{BlockMasks, Classifier, JsonClassifier, RunClassifier, RunMasks};
use crate::scan::without_cr;
use crate::set::IndicatorSet;

/// Bytes classified per segment: small enough that its masks stay in L1 (8 × 1 KiB).
pub(crate) const SEGMENT_LEN: usize = 8192;
const WORDS: usize = SEGMENT_LEN / 64;

/// Masks of one segment; bit `i` of word `w` is byte `64 w + i` of the segment.
pub(crate) struct Segment {
    /// Length of the whole lines at the segment's start (the rest of the window is cut off).
    cut: usize,
    /// Separator the `sep` masks were made for.
    sep: u8,
    nonrun: [u64; WORDS],
    /// `.` and `:`, without lone colons (JSON's `":"`: no token, no URL scheme).
    anchor: [u64; WORDS],
    /// Non-run bytes and piece splitters (`:` `@` `+`).
    nonpiece: [u64; WORDS],
    special: [u64; WORDS],
    sep_bits: [u64; WORDS],
    newline: [u64; WORDS],
    quote: [u64; WORDS],
    /// Starts of 32 piece bytes in a row: where hash-length pieces begin.
    long: [u64; WORDS],
    /// Answers for the lines, in order (`IndicatorSet::segment_scan_lines`), and the column
    /// they were asked for.
    scans: Vec<LineScan>,
    columns: Columns,
    batch: Batch,
    /// Class bits of runs of up to 32 bytes from AVX2 masks (`None`: a byte fold).
    run_classify: Option<RunClassifier>,
    /// JSON masks ([`Segment::load_json`]): white space, structural bytes, and inside a
    /// string (prefix XOR of the quote bits over the whole segment: opening quote and
    /// content set, closing quote clear).
    json_ws: [u64; WORDS],
    json_st: [u64; WORDS],
    json_in: [u64; WORDS],
    json_classify: JsonClassifier,
}

impl Segment {
    pub fn new() -> Box<Segment> {
        Box::new(Segment {
            cut: 0,
            sep: b'\n',
            nonrun: [0; WORDS],
            anchor: [0; WORDS],
            nonpiece: [0; WORDS],
            special: [0; WORDS],
            sep_bits: [0; WORDS],
            newline: [0; WORDS],
            quote: [0; WORDS],
            long: [0; WORDS],
            scans: Vec::new(),
            columns: Columns::default(),
            batch: Batch::default(),
            run_classify: crate::byteclass::avx2_run_classifier(),
            json_ws: [0; WORDS],
            json_st: [0; WORDS],
            json_in: [0; WORDS],
            json_classify: crate::byteclass::avx2_json_classifier()
                .unwrap_or(crate::byteclass::json_masks_scalar),
        })
    }

    /// Columns the answers of [`IndicatorSet::segment_scan_lines`] were made for.
    pub fn columns(&self) -> Columns {
        self.columns
    }

    /// The answer for line `i` (0-based, in [`Segment::lines`] order).
    pub fn scan(&self, i: usize) -> LineScan {
        self.scans[i]
    }

    /// Separator the masks count.
    pub fn sep(&self) -> u8 {
        self.sep
    }

    /// Classify `window` (at most [`SEGMENT_LEN`] bytes, starting at a line start) and
    /// return the length of the whole lines it holds: up to and including its last newline,
    /// or all of it when `at_end` (the input ends there). 0 means the first line does not
    /// end inside the window (a line longer than a segment).
    pub fn load(&mut self, window: &[u8], sep: u8, at_end: bool, classify: Classifier) -> usize {
        let n = window.len();
        debug_assert!(n <= SEGMENT_LEN);
        self.sep = sep;
        self.scans.clear();
        let words = n.div_ceil(64);
        for w in 0..words {
            let base = w * 64;
            let m = match window.get(base..base + 64) {
                Some(block) => classify(block.try_into().expect("64 bytes"), sep),
                None => {
                    // The last, partial block: padding is a non-run byte, nothing else.
                    let mut buf = [b'\n'; 64];
                    buf[..n - base].copy_from_slice(&window[base..]);
                    let mut m: BlockMasks = classify(&buf, sep);
                    let valid = (1u64 << (n - base)) - 1;
                    m.nonrun |= !valid;
                    m.sep &= valid;
                    m.newline &= valid;
                    m.quote &= valid;
                    m
                }
            };
            self.nonrun[w] = m.nonrun;
            self.anchor[w] = m.anchor;
            self.nonpiece[w] = m.nonrun | m.split;
            self.special[w] = m.special;
            self.sep_bits[w] = m.sep;
            self.newline[w] = m.newline;
            self.quote[w] = m.quote;
        }
        self.cut = if at_end {
            n
        } else {
            match prev_bit(&self.newline[..words], n) {
                Some(k) => k + 1,
                None => 0,
            }
        };
        // Lone colons (a ':' between two non-run bytes) and 32-byte piece windows. The byte
        // before the segment is a newline (or nothing): a non-run, non-piece byte.
        let mut prev_nonrun = 1u64 << 63;
        for w in 0..words {
            let nr = self.nonrun[w];
            let next_nr = if w + 1 < words {
                self.nonrun[w + 1]
            } else {
                u64::MAX
            };
            let before = (nr << 1) | (prev_nonrun >> 63);
            let after = (nr >> 1) | (next_nr << 63);
            let colon = self.anchor[w] & self.nonpiece[w] & !nr; // ':' is the only split anchor
            self.anchor[w] &= !(colon & before & after);
            prev_nonrun = nr;
            // Bit i of `v`: bytes i..i+31 (of this word and the next) are all piece bytes.
            let next_piece = if w + 1 < words {
                !self.nonpiece[w + 1]
            } else {
                0
            };
            let mut v = (!self.nonpiece[w] as u128) | ((next_piece as u128) << 64);
            v &= v >> 1;
            v &= v >> 2;
            v &= v >> 4;
            v &= v >> 8;
            v &= v >> 16;
            self.long[w] = v as u64;
        }
        self.cut
    }

    /// The JSON masks of the loaded segment's whole lines (`window` as given to
    /// [`Segment::load`]), for [`Segment::json_accepts`].
    pub fn load_json(&mut self, window: &[u8]) {
        let n = self.cut;
        let mut carry = 0u64;
        for w in 0..n.div_ceil(64) {
            let base = w * 64;
            let m = match window.get(base..base + 64) {
                Some(block) => (self.json_classify)(block.try_into().expect("64 bytes")),
                None => {
                    let mut buf = [b'\n'; 64];
                    buf[..window.len() - base].copy_from_slice(&window[base..]);
                    (self.json_classify)(&buf)
                }
            };
            self.json_ws[w] = m.ws;
            self.json_st[w] = m.structural;
            let inside = prefix_xor(self.quote[w]) ^ carry;
            carry = 0u64.wrapping_sub(inside >> 63);
            self.json_in[w] = inside;
        }
    }

    /// [`crate::formats::json::accepts`] for the JSON line `line` starting at `start` in the
    /// segment (after [`Segment::load_json`]), from the masks: tokens are the structural
    /// bytes, opening quotes and the first bytes of runs of other bytes outside strings, and
    /// a state machine over them checks the grammar. Only for lines without a backslash (as
    /// every line the prefilter passes), where each quote opens or closes a string.
    pub fn json_accepts(&self, line: &[u8], start: usize) -> bool {
        debug_assert!(memchr::memchr(b'\\', line).is_none());
        if line.is_empty() {
            return true;
        }
        let (ls, le) = (start, start + line.len());
        // Inside a string before the line (the segment's earlier lines): undo it.
        let flip = if ls == 0 {
            0
        } else {
            0u64.wrapping_sub(self.json_in[(ls - 1) / 64] >> ((ls - 1) % 64) & 1)
        };
        let (first, last) = (ls / 64, (le - 1) / 64);
        let other_in = |w: usize| -> u64 {
            let mut range = u64::MAX;
            if w == first {
                range &= u64::MAX << (ls % 64);
            }
            if w == last && le % 64 != 0 {
                range &= (1u64 << (le % 64)) - 1;
            }
            let sin = self.json_in[w] ^ flip;
            range & !sin & !self.quote[w] & !self.json_ws[w] & !self.json_st[w]
        };
        let mut state = J_VALUE;
        let mut depth = 0u32;
        // Bit per open container, innermost lowest: 1 for an object.
        let mut stack = 0u128;
        let mut prev_other = 0u64;
        for w in first..=last {
            let mut range = u64::MAX;
            if w == first {
                range &= u64::MAX << (ls % 64);
            }
            if w == last && le % 64 != 0 {
                range &= (1u64 << (le % 64)) - 1;
            }
            let sin = self.json_in[w] ^ flip;
            let q = self.quote[w];
            let out = range & !sin & !q;
            let other = out & !self.json_ws[w] & !self.json_st[w];
            let run_starts = other & !((other << 1) | prev_other);
            prev_other = other >> 63;
            let mut tokens = (out & self.json_st[w]) | (range & q & sin) | run_starts;
            while tokens != 0 {
                let k = w * 64 + tokens.trailing_zeros() as usize;
                tokens &= tokens - 1;
                let b = line[k - ls];
                let value_here = state == J_VALUE || state == J_ARR_FIRST;
                match b {
                    b'{' | b'[' => {
                        if !value_here || depth > MAX_DEPTH {
                            return false;
                        }
                        let obj = b == b'{';
                        stack = stack << 1 | obj as u128;
                        depth += 1;
                        state = if obj { J_OBJ_FIRST } else { J_ARR_FIRST };
                        continue;
                    }
                    b'}' | b']' => {
                        let obj = b == b'}';
                        let closes = if obj {
                            state == J_OBJ_FIRST || (state == J_AFTER && stack & 1 == 1)
                        } else {
                            state == J_ARR_FIRST || (state == J_AFTER && stack & 1 == 0)
                        };
                        if !closes {
                            return false;
                        }
                        stack >>= 1;
                        depth -= 1;
                    }
                    b':' => {
                        if state != J_COLON {
                            return false;
                        }
                        state = J_VALUE;
                        continue;
                    }
                    b',' => {
                        if state != J_AFTER {
                            return false;
                        }
                        state = if stack & 1 == 1 { J_KEY } else { J_VALUE };
                        continue;
                    }
                    b'"' => {
                        if state == J_OBJ_FIRST || state == J_KEY {
                            state = J_COLON;
                            continue;
                        }
                        if !value_here || depth > MAX_DEPTH {
                            return false;
                        }
                    }
                    _ => {
                        if !value_here || depth > MAX_DEPTH {
                            return false;
                        }
                        // The scalar's bytes: up to the next byte that is not "other".
                        let mut ew = w;
                        let mut m = !other_in(ew) & (u64::MAX << (k % 64));
                        while m == 0 && ew < last {
                            ew += 1;
                            m = !other_in(ew);
                        }
                        let end = if m == 0 {
                            le
                        } else {
                            (ew * 64 + m.trailing_zeros() as usize).min(le)
                        };
                        if !json_scalar(&line[k - ls..end - ls]) {
                            return false;
                        }
                    }
                }
                // A value ended.
                state = if depth == 0 { J_END } else { J_AFTER };
            }
        }
        // An unterminated string: the line's last byte is inside one.
        let lb = le - 1;
        if (self.json_in[lb / 64] ^ flip) >> (lb % 64) & 1 == 1 {
            return false;
        }
        state == J_END || (state == J_VALUE && depth == 0)
    }

    /// The lines of the segment: `(start, end)` without the newline.
    pub fn lines(&self) -> Lines<'_> {
        Lines {
            seg: self,
            start: 0,
            word: 0,
            bits: self.newline[0],
        }
    }
}

/// Deepest nesting the JSON validator accepts ([`crate::formats::json::MAX_JSON_DEPTH`]).
const MAX_DEPTH: u32 = crate::formats::json::MAX_JSON_DEPTH as u32;
/// States of [`Segment::json_accepts`]: a value expected (at the start, after `:`, after `,`
/// in an array), after `[`, after `{`, a key after `,` in an object, a `:` after a key,
/// after a value inside a container, after the line's value.
const J_VALUE: u8 = 0;
const J_ARR_FIRST: u8 = 1;
const J_OBJ_FIRST: u8 = 2;
const J_KEY: u8 = 3;
const J_COLON: u8 = 4;
const J_AFTER: u8 = 5;
const J_END: u8 = 6;

/// Inclusive prefix XOR of the bits of `x` (bit `i` of the result: parity of bits `0..=i`).
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// A JSON literal or what the validator steps over as a number (`-` or a digit, then
/// `[0-9+.eE-]`), as a whole run.
#[inline]
fn json_scalar(run: &[u8]) -> bool {
    match run[0] {
        b't' => run == b"true",
        b'f' => run == b"false",
        b'n' => run == b"null",
        b'-' | b'0'..=b'9' => run
            .iter()
            .all(|&b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')),
        _ => false,
    }
}

/// Iterator over the lines of a [`Segment`].
pub(crate) struct Lines<'a> {
    seg: &'a Segment,
    start: usize,
    word: usize,
    bits: u64,
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);
    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let cut = self.seg.cut;
        if self.start >= cut {
            return None;
        }
        loop {
            if self.bits != 0 {
                let k = self.word * 64 + self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                if k >= cut {
                    break;
                }
                let line = (self.start, k);
                self.start = k + 1;
                return Some(line);
            }
            self.word += 1;
            if self.word * 64 >= cut {
                break;
            }
            self.bits = self.seg.newline[self.word];
        }
        // The input's last line, without a newline.
        let line = (self.start, cut);
        self.start = cut;
        Some(line)
    }
}

/// Table lookups of a segment's lines, recorded to be answered in one go.
#[derive(Default)]
struct Batch {
    probes: Vec<Probe>,
    /// The line now being checked.
    line: u32,
}

struct Probe {
    line: u32,
    kind: ProbeKind,
}

enum ProbeKind {
    /// A Bloom filter block and its three packed bit positions (`Bloom::where_is`).
    String {
        block: u32,
        bits: u32,
    },
    Ip4(u32),
}

impl Probes for Batch {
    #[inline]
    fn string(&mut self, set: &IndicatorSet, key: &[u8]) -> bool {
        let strings = &set.prefilter().strings;
        if let Some((block, bits)) = strings.where_is(key) {
            strings.prefetch(block);
            self.probes.push(Probe {
                line: self.line,
                kind: ProbeKind::String { block, bits },
            });
        }
        false
    }
    #[inline]
    fn ip4(&mut self, set: &IndicatorSet, a: u32) -> bool {
        set.prefetch_ip4(a);
        self.probes.push(Probe {
            line: self.line,
            kind: ProbeKind::Ip4(a),
        });
        false
    }
}

/// Set bits of `words` in `[from, to)`, scanning only the words that range covers.
#[inline]
fn next_bit_in(words: &[u64], from: usize, to: usize) -> Option<usize> {
    if from >= to {
        return None;
    }
    let last = (to - 1) / 64;
    let mut w = from / 64;
    let mut m = words[w] & (u64::MAX << (from % 64));
    loop {
        if m != 0 {
            let j = w * 64 + m.trailing_zeros() as usize;
            return (j < to).then_some(j);
        }
        w += 1;
        if w > last {
            return None;
        }
        m = words[w];
    }
}

/// The OR of `PCLASS` over the first `n` bytes (1 to 32) of a run, from their masks: what
/// the byte fold gives (run bytes carry no P_SLOW or P_OPEN bit).
#[inline(always)]
pub(crate) fn run_class_bits(m: RunMasks, n: usize) -> u8 {
    let range = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
    let piece = range & !m.split;
    let bit = |x: u32, b: u8| if x != 0 { b } else { 0 };
    bit(piece, P_PIECE)
        | bit(range & m.split, P_SPLIT)
        | bit(range & m.dot, P_DOT)
        | bit(piece & !m.digit & !m.dot, P_NOT_DIGIT_DOT)
        | bit(piece & !m.hex, P_NOT_HEX)
        | bit(range & !m.hex & !m.colon & !m.dot, P_NOT_V6)
}

/// Set bits of `words` in `[from, to)`, `from <= to < 64 × words.len()`.
#[inline(always)]
fn seps_before(words: &[u64], from: usize, to: usize) -> usize {
    let (mut w, last) = (from / 64, to / 64);
    let mut m = words[w] & (u64::MAX << (from % 64));
    let mut n = 0;
    while w < last {
        n += m.count_ones() as usize;
        w += 1;
        m = words[w];
    }
    n + (m & ((1u64 << (to % 64)) - 1)).count_ones() as usize
}

/// Set bits of `words` in `[from, to)`.
#[inline]
fn count_bits_in(words: &[u64], from: usize, to: usize) -> usize {
    if from >= to {
        return 0;
    }
    let (fw, lw) = (from / 64, (to - 1) / 64);
    let mut n = 0;
    for (w, &word) in words.iter().enumerate().take(lw + 1).skip(fw) {
        let mut m = word;
        if w == fw {
            m &= u64::MAX << (from % 64);
        }
        if w == lw && to % 64 != 0 {
            m &= (1u64 << (to % 64)) - 1;
        }
        n += m.count_ones() as usize;
    }
    n
}

impl IndicatorSet {
    /// [`IndicatorSet::prefilter_line`] for the line `s[ls..le]` of a loaded segment (`s` the
    /// segment's bytes; `le` before any `\r`), counting the segment's separator.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn segment_line_scan(
        &self,
        seg: &Segment,
        s: &[u8],
        ls: usize,
        le: usize,
        columns: Columns,
    ) -> LineScan {
        self.segment_line_probe(seg, s, ls, le, columns, &mut Now)
    }

    /// Answer every line of a loaded segment (`s` its bytes) as
    /// [`Self::segment_line_scan`] would, for [`Segment::scan`]. The table lookups of all
    /// lines are recorded first (their cache lines prefetched) and answered together: each
    /// line's checks cost a cache miss or two, and a batch of independent loads overlaps
    /// them.
    pub(crate) fn segment_scan_lines(&self, seg: &mut Segment, s: &[u8], columns: Columns) {
        let mut scans = std::mem::take(&mut seg.scans);
        let mut batch = std::mem::take(&mut seg.batch);
        scans.clear();
        batch.probes.clear();
        for (i, (ls, le)) in seg.lines().enumerate() {
            let le = ls + without_cr(&s[ls..le]).len();
            batch.line = i as u32;
            let mark = batch.probes.len();
            let scan = self.segment_line_probe(seg, s, ls, le, columns, &mut batch);
            if scan.maybe {
                batch.probes.truncate(mark);
            }
            scans.push(scan);
        }
        let strings = &self.prefilter().strings;
        for p in &batch.probes {
            let hit = match p.kind {
                ProbeKind::String { block, bits } => strings.holds(block, bits),
                ProbeKind::Ip4(a) => self.ip4_may_hit(a),
            };
            if hit {
                scans[p.line as usize].maybe = true;
            }
        }
        seg.scans = scans;
        seg.batch = batch;
        seg.columns = columns;
    }

    /// [`Self::segment_line_scan`], its table lookups through `p`.
    fn segment_line_probe<P: Probes>(
        &self,
        seg: &Segment,
        s: &[u8],
        ls: usize,
        le: usize,
        columns: Columns,
        p: &mut P,
    ) -> LineScan {
        let maybe = LineScan {
            maybe: true,
            ..LineScan::default()
        };
        let line = &s[ls..le];
        let mut at = ls;
        while let Some(j) = next_bit_in(&seg.special, at, le) {
            if slow_at(line, j - ls) {
                return maybe;
            }
            at = j + 1;
        }
        let mut from = ls;
        // Column of `col_from` (Zeek, when some columns are skipped).
        let (mut col, mut col_from) = (0usize, ls);
        while let Some(j) = next_bit_in(&seg.anchor, from, le) {
            if col < 64 && columns.skip >> col != 0 {
                // A Zeek column the full path does not match: on to the next column. (Runs
                // never cross a separator, a non-run byte.) Columns are only counted while
                // a skipped one lies ahead.
                col += seps_before(&seg.sep_bits, col_from, j);
                col_from = j;
                if col < 64 && columns.skip >> col & 1 != 0 {
                    from = next_bit_in(&seg.sep_bits, j, le).unwrap_or(le);
                    continue;
                }
            }
            // The byte before the line is a newline (or the segment's start), after it a
            // newline, `\r` or padding: all non-run bytes, so runs stay inside the line.
            let st = prev_bit(&seg.nonrun, j).map_or(0, |k| k + 1).max(ls);
            let en = next_bit(&seg.nonrun, j).unwrap_or(le).min(le);
            from = en;
            let run_acc = match seg.run_classify {
                Some(rc) if en - st <= 32 && st + 32 <= s.len() => {
                    run_class_bits(rc(s[st..st + 32].try_into().expect("32 bytes")), en - st)
                }
                _ => s[st..en].iter().fold(0u8, |a, &b| a | PCLASS[b as usize]),
            };
            if self.run_classes_may_hit(line, st - ls, en - ls, run_acc, p) {
                return maybe;
            }
            // A URL ("scheme://"): its host was just checked. When the host is the whole
            // next run and a plain name, that run's piece check is the same probe: skip it.
            if s[en - 1] == b':' && line[en - ls..].starts_with(b"//") {
                let hs = en + 2;
                let he = next_bit(&seg.nonrun, hs).unwrap_or(le).min(le);
                if he > hs
                    && (he == le || AUTHORITY[s[he] as usize] == A_END)
                    && Self::host_is_plain_name(&s[hs..he])
                {
                    from = he;
                }
            }
        }
        let mut from = ls;
        while let Some(j) = next_bit_in(&seg.long, from, le) {
            let en = next_bit(&seg.nonpiece, j).unwrap_or(le).min(le);
            from = en;
            let piece = &s[j..en];
            let acc = piece.iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
            if self.piece_may_hit(piece, acc, p) {
                return maybe;
            }
        }
        let mut out = LineScan::default();
        if seg.sep != b'\n' {
            out.seps = count_bits_in(&seg.sep_bits, ls, le);
        }
        if let Some(c) = columns.host {
            // Zeek http.log: where the `host` column is.
            let mut col_start = if c == 0 { Some(ls) } else { None };
            let mut at = ls;
            let mut n = 0;
            while let Some(k) = next_bit_in(&seg.sep_bits, at, le) {
                if n + 1 == c {
                    col_start = Some(k + 1);
                } else if n == c {
                    out.column = col_start.map(|st| (st - ls, k - ls));
                    break;
                }
                n += 1;
                at = k + 1;
            }
            if out.column.is_none() && out.seps == c {
                out.column = col_start.map(|st| (st - ls, le - ls));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class bits from run masks equal the byte fold, for runs of 1 to 32 run bytes (the
    /// bytes after the run, any bytes, are masked off).
    #[test]
    fn run_class_bits_equal_the_byte_fold() {
        let run_bytes = b"aZfFgG09.:-_@+x5";
        let mut x = 0x6a09_e667_f3bc_c908u64;
        let mut makers: Vec<RunClassifier> = vec![crate::byteclass::run_masks_scalar];
        makers.extend(crate::byteclass::avx2_run_classifier());
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 1 + (x % 32) as usize;
            let mut block = [0u8; 32];
            for (i, b) in block.iter_mut().enumerate() {
                let r = x.rotate_left(7 * i as u32);
                *b = if i < n {
                    run_bytes[(r % run_bytes.len() as u64) as usize]
                } else {
                    r as u8
                };
            }
            let fold = block[..n].iter().fold(0u8, |a, &b| a | PCLASS[b as usize]);
            for make in &makers {
                assert_eq!(run_class_bits(make(&block), n), fold, "{:?}", &block[..n]);
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A random JSON value (no backslash), `depth` levels deep at most.
    fn gen_value(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
        let ws = |r: &mut Rng, out: &mut Vec<u8>| {
            if r.below(4) == 0 {
                out.extend_from_slice([&b" "[..], b"\t", b"  ", b"\r", b" \r\t"][r.below(5)]);
            }
        };
        ws(r, out);
        let pick = if depth == 0 { r.below(4) } else { r.below(6) };
        match pick {
            0 => {
                let strings: [&[u8]; 8] = [
                    b"\"\"",
                    b"\"a\"",
                    b"\"evil.example.test\"",
                    b"\"10.1.2.3\"",
                    b"\"caf\xc3\xa9 \xe2\x9c\x93\"",
                    b"\"{[:,]}\"",
                    b"\"a very long string value that crosses a 64-byte word boundary for sure, yes\"",
                    b"\"t\x01b\"",
                ];
                out.extend_from_slice(strings[r.below(strings.len())]);
            }
            1 => {
                let nums: [&[u8]; 8] = [
                    b"0", b"-1", b"2577", b"3.25", b"-2.5e+3", b"1E5", b"-", b"1-2",
                ];
                out.extend_from_slice(nums[r.below(nums.len())]);
            }
            2 => out.extend_from_slice([&b"true"[..], b"false", b"null"][r.below(3)]),
            3 => out.extend_from_slice(b"\"x\""),
            4 => {
                out.push(b'[');
                for i in 0..r.below(4) {
                    if i > 0 {
                        out.push(b',');
                    }
                    gen_value(r, depth - 1, out);
                }
                ws(r, out);
                out.push(b']');
            }
            _ => {
                out.push(b'{');
                for i in 0..r.below(5) {
                    if i > 0 {
                        out.push(b',');
                    }
                    ws(r, out);
                    out.extend_from_slice(
                        [&b"\"ts\""[..], b"\"query\"", b"\"\"", b"\"k:,\""][r.below(4)],
                    );
                    ws(r, out);
                    out.push(b':');
                    gen_value(r, depth - 1, out);
                    ws(r, out);
                }
                out.push(b'}');
            }
        }
        ws(r, out);
    }

    /// A line: a valid value, a mutated one (truncated, a byte dropped or replaced, a
    /// fragment inserted), or fragments at random.
    fn gen_line(r: &mut Rng) -> Vec<u8> {
        const FRAGMENTS: [&[u8]; 24] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b":",
            b",",
            b"\"",
            b"\"k\"",
            b" ",
            b"\t",
            b"\r",
            b"true",
            b"tru",
            b"nulls",
            b"1",
            b"-0.5e3",
            b"+1",
            b"x",
            b"\xc3\xa9",
            b"\x01",
            b"\x0b",
            b"\"v\":",
            b"[]",
            b"{}",
        ];
        let mut line = Vec::new();
        match r.below(4) {
            0 => {
                for _ in 0..r.below(12) {
                    line.extend_from_slice(FRAGMENTS[r.below(FRAGMENTS.len())]);
                }
            }
            _ => {
                let depth = r.below(5);
                gen_value(r, depth, &mut line);
                if r.below(2) == 0 && !line.is_empty() {
                    let at = r.below(line.len());
                    match r.below(4) {
                        0 => line.truncate(at),
                        1 => {
                            line.remove(at);
                        }
                        2 => line[at] = FRAGMENTS[r.below(FRAGMENTS.len())][0],
                        _ => {
                            let f = FRAGMENTS[r.below(FRAGMENTS.len())];
                            line.splice(at..at, f.iter().copied());
                        }
                    }
                }
            }
        }
        line
    }

    /// Every line of `data` through `load`, `load_json` and `json_accepts`, compared with
    /// the byte-walking validator (`json::accepts`).
    fn check_json_lines(data: &[u8], classify: Classifier) -> usize {
        let mut seg = Segment::new();
        let (mut start, mut checked) = (0, 0);
        while start < data.len() {
            let end = (start + SEGMENT_LEN).min(data.len());
            let cut = seg.load(&data[start..end], NO_SEP_TEST, end == data.len(), classify);
            assert!(cut > 0, "test lines are shorter than a segment");
            seg.load_json(&data[start..end]);
            let bytes = &data[start..start + cut];
            for (ls, le) in seg.lines() {
                let line = without_cr(&bytes[ls..le]);
                assert_eq!(
                    Some(seg.json_accepts(line, ls)),
                    crate::formats::json::accepts(line),
                    "{:?}",
                    String::from_utf8_lossy(line)
                );
                checked += 1;
            }
            start += cut;
        }
        checked
    }

    /// The separator JSON segments are loaded with (`scan::NO_SEP`).
    const NO_SEP_TEST: u8 = b'\n';

    /// The mask validator decides every line as the byte-walking one does: generated valid
    /// lines, mutated and truncated ones, fragment soup, unbalanced quotes (which must not
    /// leak into the next line), nesting around the depth limit, lines across word and
    /// segment boundaries.
    #[test]
    fn json_accepts_agrees_with_the_byte_validator() {
        let mut makers: Vec<Classifier> = vec![crate::byteclass::classify_scalar];
        makers.extend(crate::byteclass::avx2_classifier());
        let mut r = Rng(0x243f_6a88_85a3_08d3);
        let mut data = Vec::new();
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..60_000 {
            let line = gen_line(&mut r);
            match crate::formats::json::accepts(&line) {
                Some(true) => accepted += 1,
                _ => rejected += 1,
            }
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        for n in 60..70 {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                for inner in ["", "1", "[]", "{}", "\"s\""] {
                    let line = format!("{}{inner}{}", open.repeat(n), close.repeat(n));
                    data.extend_from_slice(line.as_bytes());
                    data.push(b'\n');
                }
            }
        }
        data.extend_from_slice(b"{\"last\":true}");
        assert!(
            accepted > 10_000 && rejected > 10_000,
            "{accepted} / {rejected}"
        );
        for &classify in &makers {
            assert!(check_json_lines(&data, classify) > 60_000);
        }
    }

    #[test]
    fn long_piece_starts_need_32_piece_bytes() {
        let classify: Classifier = crate::byteclass::classify_scalar;
        let mut data = vec![b'a'; 31];
        data.push(b' ');
        data.extend_from_slice(&[b'b'; 40]);
        data.push(b'\n');
        let mut seg = Segment::new();
        assert_eq!(seg.load(&data, b'\t', false, classify), data.len());
        let starts: Vec<usize> = (0..data.len())
            .filter(|&i| seg.long[i / 64] >> (i % 64) & 1 == 1)
            .collect();
        assert_eq!(starts, (32..=40).collect::<Vec<_>>());
    }
}
