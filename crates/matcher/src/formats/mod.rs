//! Log formats. Each module turns one line into `(field, value)` pairs for
//! `LineCtx::field` (in `extract`) and reports a malformed line as a
//! [`SkipReason`]; none of them matches anything itself. Adding a format means adding a
//! module here and one arm in `parse_line`.
//!
//! Formats with a header (Zeek `#fields`, CSV's first line) get it through `FormatState`,
//! computed by the reader before the block is handed to a worker, so blocks stay independent.

pub mod csv;
pub mod json;
pub mod kv;
pub mod text;
pub mod zeek;

use std::sync::Arc;

use crate::extract::LineCtx;
use crate::SkipReason;

/// The log formats the scanner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// One JSON object per line; fields named by dotted paths (`dns.rrname`).
    JsonLines,
    /// Zeek TSV logs (conn, dns, http, ssl, files, ...), columns named by `#fields`.
    Zeek,
    /// ArcSight CEF, optionally behind a syslog header.
    Cef,
    /// `key=value` syslog lines (`key="quoted value"` allowed).
    KeyValue,
    /// CSV with a header line; delimiter `,`, `;` or tab, from the header.
    Csv,
    /// Free text, tokenised into IPs, domains, URLs, hashes and emails (defanged forms too).
    Text,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::JsonLines => "json",
            LogFormat::Zeek => "zeek",
            LogFormat::Cef => "cef",
            LogFormat::KeyValue => "kv",
            LogFormat::Csv => "csv",
            LogFormat::Text => "text",
        }
    }

    /// Parse a CLI name (`json`, `jsonl`, `zeek`, `cef`, `kv`, `syslog`, `csv`, `text`).
    pub fn from_name(s: &str) -> Option<LogFormat> {
        Some(match s.to_ascii_lowercase().as_str() {
            "json" | "jsonl" | "ndjson" | "json-lines" => LogFormat::JsonLines,
            "zeek" | "bro" | "zeek-tsv" => LogFormat::Zeek,
            "cef" => LogFormat::Cef,
            "kv" | "syslog" | "key-value" | "keyvalue" => LogFormat::KeyValue,
            "csv" | "tsv" => LogFormat::Csv,
            "text" | "txt" | "plain" => LogFormat::Text,
            _ => return None,
        })
    }

    /// Guess the format from the first block of input (decompressed). Looks at up to
    /// [`DETECT_LINES`] non-empty lines; falls back to [`LogFormat::Text`], which never fails.
    pub fn detect(first_block: &[u8]) -> LogFormat {
        let lines: Vec<&[u8]> = first_block
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
            .take(DETECT_LINES)
            .collect();
        let Some(first) = lines.first() else {
            return LogFormat::Text;
        };
        if first.starts_with(b"#separator") || first.starts_with(b"#fields") {
            return LogFormat::Zeek;
        }
        let trimmed = |l: &&[u8]| {
            let s = l.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
            l[s..].to_vec()
        };
        if lines.iter().all(|l| trimmed(l).first() == Some(&b'{')) {
            return LogFormat::JsonLines;
        }
        if lines
            .iter()
            .any(|l| memchr::memmem::find(l, b"CEF:").is_some())
        {
            return LogFormat::Cef;
        }
        let kv_pairs = |l: &[u8]| {
            l.windows(2)
                .filter(|w| w[0].is_ascii_alphanumeric() && w[1] == b'=')
                .count()
        };
        if lines.iter().all(|l| kv_pairs(l) >= 2) {
            return LogFormat::KeyValue;
        }
        if lines.len() >= 2 {
            if let Some(d) = csv::header_delimiter(first) {
                let n = csv::split_count(first, d);
                let same = lines[1..].iter().all(|l| csv::split_count(l, d) == n);
                let header_is_names = first
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b" _-.:@\"/#()".contains(&b) || b == d);
                if n >= 2 && same && header_is_names {
                    return LogFormat::Csv;
                }
            }
        }
        LogFormat::Text
    }
}

/// Lines looked at by [`LogFormat::detect`].
pub const DETECT_LINES: usize = 20;

/// Per-block format state: the header in force at the block's first line.
#[derive(Debug, Clone)]
pub(crate) enum FormatState {
    Json,
    Zeek(Arc<zeek::ZeekHeader>),
    Cef,
    KeyValue,
    Csv(Arc<csv::CsvHeader>),
    Text,
}

impl FormatState {
    pub fn initial(format: LogFormat, first_block: &[u8]) -> FormatState {
        match format {
            LogFormat::JsonLines => FormatState::Json,
            // Header lines inside a block are applied by the worker as it meets them.
            LogFormat::Zeek => FormatState::Zeek(Arc::new(zeek::ZeekHeader::default())),
            LogFormat::Cef => FormatState::Cef,
            LogFormat::KeyValue => FormatState::KeyValue,
            LogFormat::Csv => {
                let end = memchr::memchr(b'\n', first_block).unwrap_or(first_block.len());
                FormatState::Csv(Arc::new(csv::CsvHeader::parse(&first_block[..end])))
            }
            LogFormat::Text => FormatState::Text,
        }
    }

    /// The state after reading `block` (Zeek files may carry new `#fields` lines).
    pub fn after(&self, block: &[u8]) -> FormatState {
        match self {
            FormatState::Zeek(h) if memchr::memchr(b'#', block).is_some() => {
                let n = (**h).clone().updated_by(block);
                FormatState::Zeek(Arc::new(n))
            }
            other => other.clone(),
        }
    }
}

/// Per-worker mutable parser state (scratch buffers, a Zeek header switched mid-block).
#[derive(Default)]
pub(crate) struct ParserScratch {
    pub json: json::JsonScratch,
    pub buf: Vec<u8>,
    pub zeek_override: Option<Arc<zeek::ZeekHeader>>,
    pub kv_key: String,
}

/// Parse one line (no newline) into fields. `Ok(false)`: a meta line (header, comment),
/// counted but not data.
pub(crate) fn parse_line(
    state: &FormatState,
    scratch: &mut ParserScratch,
    line: &[u8],
    ctx: &mut LineCtx<'_>,
) -> Result<bool, SkipReason> {
    match state {
        FormatState::Json => json::parse_line(line, &mut scratch.json, ctx).map(|_| true),
        FormatState::Zeek(h) => zeek::parse_line(h, scratch, line, ctx),
        FormatState::Cef => kv::parse_cef_line(line, scratch, ctx).map(|_| true),
        FormatState::KeyValue => kv::parse_kv_line(line, scratch, ctx).map(|_| true),
        FormatState::Csv(h) => csv::parse_line(h, &mut scratch.buf, line, ctx).map(|_| true),
        FormatState::Text => {
            text::parse_line(line, ctx);
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            LogFormat::detect(b"#separator \\x09\n#fields\tts\n"),
            LogFormat::Zeek
        );
        assert_eq!(
            LogFormat::detect(b"{\"a\":1}\n {\"b\":2}\n"),
            LogFormat::JsonLines
        );
        assert_eq!(
            LogFormat::detect(b"<13>Jan 1 host CEF:0|a|b|1|2|n|3|src=1.2.3.4\n"),
            LogFormat::Cef
        );
        assert_eq!(
            LogFormat::detect(b"src=1.2.3.4 dst=5.6.7.8 act=allow\n"),
            LogFormat::KeyValue
        );
        assert_eq!(
            LogFormat::detect(b"time,src,dst\n1,1.2.3.4,5.6.7.8\n2,a,b\n"),
            LogFormat::Csv
        );
        assert_eq!(
            LogFormat::detect(b"Jan 1 00:00:00 host sshd: failed for 1.2.3.4\n"),
            LogFormat::Text
        );
        assert_eq!(LogFormat::detect(b""), LogFormat::Text);
    }
}
