//! The CSV form of a country report: one row per target, raw values (machine use).

use super::CountryReport;
use crate::ops::{OpsError, Result};

pub const HEADER: &[&str] = &[
    "target_id",
    "type",
    "value",
    "category",
    "country",
    "asn",
    "network",
    "registered_domain",
    "abuse_contact",
    "malware",
    "labels",
    "first_seen",
    "last_seen",
    "confidence",
    "tlp",
    "needs_source_consent",
    "state",
    "recommended_action",
];

pub fn render(r: &CountryReport) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(vec![]);
    let err = |e: ::csv::Error| OpsError::Invalid(format!("cannot write CSV: {e}"));
    w.write_record(HEADER).map_err(err)?;
    for t in &r.targets {
        let s = &t.snapshot;
        let time =
            |x: Option<crate::model::Time>| x.map(crate::model::stix_time).unwrap_or_default();
        w.write_record([
            t.id.to_string(),
            t.kind.as_str().to_string(),
            t.value.clone(),
            t.category.as_str().to_string(),
            t.country.clone().unwrap_or_default(),
            t.asn.map(|a| a.to_string()).unwrap_or_default(),
            t.network.clone().unwrap_or_default(),
            t.registered_domain.clone().unwrap_or_default(),
            t.abuse_contact.clone().unwrap_or_default(),
            s.malware.join(";"),
            s.labels.join(";"),
            time(s.first_seen),
            time(s.last_seen),
            s.confidence.map(|c| c.to_string()).unwrap_or_default(),
            t.tlp.as_str().to_string(),
            t.needs_consent.to_string(),
            t.state.as_str().to_string(),
            t.category.recommended_action().to_string(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| OpsError::Invalid(format!("cannot write CSV: {e}")))
}
