//! Exports: what a viewer may see, written as a STIX bundle, CSV or a Zeek intel file.
//!
//! Every export reads through a [`ReadScope`] for [`Channel::Bulk`] (no TLP:RED; AMBER only
//! when shared), and is recorded in the audit log with its counts.

pub mod flat;
pub mod stix;

use std::collections::BTreeMap;
use std::io::Write;

use chrono::Utc;

use crate::lookup::scope_for;
use crate::model::Org;
use crate::policy::Channel;
use crate::store::{AuditEvent, Store, StoreError};

/// Rows read from the store per page while streaming an export.
pub const PAGE: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A STIX 2.1 bundle.
    Stix,
    /// One row per visible source record.
    Csv,
    /// A Zeek Intel framework file.
    Zeek,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub objects: usize,
    pub by_type: BTreeMap<String, usize>,
}

impl ExportSummary {
    /// Count one exported row of type `kind`: the flat formats (CSV, Zeek) count every row
    /// this way.
    fn count_row(&mut self, kind: &str) {
        self.objects += 1;
        *self.by_type.entry(kind.to_string()).or_default() += 1;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// Export what `viewer` may see now, in `format`, to `out`; audited.
pub fn export(
    store: &Store,
    viewer: &Org,
    format: Format,
    out: impl Write,
) -> Result<ExportSummary, ExportError> {
    let scope = scope_for(store, viewer, Utc::now(), Channel::Bulk)?;
    let summary = match format {
        Format::Stix => stix::write_bundle(store, &scope, out)?,
        Format::Csv => flat::write_csv(store, &scope, out)?,
        Format::Zeek => flat::write_zeek(store, &scope, out)?,
    };
    store.audit(AuditEvent::new(
        Some(viewer.id),
        "export",
        format!("org:{}", viewer.id),
        serde_json::json!({"format": format!("{format:?}").to_lowercase(), "objects": summary.objects, "by_type": summary.by_type}),
    ))?;
    Ok(summary)
}
