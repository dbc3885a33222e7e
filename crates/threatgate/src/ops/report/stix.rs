//! The STIX 2.1 form of a country report: a bundle with the hub's identity, the TLP
//! marking definitions used, a `report` whose `object_refs` list every indicator and SCO,
//! and per target an indicator (with the recommended action and abuse contact as custom
//! `x_threatgate_*` properties) and its SCO (deterministic id). Every object is marked with
//! the TLP of its records; the report with the most restrictive of them.

use serde_json::{json, Value};

use super::CountryReport;
use crate::model::{stix_time, Kind, Tlp};

/// Namespace for the report's deterministic id (operation name + country).
const REPORT_NAMESPACE: uuid::Uuid = uuid::uuid!("6f1b6c2e-4c2b-5d8e-9a57-1f3e2a7c9b10");

fn marking(t: Tlp) -> stix::Tlp {
    stix::Tlp::parse(t.as_str()).expect("both crates name the five TLP 2.0 levels alike")
}

fn sco_id(kind: Kind, value: &str) -> Option<String> {
    Some(match kind {
        Kind::Ipv4 => stix::id::ipv4_id(value),
        Kind::Ipv6 => stix::id::ipv6_id(value),
        Kind::Domain => stix::id::domain_id(value),
        Kind::Url => stix::id::url_id(value),
        _ => return None,
    })
}

fn pattern_escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

pub fn render(r: &CountryReport) -> String {
    let now = stix_time(r.generated_at);
    let created = stix_time(r.operation.created_at);
    let hub_id = r.hub.identity_id.clone();
    let mut objects: Vec<Value> = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": hub_id, "created": stix_time(r.hub.created_at),
        "modified": stix_time(r.hub.created_at), "name": r.hub.name, "identity_class": "organization"
    })];
    let mut levels: Vec<Tlp> = r.targets.iter().map(|t| t.tlp).collect();
    levels.push(r.tlp);
    levels.sort();
    levels.dedup();
    for l in &levels {
        objects.push(marking(*l).marking_definition().into_value());
    }
    let mut refs = vec![];
    for t in &r.targets {
        let Some(sco) = sco_id(t.kind, &t.value) else {
            continue;
        };
        let mark = vec![marking(t.tlp).marking_id()];
        objects.push(json!({
            "type": t.kind.as_str(), "spec_version": "2.1", "id": sco, "value": t.value, "object_marking_refs": mark
        }));
        let ind = format!(
            "indicator--{}",
            uuid::Uuid::new_v5(
                &REPORT_NAMESPACE,
                format!("{}|{}|{}", r.operation.name, t.kind.as_str(), t.value).as_bytes()
            )
        );
        let mut o = json!({
            "type": "indicator", "spec_version": "2.1", "id": ind, "created": created, "modified": now,
            "created_by_ref": hub_id,
            "name": format!("{} {}", t.category.as_str(), t.value),
            "indicator_types": ["malicious-activity"],
            "pattern": format!("[{} = '{}']", t.kind.stix_path(), pattern_escape(&t.value)),
            "pattern_type": "stix",
            "valid_from": stix_time(t.snapshot.first_seen.unwrap_or(t.identified_at)),
            "labels": t.snapshot.labels,
            "object_marking_refs": mark,
            "x_threatgate_category": t.category.as_str(),
            "x_threatgate_recommended_action": t.category.recommended_action(),
            "x_threatgate_needs_source_consent": t.needs_consent,
            "x_threatgate_state": t.state.as_str(),
        });
        let m = o.as_object_mut().expect("object literal");
        if let Some(c) = &t.abuse_contact {
            m.insert("x_threatgate_abuse_contact".into(), json!(c));
        }
        if let Some(a) = t.asn {
            m.insert("x_threatgate_asn".into(), json!(a));
        }
        if let Some(n) = &t.network {
            m.insert("x_threatgate_network".into(), json!(n));
        }
        refs.push(ind);
        refs.push(sco);
        objects.push(o);
    }
    if refs.is_empty() {
        // A report must reference something; an empty one references the hub's identity.
        refs.push(hub_id.clone());
    }
    let report_id = format!(
        "report--{}",
        uuid::Uuid::new_v5(
            &REPORT_NAMESPACE,
            format!("{}|{}", r.operation.name, r.country).as_bytes()
        )
    );
    let s = &r.summary.overall;
    objects.push(json!({
        "type": "report", "spec_version": "2.1", "id": report_id, "created": created, "modified": now,
        "created_by_ref": hub_id,
        "name": format!("Operation {}: cyber activity report for {} ({})", r.operation.name, r.country_name, r.country),
        "description": format!(
            "{} targets in {}: {} C2 servers, {} compromised websites; {} reported, {} taken down. Operation: {} targets in {} countries, {} taken down, {} seizures, {} arrests.",
            r.figures.targets, r.country, r.figures.c2, r.figures.compromised_websites, r.figures.reported, r.figures.taken_down,
            s.targets, r.summary.country_count, s.taken_down, r.summary.seizures, r.summary.arrests
        ),
        "report_types": ["threat-report"],
        "published": now,
        "object_refs": refs,
        "object_marking_refs": [marking(r.tlp).marking_id()],
        "x_threatgate_country": r.country,
        "x_threatgate_summary": serde_json::to_value(&r.figures).unwrap_or(Value::Null),
    }));
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    });
    serde_json::to_string_pretty(&bundle).expect("json serialises")
}
