//! Flat exports: CSV (one row per visible source record) and Zeek intel.

use std::io::Write;

use crate::model::*;
use crate::policy::ReadScope;
use crate::store::Store;

use super::{ExportError, ExportSummary, PAGE};

/// Visit every visible (observable, record) pair in observable order.
fn each_record(
    store: &Store,
    scope: &ReadScope,
    mut f: impl FnMut(&ObservableRow, &SourceRecord, &str) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let orgs = store.orgs()?;
    let mut after = 0;
    loop {
        let page = store.visible_observables(scope, after, PAGE)?;
        let Some((last, _)) = page.last() else {
            return Ok(());
        };
        after = last.id;
        for (o, recs) in &page {
            for r in recs {
                let source = orgs
                    .iter()
                    .find(|x| x.id == r.org_id)
                    .map(|x| x.name.as_str())
                    .unwrap_or("");
                f(o, r, source)?;
            }
        }
    }
}

pub fn write_csv(
    store: &Store,
    scope: &ReadScope,
    out: impl Write,
) -> Result<ExportSummary, ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "type",
        "value",
        "source",
        "tlp",
        "pap",
        "confidence",
        "labels",
        "malware",
        "first_seen",
        "last_seen",
        "country",
        "asn",
        "network",
        "registered_domain",
    ])
    .map_err(csv_err)?;
    let mut summary = ExportSummary::default();
    each_record(store, scope, |o, r, source| {
        let c = &r.claim;
        let e = &o.enrichment;
        w.write_record([
            o.kind.as_str(),
            &o.value,
            source,
            c.tlp_or_default().as_str(),
            c.pap.map(|p| p.as_str()).unwrap_or(""),
            &c.confidence.map(|v| v.to_string()).unwrap_or_default(),
            &c.labels.join(";"),
            &c.malware.join(";"),
            &c.first_seen.map(stix_time).unwrap_or_default(),
            &c.last_seen.map(stix_time).unwrap_or_default(),
            e.country.as_deref().unwrap_or(""),
            &e.asn.map(|a| a.to_string()).unwrap_or_default(),
            e.network.as_deref().unwrap_or(""),
            e.registered_domain.as_deref().unwrap_or(""),
        ])
        .map_err(csv_err)?;
        summary.count_row(o.kind.as_str());
        Ok(())
    })?;
    w.flush()?;
    Ok(summary)
}

fn csv_err(e: csv::Error) -> ExportError {
    ExportError::Io(std::io::Error::other(e))
}

/// Zeek's Intel framework input format (tab-separated, `#fields` header).
pub fn write_zeek(
    store: &Store,
    scope: &ReadScope,
    mut out: impl Write,
) -> Result<ExportSummary, ExportError> {
    writeln!(
        out,
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    )?;
    let mut summary = ExportSummary::default();
    let mut last: Option<(i64, String)> = None;
    each_record(store, scope, |o, r, source| {
        let (indicator, ty) = match o.kind {
            Kind::Ipv4 | Kind::Ipv6 if o.value.contains('/') => (o.value.clone(), "Intel::SUBNET"),
            Kind::Ipv4 | Kind::Ipv6 => (o.value.clone(), "Intel::ADDR"),
            Kind::Domain => (o.value.clone(), "Intel::DOMAIN"),
            // Zeek matches URLs without their scheme.
            Kind::Url => (
                o.value
                    .split_once("://")
                    .map(|(_, rest)| rest.to_string())
                    .unwrap_or_else(|| o.value.clone()),
                "Intel::URL",
            ),
            Kind::Email => (o.value.clone(), "Intel::EMAIL"),
            _ => (o.value.clone(), "Intel::FILE_HASH"),
        };
        // One line per indicator: Zeek merges sources itself, and tabs would break the format.
        if last.as_ref().is_some_and(|(id, _)| *id == o.id) {
            return Ok(());
        }
        let desc = [r.claim.labels.join(","), r.claim.malware.join(",")]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        writeln!(
            out,
            "{}\t{ty}\t{}\t{}",
            clean(&indicator),
            clean(source),
            if desc.is_empty() {
                "-".to_string()
            } else {
                clean(&desc)
            }
        )?;
        last = Some((o.id, String::new()));
        summary.count_row(o.kind.as_str());
        Ok(())
    })?;
    Ok(summary)
}
