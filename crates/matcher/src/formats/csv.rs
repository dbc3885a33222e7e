//! CSV with a header line (RFC 4180 quoting, one record per line).
//!
//! The delimiter is the most frequent of `,` `;` tab in the header. Fields are named by the
//! header. Policy: records spanning lines (a newline inside quotes) are not supported, since
//! blocks are split on newlines; such a line, an unterminated quote, or a column count that
//! differs from the header's, is skipped as [`SkipReason::MalformedCsv`].

use crate::extract::LineCtx;
use crate::SkipReason;

#[derive(Debug, Clone, Default)]
pub(crate) struct CsvHeader {
    pub names: Vec<String>,
    pub delim: u8,
}

/// Guess the delimiter of a header line.
pub(crate) fn header_delimiter(line: &[u8]) -> Option<u8> {
    [b',', b'\t', b';']
        .into_iter()
        .map(|d| (memchr::memchr_iter(d, line).count(), d))
        .filter(|(n, _)| *n > 0)
        .max()
        .map(|(_, d)| d)
}

/// Number of fields in a line, honouring quotes (0 if the quotes are unbalanced).
pub(crate) fn split_count(line: &[u8], d: u8) -> usize {
    let mut n = 0;
    let mut buf = Vec::new();
    match split(line, d, &mut buf, |_, _| n += 1) {
        Ok(()) => n,
        Err(_) => 0,
    }
}

impl CsvHeader {
    pub fn parse(line: &[u8]) -> CsvHeader {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        let delim = header_delimiter(line).unwrap_or(b',');
        let mut names = Vec::new();
        let mut buf = Vec::new();
        let _ = split(line, delim, &mut buf, |_, v| {
            names.push(String::from_utf8_lossy(v).trim().to_string())
        });
        CsvHeader { names, delim }
    }
}

/// Split one record, unquoting into `buf` where needed; `f(index, value)` per field.
fn split(
    line: &[u8],
    d: u8,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(usize, &[u8]),
) -> Result<(), SkipReason> {
    let mut i = 0;
    let mut idx = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            buf.clear();
            i += 1;
            loop {
                let k = memchr::memchr(b'"', &line[i..]).ok_or(SkipReason::MalformedCsv)?;
                buf.extend_from_slice(&line[i..i + k]);
                i += k + 1;
                if line.get(i) == Some(&b'"') {
                    buf.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            f(idx, buf);
            match line.get(i) {
                None => return Ok(()),
                Some(&b) if b == d => i += 1,
                Some(_) => return Err(SkipReason::MalformedCsv),
            }
        } else {
            let end = memchr::memchr(d, &line[i..]).map_or(line.len(), |k| i + k);
            f(idx, &line[i..end]);
            if end == line.len() {
                return Ok(());
            }
            i = end + 1;
        }
        idx += 1;
    }
}

pub(crate) fn parse_line(
    h: &CsvHeader,
    buf: &mut Vec<u8>,
    line: &[u8],
    ctx: &mut LineCtx<'_>,
) -> Result<(), SkipReason> {
    if line.is_empty() {
        return Ok(());
    }
    // Count first so that a short or long row matches nothing and is reported as skipped.
    let mut n = 0;
    split(line, h.delim, buf, |_, _| n += 1)?;
    if n != h.names.len() {
        return Err(SkipReason::MalformedCsv);
    }
    split(line, h.delim, buf, |i, v| ctx.field(&h.names[i], v))
}
