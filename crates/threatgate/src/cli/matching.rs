//! `threatgate match --as ORG [--indicators FROM] LOG...|-`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use matcher::{BinaryPolicy, EventMode, LogFormat, Scanner};

use super::{open_store, org_named, Cli};
use crate::matching::{self, HitWriter, Indicators};
use crate::store::AuditEvent;

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Log files (gzip is read directly); `-` reads standard input.
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// The member whose indicators to use; the policy decides which.
    #[arg(long = "as")]
    pub as_org: String,
    /// `store` (default), a STIX bundle file, or a TAXII 2.1 collection URL.
    #[arg(long, default_value = "store")]
    pub indicators: String,
    /// Token for a TAXII collection URL or for --report-to.
    #[arg(long, env = "THREATGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Log format: auto, json, zeek, cef, kv, csv or text.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// JSON field paths to read (JSON lines), comma-separated; default: every field.
    #[arg(long, value_delimiter = ',')]
    pub fields: Option<Vec<String>>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Post STIX sightings of what matched to the hub at this base URL (`/api/v1/sightings`,
    /// authenticated with --token).
    #[arg(long)]
    pub report_to: Option<String>,
    /// Where the logs come from, for the sightings (e.g. a sensor name).
    #[arg(long, default_value = "sensor")]
    pub sensor: String,
    /// A file whose first block holds a NUL byte: `skip` it whole, listed in the summary
    /// as binary (like grep), or `scan` it as text, e.g. a log with one corrupt line.
    #[arg(long, value_enum, default_value_t = Binary::Skip)]
    pub binary: Binary,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Skip,
    Scan,
}

fn parse_format(s: &str) -> Result<Option<LogFormat>> {
    Ok(Some(match s {
        "auto" => return Ok(None),
        "json" | "jsonl" | "json-lines" => LogFormat::JsonLines,
        "zeek" => LogFormat::Zeek,
        "cef" => LogFormat::Cef,
        "kv" | "syslog" | "key-value" => LogFormat::KeyValue,
        "csv" => LogFormat::Csv,
        "text" | "plain" => LogFormat::Text,
        other => {
            bail!("unknown log format {other:?}; expected auto, json, zeek, cef, kv, csv or text")
        }
    }))
}

pub fn run(cli: &Cli, a: &MatchArgs) -> Result<ExitCode> {
    // A mistyped log path fails before the indicator set is built (seconds at a million).
    for log in a.logs.iter().filter(|l| l.as_os_str() != "-") {
        std::fs::metadata(log).with_context(|| format!("log {}", log.display()))?;
    }
    let store = open_store(cli)?;
    let org = org_named(&store, &a.as_org)?;
    let started = std::time::Instant::now();
    let indicators: Indicators = if a.indicators == "store" {
        matching::from_store(&store, &org)?
    } else if a.indicators.starts_with("http://") || a.indicators.starts_with("https://") {
        let objects = crate::sync::fetch_collection_objects(&a.indicators, a.token.as_deref())
            .with_context(|| format!("pulling {}", a.indicators))?;
        matching::from_objects(objects, &a.indicators)?
    } else {
        matching::from_bundle_path(std::path::Path::new(&a.indicators))?
    };
    let stats = indicators.set.stats();
    eprintln!("indicator set: {} values from {} indicators, compiled in {:.2?} ({} bytes, {:.0} bytes per value beyond the values)", stats.indicators, indicators.info.len(), started.elapsed(), stats.memory_bytes, stats.overhead_per_indicator());
    for u in indicators.unusable.iter().take(20) {
        eprintln!("  not used: {u}");
    }
    let mut b = Scanner::builder()
        .events(EventMode::Complex)
        .binary(match a.binary {
            Binary::Skip => BinaryPolicy::SkipFile,
            Binary::Scan => BinaryPolicy::Scan,
        });
    if let Some(f) = parse_format(&a.format)? {
        b = b.format(f);
    }
    if let Some(t) = a.threads {
        b = b.threads(t);
    }
    if let Some(f) = &a.fields {
        b = b.fields(f.clone());
    }
    let scanner = b.build();
    let stdout = std::io::stdout();
    let mut sink = HitWriter::new(
        BufWriter::with_capacity(1 << 16, stdout.lock()),
        &indicators,
    );
    let mut total = matcher::Summary::default();
    for log in &a.logs {
        let s = scanner
            .scan_path(log, &indicators.set, &mut sink)
            .with_context(|| format!("scanning {}", log.display()))?;
        total.merge(&s);
    }
    let complex = sink.finish_complex();
    sink.out.flush()?;
    if let Some(e) = sink.error.take() {
        return Err(e).context("writing hits");
    }
    let secs = started.elapsed().as_secs_f64();
    let skipped: Vec<String> = total
        .skipped_lines
        .iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect();
    eprintln!(
        "{} files, {} lines, {} bytes; skipped lines: {}",
        total.files,
        total.lines,
        total.bytes,
        if skipped.is_empty() {
            "none".into()
        } else {
            skipped.join(", ")
        }
    );
    for f in &total.skipped_files {
        eprintln!("  skipped file {}: {}", f.file, f.reason);
    }
    eprintln!(
        "{} hits, {} indicators sighted ({} by full pattern evaluation), {:.1} MB/s",
        sink.hits,
        sink.sightings.len(),
        complex,
        total.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    store.audit(AuditEvent::new(Some(org.id), "match", format!("org:{}", org.id), serde_json::json!({"lines": total.lines, "hits": sink.hits, "indicators_sighted": sink.sightings.len()})))?;
    if let Some(url) = &a.report_to {
        let bundle =
            matching::sightings_bundle(&indicators, &sink.sightings, &org.identity_id, &a.sensor);
        let (stored, ignored) = crate::sync::post_sightings(url, a.token.as_deref(), &bundle)
            .with_context(|| format!("reporting sightings to {url}"))?;
        eprintln!("reported {} sightings to {url}: {stored} stored, {ignored} of nothing the hub lets this org see", sink.sightings.len());
    }
    Ok(ExitCode::SUCCESS)
}
