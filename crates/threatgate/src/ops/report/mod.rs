//! Per-country cyber activity reports and their dissemination.
//!
//! One report per country holding targets, in three forms written side by side:
//! `<operation>-<CC>.html` (a table and a server-rendered SVG chart, no JavaScript),
//! `<operation>-<CC>.csv`, and `<operation>-<CC>.stix.json` (a STIX 2.1 bundle: a report,
//! an indicator and an SCO per target, the hub's identity and the TLP marking
//! definitions). Each report carries the operation summary and the country's figures.
//!
//! The report's marking is the most restrictive TLP of any record it was built from
//! (each target keeps the highest TLP of its records when it is picked).
//!
//! [`disseminate`] is the only way a report reaches a member: it records an explicit
//! share of every record and object behind the country's targets (read through the hub's
//! bulk scope, so RED data never leaves), after which the policy lets that member, and no
//! other, read them through TAXII, exports and the UI.

pub mod csv;
pub mod html;
pub mod stix;

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::summary::{self, Figures, Summary};
use super::{normalise_country, Operation, OpsError, Result, Target, TargetState};
use crate::lookup::scope_for;
use crate::model::*;
use crate::policy::Channel;
use crate::store::Store;

/// Everything one country's report shows.
#[derive(Debug, Clone)]
pub struct CountryReport {
    pub operation: Operation,
    pub country: String,
    pub country_name: String,
    pub hub: Org,
    pub generated_at: Time,
    /// The country's targets, false positives left out.
    pub targets: Vec<Target>,
    /// The most restrictive TLP among the targets' records.
    pub tlp: Tlp,
    pub figures: Figures,
    pub summary: Summary,
}

/// Build the reports of every country with targets (or only `only`).
pub fn build(
    store: &Store,
    op: &Operation,
    hub: &Org,
    only: Option<&str>,
) -> Result<Vec<CountryReport>> {
    let only = only.map(normalise_country).transpose()?;
    let summary = summary::summarise(store, op)?;
    let all = store.targets(op.id)?;
    let mut countries: Vec<String> = all.iter().filter_map(|t| t.country.clone()).collect();
    countries.sort();
    countries.dedup();
    if let Some(cc) = &only {
        if !countries.contains(cc) {
            return Err(OpsError::Invalid(format!(
                "operation {:?} has no targets in {cc}; countries with targets: {}",
                op.name,
                if countries.is_empty() {
                    "none (run `threatgate operation targets` first)".into()
                } else {
                    countries.join(", ")
                }
            )));
        }
        countries.retain(|c| c == cc);
    }
    let now = Utc::now();
    Ok(countries
        .into_iter()
        .map(|cc| {
            let targets: Vec<Target> = all
                .iter()
                .filter(|t| {
                    t.country.as_deref() == Some(cc.as_str())
                        && t.state != TargetState::FalsePositive
                })
                .cloned()
                .collect();
            CountryReport {
                tlp: targets.iter().map(|t| t.tlp).max().unwrap_or(Tlp::Clear),
                figures: summary.countries.get(&cc).cloned().unwrap_or_default(),
                country_name: iprange::country::name(&cc).unwrap_or("unknown").to_string(),
                operation: op.clone(),
                country: cc,
                hub: hub.clone(),
                generated_at: now,
                targets,
                summary: summary.clone(),
            }
        })
        .collect())
}

/// A file-name-safe form of the operation name.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Write the three forms of each report into `dir`. Returns the files written.
pub fn write(reports: &[CountryReport], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| OpsError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    let mut out = vec![];
    for r in reports {
        let base = format!("{}-{}", slug(&r.operation.name), r.country);
        for (ext, body) in [
            ("html", html::render(r).into_bytes()),
            ("csv", csv::render(r)?),
            ("stix.json", stix::render(r).into_bytes()),
        ] {
            let p = dir.join(format!("{base}.{ext}"));
            std::fs::write(&p, body)
                .map_err(|e| OpsError::Invalid(format!("cannot write {}: {e}", p.display())))?;
            out.push(p);
        }
    }
    Ok(out)
}

/// What a dissemination did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sent {
    pub country: String,
    pub recipients: Vec<String>,
    pub targets: usize,
    pub records: usize,
    pub objects: usize,
    pub newly_reported: usize,
    pub tlp: Tlp,
    /// Records each recipient can read afterwards, as the policy says (a recipient whose
    /// agreement ceiling is below the report's TLP reads fewer: the policy still decides).
    pub readable_by_recipient: Vec<(String, usize)>,
}

/// Send `country`'s report to that country's member org(s): record the shares, mark the
/// country's identified targets reported, and record the dissemination.
pub fn disseminate(store: &Store, op: &Operation, hub: &Org, country: &str) -> Result<Sent> {
    if hub.kind != OrgKind::Hub {
        return Err(OpsError::NotAllowed(format!(
            "{} is not the hub; only the hub disseminates reports",
            hub.name
        )));
    }
    let cc = normalise_country(country)?;
    let report = build(store, op, hub, Some(&cc))?
        .pop()
        .expect("build returns the one country asked for");
    let members: Vec<Org> = store
        .orgs()?
        .into_iter()
        .filter(|o| o.kind == OrgKind::Member && o.country.as_deref() == Some(cc.as_str()))
        .collect();
    if members.is_empty() {
        return Err(OpsError::Invalid(format!(
            "no member organisation for {cc}: add one with `threatgate org add NAME --kind member --country {cc}` and a receive agreement"
        )));
    }
    let now = Utc::now();
    let scope = scope_for(store, hub, now, Channel::Bulk)?;
    let mut subjects = vec![];
    let mut record_ids = vec![];
    let mut objects = 0;
    for t in &report.targets {
        let Some(oid) = t.observable_id else { continue };
        for r in store.visible_records(oid, &scope)? {
            record_ids.push(r.id);
            subjects.push(ShareSubject::Record(r.id));
        }
        for o in store.visible_objects_for_observable(oid, &scope)? {
            objects += 1;
            subjects.push(ShareSubject::Object(o.pk));
        }
    }
    subjects.sort_by_key(|s| match s {
        ShareSubject::Record(i) => (0, *i),
        ShareSubject::Object(i) => (1, *i),
    });
    subjects.dedup();
    let reason = share_reason(op, &cc);
    let mut readable = vec![];
    for m in &members {
        store.share(m.id, &subjects, hub.id, &reason)?;
        store.record_dissemination(
            op.id,
            &cc,
            m.id,
            report.targets.len() as i64,
            record_ids.len() as i64,
            objects,
            report.tlp,
            hub.id,
        )?;
        let mscope = scope_for(store, m, now, Channel::Bulk)?;
        let mut n = 0;
        for t in &report.targets {
            if let Some(oid) = t.observable_id {
                n += store.visible_records(oid, &mscope)?.len();
            }
        }
        readable.push((m.name.clone(), n));
    }
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let mut newly = 0;
    for t in report
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Identified)
    {
        store.move_target(
            t.id,
            TargetState::Identified,
            TargetState::Reported,
            now,
            hub.id,
            &format!("{reason} sent to {}", names.join(", ")),
        )?;
        newly += 1;
    }
    Ok(Sent {
        country: cc,
        recipients: names,
        targets: report.targets.len(),
        records: record_ids.len(),
        objects: objects as usize,
        newly_reported: newly,
        tlp: report.tlp,
        readable_by_recipient: readable,
    })
}

/// The reason recorded on every share of one country's report. It identifies the report's
/// shares, so a TAXII collection per report can list exactly them
/// ([`Store::report_object_pks`]).
pub fn share_reason(op: &Operation, country: &str) -> String {
    format!("operation {} report for {country}", op.name)
}

/// A value made safe to show to people: not clickable, not auto-linked.
pub fn defang(v: &str) -> String {
    v.replacen("http", "hxxp", 1).replace('.', "[.]")
}
