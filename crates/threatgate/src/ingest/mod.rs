//! Ingest: every partner format into the store, through the policy.
//!
//! ```text
//!  FILE|DIR ──► detect format ──► parser (one module per format) ──► Event stream ──► pipeline
//!                (detect.rs)       stix / misp / misp_feed / csv /      Item | Reject    (pipeline.rs)
//!                                  urlhaus / lines                                        policy check per
//!                                                                                         new type, write,
//!                                                                                         commit or roll back
//! ```
//!
//! Each format module keeps its parser, its configuration and its unit tests side by side;
//! adding a format means adding a module and a [`Format`] variant. A parser never touches
//! the store: it turns bytes into [`Item`]s (a STIX object to keep and/or claims about
//! canonical observables) and [`Event::Reject`]s (bad input with its location). The
//! [`pipeline`] applies them in one submission per input file, so that:
//!
//! - the policy is asked ([`crate::policy::may_submit`]) before the first write and again
//!   whenever a new type appears; a refusal rolls the whole file back and is audited as
//!   `submission.refused`;
//! - bad input rolls the file back with an error naming the file and the line or JSON
//!   pointer, unless `--partial` is given, in which case the good items are kept and every
//!   rejected one is listed ([`IngestReport::rejected`]);
//! - large inputs are parsed on one thread and written on another, with bounded memory
//!   (see [`pipeline::CHANNEL_BATCHES`]).
//!
//! With several files, each file is its own submission (DESIGN: one submission is one
//! transaction). Ingest stops at the first bad file unless `--partial`; the error then
//! says which earlier files were committed ([`IngestError::Stopped`]).

pub mod csv;
pub mod detect;
pub mod json_size;
pub mod lines;
pub mod misp;
pub mod misp_feed;
pub mod pipeline;
pub mod stix;
pub mod text;
pub mod urlhaus;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::model::{Claim, Observable, Org, Pap, Submission, Time, Tlp};
use crate::policy::Refusal;
use crate::store::{NewObject, Store, StoreError};

pub use pipeline::{parse, ObjectOutcome};

/// The formats ingest understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A STIX 2.1 bundle, streamed.
    Stix,
    /// One MISP event: `{"Event": …}` or `{"response": [{"Event": …}, …]}`.
    Misp,
    /// A MISP feed directory driven by its `manifest.json`.
    MispFeed,
    /// A CSV file with a header naming its columns (tolerant of case, BOM and synonyms).
    Csv,
    /// The abuse.ch URLhaus CSV dump.
    Urlhaus,
    /// One value per line; `#` comments; maltrail trail files.
    Lines,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Stix,
        Format::Misp,
        Format::MispFeed,
        Format::Csv,
        Format::Urlhaus,
        Format::Lines,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Stix => "stix",
            Format::Misp => "misp",
            Format::MispFeed => "misp-feed",
            Format::Csv => "csv",
            Format::Urlhaus => "urlhaus",
            Format::Lines => "lines",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    /// Parses a `--format` value; `auto` is not a format (it is `None` in [`IngestOptions`]).
    fn from_str(s: &str) -> Result<Self, String> {
        let l = s.trim().to_ascii_lowercase();
        Format::ALL
            .iter()
            .copied()
            .find(|f| {
                f.as_str() == l
                    || (l == "stix2" && *f == Format::Stix)
                    || (l == "txt" && *f == Format::Lines)
            })
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an ingest format; expected auto, {}",
                    Format::ALL.map(Format::as_str).join(", ")
                )
            })
    }
}

/// What the caller asks of an ingest run. Markings and labels given here apply to every
/// claim; markings stated in the data itself (STIX marking refs, MISP `tlp:` tags) are
/// more specific and win over `tlp`/`pap` given here.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// `None` detects the format per file (`--format auto`).
    pub format: Option<Format>,
    pub tlp: Option<Tlp>,
    pub pap: Option<Pap>,
    /// Added to every claim's labels.
    pub labels: Vec<String>,
    /// Added to every claim's malware families. When given, maltrail file names are not
    /// used as family names (see [`lines`]).
    pub malware: Vec<String>,
    /// Keep the valid items of a file with bad ones, and list the rejected ones.
    pub partial: bool,
    /// The instant the policy is evaluated at (tests); `None` is now.
    pub now: Option<Time>,
}

/// An input item that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub file: String,
    /// `line 12`, `/objects/3`, `/Event/Attribute/7`, or empty for the whole file.
    pub location: String,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.file,
            located(&self.location, &self.reason)
        )
    }
}

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub format: Format,
    /// The committed submission's id (`None` if nothing was committed).
    pub submission: Option<i64>,
    pub objects: u64,
    pub claims: u64,
    pub rejected: u64,
    pub bytes: u64,
}

/// The outcome of an ingest run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// Committed submissions, one per file, in order.
    pub submissions: Vec<Submission>,
    /// Claims written, by observable kind (`ipv4-addr`, `sha256`, ...).
    pub by_type: BTreeMap<String, u64>,
    /// STIX objects stored, by STIX type.
    pub objects_by_type: BTreeMap<String, u64>,
    /// Items not ingested (only non-empty with `partial`, or per object for TAXII).
    pub rejected: Vec<Rejection>,
    pub files: Vec<FileReport>,
    /// Per-object outcome, filled by [`ingest_stix_objects`] only (TAXII status resources).
    pub objects: Vec<ObjectOutcome>,
}

impl IngestReport {
    pub fn claims(&self) -> u64 {
        self.by_type.values().sum()
    }

    fn absorb(&mut self, other: IngestReport) {
        self.submissions.extend(other.submissions);
        for (k, v) in other.by_type {
            *self.by_type.entry(k).or_default() += v;
        }
        for (k, v) in other.objects_by_type {
            *self.objects_by_type.entry(k).or_default() += v;
        }
        self.rejected.extend(other.rejected);
        self.files.extend(other.files);
        self.objects.extend(other.objects);
    }

    /// One line for a terminal or a log.
    pub fn summary(&self) -> String {
        let by: Vec<String> = self
            .by_type
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "{} file(s), {} submission(s), {} STIX object(s), {} claim(s) ({}), {} rejected",
            self.files.len(),
            self.submissions.len(),
            self.objects_by_type.values().sum::<u64>(),
            self.claims(),
            if by.is_empty() {
                "none".into()
            } else {
                by.join(", ")
            },
            self.rejected.len()
        )
    }
}

/// Why ingest failed. Every variant names the file and, where there is one, the line or
/// JSON pointer, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input is malformed; nothing of this file was kept.
    #[error("{file}: {}{}", located(location, reason), if *partial_hint { " (nothing from this file was stored; fix the input, or use --partial to keep the valid items)" } else { "" })]
    Input {
        file: String,
        location: String,
        reason: String,
        partial_hint: bool,
    },
    /// Reading failed.
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The policy refused the submission; nothing of this file was kept.
    #[error("{file}: submission refused: {refusal}")]
    Refused { file: String, refusal: Refusal },
    #[error("{file}: {source}")]
    Store {
        file: String,
        #[source]
        source: StoreError,
    },
    /// Ingest stopped at a bad file after committing earlier ones.
    #[error("{error}\nstopped there; {} earlier file(s) were committed: {}; re-run with the remaining files, or with --partial to skip bad ones", committed.files.iter().filter(|f| f.submission.is_some()).count(), committed_list(committed))]
    Stopped {
        committed: Box<IngestReport>,
        error: Box<IngestError>,
    },
}

/// `location: reason`, or the reason alone when it already names the location as a word
/// of its own (the STIX reader's errors say where they are, so a prefix would repeat the
/// JSON pointer; a pointer that is only part of a file path does not count).
fn located(location: &str, reason: &str) -> String {
    let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "(),:;".contains(c));
    let named = !location.is_empty()
        && reason.match_indices(location).any(|(at, _)| {
            boundary(reason[..at].chars().next_back())
                && boundary(reason[at + location.len()..].chars().next())
        });
    if location.is_empty() || named {
        reason.to_string()
    } else {
        format!("{location}: {reason}")
    }
}

fn committed_list(r: &IngestReport) -> String {
    let v: Vec<String> = r
        .files
        .iter()
        .filter_map(|f| {
            f.submission
                .map(|s| format!("{} (submission #{s})", f.file))
        })
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl IngestError {
    pub(crate) fn input(
        file: &str,
        location: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        IngestError::Input {
            file: file.to_string(),
            location: location.into(),
            reason: reason.into(),
            partial_hint: false,
        }
    }

    /// The refusal, if the policy refused (looking through [`IngestError::Stopped`]).
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            IngestError::Refused { refusal, .. } => Some(refusal),
            IngestError::Stopped { error, .. } => error.refusal(),
            _ => None,
        }
    }
}

/// Progress of long work; the CLI plugs a progress bar in, the server a no-op.
pub trait Progress: Sync {
    /// A new file of `total_bytes` (0 if unknown) starts.
    fn on_file(&self, name: &str, total_bytes: u64);
    /// `n` more bytes of the current file were read.
    fn on_bytes(&self, n: u64);
}

/// Progress that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn on_file(&self, _name: &str, _total_bytes: u64) {}
    fn on_bytes(&self, _n: u64) {}
}

/// One unit a parser hands to the pipeline: a STIX object to keep and/or claims about
/// observables (linked to that object when there is one).
#[derive(Debug, Clone)]
pub struct Item {
    /// Where in the input (`line 3`, `/objects/7`), for error messages.
    pub location: String,
    pub object: Option<NewObject>,
    pub claims: Vec<(Observable, Claim)>,
}

/// What a parser emits.
#[derive(Debug)]
pub enum Event {
    Item(Item),
    Reject { location: String, reason: String },
}

/// The parser-side end of the pipeline. `Err(Stop)` means the pipeline has given up
/// (bad input without `--partial`, a refusal, a store error): the parser returns at once.
pub trait Emit {
    fn emit(&mut self, e: Event) -> Result<(), Stop>;
    /// Bytes consumed, for progress.
    fn bytes(&mut self, _n: u64) {}
}

/// The pipeline stopped; the parser should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// Why a parser ended early: the pipeline stopped, or the input is unreadable past a point.
#[derive(Debug)]
pub enum ParseEnd {
    Stopped,
    /// Fatal: nothing after this location can be trusted (malformed JSON, I/O error).
    Fatal {
        location: String,
        reason: String,
    },
}

impl From<Stop> for ParseEnd {
    fn from(_: Stop) -> Self {
        ParseEnd::Stopped
    }
}

pub(crate) fn emit_item(out: &mut dyn Emit, item: Item) -> Result<(), Stop> {
    out.emit(Event::Item(item))
}

pub(crate) fn emit_reject(
    out: &mut dyn Emit,
    location: impl Into<String>,
    reason: impl Into<String>,
) -> Result<(), Stop> {
    out.emit(Event::Reject {
        location: location.into(),
        reason: reason.into(),
    })
}

/// What every parser gets to know about the run besides its input.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// Display name of the input (file path or a name the caller gave).
    pub name: String,
    /// The file's path, when there is one (maltrail family from the file name).
    pub path: Option<PathBuf>,
    pub opts: IngestOptions,
}

impl ParseContext {
    /// A claim carrying what the options say about every item.
    pub fn base_claim(&self) -> Claim {
        Claim {
            tlp: self.opts.tlp,
            pap: self.opts.pap,
            labels: self.opts.labels.clone(),
            malware: self.opts.malware.clone(),
            ..Default::default()
        }
    }
}

/// Ingest files and directories, one submission per file.
///
/// A directory is walked recursively (files named README, LICENSE, PROVENANCE, NOTICE and
/// documentation files are skipped; see [`detect::is_ignored_name`]); a directory holding
/// a `manifest.json` is a MISP feed.
pub fn ingest_paths(
    store: &Store,
    org: &Org,
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let mut inputs = vec![];
    for p in paths {
        detect::expand(p, opts.format, &mut inputs)?;
    }
    let mut report = IngestReport::default();
    for input in inputs {
        let result = match input.format {
            Format::MispFeed => misp_feed::ingest_feed(store, org, &input.path, opts, progress),
            format => ingest_file(store, org, &input.path, format, opts, progress),
        };
        match result {
            Ok(r) => report.absorb(r),
            Err(e) if opts.partial && !matches!(e, IngestError::Store { .. }) => {
                let (file, location, reason) = match &e {
                    IngestError::Input {
                        file,
                        location,
                        reason,
                        ..
                    } => (file.clone(), location.clone(), reason.clone()),
                    IngestError::Io { file, source } => (
                        file.clone(),
                        String::new(),
                        format!("cannot read: {source}"),
                    ),
                    IngestError::Refused { file, refusal } => (
                        file.clone(),
                        String::new(),
                        format!("submission refused: {refusal}"),
                    ),
                    other => (
                        input.path.display().to_string(),
                        String::new(),
                        other.to_string(),
                    ),
                };
                report.rejected.push(Rejection {
                    file,
                    location,
                    reason,
                });
            }
            Err(e) => {
                if report.submissions.is_empty() {
                    return Err(e);
                }
                return Err(IngestError::Stopped {
                    committed: Box::new(report),
                    error: Box::new(e),
                });
            }
        }
    }
    Ok(report)
}

/// Ingest one file in a known format as one submission.
pub fn ingest_file(
    store: &Store,
    org: &Org,
    path: &Path,
    format: Format,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.on_file(&name, total);
    let ctx = ParseContext {
        name,
        path: Some(path.to_path_buf()),
        opts: opts.clone(),
    };
    pipeline::run(store, org, &ctx, format, file, progress)
}

/// Ingest one stream (stdin, an HTTP body) as one submission. `format` must be known:
/// detect it first with [`detect::sniff`] if needed.
pub fn ingest_reader(
    store: &Store,
    org: &Org,
    name: &str,
    format: Format,
    reader: impl Read + Send,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    if format == Format::MispFeed {
        return Err(IngestError::input(
            name,
            "",
            "a MISP feed is a directory with a manifest.json; give its path instead of a stream",
        ));
    }
    progress.on_file(name, 0);
    let ctx = ParseContext {
        name: name.to_string(),
        path: None,
        opts: opts.clone(),
    };
    pipeline::run(store, org, &ctx, format, reader, progress)
}

/// Ingest STIX objects that arrived without a bundle around them (a TAXII envelope's
/// `objects`) as one submission, reporting each object's outcome in
/// [`IngestReport::objects`] so a TAXII status resource can list successes and failures.
///
/// Without `opts.partial` one bad object refuses them all (every outcome then carries
/// the reason why nothing was stored).
pub fn ingest_stix_objects(
    store: &Store,
    org: &Org,
    name: &str,
    objects: impl Iterator<Item = serde_json::Value>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let ctx = ParseContext {
        name: name.to_string(),
        path: None,
        opts: opts.clone(),
    };
    pipeline::run_objects(store, org, &ctx, objects)
}
