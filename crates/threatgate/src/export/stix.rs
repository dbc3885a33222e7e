//! STIX 2.1 export: one bundle of exactly what the viewer may see.
//!
//! Contents, each item admitted by the viewer's [`ReadScope`]:
//! - STIX objects as their sources submitted them (custom properties intact);
//! - for source records that did not arrive as STIX (MISP, CSV, lists), an indicator with a
//!   pattern plus the SCO it names, with deterministic ids so re-exports are stable;
//! - sightings the viewer may see, as STIX sightings of those indicators;
//! - the identities of the sources whose records are included, and the TLP 2.0 marking
//!   definitions used.
//!
//! The bundle is streamed: objects are written as they are read, page by page.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;

use serde_json::{json, Map, Value};
use stix::BundleWriter;

use crate::model::*;
use crate::policy::ReadScope;
use crate::store::{ObjectQuery, Store};

use super::{ExportError, ExportSummary, PAGE};

/// Namespace for the ids of indicators threatgate derives from non-STIX records, so that
/// the same record exports under the same id every time.
const DERIVED_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5f1c_6e2a_3b7d_4c1e_9a0f_7d2b_8e4c_1a63);

pub fn write_bundle<W: Write>(
    store: &Store,
    scope: &ReadScope,
    out: W,
) -> Result<ExportSummary, ExportError> {
    let orgs: BTreeMap<OrgId, Org> = store.orgs()?.into_iter().map(|o| (o.id, o)).collect();
    let mut w = BundleWriter::new(out, &stix::id::random_id("bundle"))?;
    let mut summary = ExportSummary::default();
    let mut written: HashSet<(String, String)> = HashSet::new();
    let mut sources: BTreeSet<OrgId> = BTreeSet::new();
    let mut tlps: BTreeSet<Tlp> = BTreeSet::new();
    let mut marking_ids_seen: HashSet<String> = HashSet::new();

    // 1. Objects as submitted.
    let mut q = ObjectQuery {
        limit: PAGE,
        ..Default::default()
    };
    loop {
        let page = store.visible_objects(scope, &q)?;
        let Some(last) = page.last() else { break };
        q.after = Some((format_time(last.date_added), last.pk));
        for o in page {
            if !written.insert((o.stix_id.clone(), o.version.clone())) {
                continue;
            }
            let v: Value = serde_json::from_str(&o.json)
                .map_err(|e| ExportError::Corrupt(format!("object {}: {e}", o.stix_id)))?;
            if o.stix_type == "marking-definition" {
                marking_ids_seen.insert(o.stix_id.clone());
            }
            w.write_value(&v)?;
            sources.insert(o.org_id);
            *summary.by_type.entry(o.stix_type.clone()).or_default() += 1;
        }
    }

    // 2. Indicators and SCOs for records that did not come as STIX.
    let mut after = 0;
    loop {
        let page = store.visible_observables(scope, after, PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = last.id;
        for (obs, records) in page {
            let observable = Observable {
                kind: obs.kind,
                value: obs.value.clone(),
            };
            let sco = sco_for(&observable);
            let sco_key = sco.as_ref().map(|sco| {
                (
                    sco["id"].as_str().unwrap_or_default().to_string(),
                    String::new(),
                )
            });
            for r in &records {
                if r.claim.stix_ids.iter().any(|id| id.contains("--")) {
                    continue; // it arrived as STIX and was exported above
                }
                let source = &orgs[&r.org_id];
                let tlp = r.claim.tlp_or_default();
                let ind = indicator_for(&observable, r, source, tlp);
                if written.insert((
                    ind["id"].as_str().unwrap_or_default().to_string(),
                    ind["modified"].as_str().unwrap_or_default().to_string(),
                )) {
                    w.write_value(&ind)?;
                    *summary.by_type.entry("indicator".into()).or_default() += 1;
                    sources.insert(r.org_id);
                    tlps.insert(tlp);
                }
                if let (Some(sco), Some(sco_key)) = (&sco, &sco_key) {
                    if written.contains(sco_key) {
                        continue;
                    }
                    // The SCO carries the most restrictive marking among the records shown.
                    let mut sco = sco.clone();
                    let max = records
                        .iter()
                        .map(|r| r.claim.tlp_or_default())
                        .max()
                        .unwrap_or(tlp);
                    sco["object_marking_refs"] = json!([tlp_marking_id(max)]);
                    tlps.insert(max);
                    w.write_value(&sco)?;
                    written.insert(sco_key.clone());
                    *summary
                        .by_type
                        .entry(observable.kind.stix_type().into())
                        .or_default() += 1;
                }
            }
            let readable_sources: Vec<OrgId> = records.iter().map(|r| r.org_id).collect();
            for s in store.sightings(obs.id)? {
                if !scope.permits_sighting(s.org_id, &readable_sources) {
                    continue;
                }
                let Some(r) = records.first() else { continue };
                // The indicator the bundle holds for this record: the one submitted as
                // STIX (exported above), else the derived one.
                let ind_id = r
                    .claim
                    .stix_ids
                    .iter()
                    .find(|id| id.starts_with("indicator--"))
                    .cloned()
                    .unwrap_or_else(|| derived_indicator_id(&observable, &orgs[&r.org_id]));
                let sighter = &orgs[&s.org_id];
                let tlp = r.claim.tlp_or_default();
                let sighting = json!({
                    "type": "sighting",
                    "spec_version": "2.1",
                    "id": format!("sighting--{}", uuid::Uuid::new_v5(&DERIVED_NAMESPACE, format!("sighting/{}", s.id).as_bytes())),
                    "created": stix_time(s.created_at),
                    "modified": stix_time(s.created_at),
                    "created_by_ref": sighter.identity_id,
                    "sighting_of_ref": ind_id,
                    "count": s.count,
                    "first_seen": stix_time(s.first_seen),
                    "last_seen": stix_time(s.last_seen),
                    "where_sighted_refs": [sighter.identity_id],
                    "description": format!("sighted at {}", s.where_sighted),
                    "object_marking_refs": [tlp_marking_id(tlp)],
                });
                tlps.insert(tlp);
                sources.insert(s.org_id);
                sources.insert(r.org_id);
                w.write_value(&sighting)?;
                *summary.by_type.entry("sighting".into()).or_default() += 1;
            }
        }
    }

    // 3. Identities of the sources shown, and the marking definitions used.
    for id in sources {
        let o = &orgs[&id];
        w.write_value(&identity_for(o))?;
        *summary.by_type.entry("identity".into()).or_default() += 1;
    }
    for t in tlps {
        let m = t.marking_definition();
        if marking_ids_seen.insert(t.marking_id().to_string()) {
            w.write(&m)?;
            *summary
                .by_type
                .entry("marking-definition".into())
                .or_default() += 1;
        }
    }
    summary.objects = w.count();
    w.finish()?;
    Ok(summary)
}

/// The STIX identity of an organisation.
pub fn identity_for(o: &Org) -> Value {
    let created = stix_time(o.created_at);
    let mut v = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": o.identity_id,
        "created": created,
        "modified": created,
        "name": o.name,
        "identity_class": "organization",
        "roles": [o.kind.as_str()],
    });
    if let Some(cc) = &o.country {
        v["x_threatgate_country"] = json!(cc);
    }
    v
}

pub fn tlp_marking_id(t: Tlp) -> &'static str {
    t.marking_id()
}

/// The SCO that carries an observable, or `None` when its value cannot be one.
///
/// STIX binds `domain-name` and `url` values to RFC syntax that threat data often breaks
/// (see `stix::syntax`). A URL is percent-encoded into RFC 3986 form; a domain name that
/// is not a valid IDNA2008 name gets no SCO. Either way the indicator's pattern keeps the
/// value exactly as observed, because that is what a log will contain.
pub fn sco_for(o: &Observable) -> Option<Value> {
    let value = match o.kind {
        k if k.is_hash() => {
            let alg = k.stix_hash_algorithm().expect("a hash kind");
            return Some(json!({
                "type": "file",
                "spec_version": "2.1",
                "id": stix::id::file_id_from_hashes(&[(alg, &o.value)]).unwrap_or_default(),
                "hashes": { alg: o.value },
            }));
        }
        Kind::Url => stix::syntax::escape_uri(&o.value)?,
        Kind::Domain => {
            stix::syntax::check_domain_name(&o.value).ok()?;
            o.value.clone()
        }
        _ => o.value.clone(),
    };
    let stix_type = o.kind.stix_type();
    Some(json!({
        "type": stix_type,
        "spec_version": "2.1",
        "id": stix::id::sco_id(stix_type, &json!({"value": value})).unwrap_or_default(),
        "value": value,
    }))
}

/// A STIX pattern naming exactly this observable.
pub fn pattern_for(o: &Observable) -> String {
    let escaped = o.value.replace('\\', "\\\\").replace('\'', "\\'");
    if o.value.contains('/') && matches!(o.kind, Kind::Ipv4 | Kind::Ipv6) {
        return format!("[{} ISSUBSET '{escaped}']", o.kind.stix_path());
    }
    format!("[{} = '{escaped}']", o.kind.stix_path())
}

/// The id of the indicator the export derives for a record without a STIX indicator;
/// sightings reported by `match` name it too.
pub(crate) fn derived_indicator_id(o: &Observable, source: &Org) -> String {
    format!(
        "indicator--{}",
        uuid::Uuid::new_v5(
            &DERIVED_NAMESPACE,
            format!("{}/{}/{}", source.identity_id, o.kind, o.value).as_bytes()
        )
    )
}

fn indicator_for(o: &Observable, r: &SourceRecord, source: &Org, tlp: Tlp) -> Value {
    let c = &r.claim;
    let created = stix_time(r.created_at);
    let mut modified = stix_time(r.updated_at);
    if modified < created {
        modified = created.clone();
    }
    let valid_from = c
        .first_seen
        .map(stix_time)
        .unwrap_or_else(|| created.clone());
    let mut m = Map::new();
    m.insert("type".into(), json!("indicator"));
    m.insert("spec_version".into(), json!("2.1"));
    m.insert("id".into(), json!(derived_indicator_id(o, source)));
    m.insert("created".into(), json!(created));
    m.insert("modified".into(), json!(modified));
    m.insert("created_by_ref".into(), json!(source.identity_id));
    m.insert("name".into(), json!(format!("{} {}", o.kind, o.value)));
    if let Some(d) = &c.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("indicator_types".into(), json!(["malicious-activity"]));
    m.insert("pattern".into(), json!(pattern_for(o)));
    m.insert("pattern_type".into(), json!("stix"));
    m.insert("pattern_version".into(), json!("2.1"));
    m.insert("valid_from".into(), json!(valid_from));
    if let Some(until) = c.valid_until {
        if stix_time(until) > valid_from {
            m.insert("valid_until".into(), json!(stix_time(until)));
        }
    }
    let mut labels = c.labels.clone();
    labels.extend(c.malware.iter().map(|mw| format!("malware:{mw}")));
    if !labels.is_empty() {
        m.insert("labels".into(), json!(labels));
    }
    if let Some(conf) = c.confidence {
        m.insert("confidence".into(), json!(conf));
    }
    if c.revoked {
        m.insert("revoked".into(), json!(true));
    }
    if !c.references.is_empty() {
        let refs: Vec<Value> = c
            .references
            .iter()
            .map(|u| {
                if u.starts_with("http") {
                    json!({"source_name": source.name, "url": u})
                } else {
                    json!({"source_name": source.name, "external_id": u})
                }
            })
            .collect();
        m.insert("external_references".into(), Value::Array(refs));
    }
    if let Some(pap) = c.pap {
        m.insert("x_threatgate_pap".into(), json!(pap.as_str()));
    }
    m.insert("object_marking_refs".into(), json!([tlp_marking_id(tlp)]));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(kind: Kind, value: &str) -> Observable {
        Observable {
            kind,
            value: value.into(),
        }
    }

    #[test]
    fn url_scos_are_percent_encoded_and_patterns_keep_the_observed_value() {
        let o = obs(Kind::Url, "http://cs.go.kg/pages/[UPG]CSS.exe");
        let sco = sco_for(&o).expect("a URL that can be repaired");
        assert_eq!(sco["value"], "http://cs.go.kg/pages/%5BUPG%5DCSS.exe");
        let expected = stix::id::sco_id("url", &json!({"value": sco["value"]})).unwrap();
        assert_eq!(sco["id"], expected.as_str());
        assert_eq!(
            pattern_for(&o),
            "[url:value = 'http://cs.go.kg/pages/[UPG]CSS.exe']"
        );
    }

    #[test]
    fn names_that_are_not_domain_names_get_no_sco() {
        assert!(sco_for(&obs(Kind::Domain, "xn--stay-p96a.decentralappps.com")).is_none());
        assert!(sco_for(&obs(Kind::Domain, "a_b.example.com")).is_none());
        let ok = sco_for(&obs(Kind::Domain, "example.com")).unwrap();
        assert_eq!(ok["value"], "example.com");
    }
}
