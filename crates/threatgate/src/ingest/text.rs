//! Reading text inputs safely: bounded lines, byte order marks, invalid UTF-8, and the
//! date formats partners write.

use std::io::{self, BufRead, BufReader, Read};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::model::Time;

/// Longest line a line- or CSV-based format accepts. The longest real indicator line is a
/// URL of a few KiB; a longer line is refused (with `--partial`, skipped) without being
/// held in memory, so a 50 MB line costs no more memory than a short one.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Buffer size for line-based readers.
pub const READ_BUFFER: usize = 256 * 1024;

/// One line read by [`LineReader`].
pub enum Line<'a> {
    /// The text without its line ending and, on the first line, without a UTF-8 BOM.
    Text(&'a str),
    /// Longer than [`MAX_LINE_BYTES`]: skipped, with its length.
    TooLong(u64),
    /// Not valid UTF-8: the byte offset of the first invalid byte within the line.
    BadUtf8(usize),
}

/// Reads lines with a hard length bound. Lines too long are skipped without buffering.
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    /// 1-based number of the line last returned.
    pub line_no: u64,
}

impl<R: Read> LineReader<R> {
    pub fn new(r: R) -> Self {
        LineReader {
            inner: BufReader::with_capacity(READ_BUFFER, r),
            buf: Vec::with_capacity(256),
            line_no: 0,
        }
    }

    /// The next line, or `None` at the end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut too_long: u64 = 0;
        let mut any = false;
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                break;
            }
            any = true;
            let (chunk, found) = match memchr(b'\n', avail) {
                Some(i) => (&avail[..i], Some(i + 1)),
                None => (avail, None),
            };
            if too_long > 0 || self.buf.len() + chunk.len() > MAX_LINE_BYTES {
                too_long += (self.buf.len() + chunk.len()) as u64;
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(chunk);
            }
            let used = found.unwrap_or(avail.len());
            self.inner.consume(used);
            if found.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long > 0 {
            return Ok(Some(Line::TooLong(too_long)));
        }
        let mut bytes = &self.buf[..];
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        if self.line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(Line::Text(s))),
            Err(e) => Ok(Some(Line::BadUtf8(e.valid_up_to()))),
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Wraps a reader and fails with a clear error once a physical line exceeds
/// [`MAX_LINE_BYTES`] (for CSV, whose records are parsed by the `csv` crate and would
/// otherwise grow a buffer for a hostile line).
pub struct LineGuard<R> {
    pub inner: R,
    pub since_newline: usize,
    pub line: u64,
}

impl<R> LineGuard<R> {
    pub fn new(inner: R) -> Self {
        LineGuard {
            inner,
            since_newline: 0,
            line: 1,
        }
    }
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.since_newline = 0;
                self.line += 1;
            } else {
                self.since_newline += 1;
                if self.since_newline > MAX_LINE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        LineTooLong { line: self.line },
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// The error [`LineGuard`] raises.
#[derive(Debug, Clone, Copy)]
pub struct LineTooLong {
    pub line: u64,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} is longer than {MAX_LINE_BYTES} bytes; this is not an indicator list (split it, or check the file is what you meant to ingest)",
            self.line
        )
    }
}

impl std::error::Error for LineTooLong {}

/// Parse the timestamps partners write: RFC 3339 (`2025-04-21T12:35:06Z`), the
/// space-separated form (`2025-04-21 12:35:06`, read as UTC), a bare date, or Unix
/// seconds (MISP). `None` for anything else.
pub fn parse_loose_time(s: &str) -> Option<Time> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) && t.len() <= 12 {
        let secs: i64 = t.parse().ok()?;
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    if let Some(rest) = t.strip_suffix(" UTC") {
        return parse_loose_time(rest);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
}

/// Split a tag list written as `a,b;c|d` or with spaces after separators.
pub fn split_tags(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', ';', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Add `v` to `list` if absent.
pub fn push_unique(list: &mut Vec<String>, v: impl Into<String>) {
    let v = v.into();
    if !list.contains(&v) {
        list.push(v);
    }
}

/// Shorten a value for an error message.
pub fn clip(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut cut = MAX - 3;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_bom_stripped() {
        let mut data = b"\xEF\xBB\xBFfirst\r\nsecond\n".to_vec();
        data.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES + 10));
        data.extend(b"\nlast\n\xff\xfe\n");
        let mut r = LineReader::new(&data[..]);
        assert!(matches!(r.next_line().unwrap(), Some(Line::Text("first"))));
        assert!(matches!(r.next_line().unwrap(), Some(Line::Text("second"))));
        assert!(
            matches!(r.next_line().unwrap(), Some(Line::TooLong(n)) if n as usize == MAX_LINE_BYTES + 10)
        );
        assert!(matches!(r.next_line().unwrap(), Some(Line::Text("last"))));
        assert!(matches!(r.next_line().unwrap(), Some(Line::BadUtf8(0))));
        assert_eq!(r.line_no, 5);
        assert!(r.next_line().unwrap().is_none());
    }

    #[test]
    fn loose_times() {
        let want = crate::model::parse_time("2025-04-21T12:35:06Z").unwrap();
        assert_eq!(parse_loose_time("2025-04-21 12:35:06"), Some(want));
        assert_eq!(parse_loose_time("2025-04-21T12:35:06Z"), Some(want));
        assert_eq!(parse_loose_time("1745238906"), Some(want));
        assert!(parse_loose_time("2025-04-21").is_some());
        assert!(parse_loose_time("yesterday").is_none());
    }
}
