//! Compiled indicator sets and parallel log scanners. No database, no STIX parsing.
//!
//! The application compiles the indicators a viewer may use into an [`IndicatorSet`] once,
//! shares it (`Arc`) with every scan, and streams members' logs through a [`Scanner`]:
//!
//! ```no_run
//! use matcher::{IndicatorSetBuilder, Scanner, LogFormat, Hit};
//! use observable::Kind;
//! let mut b = IndicatorSetBuilder::new();
//! b.add(1, Kind::Domain, "evil.example").unwrap();
//! b.add(2, Kind::Ipv4, "192.0.2.0/24").unwrap();
//! let set = b.build().unwrap();
//! let scanner = Scanner::builder().format(LogFormat::JsonLines).threads(4).build();
//! let summary = scanner
//!     .scan_path("dns.json".as_ref(), &set, &mut |hit: &Hit| println!("{}", hit.to_json()))
//!     .unwrap();
//! eprintln!("{} lines, {} hits", summary.lines, summary.hits);
//! ```
//!
//! Match rules ([`MatchRule`]): IPs exact or inside a CIDR (v4 and v6, nested CIDRs all
//! report); domains exact or subdomain by whole labels (`evil.example` matches
//! `a.b.evil.example`, never `notevil.example`); URLs exact after `observable` normalisation,
//! and a separate `url-host` hit when only the host is that of a URL indicator; hashes exact;
//! email addresses exact. Hosts of URLs and domains of email addresses are also matched as
//! domains / IPs.
//!
//! Bad input never stops a run; each case is a named policy counted in the [`Summary`]:
//! a binary file (NUL in the first block) is skipped whole ([`BinaryPolicy`],
//! [`SkipReason::Binary`]); a line longer than `max_line_len` ([`DEFAULT_MAX_LINE_LEN`],
//! 1 MiB) is skipped ([`SkipReason::LineTooLong`]) and, when streamed, dropped as it is read
//! so a 100 MB line never sits in memory; a line its format cannot parse is skipped with that
//! format's reason ([`SkipReason::MalformedJson`], ...). See the `scan` module docs for the
//! pipeline (blocks, workers, ordered consumer, bounded buffers).
//!
//! Complex STIX patterns are the application's job: mark their indicators with
//! [`IndicatorSetBuilder::mark_complex`] and scan with [`EventMode::Complex`]; every line that
//! hits one of them is also delivered to [`Sink::event`] as an [`Event`] carrying all of the
//! line's `(field, Observable)` pairs and its time, ready for observed-data.
//!
//! Architecture invariant: canonical forms come from the `observable` crate (directly, or by
//! fast paths tested to agree with it), so a value ingested as X is matched as X. No I/O
//! beyond reading the logs it is given; no database; no STIX parsing.

mod byteclass;
mod extract;
pub mod formats;
mod prefilter;
mod ranges;
mod scan;
mod set;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use observable::{Kind, Observable};
use serde::Serialize;

pub use extract::DEFAULT_TIME_FIELDS;
pub use formats::json::MAX_JSON_DEPTH;
pub use formats::LogFormat;
pub use scan::{
    BinaryPolicy, EventMode, Scanner, ScannerBuilder, Sink, DEFAULT_BLOCK_SIZE,
    DEFAULT_MAX_LINE_LEN, IN_FLIGHT_PER_THREAD, MIN_BLOCK_SIZE,
};
pub use set::{BuildError, Handle, IndicatorSet, IndicatorSetBuilder, Match, MatchRule, SetStats};

/// One match of one log value against one indicator value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    #[serde(serialize_with = "ser_arc")]
    pub file: Arc<str>,
    /// 1-based line number in the (decompressed) input.
    pub line: u64,
    /// Field the value was found in: JSON dotted path, column or key name, `text` for free
    /// text, `url` for Zeek http host+uri.
    pub field: String,
    /// Kind of the observed value.
    pub kind: Kind,
    /// The observed value, canonical (`a.b.evil.example`, `192.0.2.7`, a normalised URL).
    pub value: String,
    pub rule: MatchRule,
    /// The indicator value that matched (`evil.example`, `192.0.2.0/24`).
    pub indicator: String,
    /// Handles given to the builder for that indicator value.
    pub handles: Vec<Handle>,
    /// The line's timestamp, when the format has one and it parsed.
    pub time: Option<DateTime<Utc>>,
}

impl Hit {
    /// One JSON object (a line of `threatgate match` output).
    pub fn to_json(&self) -> String {
        // Serialisation of these plain types cannot fail.
        serde_json_lite(self)
    }
}

fn ser_arc<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// Minimal JSON writer for [`Hit`], so the crate does not need serde_json at run time.
fn serde_json_lite(h: &Hit) -> String {
    fn q(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let mut o = String::with_capacity(200);
    o.push_str("{\"file\":");
    q(&mut o, &h.file);
    o.push_str(&format!(",\"line\":{},\"field\":", h.line));
    q(&mut o, &h.field);
    o.push_str(",\"kind\":");
    q(&mut o, h.kind.as_str());
    o.push_str(",\"value\":");
    q(&mut o, &h.value);
    o.push_str(",\"rule\":");
    q(&mut o, h.rule.as_str());
    o.push_str(",\"indicator\":");
    q(&mut o, &h.indicator);
    o.push_str(",\"handles\":[");
    for (i, x) in h.handles.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&x.to_string());
    }
    o.push_str("],\"time\":");
    match &h.time {
        Some(t) => q(
            &mut o,
            &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        None => o.push_str("null"),
    }
    o.push('}');
    o
}

/// Every observation of one line, for lines that touched a complex-pattern indicator (see
/// [`EventMode`]): what the STIX pattern engine needs to build observed-data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "ser_arc")]
    pub file: Arc<str>,
    pub line: u64,
    pub time: Option<DateTime<Utc>>,
    /// `(field, observable)` for every IP, domain, URL, hash and email found on the line.
    pub fields: Vec<(String, Observable)>,
    /// Handles of the indicators the line hit.
    pub handles: Vec<Handle>,
}

/// Why a line or a file was not scanned. Names are stable (they appear in summaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// NUL bytes in the first block ([`BinaryPolicy::SkipFile`]).
    Binary,
    /// Longer than the scanner's `max_line_len`.
    LineTooLong,
    /// Not one JSON value, or nested deeper than [`MAX_JSON_DEPTH`].
    MalformedJson,
    /// Unbalanced quotes or a column count different from the header's.
    MalformedCsv,
    /// Fewer than seven CEF header fields.
    MalformedCef,
    /// Column count different from the `#fields` header's.
    ZeekFieldCount,
    /// Data before any header line (Zeek `#fields`).
    MissingHeader,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Binary => "binary",
            SkipReason::LineTooLong => "line-too-long",
            SkipReason::MalformedJson => "malformed-json",
            SkipReason::MalformedCsv => "malformed-csv",
            SkipReason::MalformedCef => "malformed-cef",
            SkipReason::ZeekFieldCount => "zeek-field-count",
            SkipReason::MissingHeader => "missing-header",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: SkipReason,
}

/// Per-indicator aggregate, keyed by handle in [`Summary::sightings`]: what the application
/// turns into a STIX sighting (count, first_seen, last_seen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sighting {
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl Sighting {
    pub fn add(&mut self, t: Option<DateTime<Utc>>) {
        self.count += 1;
        if let Some(t) = t {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
    }
    pub fn merge(&mut self, o: &Sighting) {
        self.count += o.count;
        for t in [o.first_seen, o.last_seen].into_iter().flatten() {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
    }
}

/// End-of-run report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Inputs scanned (skipped files not counted).
    pub files: u64,
    pub lines: u64,
    pub bytes: u64,
    pub hits: u64,
    pub events: u64,
    /// Skipped lines by reason.
    pub skipped_lines: BTreeMap<SkipReason, u64>,
    pub skipped_files: Vec<SkippedFile>,
    /// Per indicator handle: count and first/last seen.
    pub sightings: BTreeMap<Handle, Sighting>,
    /// Format used for the (last) input.
    pub format: Option<LogFormat>,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Summary {
    /// Fold another input's summary into this one (multi-file runs).
    pub fn merge(&mut self, o: &Summary) {
        self.files += o.files;
        self.lines += o.lines;
        self.bytes += o.bytes;
        self.hits += o.hits;
        self.events += o.events;
        for (r, n) in &o.skipped_lines {
            *self.skipped_lines.entry(*r).or_insert(0) += n;
        }
        self.skipped_files.extend(o.skipped_files.iter().cloned());
        for (h, s) in &o.sightings {
            self.sightings.entry(*h).or_default().merge(s);
        }
        self.format = o.format.or(self.format);
        self.elapsed += o.elapsed;
    }

    /// Total skipped lines, all reasons.
    pub fn skipped(&self) -> u64 {
        self.skipped_lines.values().sum()
    }
}

/// Errors that stop a scan (bad lines never do; see [`SkipReason`]).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{file}: {source} (check the path and permissions)")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}
