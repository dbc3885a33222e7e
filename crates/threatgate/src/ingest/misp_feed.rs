//! MISP feed directories: a `manifest.json` mapping event uuids to summaries, and one
//! `<uuid>.json` event file per entry (the layout `misp feed` and CIRCL's OSINT feed use).
//!
//! The manifest drives ingest: events are read in manifest order, each event file is one
//! submission (so one bad event does not roll back the others already committed), and a
//! manifest entry without its file is an error naming the uuid. Files in the directory
//! that the manifest does not list are ignored, as MISP does.

use std::path::Path;

use serde_json::Value;

use super::{ingest_file, Format, IngestError, IngestOptions, IngestReport, Progress, Rejection};
use crate::model::Org;
use crate::store::Store;

/// Largest manifest read (a feed of 100,000 events has a manifest of a few tens of MB).
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// The event uuids a feed's manifest lists, in order.
pub fn manifest_uuids(dir: &Path) -> Result<Vec<String>, IngestError> {
    let path = dir.join("manifest.json");
    let name = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(IngestError::input(
            &name,
            "",
            format!("manifest larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if let Err(at) = super::json_size::check(body, super::json_size::MAX_VALUES) {
        return Err(IngestError::input(
            &name,
            format!("line {}, column {}", at.line, at.column),
            format!(
                "the manifest holds more than {} JSON values, too many to read whole",
                super::json_size::MAX_VALUES
            ),
        ));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        IngestError::input(
            &name,
            format!("line {}, column {}", e.line(), e.column()),
            format!("malformed JSON: {e}"),
        )
    })?;
    let Value::Object(m) = v else {
        return Err(IngestError::input(
            &name,
            "",
            "a MISP feed manifest is a JSON object keyed by event uuid",
        ));
    };
    Ok(m.keys().cloned().collect())
}

/// Ingest every event a feed's manifest lists, one submission per event file.
pub fn ingest_feed(
    store: &Store,
    org: &Org,
    dir: &Path,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let uuids = manifest_uuids(dir)?;
    let manifest = dir.join("manifest.json").display().to_string();
    let mut report = IngestReport::default();
    for (i, uuid) in uuids.iter().enumerate() {
        if uuid.contains(['/', '\\']) || uuid.starts_with('.') {
            let e = IngestError::input(
                &manifest,
                format!("/{}", uuid.replace('~', "~0").replace('/', "~1")),
                "an event key must be a uuid, not a path",
            );
            stop_or_record(&mut report, e, opts)?;
            continue;
        }
        let path = dir.join(format!("{uuid}.json"));
        let result = if path.is_file() {
            ingest_file(store, org, &path, Format::Misp, opts, progress)
        } else {
            Err(IngestError::input(
                &manifest,
                format!("/{uuid}"),
                format!(
                    "entry {} names event {uuid}, but {} does not exist; re-fetch the feed",
                    i + 1,
                    path.display()
                ),
            ))
        };
        match result {
            Ok(r) => {
                report.submissions.extend(r.submissions);
                for (k, v) in r.by_type {
                    *report.by_type.entry(k).or_default() += v;
                }
                for (k, v) in r.objects_by_type {
                    *report.objects_by_type.entry(k).or_default() += v;
                }
                report.rejected.extend(r.rejected);
                report.files.extend(r.files);
            }
            Err(e) => stop_or_record(&mut report, e, opts)?,
        }
    }
    Ok(report)
}

fn stop_or_record(
    report: &mut IngestReport,
    e: IngestError,
    opts: &IngestOptions,
) -> Result<(), IngestError> {
    if opts.partial && !matches!(e, IngestError::Store { .. }) {
        let (file, location, reason) = match e {
            IngestError::Input {
                file,
                location,
                reason,
                ..
            } => (file, location, reason),
            IngestError::Refused { file, refusal } => (
                file,
                String::new(),
                format!("submission refused: {refusal}"),
            ),
            IngestError::Io { file, source } => {
                (file, String::new(), format!("cannot read: {source}"))
            }
            other => (String::new(), String::new(), other.to_string()),
        };
        report.rejected.push(Rejection {
            file,
            location,
            reason,
        });
        return Ok(());
    }
    if report.submissions.is_empty() {
        return Err(e);
    }
    Err(IngestError::Stopped {
        committed: Box::new(std::mem::take(report)),
        error: Box::new(e),
    })
}
