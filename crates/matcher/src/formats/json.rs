//! JSON lines: one value per line (normally an object), walked without building a tree.
//!
//! Grammar accepted (RFC 8259): `value := object | array | string | number | true | false |
//! null`. Every string leaf is reported as a field named by its dotted path (`a.b.c`; array
//! elements share their array's path); numbers are reported only when they sit in a time
//! field. A line that is not exactly one JSON value is skipped as
//! [`SkipReason::MalformedJson`]; nesting deeper than [`MAX_JSON_DEPTH`] as well, so hostile
//! input cannot exhaust the stack.

use crate::extract::LineCtx;
use crate::SkipReason;

/// Deepest nesting accepted; real logs rarely pass 5.
pub const MAX_JSON_DEPTH: usize = 64;

#[derive(Default)]
pub(crate) struct JsonScratch {
    path: String,
    string: Vec<u8>,
    key: Vec<u8>,
}

struct P<'a, 'b> {
    c: Cursor<'a>,
    sc: &'b mut JsonScratch,
}

/// A position in a line and the moves of the grammar that do not depend on what is done
/// with strings. The field-reporting parser ([`P`]) and the validator ([`Validator`]) walk
/// the same grammar, so white space, punctuation, literals and numbers are stepped over
/// here for both. All `#[inline]`: both walkers are on the scan's hot path. `None` means
/// malformed; each walker turns it into its own error.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// At `{` or `[`: step in; `Some(true)` when `close` follows at once (stepped past).
    #[inline]
    fn open(&mut self, close: u8) -> Option<bool> {
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(true);
        }
        Some(false)
    }

    /// After a member's key: the `:` with the white space around it.
    #[inline]
    fn colon(&mut self) -> Option<()> {
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(())
    }

    /// After an element: `Some(false)` past a `,` (another element follows), `Some(true)`
    /// past `close` (the container ends).
    #[inline]
    fn comma_or_close(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let b = self.peek()?;
        if b == b',' {
            self.i += 1;
            Some(false)
        } else if b == close {
            self.i += 1;
            Some(true)
        } else {
            None
        }
    }

    #[inline]
    fn lit(&mut self, w: &[u8]) -> Option<()> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Some(())
        } else {
            None
        }
    }

    /// At a number's first byte: step over it; returns where it started.
    #[inline]
    fn number(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.i += 1;
        }
        start
    }
}

type R<T> = Result<T, SkipReason>;
/// Bytes of a string looked at one by one before `memchr` takes over.
const SHORT_STRING: usize = 16;
const BAD: SkipReason = SkipReason::MalformedJson;

pub(crate) fn parse_line(line: &[u8], sc: &mut JsonScratch, ctx: &mut LineCtx<'_>) -> R<()> {
    sc.path.clear();
    let mut p = P {
        c: Cursor { s: line, i: 0 },
        sc,
    };
    p.c.ws();
    if p.c.i == line.len() {
        return Ok(()); // blank line
    }
    p.value(ctx, 0)?;
    p.c.ws();
    if p.c.i != line.len() {
        return Err(BAD);
    }
    Ok(())
}

impl P<'_, '_> {
    #[inline]
    fn peek(&self) -> R<u8> {
        self.c.peek().ok_or(BAD)
    }

    fn value(&mut self, ctx: &mut LineCtx<'_>, depth: usize) -> R<()> {
        if depth > MAX_JSON_DEPTH {
            return Err(BAD);
        }
        match self.peek()? {
            b'{' => {
                if self.c.open(b'}').ok_or(BAD)? {
                    return Ok(());
                }
                loop {
                    self.c.ws();
                    if self.peek()? != b'"' {
                        return Err(BAD);
                    }
                    let saved = self.sc.path.len();
                    self.key_into_path()?;
                    self.c.colon().ok_or(BAD)?;
                    self.value(ctx, depth + 1)?;
                    self.sc.path.truncate(saved);
                    if self.c.comma_or_close(b'}').ok_or(BAD)? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                if self.c.open(b']').ok_or(BAD)? {
                    return Ok(());
                }
                loop {
                    self.c.ws();
                    self.value(ctx, depth + 1)?;
                    if self.c.comma_or_close(b']').ok_or(BAD)? {
                        return Ok(());
                    }
                }
            }
            b'"' => {
                let (start, end, escaped) = self.string_span()?;
                if escaped {
                    let mut out = std::mem::take(&mut self.sc.string);
                    out.clear();
                    unescape(&self.c.s[start..end], &mut out)?;
                    ctx.field(&self.sc.path, &out);
                    self.sc.string = out;
                } else {
                    ctx.field(&self.sc.path, &self.c.s[start..end]);
                }
                Ok(())
            }
            b't' => self.c.lit(b"true").ok_or(BAD),
            b'f' => self.c.lit(b"false").ok_or(BAD),
            b'n' => self.c.lit(b"null").ok_or(BAD),
            b'-' | b'0'..=b'9' => {
                let start = self.c.number();
                ctx.maybe_time(&self.sc.path, &self.c.s[start..self.c.i]);
                Ok(())
            }
            _ => Err(BAD),
        }
    }

    /// At an opening quote: returns the content span and whether it holds escapes.
    #[inline]
    fn string_span(&mut self) -> R<(usize, usize, bool)> {
        let start = self.c.i + 1;
        let mut j = start;
        let mut escaped = false;
        // Keys and most values are a few bytes long: a scalar look first is cheaper than
        // setting up a vector search.
        let near = self.c.s.len().min(start + SHORT_STRING);
        while j < near {
            match self.c.s[j] {
                b'"' => {
                    self.c.i = j + 1;
                    return Ok((start, j, false));
                }
                b'\\' => break,
                _ => j += 1,
            }
        }
        loop {
            let k = memchr::memchr2(b'"', b'\\', &self.c.s[j..]).ok_or(BAD)?;
            j += k;
            if self.c.s[j] == b'"' {
                self.c.i = j + 1;
                return Ok((start, j, escaped));
            }
            escaped = true;
            j += 2;
            if j > self.c.s.len() {
                return Err(BAD);
            }
        }
    }

    fn key_into_path(&mut self) -> R<()> {
        let (start, end, escaped) = self.string_span()?;
        let mut key = std::mem::take(&mut self.sc.key);
        key.clear();
        if escaped {
            unescape(&self.c.s[start..end], &mut key)?;
        } else {
            key.extend_from_slice(&self.c.s[start..end]);
        }
        if !self.sc.path.is_empty() {
            self.sc.path.push('.');
        }
        // Keys are almost always ASCII: validate directly (the lossy path walks chunks).
        match std::str::from_utf8(&key) {
            Ok(k) => self.sc.path.push_str(k),
            Err(_) => self.sc.path.push_str(&String::from_utf8_lossy(&key)),
        }
        self.sc.key = key;
        Ok(())
    }
}

fn hex4(s: &[u8]) -> R<u32> {
    if s.len() < 4 {
        return Err(BAD);
    }
    let mut v = 0u32;
    for &b in &s[..4] {
        v = v * 16 + (b as char).to_digit(16).ok_or(BAD)?;
    }
    Ok(v)
}

fn unescape(s: &[u8], out: &mut Vec<u8>) -> R<()> {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let e = *s.get(i + 1).ok_or(BAD)?;
        i += 2;
        match e {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let mut c = hex4(&s[i..])?;
                i += 4;
                if (0xd800..0xdc00).contains(&c) && s[i..].starts_with(b"\\u") {
                    let lo = hex4(&s[i + 2..])?;
                    if (0xdc00..0xe000).contains(&lo) {
                        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                        i += 6;
                    }
                }
                let ch = char::from_u32(c).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(BAD),
        }
    }
    Ok(())
}

/// Would [`parse_line`] accept `line`? The same grammar, walked without paths or fields, for
/// lines the prefilter proved hit-free. `None` for lines with escapes (parse those instead).
pub(crate) fn accepts(line: &[u8]) -> Option<bool> {
    accepts_with(line, ScanForQuote)
}

/// [`accepts`], with string ends found by `ends`.
pub(crate) fn accepts_with<E: StringEnds>(line: &[u8], ends: E) -> Option<bool> {
    let mut v = Validator {
        c: Cursor { s: line, i: 0 },
        ends,
    };
    v.c.ws();
    if v.c.i == line.len() {
        return Some(true);
    }
    match v.value(0) {
        Ok(()) => {}
        Err(Stop::Bad) => return Some(false),
        Err(Stop::Escape) => return None,
    }
    v.c.ws();
    Some(v.c.i == line.len())
}

pub(crate) enum Stop {
    Bad,
    Escape,
}

/// How the validator finds where a string ends.
pub(crate) trait StringEnds {
    /// Index of the first `"` at or after `from` (the string's content starts at `from`);
    /// [`Stop::Escape`] if a backslash comes first, [`Stop::Bad`] if no quote does.
    fn close(&self, s: &[u8], from: usize) -> Result<usize, Stop>;
}

/// Looks at the bytes: a few one by one (keys and most values are short), then `memchr2`.
pub(crate) struct ScanForQuote;

impl StringEnds for ScanForQuote {
    #[inline]
    fn close(&self, s: &[u8], from: usize) -> Result<usize, Stop> {
        let mut j = from;
        let near = s.len().min(j + SHORT_STRING);
        while j < near {
            match s[j] {
                b'"' => return Ok(j),
                b'\\' => return Err(Stop::Escape),
                _ => j += 1,
            }
        }
        let k = memchr::memchr2(b'"', b'\\', &s[j..]).ok_or(Stop::Bad)?;
        if s[j + k] == b'\\' {
            return Err(Stop::Escape);
        }
        Ok(j + k)
    }
}

struct Validator<'a, E> {
    c: Cursor<'a>,
    ends: E,
}

impl<E: StringEnds> Validator<'_, E> {
    #[inline]
    fn peek(&self) -> Result<u8, Stop> {
        self.c.peek().ok_or(Stop::Bad)
    }

    /// At an opening quote: skip the string.
    #[inline]
    fn string(&mut self) -> Result<(), Stop> {
        self.c.i = self.ends.close(self.c.s, self.c.i + 1)? + 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        if depth > MAX_JSON_DEPTH {
            return Err(Stop::Bad);
        }
        match self.peek()? {
            b'{' => {
                if self.c.open(b'}').ok_or(Stop::Bad)? {
                    return Ok(());
                }
                loop {
                    self.c.ws();
                    if self.peek()? != b'"' {
                        return Err(Stop::Bad);
                    }
                    self.string()?;
                    self.c.colon().ok_or(Stop::Bad)?;
                    self.value(depth + 1)?;
                    if self.c.comma_or_close(b'}').ok_or(Stop::Bad)? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                if self.c.open(b']').ok_or(Stop::Bad)? {
                    return Ok(());
                }
                loop {
                    self.c.ws();
                    self.value(depth + 1)?;
                    if self.c.comma_or_close(b']').ok_or(Stop::Bad)? {
                        return Ok(());
                    }
                }
            }
            b'"' => self.string(),
            b't' => self.c.lit(b"true").ok_or(Stop::Bad),
            b'f' => self.c.lit(b"false").ok_or(Stop::Bad),
            b'n' => self.c.lit(b"null").ok_or(Stop::Bad),
            b'-' | b'0'..=b'9' => {
                self.c.number();
                Ok(())
            }
            _ => Err(Stop::Bad),
        }
    }
}
