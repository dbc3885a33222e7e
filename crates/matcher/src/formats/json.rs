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
    s: &'a [u8],
    i: usize,
    sc: &'b mut JsonScratch,
}

type R<T> = Result<T, SkipReason>;
/// Bytes of a string looked at one by one before `memchr` takes over.
const SHORT_STRING: usize = 16;
const BAD: SkipReason = SkipReason::MalformedJson;

pub(crate) fn parse_line(line: &[u8], sc: &mut JsonScratch, ctx: &mut LineCtx<'_>) -> R<()> {
    sc.path.clear();
    let mut p = P { s: line, i: 0, sc };
    p.ws();
    if p.i == p.s.len() {
        return Ok(()); // blank line
    }
    p.value(ctx, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(BAD);
    }
    Ok(())
}

impl P<'_, '_> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> R<u8> {
        self.s.get(self.i).copied().ok_or(BAD)
    }

    fn value(&mut self, ctx: &mut LineCtx<'_>, depth: usize) -> R<()> {
        if depth > MAX_JSON_DEPTH {
            return Err(BAD);
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return Err(BAD);
                    }
                    let saved = self.sc.path.len();
                    self.key_into_path()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return Err(BAD);
                    }
                    self.i += 1;
                    self.ws();
                    self.value(ctx, depth + 1)?;
                    self.sc.path.truncate(saved);
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(BAD),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(ctx, depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(BAD),
                    }
                }
            }
            b'"' => {
                let (start, end, escaped) = self.string_span()?;
                if escaped {
                    let mut out = std::mem::take(&mut self.sc.string);
                    out.clear();
                    unescape(&self.s[start..end], &mut out)?;
                    ctx.field(&self.sc.path, &out);
                    self.sc.string = out;
                } else {
                    ctx.field(&self.sc.path, &self.s[start..end]);
                }
                Ok(())
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                ctx.maybe_time(&self.sc.path, &self.s[start..self.i]);
                Ok(())
            }
            _ => Err(BAD),
        }
    }

    fn lit(&mut self, w: &[u8]) -> R<()> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(BAD)
        }
    }

    /// At an opening quote: returns the content span and whether it holds escapes.
    #[inline]
    fn string_span(&mut self) -> R<(usize, usize, bool)> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        // Keys and most values are a few bytes long: a scalar look first is cheaper than
        // setting up a vector search.
        let near = self.s.len().min(start + SHORT_STRING);
        while j < near {
            match self.s[j] {
                b'"' => {
                    self.i = j + 1;
                    return Ok((start, j, false));
                }
                b'\\' => break,
                _ => j += 1,
            }
        }
        loop {
            let k = memchr::memchr2(b'"', b'\\', &self.s[j..]).ok_or(BAD)?;
            j += k;
            if self.s[j] == b'"' {
                self.i = j + 1;
                return Ok((start, j, escaped));
            }
            escaped = true;
            j += 2;
            if j > self.s.len() {
                return Err(BAD);
            }
        }
    }

    fn key_into_path(&mut self) -> R<()> {
        let (start, end, escaped) = self.string_span()?;
        let mut key = std::mem::take(&mut self.sc.key);
        key.clear();
        if escaped {
            unescape(&self.s[start..end], &mut key)?;
        } else {
            key.extend_from_slice(&self.s[start..end]);
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
        s: line,
        i: 0,
        ends,
    };
    v.ws();
    if v.i == line.len() {
        return Some(true);
    }
    match v.value(0) {
        Ok(()) => {}
        Err(Stop::Bad) => return Some(false),
        Err(Stop::Escape) => return None,
    }
    v.ws();
    Some(v.i == line.len())
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
    s: &'a [u8],
    i: usize,
    ends: E,
}

impl<E: StringEnds> Validator<'_, E> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Result<u8, Stop> {
        self.s.get(self.i).copied().ok_or(Stop::Bad)
    }

    /// At an opening quote: skip the string.
    #[inline]
    fn string(&mut self) -> Result<(), Stop> {
        self.i = self.ends.close(self.s, self.i + 1)? + 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        if depth > MAX_JSON_DEPTH {
            return Err(Stop::Bad);
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return Err(Stop::Bad);
                    }
                    self.string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return Err(Stop::Bad);
                    }
                    self.i += 1;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop::Bad),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop::Bad),
                    }
                }
            }
            b'"' => self.string(),
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => {
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                Ok(())
            }
            _ => Err(Stop::Bad),
        }
    }

    fn lit(&mut self, w: &[u8]) -> Result<(), Stop> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(Stop::Bad)
        }
    }
}
