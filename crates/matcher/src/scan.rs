//! The scanner: read input in large blocks split on line boundaries, match blocks on all
//! cores, hand hits to the sink in input order.
//!
//! Pipeline (one scoped thread each, the caller's thread is the consumer):
//!
//! ```text
//! reader ──blocks──► workers (N) ──results──► consumer (caller): reorder, number lines, sink
//!    ▲                                              │
//!    └──────────── buffer / token pool ◄────────────┘
//! ```
//!
//! A fixed pool of [`IN_FLIGHT_PER_THREAD`]` × threads + 1` buffers bounds memory: the reader
//! takes a buffer (or, for memory-mapped files, a token) per block and the consumer returns it
//! only after the block's hits were emitted, so a slow block never lets results pile up.
//! Workers number lines relative to their block; the consumer adds the running line count,
//! which is why line numbers stay exact without a counting pre-pass.
//!
//! Input: regular files are memory-mapped (no copy), everything else — stdin, pipes,
//! gzip (detected by its magic bytes, any file name) — is streamed.
//!
//! Awkward input is handled by named policies, and the run always goes on:
//! - [`BinaryPolicy`]: a NUL byte in the first block means a binary file: skipped whole, with
//!   reason [`SkipReason::Binary`] (default), or scanned anyway;
//! - overlong lines (more than `max_line_len`, default [`DEFAULT_MAX_LINE_LEN`]) are skipped
//!   with [`SkipReason::LineTooLong`]; a streamed overlong line is discarded as it is read, so
//!   a 100 MB line costs at most `max_line_len` of memory;
//! - a line its format cannot parse is skipped with that format's reason.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::byteclass::{self, Classifier};
use crate::extract::LineCtx;
use crate::formats::{json, parse_line, FormatState, LogFormat, ParserScratch};
use crate::prefilter::{Columns, LineScan, Segment, SEGMENT_LEN};
use crate::set::{Handle, IndicatorSet};
use crate::{Event, Hit, ScanError, SkipReason, Summary};

/// A line's bytes without the `\r` of a CRLF ending. The one place of that rule: the
/// segment prefilter ([`IndicatorSet::segment_scan_lines`]) and the full path must cut the
/// same bytes, or a line's prefilter answer would be about another line than the one parsed.
#[inline]
pub(crate) fn without_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

/// Lines longer than this are skipped (the issue's default: 1 MiB).
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;
/// Bytes per block handed to a worker. Large enough to amortise the hand-off, small enough
/// that two cores get work early on small files.
pub const DEFAULT_BLOCK_SIZE: usize = 4 << 20;
/// Smallest block size accepted (tests use small blocks to force many of them).
pub const MIN_BLOCK_SIZE: usize = 64;
/// Buffers in flight per worker thread (bounds memory to about
/// `(IN_FLIGHT_PER_THREAD × threads + 1) × (block_size + max_line_len)`).
pub const IN_FLIGHT_PER_THREAD: usize = 2;
/// The prefilter's separator for formats without columns: a newline never sits inside a line.
const NO_SEP: u8 = b'\n';
/// Bytes read per `read` call when streaming.
const READ_CHUNK: usize = 1 << 20;

/// What to do with a file whose first block contains a NUL byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryPolicy {
    /// Skip the whole file; the summary lists it with [`SkipReason::Binary`]. (Default.)
    #[default]
    SkipFile,
    /// Scan it like text (tokens between NULs are still found).
    Scan,
}

/// Which lines produce an [`Event`] (every observation of the line, for the STIX pattern
/// engine) besides their hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventMode {
    /// No events. (Default.)
    #[default]
    Off,
    /// Lines that hit an indicator marked with `IndicatorSetBuilder::mark_complex`.
    Complex,
    /// Every line with at least one hit.
    AllHits,
}

/// Receives hits (and events) in input order, on the caller's thread.
pub trait Sink {
    fn hit(&mut self, hit: &Hit);
    fn event(&mut self, _event: &Event) {}
}

impl<F: FnMut(&Hit)> Sink for F {
    fn hit(&mut self, hit: &Hit) {
        self(hit)
    }
}

/// Configuration of a [`Scanner`]; see the setters for defaults.
#[derive(Debug, Clone)]
pub struct ScannerBuilder {
    format: Option<LogFormat>,
    threads: usize,
    max_line_len: usize,
    block_size: usize,
    binary: BinaryPolicy,
    events: EventMode,
    fields: Option<Vec<String>>,
    time_fields: Vec<String>,
    prefilter: bool,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        ScannerBuilder {
            format: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_line_len: DEFAULT_MAX_LINE_LEN,
            block_size: DEFAULT_BLOCK_SIZE,
            binary: BinaryPolicy::SkipFile,
            events: EventMode::Off,
            fields: None,
            time_fields: Vec::new(),
            prefilter: true,
        }
    }
}

impl ScannerBuilder {
    /// Fix the log format. Default: detected per input from its first block.
    pub fn format(mut self, f: LogFormat) -> Self {
        self.format = Some(f);
        self
    }
    /// Worker threads (default: all cores; at least 1).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }
    /// Longest line scanned; longer lines are skipped (default [`DEFAULT_MAX_LINE_LEN`]).
    pub fn max_line_len(mut self, n: usize) -> Self {
        self.max_line_len = n.max(1);
        self
    }
    /// Block size (default [`DEFAULT_BLOCK_SIZE`], at least [`MIN_BLOCK_SIZE`]).
    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n.max(MIN_BLOCK_SIZE);
        self
    }
    pub fn binary(mut self, p: BinaryPolicy) -> Self {
        self.binary = p;
        self
    }
    pub fn events(mut self, m: EventMode) -> Self {
        self.events = m;
        self
    }
    /// Only match these fields (JSON dotted paths, Zeek / CSV column names, key=value keys).
    /// Default: every field. Free text always uses its single field `text`.
    pub fn fields<I: IntoIterator<Item = S>, S: Into<String>>(mut self, f: I) -> Self {
        self.fields = Some(f.into_iter().map(Into::into).collect());
        self
    }
    /// Field names holding the line's timestamp (default [`crate::DEFAULT_TIME_FIELDS`]).
    pub fn time_fields<I: IntoIterator<Item = S>, S: Into<String>>(mut self, f: I) -> Self {
        self.time_fields = f.into_iter().map(Into::into).collect();
        self
    }
    /// Skip lines the prefilter proves hit-free without parsing them (default: on). Results
    /// are the same either way; off is for tests and measurements.
    #[doc(hidden)]
    pub fn prefilter(mut self, on: bool) -> Self {
        self.prefilter = on;
        self
    }
    pub fn build(self) -> Scanner {
        Scanner { cfg: self }
    }
}

/// A configured scanner. Cheap to clone; scans many inputs against any [`IndicatorSet`].
#[derive(Debug, Clone)]
pub struct Scanner {
    cfg: ScannerBuilder,
}

/// What a worker needs to know about a block.
struct Job<'a> {
    seq: u64,
    kind: JobKind<'a>,
}

enum JobKind<'a> {
    Block {
        data: &'a [u8],
        state: FormatState,
        /// The first block of the input (CSV: its first line is the header).
        first: bool,
        buf: Option<Vec<u8>>,
    },
    Owned {
        buf: Vec<u8>,
        state: FormatState,
        first: bool,
    },
    /// A line the reader already dropped (too long), kept in sequence for line numbering.
    Skipped {
        bytes: u64,
        reason: SkipReason,
        buf: Vec<u8>,
    },
}

/// A worker's result for one block; line numbers in `hits` / `events` are block-relative.
#[derive(Default)]
struct BlockResult {
    lines: u64,
    bytes: u64,
    hits: Vec<Hit>,
    events: Vec<Event>,
    skipped: Vec<(SkipReason, u64)>,
    buf: Option<Vec<u8>>,
}

impl BlockResult {
    fn skip(&mut self, r: SkipReason) {
        match self.skipped.iter_mut().find(|(x, _)| *x == r) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((r, 1)),
        }
    }
}

/// The reader's side of the pipeline.
struct Feeder<'a> {
    pool: Receiver<Vec<u8>>,
    work: SyncSender<Job<'a>>,
    seq: u64,
}

impl<'a> Feeder<'a> {
    fn take(&mut self) -> Vec<u8> {
        // The consumer holds the other end for the whole scan; a closed pool means the
        // consumer is gone, and an empty buffer makes the reader stop at its next send.
        self.pool.recv().unwrap_or_default()
    }
    fn send(&mut self, kind: JobKind<'a>) -> bool {
        let seq = self.seq;
        self.seq += 1;
        self.work.send(Job { seq, kind }).is_ok()
    }
}

/// How the reader ended.
#[derive(Default)]
struct ReadEnd {
    binary: bool,
    format: Option<LogFormat>,
}

impl Scanner {
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// Scan a file (memory-mapped; gzip streamed). `path` `-` means stdin.
    pub fn scan_path(
        &self,
        path: &Path,
        set: &IndicatorSet,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ScanError> {
        let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        if path.as_os_str() == "-" {
            return self.scan_reader(std::io::stdin(), "-", set, sink);
        }
        let io = |e| ScanError::Io {
            file: name.to_string(),
            source: e,
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let mut magic = [0u8; 2];
        let is_gzip = meta.is_file() && meta.len() >= 2 && {
            file.read_exact(&mut magic).map_err(io)?;
            magic == [0x1f, 0x8b]
        };
        if !is_gzip && meta.is_file() && meta.len() > 0 {
            // SAFETY: the map is read-only and dropped before returning. Like ripgrep, we
            // accept that a file truncated while it is being scanned may raise SIGBUS; logs
            // are appended to, not truncated, while being matched.
            if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                #[cfg(unix)]
                let _ = map.advise(memmap2::Advice::Sequential);
                return self.scan_bytes_named(&map, name, set, sink);
            }
        }
        let file = File::open(path).map_err(io)?;
        self.scan_stream(Box::new(file), name, set, sink)
    }

    /// Scan a stream (stdin, a socket, a decompressor). gzip is detected and decompressed.
    pub fn scan_reader<R: Read + Send>(
        &self,
        reader: R,
        name: &str,
        set: &IndicatorSet,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ScanError> {
        self.scan_stream(Box::new(reader), Arc::from(name), set, sink)
    }

    /// Scan bytes already in memory.
    pub fn scan_bytes(
        &self,
        data: &[u8],
        name: &str,
        set: &IndicatorSet,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ScanError> {
        self.scan_bytes_named(data, Arc::from(name), set, sink)
    }

    fn scan_stream<'r>(
        &self,
        reader: Box<dyn Read + Send + 'r>,
        name: Arc<str>,
        set: &IndicatorSet,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ScanError> {
        let mut br = BufReader::with_capacity(64 << 10, reader);
        let head = br.fill_buf().map_err(|e| ScanError::Io {
            file: name.to_string(),
            source: e,
        })?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read + Send + 'r> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(br))
        } else {
            Box::new(br)
        };
        let cfg = self.cfg.clone();
        let file = name.clone();
        self.pipeline(set, name, sink, move |feeder| {
            read_stream(&cfg, reader, &file, feeder)
        })
    }

    fn scan_bytes_named(
        &self,
        data: &[u8],
        name: Arc<str>,
        set: &IndicatorSet,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ScanError> {
        let cfg = self.cfg.clone();
        self.pipeline(set, name, sink, move |feeder| {
            Ok(read_slice(&cfg, data, feeder))
        })
    }

    /// Run reader, workers and the ordered consumer.
    fn pipeline<'a, F>(
        &self,
        set: &IndicatorSet,
        name: Arc<str>,
        sink: &mut dyn Sink,
        read: F,
    ) -> Result<Summary, ScanError>
    where
        F: FnOnce(&mut Feeder<'a>) -> Result<ReadEnd, ScanError> + Send + 'a,
    {
        let started = std::time::Instant::now();
        let threads = self.cfg.threads;
        let slots = IN_FLIGHT_PER_THREAD * threads + 1;
        let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(slots);
        for _ in 0..slots {
            pool_tx.send(Vec::new()).expect("pool has room");
        }
        let (work_tx, work_rx) = sync_channel::<Job<'a>>(slots);
        let (res_tx, res_rx) = sync_channel::<(u64, BlockResult)>(slots);
        // Workers own the receiver: if the consumer stops early (a panicking sink), workers
        // exit on their failed send, the receiver drops, and the reader's send fails too,
        // so the scope can always join.
        let work_rx = Arc::new(Mutex::new(work_rx));
        let mut summary = Summary {
            files: 1,
            ..Summary::default()
        };

        let read_end = std::thread::scope(|s| {
            let reader = s.spawn(move || {
                let mut feeder = Feeder {
                    pool: pool_rx,
                    work: work_tx,
                    seq: 0,
                };
                read(&mut feeder)
            });
            for _ in 0..threads {
                let res_tx = res_tx.clone();
                let work_rx = Arc::clone(&work_rx);
                let cfg = &self.cfg;
                let name = name.clone();
                s.spawn(move || {
                    let mut w = Worker::new(cfg, set, name);
                    loop {
                        let job = {
                            let rx = work_rx.lock().unwrap_or_else(|p| p.into_inner());
                            rx.recv()
                        };
                        let Ok(job) = job else { break };
                        let r = w.run(job.kind);
                        if res_tx.send((job.seq, r)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(res_tx);
            drop(work_rx);
            // Consumer: emit in sequence order.
            let mut pending: BTreeMap<u64, BlockResult> = BTreeMap::new();
            let mut next = 0u64;
            for (seq, r) in res_rx {
                pending.insert(seq, r);
                while let Some(mut r) = pending.remove(&next) {
                    next += 1;
                    emit(&mut summary, &mut r, sink);
                    let _ = pool_tx.send(r.buf.take().unwrap_or_default());
                }
            }
            drop(pool_tx);
            reader
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;
        if read_end.binary {
            summary.skipped_files.push(crate::SkippedFile {
                file: name.to_string(),
                reason: SkipReason::Binary,
            });
            summary.files = 0;
        }
        summary.format = read_end.format;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}

/// Number a block's results and hand them to the sink; aggregate sightings.
fn emit(summary: &mut Summary, r: &mut BlockResult, sink: &mut dyn Sink) {
    let base = summary.lines;
    for h in r.hits.iter_mut() {
        h.line += base;
        sink.hit(h);
        summary.hits += 1;
        for &handle in &h.handles {
            summary.sightings.entry(handle).or_default().add(h.time);
        }
    }
    for e in r.events.iter_mut() {
        e.line += base;
        sink.event(e);
        summary.events += 1;
    }
    summary.lines += r.lines;
    summary.bytes += r.bytes;
    for &(reason, n) in &r.skipped {
        *summary.skipped_lines.entry(reason).or_insert(0) += n;
    }
}

/// Split an in-memory input into blocks ending on newlines.
fn read_slice<'a>(cfg: &ScannerBuilder, data: &'a [u8], feeder: &mut Feeder<'a>) -> ReadEnd {
    let mut end = ReadEnd::default();
    if data.is_empty() {
        return end;
    }
    let first_len = data.len().min(cfg.block_size);
    if cfg.binary == BinaryPolicy::SkipFile && memchr::memchr(0, &data[..first_len]).is_some() {
        end.binary = true;
        return end;
    }
    let format = cfg
        .format
        .unwrap_or_else(|| LogFormat::detect(&data[..first_len]));
    end.format = Some(format);
    let mut state = FormatState::initial(format, &data[..first_len]);
    let mut start = 0;
    let mut first = true;
    while start < data.len() {
        let target = (start + cfg.block_size).min(data.len());
        let stop = if target == data.len() {
            data.len()
        } else {
            memchr::memchr(b'\n', &data[target..]).map_or(data.len(), |k| target + k + 1)
        };
        let block = &data[start..stop];
        let token = feeder.take();
        let next_state = state.after(block);
        if !feeder.send(JobKind::Block {
            data: block,
            state,
            first,
            buf: Some(token),
        }) {
            break;
        }
        state = next_state;
        first = false;
        start = stop;
    }
    end
}

/// Stream blocks from a reader; overlong lines are dropped while reading (see module docs).
fn read_stream(
    cfg: &ScannerBuilder,
    mut reader: Box<dyn Read + Send + '_>,
    file: &str,
    feeder: &mut Feeder<'_>,
) -> Result<ReadEnd, ScanError> {
    let io = |e| ScanError::Io {
        file: file.to_string(),
        source: e,
    };
    let mut end = ReadEnd::default();
    let mut carry: Vec<u8> = Vec::new();
    let mut state: Option<FormatState> = None;
    let mut first = true;
    let mut eof = false;
    while !eof {
        let mut buf = feeder.take();
        buf.clear();
        buf.append(&mut carry);
        // Fill to block_size, or until a newline appears past max_line_len (overlong line).
        loop {
            if buf.len() >= cfg.block_size && memchr::memrchr(b'\n', &buf).is_some() {
                break;
            }
            if buf.len() > cfg.max_line_len && memchr::memrchr(b'\n', &buf).is_none() {
                break;
            }
            let n = read_more(&mut reader, &mut buf).map_err(io)?;
            if n == 0 {
                eof = true;
                break;
            }
        }
        if buf.is_empty() {
            break;
        }
        if state.is_none() {
            let sniff = &buf[..buf.len().min(cfg.block_size)];
            if cfg.binary == BinaryPolicy::SkipFile && memchr::memchr(0, sniff).is_some() {
                end.binary = true;
                return Ok(end);
            }
            let f = cfg.format.unwrap_or_else(|| LogFormat::detect(sniff));
            end.format = Some(f);
            state = Some(FormatState::initial(f, sniff));
        }
        match memchr::memrchr(b'\n', &buf) {
            None if !eof => {
                // One line longer than max_line_len and still going: drop it as we read.
                let mut dropped = buf.len() as u64;
                let rest = discard_line(&mut reader, &mut buf, &mut dropped).map_err(io)?;
                match rest {
                    Some(r) => carry = r,
                    None => eof = true,
                }
                buf.clear();
                // The buffer travels back through the pool with the skip result.
                if !feeder.send(JobKind::Skipped {
                    bytes: dropped,
                    reason: SkipReason::LineTooLong,
                    buf,
                }) {
                    break;
                }
                continue;
            }
            Some(k) if !eof => carry.extend_from_slice(&buf[k + 1..]),
            _ => {}
        }
        if let Some(k) = memchr::memrchr(b'\n', &buf) {
            if !eof {
                buf.truncate(k + 1);
            }
        }
        let st = state.take().expect("set above");
        state = Some(st.after(&buf));
        if !feeder.send(JobKind::Owned {
            buf,
            state: st,
            first,
        }) {
            break;
        }
        first = false;
    }
    Ok(end)
}

fn read_more(r: &mut dyn Read, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let old = buf.len();
    buf.resize(old + READ_CHUNK, 0);
    loop {
        match r.read(&mut buf[old..]) {
            Ok(n) => {
                buf.truncate(old + n);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        }
    }
}

/// Read and drop bytes up to and including the next newline. Returns what followed it
/// (`None` at end of input). `scratch` is reused as the read buffer.
fn discard_line(
    r: &mut dyn Read,
    scratch: &mut Vec<u8>,
    dropped: &mut u64,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        scratch.clear();
        let n = read_more(r, scratch)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(k) = memchr::memchr(b'\n', scratch) {
            *dropped += k as u64 + 1;
            return Ok(Some(scratch[k + 1..].to_vec()));
        }
        *dropped += n as u64;
    }
}

/// Per-thread state: the line context, parser scratch, the prefilter's segment masks.
struct Worker<'s> {
    cfg: &'s ScannerBuilder,
    set: &'s IndicatorSet,
    file: Arc<str>,
    ctx: LineCtx<'s>,
    scratch: ParserScratch,
    /// Masks of the segment being scanned (`None` while a segment is in use).
    segment: Option<Box<Segment>>,
    /// The AVX2 block classifier, when the CPU has it: blocks are then scanned a segment of
    /// lines at a time; otherwise line by line with the scalar prefilter pass.
    classify: Option<Classifier>,
}

/// A line inside a loaded segment: the prefilter's answer for it, made with the segment's
/// separator and column.
#[derive(Clone, Copy)]
struct InSegment<'a> {
    seg: &'a Segment,
    scan: LineScan,
    /// Where the line starts in the segment.
    start: usize,
}

impl<'s> Worker<'s> {
    fn new(cfg: &'s ScannerBuilder, set: &'s IndicatorSet, file: Arc<str>) -> Self {
        Worker {
            cfg,
            set,
            file,
            ctx: LineCtx::new(set, cfg.fields.as_deref(), &cfg.time_fields),
            scratch: ParserScratch::default(),
            segment: Some(Segment::new()),
            classify: byteclass::avx2_classifier(),
        }
    }

    fn run(&mut self, kind: JobKind<'_>) -> BlockResult {
        match kind {
            JobKind::Block {
                data,
                state,
                first,
                buf,
            } => {
                let mut r = self.block(data, &state, first);
                r.buf = buf;
                r
            }
            JobKind::Owned { buf, state, first } => {
                let mut r = self.block(&buf, &state, first);
                r.buf = Some(buf);
                r
            }
            JobKind::Skipped { bytes, reason, buf } => {
                let mut r = BlockResult {
                    lines: 1,
                    bytes,
                    buf: Some(buf),
                    ..BlockResult::default()
                };
                r.skip(reason);
                r
            }
        }
    }

    fn block(&mut self, data: &[u8], state: &FormatState, first: bool) -> BlockResult {
        let mut r = BlockResult {
            bytes: data.len() as u64,
            ..BlockResult::default()
        };
        self.scratch.zeek_override = None;
        let prefiltered = matches!(
            state,
            FormatState::Json | FormatState::Text | FormatState::Zeek(_)
        );
        r.lines = match (self.classify, self.segment.take()) {
            (Some(classify), Some(mut seg)) if self.cfg.prefilter && prefiltered => {
                let n = self.lines_by_segment(data, state, classify, &mut seg, &mut r);
                self.segment = Some(seg);
                n
            }
            (_, seg) => {
                self.segment = seg;
                let skip_header = first && matches!(state, FormatState::Csv(_));
                self.lines_one_by_one(data, state, skip_header, &mut r)
            }
        };
        r
    }

    /// Every line of `data`, each found with `memchr`. Returns the number of lines.
    fn lines_one_by_one(
        &mut self,
        data: &[u8],
        state: &FormatState,
        skip_header: bool,
        r: &mut BlockResult,
    ) -> u64 {
        let mut start = 0;
        let mut line_no = 0u64;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |k| start + k);
            let line = &data[start..end];
            start = end + 1;
            line_no += 1;
            if line_no == 1 && skip_header {
                continue;
            }
            self.line(line, line_no, state, r, None);
        }
        line_no
    }

    /// Every line of `data`, a segment of lines at a time: the segment is classified once
    /// and its newline bits give the lines (see `prefilter::segment`). Returns the number of
    /// lines.
    fn lines_by_segment(
        &mut self,
        data: &[u8],
        state: &FormatState,
        classify: Classifier,
        seg: &mut Segment,
        r: &mut BlockResult,
    ) -> u64 {
        let mut start = 0;
        let mut line_no = 0u64;
        while start < data.len() {
            let window_end = (start + SEGMENT_LEN).min(data.len());
            let at_end = window_end == data.len();
            let sep = self.zeek_separator(state).unwrap_or(NO_SEP);
            let cut = seg.load(&data[start..window_end], sep, at_end, classify);
            if cut == 0 {
                // A line longer than a segment, on its own.
                let end = memchr::memchr(b'\n', &data[window_end..])
                    .map_or(data.len(), |k| window_end + k);
                line_no += 1;
                self.line(&data[start..end], line_no, state, r, None);
                start = end + 1;
                continue;
            }
            let bytes = &data[start..start + cut];
            self.set
                .segment_scan_lines(seg, bytes, self.zeek_columns(state));
            let json = matches!(state, FormatState::Json);
            if json {
                seg.load_json(&data[start..window_end]);
            }
            if json || matches!(state, FormatState::Text) {
                // `Worker::line` and `hit_free` for these formats, with what the segment
                // settles once: its answers were made for their separator and columns.
                for (i, (ls, le)) in seg.lines().enumerate() {
                    line_no += 1;
                    let line = &bytes[ls..le];
                    if line.len() > self.cfg.max_line_len {
                        r.skip(SkipReason::LineTooLong);
                        continue;
                    }
                    let line = without_cr(line);
                    if !seg.scan(i).maybe {
                        if json && !seg.json_accepts(line, ls) {
                            r.skip(SkipReason::MalformedJson);
                        }
                        continue;
                    }
                    self.full_path(line, line_no, state, r);
                }
                start += cut;
                continue;
            }
            for (i, (ls, le)) in seg.lines().enumerate() {
                line_no += 1;
                let at = InSegment {
                    seg,
                    scan: seg.scan(i),
                    start: ls,
                };
                self.line(&bytes[ls..le], line_no, state, r, Some(at));
            }
            start += cut;
        }
        line_no
    }

    /// The Zeek header in force: one met inside this block, else the block's own.
    fn zeek_header<'a>(
        &'a self,
        state: &'a FormatState,
    ) -> Option<&'a crate::formats::zeek::ZeekHeader> {
        let FormatState::Zeek(block_header) = state else {
            return None;
        };
        Some(
            self.scratch
                .zeek_override
                .as_deref()
                .unwrap_or(block_header),
        )
    }

    /// The separator of the Zeek header in force, if the prefilter can use it.
    fn zeek_separator(&self, state: &FormatState) -> Option<u8> {
        let h = self.zeek_header(state)?;
        (!h.names.is_empty() && crate::prefilter::usable_separator(h.sep)).then_some(h.sep)
    }

    /// Zeek http.log: the `host` column, which makes a URL with `uri`.
    fn zeek_host_column(&self, state: &FormatState) -> Option<usize> {
        let h = self.zeek_header(state)?;
        h.uri_idx.and(h.host_idx)
    }

    /// The Zeek columns the segment prefilter needs: the `host` column, the unmatched ones.
    fn zeek_columns(&self, state: &FormatState) -> Columns {
        Columns {
            host: self.zeek_host_column(state),
            skip: self.zeek_header(state).map_or(0, |h| h.skip_mask),
        }
    }

    /// The prefilter's answer for `line`: the segment's, when it was made for this separator
    /// and these columns (a Zeek header inside the segment may have changed them). The line
    /// pass walks every column (a superset of the segment's answer: still exact for the full
    /// path, which skips what `columns.skip` names).
    fn prefilter_scan(
        &self,
        line: &[u8],
        sep: u8,
        columns: Columns,
        at: Option<InSegment<'_>>,
    ) -> LineScan {
        match at {
            Some(a) if a.seg.sep() == sep && a.seg.columns() == columns => a.scan,
            _ => self.set.prefilter_line(line, sep, columns.host),
        }
    }

    /// True if the prefilter proves `line` hit-free and its format's validity is settled
    /// (a malformed line is counted here); false sends it down the full path.
    fn hit_free(
        &mut self,
        line: &[u8],
        state: &FormatState,
        r: &mut BlockResult,
        at: Option<InSegment<'_>>,
    ) -> bool {
        match state {
            FormatState::Json => {
                if self
                    .prefilter_scan(line, NO_SEP, Columns::default(), at)
                    .maybe
                {
                    return false;
                }
                // A line the prefilter passed has no backslash, so the segment's quote bits
                // are its string bounds, and its masks settle its validity.
                let valid = match at {
                    Some(a) => Some(a.seg.json_accepts(line, a.start)),
                    None => json::accepts(line),
                };
                match valid {
                    Some(true) => true,
                    Some(false) => {
                        r.skip(SkipReason::MalformedJson);
                        true
                    }
                    None => false,
                }
            }
            FormatState::Text => {
                !self
                    .prefilter_scan(line, NO_SEP, Columns::default(), at)
                    .maybe
            }
            FormatState::Zeek(_) => {
                if matches!(line.first(), None | Some(b'#')) {
                    return false;
                }
                let Some(sep) = self.zeek_separator(state) else {
                    return false;
                };
                let Some(h) = self.zeek_header(state) else {
                    return false;
                };
                let scan = self.prefilter_scan(line, sep, self.zeek_columns(state), at);
                if scan.maybe || scan.seps + 1 != h.names.len() {
                    return false;
                }
                match scan.column {
                    Some((a, b)) => {
                        let v = &line[a..b];
                        v.is_empty()
                            || v == h.unset.as_slice()
                            || v == h.empty.as_slice()
                            // A plain name was walked by the pass as a run (the column is
                            // matched), with the very probe the URL-host check would make.
                            || (h.host_idx.is_some_and(|c| !h.skips(c))
                                && IndicatorSet::host_is_plain_name(v))
                            || !self.set.url_host_may_hit(v)
                    }
                    None => true,
                }
            }
            // CSV, key=value and CEF lines always take the full path.
            _ => false,
        }
    }

    /// One line (without its newline): the length limit, `\r`, the prefilter, the full path.
    fn line(
        &mut self,
        line: &[u8],
        line_no: u64,
        state: &FormatState,
        r: &mut BlockResult,
        at: Option<InSegment<'_>>,
    ) {
        if line.len() > self.cfg.max_line_len {
            r.skip(SkipReason::LineTooLong);
            return;
        }
        let line = without_cr(line);
        if self.cfg.prefilter && self.hit_free(line, state, r, at) {
            return;
        }
        self.full_path(line, line_no, state, r);
    }

    /// Parse and match a line; emit its hits (and its event).
    fn full_path(&mut self, line: &[u8], line_no: u64, state: &FormatState, r: &mut BlockResult) {
        self.ctx.reset();
        match parse_line(state, &mut self.scratch, line, &mut self.ctx) {
            Ok(_) => {}
            Err(reason) => {
                r.skip(reason);
                return;
            }
        }
        if self.ctx.hits.is_empty() {
            return;
        }
        let time = self.line_time(state, line);
        let mut complex = false;
        for h in self.ctx.hits.drain(..) {
            let handles: Vec<Handle> = self.set.handles(h.handles).to_vec();
            complex |= self.cfg.events == EventMode::AllHits
                || (self.cfg.events == EventMode::Complex && self.set.is_complex(&handles));
            r.hits.push(Hit {
                file: self.file.clone(),
                line: line_no,
                field: h.field,
                kind: h.kind,
                value: h.value,
                rule: h.rule,
                indicator: self.set.indicator_text(h.indicator),
                handles,
                time,
            });
        }
        if complex {
            // Second pass collecting every observation of the line.
            let mut handles: Vec<Handle> = Vec::new();
            for h in r.hits.iter().rev().take_while(|h| h.line == line_no) {
                handles.extend_from_slice(&h.handles);
            }
            handles.sort_unstable();
            handles.dedup();
            self.ctx.reset();
            self.ctx.observations = Some(Vec::new());
            let _ = parse_line(state, &mut self.scratch, line, &mut self.ctx);
            let fields = self.ctx.observations.take().unwrap_or_default();
            self.ctx.hits.clear();
            r.events.push(Event {
                file: self.file.clone(),
                line: line_no,
                time,
                fields,
                handles,
            });
        }
    }

    fn line_time(&self, state: &FormatState, line: &[u8]) -> Option<DateTime<Utc>> {
        if !self.ctx.time_set {
            return match state {
                FormatState::KeyValue | FormatState::Cef => {
                    crate::time::parse_line_prefix_time(line)
                }
                _ => None,
            };
        }
        match state {
            FormatState::Text => crate::time::parse_line_prefix_time(&self.ctx.time_raw),
            _ => crate::time::parse_time(&self.ctx.time_raw).or_else(|| {
                if matches!(state, FormatState::KeyValue | FormatState::Cef) {
                    crate::time::parse_line_prefix_time(line)
                } else {
                    None
                }
            }),
        }
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
