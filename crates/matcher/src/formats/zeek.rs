//! Zeek TSV logs (conn, dns, http, ssl, files, ... any log with a `#fields` header).
//!
//! Header lines start with `#`: `#separator \x09`, `#set_separator ,`, `#unset_field -`,
//! `#empty_field (empty)`, `#fields ts uid id.orig_h ...`. Data lines are split on the
//! separator and named by `#fields`. A data line whose column count differs from the header's
//! is skipped as [`SkipReason::ZeekFieldCount`]; data before any `#fields` line as
//! [`SkipReason::MissingHeader`]. `http.log` rows also yield a URL built from `host` + `uri`
//! (field [`URL_FIELD`]) so URL indicators match Zeek HTTP logs.
//!
//! Columns whose `#types` type cannot hold an indicator ([`NO_INDICATOR_TYPES`]: numbers,
//! times, ports, booleans, enums) are not matched, by the full path nor by the prefilter.
//! Every other type (`string`, `addr`, `subnet`, `set[...]`, `vector[...]`, types this
//! module does not know) is matched, and so is every column when `#types` is missing or
//! does not have one type per `#fields` name.

use std::sync::Arc;

use super::ParserScratch;
use crate::extract::LineCtx;
use crate::SkipReason;

/// Name of the synthetic field holding `http://{host}{uri}` for http.log rows.
pub const URL_FIELD: &str = "url";

#[derive(Debug, Clone)]
pub(crate) struct ZeekHeader {
    pub names: Vec<String>,
    pub sep: u8,
    pub set_sep: u8,
    pub unset: Vec<u8>,
    pub empty: Vec<u8>,
    pub time_idx: Option<usize>,
    pub host_idx: Option<usize>,
    pub uri_idx: Option<usize>,
    /// `#types`, as given (cleared by a `#fields` line: Zeek writes `#types` after it).
    pub types: Vec<String>,
    /// Per column: its type cannot hold an indicator, so it is not matched. Empty unless
    /// `types` has one type per name.
    pub skip: Vec<bool>,
    /// For the prefilter: the skipped columns among the first 64 (bit `i`: column `i`) whose
    /// type's values hold a `.` or `:` (time, interval, double, enum), so that a run there
    /// would be walked. (The prefilter may walk any column: skipping fewer only costs time.)
    pub skip_mask: u64,
}

/// [`NO_INDICATOR_TYPES`] whose values hold a `.` or `:`: the prefilter's walks stop there.
const DOTTED_TYPES: &[&str] = &["time", "interval", "double", "enum"];

/// Zeek types whose values cannot hold an IP, domain, URL, hash or e-mail address:
/// `time` and `interval` (seconds with a fraction: dotted numbers), `double`, `count`,
/// `int`, `port`, `bool` and `enum` (identifiers such as `tcp` or `Notice::ACTION_LOG`).
pub const NO_INDICATOR_TYPES: &[&str] = &[
    "time", "interval", "double", "count", "int", "port", "bool", "enum",
];

impl Default for ZeekHeader {
    fn default() -> Self {
        ZeekHeader {
            names: Vec::new(),
            sep: b'\t',
            set_sep: b',',
            unset: b"-".to_vec(),
            empty: b"(empty)".to_vec(),
            time_idx: None,
            host_idx: None,
            uri_idx: None,
            types: Vec::new(),
            skip: Vec::new(),
            skip_mask: 0,
        }
    }
}

/// `\x09` style escapes used in Zeek header values.
fn unescape_sep(v: &[u8]) -> Option<u8> {
    if v.len() == 4 && v.starts_with(b"\\x") {
        u8::from_str_radix(std::str::from_utf8(&v[2..]).ok()?, 16).ok()
    } else if v.len() == 1 {
        Some(v[0])
    } else {
        None
    }
}

impl ZeekHeader {
    /// Apply one `#...` line; returns true if it changed the header.
    pub fn apply(&mut self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = line.strip_prefix(b"#separator ") {
            if let Some(s) = unescape_sep(v) {
                self.sep = s;
                return true;
            }
        } else if let Some(rest) = line.strip_prefix(b"#fields") {
            let rest = rest.strip_prefix(&[self.sep][..]).unwrap_or(rest);
            self.names = rest
                .split(|&b| b == self.sep)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            self.time_idx = self.names.iter().position(|n| n == "ts");
            self.host_idx = self.names.iter().position(|n| n == "host");
            self.uri_idx = self.names.iter().position(|n| n == "uri");
            // Types belong to the names they follow.
            self.types.clear();
            self.update_skip();
            return true;
        } else if let Some(rest) = line.strip_prefix(b"#types") {
            let rest = rest.strip_prefix(&[self.sep][..]).unwrap_or(rest);
            self.types = rest
                .split(|&b| b == self.sep)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            self.update_skip();
            return true;
        } else if let Some(rest) = line.strip_prefix(b"#set_separator") {
            if let Some(s) = unescape_sep(&rest[rest.len().min(1)..]) {
                self.set_sep = s;
                return true;
            }
        } else if let Some(rest) = line.strip_prefix(b"#unset_field") {
            self.unset = rest[rest.len().min(1)..].to_vec();
            return true;
        } else if let Some(rest) = line.strip_prefix(b"#empty_field") {
            self.empty = rest[rest.len().min(1)..].to_vec();
            return true;
        }
        false
    }

    /// Recompute [`Self::skip`] from names and types.
    fn update_skip(&mut self) {
        self.skip.clear();
        self.skip_mask = 0;
        if self.types.len() != self.names.len() {
            return;
        }
        self.skip = self
            .types
            .iter()
            .map(|t| NO_INDICATOR_TYPES.contains(&t.as_str()))
            .collect();
        for (i, t) in self.types.iter().enumerate().take(64) {
            self.skip_mask |= u64::from(DOTTED_TYPES.contains(&t.as_str())) << i;
        }
    }

    /// Is column `i` left unmatched (its type cannot hold an indicator)?
    #[inline]
    pub fn skips(&self, i: usize) -> bool {
        self.skip.get(i).copied().unwrap_or(false)
    }

    /// This header updated by every header line in `block`, in order.
    pub fn updated_by(mut self, block: &[u8]) -> Self {
        for line in block.split(|&b| b == b'\n') {
            if line.first() == Some(&b'#') {
                self.apply(line);
            }
        }
        self
    }
}

pub(crate) fn parse_line(
    block_header: &Arc<ZeekHeader>,
    scratch: &mut ParserScratch,
    line: &[u8],
    ctx: &mut LineCtx<'_>,
) -> Result<bool, SkipReason> {
    if line.first() == Some(&b'#') {
        let mut h = scratch
            .zeek_override
            .as_deref()
            .unwrap_or(block_header)
            .clone();
        if h.apply(line) {
            scratch.zeek_override = Some(Arc::new(h));
        }
        return Ok(false);
    }
    if line.is_empty() {
        return Ok(false);
    }
    let h: &ZeekHeader = scratch.zeek_override.as_deref().unwrap_or(block_header);
    if h.names.is_empty() {
        return Err(SkipReason::MissingHeader);
    }
    let n = memchr::memchr_iter(h.sep, line).count() + 1;
    if n != h.names.len() {
        return Err(SkipReason::ZeekFieldCount);
    }
    let mut host: &[u8] = b"";
    let mut uri: &[u8] = b"";
    for (i, v) in line.split(|&b| b == h.sep).enumerate() {
        if v == h.unset.as_slice() || v == h.empty.as_slice() {
            continue;
        }
        if Some(i) == h.time_idx {
            ctx.set_time(v);
            continue;
        }
        if h.skips(i) {
            continue;
        }
        if Some(i) == h.host_idx {
            host = v;
        } else if Some(i) == h.uri_idx {
            uri = v;
        }
        ctx.field(&h.names[i], v);
    }
    if !host.is_empty() && uri.first() == Some(&b'/') {
        let buf = &mut scratch.buf;
        buf.clear();
        buf.extend_from_slice(b"http://");
        buf.extend_from_slice(host);
        buf.extend_from_slice(uri);
        let url = std::mem::take(buf);
        ctx.url_only(URL_FIELD, &url);
        scratch.buf = url;
    }
    Ok(true)
}
