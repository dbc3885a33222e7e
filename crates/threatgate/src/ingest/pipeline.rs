//! The pipeline that turns a parser's events into one submission: policy, writes,
//! rejections, commit or roll back, audit.
//!
//! # Threads and memory
//!
//! [`run`] parses on a helper thread and writes on the calling thread (the store's
//! transaction is not `Send`, the parser's input is). Events travel in batches of
//! [`BATCH_EVENTS`] through a channel holding at most [`CHANNEL_BATCHES`] batches, so a
//! parser that outruns the database waits instead of filling memory: the pipeline holds
//! at most `BATCH_EVENTS * (CHANNEL_BATCHES + 2)` events whatever the input size.
//!
//! # Policy
//!
//! Before the first write, the org must be allowed to submit at all (an agreement that lets
//! it provide, in force at [`IngestOptions::now`]). Each time a STIX type (or, for a claim,
//! the SCO type of its observable) appears for the first time in the file, the policy is
//! asked again with every type seen so far. Meta objects (marking-definitions, language
//! content, extension definitions) only qualify other objects and are not checked against
//! an agreement's scope. A refusal drops the transaction, so the store is unchanged, and
//! the refusal is written to the audit log as `submission.refused`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::{
    Emit, Event, Format, IngestError, IngestOptions, IngestReport, Item, ParseContext, ParseEnd,
    Progress, Rejection, Stop,
};
use crate::model::{Agreement, Org, Time};
use crate::policy;
use crate::store::{AuditEvent, Entry, Store, StoreError, SubmissionMeta, SubmissionWriter};

/// Events per channel message: large enough that channel overhead vanishes, small enough
/// that a stop is noticed quickly.
pub const BATCH_EVENTS: usize = 512;
/// Batches the channel holds before the parser waits for the writer.
pub const CHANNEL_BATCHES: usize = 8;
/// Items written per batch by the store's bulk path: large enough that each statement
/// carries hundreds of rows, small enough to keep memory and a batch's sort cheap.
pub const WRITE_BATCH_ITEMS: usize = 4096;
/// Types that qualify other objects and are not subject to an agreement's scope.
pub const META_TYPES: &[&str] = ::stix::common::META_TYPES;

/// The outcome of one object given to [`super::ingest_stix_objects`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectOutcome {
    /// Position in the input, from 0.
    pub index: usize,
    pub id: Option<String>,
    pub version: Option<String>,
    /// `None` when stored (or already stored); the reason otherwise.
    pub error: Option<String>,
}

/// One submission being written.
pub(crate) struct Sink<'s> {
    store: &'s Store,
    org: &'s Org,
    agreements: Vec<Agreement>,
    at: Time,
    file: String,
    format: Format,
    partial: bool,
    writer: Option<SubmissionWriter<'s>>,
    /// Items waiting to be written as one batch.
    pending: Vec<Item>,
    /// Where the writer's time went (logged at debug level on commit).
    timings: Timings,
    types: BTreeSet<String>,
    pub report: IngestReport,
    objects: u64,
    claims: u64,
    pub(crate) last_reject: Option<String>,
    /// A type out of scope was seen: nothing more is written, but the rest of the input is
    /// read so that the refusal names every type out of scope, not just the first.
    refusing: bool,
    /// Where written batches go to be freed: the parser thread, which allocated them (see
    /// [`Recycler`]). `None`: freed here.
    recycle: Option<mpsc::Sender<Vec<Item>>>,
}

impl<'s> Sink<'s> {
    /// Check the org may submit at all, then open the submission.
    pub fn open(
        store: &'s Store,
        org: &'s Org,
        file: &str,
        format: Format,
        opts: &IngestOptions,
    ) -> Result<Sink<'s>, IngestError> {
        let st = |source| IngestError::Store {
            file: file.to_string(),
            source,
        };
        let agreements = store.agreements(Some(org.id)).map_err(st)?;
        let at = opts.now.unwrap_or_else(Utc::now);
        let agreement_id = match policy::may_submit(org, &agreements, at, &BTreeSet::new()) {
            Ok(a) => a.map(|a| a.id),
            Err(refusal) => {
                return Err(refuse(
                    store,
                    org,
                    file,
                    format,
                    at,
                    refusal,
                    &BTreeSet::new(),
                ))
            }
        };
        let writer = store
            .begin_submission(SubmissionMeta {
                org_id: org.id,
                agreement_id,
                format: format.as_str().to_string(),
                source_name: file.to_string(),
            })
            .map_err(st)?;
        Ok(Sink {
            store,
            org,
            agreements,
            at,
            file: file.to_string(),
            format,
            partial: opts.partial,
            writer: Some(writer),
            pending: Vec::with_capacity(WRITE_BATCH_ITEMS),
            timings: Timings::default(),
            types: BTreeSet::new(),
            report: IngestReport::default(),
            objects: 0,
            claims: 0,
            last_reject: None,
            refusing: false,
            recycle: None,
        })
    }

    fn store_err(&self, source: StoreError) -> IngestError {
        IngestError::Store {
            file: self.file.clone(),
            source,
        }
    }

    /// Ask the policy again when a type is seen for the first time.
    fn need_type(&mut self, t: &str) {
        if self.types.contains(t) || META_TYPES.contains(&t) {
            return;
        }
        self.types.insert(t.to_string());
        if !self.refusing
            && policy::may_submit(self.org, &self.agreements, self.at, &self.types).is_err()
        {
            // Roll back now; the refusal is reported at the end, naming every type.
            self.writer = None;
            self.refusing = true;
        }
    }

    /// The refusal for everything seen, audited (the store is otherwise unchanged).
    fn refusal(&self) -> IngestError {
        match policy::may_submit(self.org, &self.agreements, self.at, &self.types) {
            Err(refusal) => refuse(
                self.store,
                self.org,
                &self.file,
                self.format,
                self.at,
                refusal,
                &self.types,
            ),
            Ok(_) => IngestError::input(
                &self.file,
                "",
                "internal error: a refusal could not be reproduced",
            ),
        }
    }

    pub fn apply(&mut self, e: Event) -> Result<(), IngestError> {
        match e {
            Event::Item(item) => self.item(item),
            Event::Reject { location, reason } => self.reject(location, reason),
        }
    }

    fn reject(&mut self, location: String, reason: String) -> Result<(), IngestError> {
        if self.refusing {
            return Ok(());
        }
        self.last_reject = Some(reason.clone());
        if self.partial {
            self.report.rejected.push(Rejection {
                file: self.file.clone(),
                location,
                reason,
            });
            Ok(())
        } else {
            self.writer = None;
            Err(IngestError::Input {
                file: self.file.clone(),
                location,
                reason,
                partial_hint: true,
            })
        }
    }

    fn item(&mut self, item: Item) -> Result<(), IngestError> {
        if let Some(o) = &item.object {
            self.need_type(&o.stix_type);
        }
        for (obs, _) in &item.claims {
            self.need_type(obs.kind.stix_type());
        }
        if self.refusing {
            return Ok(());
        }
        for (obs, _) in &item.claims {
            self.claims += 1;
            match self.report.by_type.get_mut(obs.kind.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.report.by_type.insert(obs.kind.as_str().to_string(), 1);
                }
            }
        }
        self.pending.push(item);
        if self.pending.len() >= WRITE_BATCH_ITEMS {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the pending items in one batch (see [`SubmissionWriter::add_entries`]).
    fn flush(&mut self) -> Result<(), IngestError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.pending);
        let entries: Vec<Entry<'_>> = items
            .iter()
            .map(|i| Entry {
                object: i.object.as_ref(),
                claims: &i.claims,
            })
            .collect();
        let w = self.writer.as_mut().expect("writer open while applying");
        let started = Instant::now();
        let stored = match w.add_entries(&entries) {
            Ok(s) => s,
            Err(e) => return Err(self.store_err(e)),
        };
        self.timings.writing += started.elapsed();
        for (item, new) in items.iter().zip(stored) {
            if let (Some(o), true) = (&item.object, new) {
                self.objects += 1;
                match self.report.objects_by_type.get_mut(&o.stix_type) {
                    Some(n) => *n += 1,
                    None => {
                        self.report.objects_by_type.insert(o.stix_type.clone(), 1);
                    }
                }
            }
        }
        match &self.recycle {
            Some(to_parser) => {
                // Freed by the thread that allocated them; if it has ended, freed here.
                let _ = to_parser.send(items);
                self.pending = Vec::with_capacity(WRITE_BATCH_ITEMS);
            }
            None => {
                self.pending = items;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Commit, with one audit entry describing the submission.
    pub fn finish(mut self, bytes: u64) -> Result<IngestReport, IngestError> {
        if self.refusing {
            return Err(self.refusal());
        }
        self.flush()?;
        let w = self.writer.take().expect("writer open at finish");
        let detail = json!({
            "file": self.file,
            "format": self.format.as_str(),
            "claims": self.claims,
            "by_type": self.report.by_type,
            "objects_by_type": self.report.objects_by_type,
            "rejected_items": self.report.rejected.iter().take(20).map(|r| r.to_string()).collect::<Vec<_>>(),
        });
        let started = Instant::now();
        let sub = w
            .finish(self.report.rejected.len() as i64, detail)
            .map_err(|e| self.store_err(e))?;
        self.timings.committing = started.elapsed();
        tracing::debug!(
            file = %self.file,
            waiting_for_parser_ms = self.timings.waiting.as_millis() as u64,
            writing_ms = self.timings.writing.as_millis() as u64,
            committing_ms = self.timings.committing.as_millis() as u64,
            "ingest writer timings"
        );
        self.report.files.push(super::FileReport {
            file: self.file.clone(),
            format: self.format,
            submission: Some(sub.id),
            objects: self.objects,
            claims: self.claims,
            rejected: self.report.rejected.len() as u64,
            bytes,
        });
        self.report.submissions.push(sub);
        Ok(self.report)
    }
}

/// Where the writer thread's time goes: waiting for the parser, writing batches, commit.
#[derive(Debug, Default)]
struct Timings {
    waiting: Duration,
    writing: Duration,
    committing: Duration,
}

/// Audit a refusal (the store is otherwise unchanged) and build the error.
fn refuse(
    store: &Store,
    org: &Org,
    file: &str,
    format: Format,
    at: Time,
    refusal: policy::Refusal,
    types: &BTreeSet<String>,
) -> IngestError {
    let ev = AuditEvent::new(
        Some(org.id),
        "submission.refused",
        format!("org:{}", org.id),
        json!({
            "file": file,
            "format": format.as_str(),
            "at": crate::model::stix_time(at),
            "types": types,
            "reason": refusal.to_string(),
        }),
    );
    if let Err(e) = store.audit(ev) {
        return IngestError::Store {
            file: file.to_string(),
            source: e,
        };
    }
    IngestError::Refused {
        file: file.to_string(),
        refusal,
    }
}

/// Counts bytes read and reports them as progress.
pub(crate) struct Counting<'p, R> {
    pub inner: R,
    pub progress: &'p dyn Progress,
    pub bytes: u64,
    pub total: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        self.total
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        self.progress.on_bytes(n as u64);
        Ok(n)
    }
}

/// The parser end of the channel.
struct ChannelEmit {
    tx: mpsc::SyncSender<Vec<Event>>,
    buf: Vec<Event>,
    recycled: Recycler,
}

/// Written batches coming back from the writer to be freed on the parser thread.
///
/// The parser allocates every item (object JSON, claims, strings); freeing them on the
/// writer thread made glibc's allocator hand each chunk back to the parser's arena under
/// its lock, and the parser's own mallocs then spent most of their time consolidating
/// that arena's free lists (about half of the parser thread's CPU in `perf`). Freed
/// where they were allocated, they go back through the parser's thread cache, and the
/// writer — the pipeline's bottleneck — no longer spends time freeing at all.
struct Recycler(mpsc::Receiver<Vec<Item>>);

impl Recycler {
    /// Free every batch the writer has returned so far (never waits).
    fn free_returned(&self) {
        while let Ok(batch) = self.0.try_recv() {
            drop(batch);
        }
    }
}

impl Emit for ChannelEmit {
    fn emit(&mut self, e: Event) -> Result<(), Stop> {
        self.buf.push(e);
        if self.buf.len() >= BATCH_EVENTS {
            self.flush()?;
        }
        Ok(())
    }
}

impl ChannelEmit {
    fn flush(&mut self) -> Result<(), Stop> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_EVENTS));
        self.tx.send(batch).map_err(|_| Stop)?;
        self.recycled.free_returned();
        Ok(())
    }
}

/// Run the parser for `format` over `reader` and write what it finds as one submission.
pub(crate) fn run(
    store: &Store,
    org: &Org,
    ctx: &ParseContext,
    format: Format,
    reader: impl Read + Send,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let mut sink = Sink::open(store, org, &ctx.name, format, &ctx.opts)?;
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = Counting {
        inner: reader,
        progress,
        bytes: 0,
        total: total.clone(),
    };
    let (tx, rx) = mpsc::sync_channel::<Vec<Event>>(CHANNEL_BATCHES);
    // Unbounded, but the parser empties it at each batch it sends (at most a few batches).
    let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<Item>>();
    sink.recycle = Some(recycle_tx);
    let (parse_result, apply_result) = std::thread::scope(|s| {
        let parser = s.spawn(move || {
            let mut emit = ChannelEmit {
                tx,
                buf: Vec::with_capacity(BATCH_EVENTS),
                recycled: Recycler(recycle_rx),
            };
            let r = parse(format, counting, ctx, &mut emit);
            let flushed = emit.flush();
            match (r, flushed) {
                (Ok(()), Err(Stop)) => Err(ParseEnd::Stopped),
                (r, _) => r,
            }
        });
        let mut apply_result = Ok(());
        'outer: loop {
            let started = Instant::now();
            let Ok(batch) = rx.recv() else { break };
            sink.timings.waiting += started.elapsed();
            for e in batch {
                if let Err(err) = sink.apply(e) {
                    apply_result = Err(err);
                    break 'outer;
                }
            }
        }
        // Dropping the receiver makes the parser's next send fail, so it stops.
        drop(rx);
        let parse_result = parser.join().unwrap_or_else(|_| {
            Err(ParseEnd::Fatal {
                location: String::new(),
                reason: "the parser panicked; please report this input".into(),
            })
        });
        (parse_result, apply_result)
    });
    apply_result?;
    let bytes = total.load(std::sync::atomic::Ordering::Relaxed);
    end_of_input(sink, parse_result, bytes)
}

/// Turn the parser's ending into the submission's: commit, or roll back with an error.
fn end_of_input(
    mut sink: Sink<'_>,
    parse_result: Result<(), ParseEnd>,
    bytes: u64,
) -> Result<IngestReport, IngestError> {
    match parse_result {
        Ok(()) => {}
        Err(ParseEnd::Stopped) => {
            return Err(IngestError::input(
                &sink.file,
                "",
                "ingest stopped before the end of the input",
            ))
        }
        Err(ParseEnd::Fatal { location, reason }) => {
            // Nothing after this point can be read; with --partial what came before is kept.
            sink.reject(location, reason)?;
        }
    }
    if bytes == 0 && sink.report.rejected.is_empty() {
        let file = sink.file.clone();
        sink.reject(String::new(), "the file is empty; nothing to ingest".into())?;
        if sink.partial {
            // An empty file is not a submission.
            drop(sink);
            let mut r = IngestReport::default();
            r.rejected.push(Rejection {
                file,
                location: String::new(),
                reason: "the file is empty; nothing to ingest".into(),
            });
            return Ok(r);
        }
    }
    sink.finish(bytes)
}

/// Run the parser for `format` over `reader`, handing what it finds to `out`; no store is
/// touched (the pipeline's parser side, public so that fuzz targets reach every parser).
pub fn parse(
    format: Format,
    reader: impl Read,
    ctx: &ParseContext,
    out: &mut dyn Emit,
) -> Result<(), ParseEnd> {
    let mut reader = std::io::BufReader::new(reader);
    refuse_utf16(&mut reader)?;
    match format {
        Format::Stix => super::stix::parse_bundle(reader, ctx, out),
        Format::Misp => super::misp::parse(reader, ctx, out),
        Format::Csv => super::csv::parse(reader, ctx, out),
        Format::Urlhaus => super::urlhaus::parse(reader, ctx, out),
        Format::Lines => super::lines::parse(reader, ctx, out),
        Format::MispFeed => Err(ParseEnd::Fatal {
            location: String::new(),
            reason: "a MISP feed is a directory; ingest it by path".into(),
        }),
    }
}

/// Every format is read as UTF-8. A UTF-16 file (Windows tools write them) would otherwise
/// fail with a puzzling message about its first bytes; say what it is instead.
fn refuse_utf16(reader: &mut impl std::io::BufRead) -> Result<(), ParseEnd> {
    let head = reader.fill_buf().map_err(|e| ParseEnd::Fatal {
        location: String::new(),
        reason: format!("cannot read: {e}"),
    })?;
    let which = match head {
        [0xFF, 0xFE, ..] => "UTF-16LE",
        [0xFE, 0xFF, ..] => "UTF-16BE",
        _ => return Ok(()),
    };
    Err(ParseEnd::Fatal {
        location: "line 1".into(),
        reason: format!(
            "the file is {which} (it starts with that byte-order mark), but input must be UTF-8; convert it first (iconv -f UTF-16 -t UTF-8)"
        ),
    })
}

/// Applies events directly (no thread), remembering whether the current object failed.
struct Direct<'a, 's> {
    sink: &'a mut Sink<'s>,
    error: Option<IngestError>,
    object_failed: Option<String>,
}

impl Emit for Direct<'_, '_> {
    fn emit(&mut self, e: Event) -> Result<(), Stop> {
        if let Event::Reject { reason, .. } = &e {
            self.object_failed = Some(reason.clone());
        }
        match self.sink.apply(e) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.error = Some(err);
                Err(Stop)
            }
        }
    }
}

/// [`super::ingest_stix_objects`]: objects without a bundle, one outcome per object.
pub(crate) fn run_objects(
    store: &Store,
    org: &Org,
    ctx: &ParseContext,
    objects: impl Iterator<Item = serde_json::Value>,
) -> Result<IngestReport, IngestError> {
    let mut sink = Sink::open(store, org, &ctx.name, Format::Stix, &ctx.opts)?;
    let mut state = super::stix::BundleState::new(ctx);
    let mut outcomes = vec![];
    let mut direct = Direct {
        sink: &mut sink,
        error: None,
        object_failed: None,
    };
    for (index, value) in objects.enumerate() {
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let version = value
            .get("modified")
            .or_else(|| value.get("created"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        direct.object_failed = None;
        let r = state.value(index, value, &mut direct);
        if let Some(err) = direct.error.take() {
            return Err(err);
        }
        if r.is_err() {
            break;
        }
        outcomes.push(super::ObjectOutcome {
            index,
            id,
            version,
            error: direct.object_failed.take(),
        });
    }
    if state.finish(&mut direct).is_err() {
        if let Some(err) = direct.error.take() {
            return Err(err);
        }
    }
    let mut report = sink.finish(0)?;
    report.objects = outcomes;
    Ok(report)
}

/// Per-kind counts, merged from a report (helper for callers summarising several runs).
pub fn merge_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}
