//! The sightings round trip end to end: a partner's indicators ingested by the real CLI, the
//! real server on 127.0.0.1:0 over a temporary SQLite store, a member running the real
//! `threatgate match --report-to` on a log with planted hits, then what each organisation
//! sees: the indicators' source and the hub see the member's sightings (REST and STIX
//! export) with the planted counts and first/last seen; an unrelated member does not.

#[path = "interop/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;

use harness::*;
use serde_json::{json, Value};
use threatgate::model::*;
use threatgate::store::Store;

const DOMAIN_ID: &str = "indicator--11111111-1111-4111-8111-111111111111";
const CIDR_ID: &str = "indicator--22222222-2222-4222-8222-222222222222";
const AMBER_ID: &str = "indicator--33333333-3333-4333-8333-333333333333";

fn stix_indicator(id: &str, pattern: &str, tlp: Tlp) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        "labels": ["c2"], "object_marking_refs": [tlp_marking(tlp)],
    })
}

fn t(s: &str) -> Time {
    parse_time(s).expect("a test time")
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .expect("run threatgate");
    assert!(
        out.status.success(),
        "threatgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The planted log: (line, is a hit of `which`, time).
fn planted_log() -> (String, Vec<(&'static str, &'static str)>) {
    // (value in the log, time): the hits; everything else is background.
    let hits = vec![
        ("a.b.evil.example", "2026-11-20T10:00:01Z"),
        ("198.51.100.77", "2026-11-20T10:00:02Z"),
        ("EVIL.example", "2026-11-20T10:00:05Z"),
        ("198.51.100.200", "2026-11-20T10:00:09Z"),
        ("www.evil.example", "2026-11-20T10:00:07Z"),
    ];
    let mut log = String::new();
    let mut n = 0;
    for (value, time) in &hits {
        for k in 0..3 {
            n += 1;
            log.push_str(
                &json!({"timestamp": format!("2026-11-20T09:{:02}:{:02}Z", n / 60, n % 60),
                "client": format!("10.0.0.{k}"), "query": format!("host{n}.corp.test")})
                .to_string(),
            );
            log.push('\n');
        }
        let field = if value.contains(|c: char| c.is_ascii_alphabetic()) {
            "query"
        } else {
            "answer"
        };
        log.push_str(&json!({"timestamp": time, "client": "10.0.0.9", field: value}).to_string());
        log.push('\n');
    }
    // The AMBER indicator is not the member's to use: no hit, no sighting.
    log.push_str(
        &json!({"timestamp": "2026-11-20T10:00:10Z", "answer": "203.0.113.9"}).to_string(),
    );
    log.push('\n');
    (log, hits)
}

#[test]
fn sightings_round_trip_reaches_the_sources_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let (tok_fr, tok_de, tok_vendor, tok_hub, fr_id) = {
        let store = Store::open_dir(&data).unwrap();
        let hub = org(&store, "hub", OrgKind::Hub, None);
        let vendor = org(&store, "vendor", OrgKind::Partner, None);
        agree(&store, &vendor, AgreementRole::Both, Tlp::Amber, 1000);
        let fr = org(&store, "cert-fr", OrgKind::Member, Some("FR"));
        agree(&store, &fr, AgreementRole::Receive, Tlp::Amber, 365);
        let de = org(&store, "cert-de", OrgKind::Member, Some("DE"));
        agree(&store, &de, AgreementRole::Receive, Tlp::Amber, 365);
        (
            token(&store, &fr, TokenRole::Ingest),
            token(&store, &de, TokenRole::Ingest),
            token(&store, &vendor, TokenRole::Read),
            token(&store, &hub, TokenRole::Admin),
            fr.id,
        )
    };
    // The vendor's indicators, through the real ingest path.
    let bundle = json!({"type": "bundle", "id": "bundle--44444444-4444-4444-8444-444444444444", "objects": [
        stix_indicator(DOMAIN_ID, "[domain-name:value = 'evil.example']", Tlp::Green),
        stix_indicator(CIDR_ID, "[ipv4-addr:value = '198.51.100.0/24']", Tlp::Green),
        stix_indicator(AMBER_ID, "[ipv4-addr:value = '203.0.113.9']", Tlp::Amber),
    ]});
    let bundle_path = dir.path().join("vendor.json");
    std::fs::write(&bundle_path, bundle.to_string()).unwrap();
    run(
        &data,
        &["ingest", "--as", "vendor", bundle_path.to_str().unwrap()],
    );

    let server = Server::sqlite(&data);
    let (log, hits) = planted_log();
    let log_path = dir.path().join("dns.jsonl");
    std::fs::write(&log_path, &log).unwrap();
    let out = run(
        &data,
        &[
            "match",
            "--as",
            "cert-fr",
            "--sensor",
            "dns-resolver-1",
            "--report-to",
            &server.base,
            "--token",
            &tok_fr,
            log_path.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let hit_lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        hit_lines.len(),
        hits.len(),
        "one hit per planted line:\n{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 stored"),
        "both indicators' sightings stored: {stderr}"
    );

    // What was planted, per indicator: count, first and last seen.
    let expect = |is_domain: bool| {
        let times: Vec<&str> = hits
            .iter()
            .filter(|(v, _)| v.to_ascii_lowercase().ends_with("evil.example") == is_domain)
            .map(|(_, t)| *t)
            .collect();
        (
            times.len() as i64,
            t(times.iter().min().unwrap()),
            t(times.iter().max().unwrap()),
        )
    };
    let http = reqwest::blocking::Client::new();
    let observable = |value: &str, tok: &str| -> (u16, Value) {
        let r = http
            .get(server.url("/api/v1/observables"))
            .query(&[("value", value)])
            .bearer_auth(tok)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    for (value, is_domain) in [("evil.example", true), ("198.51.100.0/24", false)] {
        let (count, first, last) = expect(is_domain);
        for tok in [&tok_vendor, &tok_hub, &tok_fr] {
            let (st, v) = observable(value, tok);
            assert_eq!(st, 200, "{value}: {v}");
            let s = v["sightings"].as_array().unwrap();
            assert_eq!(s.len(), 1, "{value}: one sighting: {v}");
            assert_eq!(s[0]["org_id"], json!(fr_id));
            assert_eq!(s[0]["count"], json!(count), "{value}");
            assert_eq!(t(s[0]["first_seen"].as_str().unwrap()), first, "{value}");
            assert_eq!(t(s[0]["last_seen"].as_str().unwrap()), last, "{value}");
            assert_eq!(s[0]["where_sighted"], json!("dns-resolver-1"));
        }
        // DE may see the GREEN observable, but not where FR saw it.
        let (st, v) = observable(value, &tok_de);
        assert_eq!(st, 200, "{value}: {v}");
        assert_eq!(v["sightings"], json!([]), "{value}: DE sees no sighting");
    }
    // Nothing was reported for the AMBER indicator FR may not use.
    let (_, v) = observable("203.0.113.9", &tok_vendor);
    assert_eq!(v["sightings"], json!([]));

    // The STIX export: the source sees both sightings of its indicators, DE none.
    let export = |who: &str| -> Vec<Value> {
        let out = run(&data, &["export", "--as", who]);
        let b: Value = serde_json::from_slice(&out.stdout).unwrap();
        b["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == "sighting")
            .cloned()
            .collect()
    };
    let vendor_sightings = export("vendor");
    assert_eq!(vendor_sightings.len(), 2, "{vendor_sightings:?}");
    let mut counts: Vec<i64> = vendor_sightings
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect();
    counts.sort();
    let mut want = vec![expect(true).0, expect(false).0];
    want.sort();
    assert_eq!(counts, want);
    for s in &vendor_sightings {
        let (count, first, last) = expect(s["count"].as_i64() == Some(expect(true).0));
        assert_eq!(s["count"].as_i64(), Some(count));
        assert_eq!(t(s["first_seen"].as_str().unwrap()), first);
        assert_eq!(t(s["last_seen"].as_str().unwrap()), last);
    }
    assert!(
        export("cert-de").is_empty(),
        "DE's export holds no sighting"
    );
}

#[test]
fn reported_sightings_are_checked_and_scoped() {
    let dir = tempfile::tempdir().unwrap();
    let (tok_de, tok_de_read) = {
        let store = Store::open_dir(dir.path()).unwrap();
        let vendor = org(&store, "vendor", OrgKind::Partner, None);
        agree(&store, &vendor, AgreementRole::Both, Tlp::Amber, 1000);
        let de = org(&store, "cert-de", OrgKind::Member, Some("DE"));
        agree(&store, &de, AgreementRole::Receive, Tlp::Amber, 365);
        (
            token(&store, &de, TokenRole::Ingest),
            token(&store, &de, TokenRole::Read),
        )
    };
    let bundle = json!({"type": "bundle", "id": "bundle--55555555-5555-4555-8555-555555555555", "objects": [
        stix_indicator(AMBER_ID, "[ipv4-addr:value = '203.0.113.9']", Tlp::Amber),
        stix_indicator(CIDR_ID, "[ipv4-addr:value = '198.51.100.0/24']", Tlp::Green),
    ]});
    let p = dir.path().join("b.json");
    std::fs::write(&p, bundle.to_string()).unwrap();
    run(
        dir.path(),
        &["ingest", "--as", "vendor", p.to_str().unwrap()],
    );
    let server = Server::sqlite(dir.path());
    let http = reqwest::blocking::Client::new();
    let post = |tok: &str, body: &Value| -> (u16, Value) {
        let r = http
            .post(server.url("/api/v1/sightings"))
            .bearer_auth(tok)
            .json(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    };
    let sighting = |extra: Value| {
        let mut s = json!({"type": "sighting", "count": 2, "first_seen": "2026-11-20T10:00:00Z", "last_seen": "2026-11-20T11:00:00Z"});
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    };
    // An invisible (AMBER) observable, an unknown one and a visible one by indicator id:
    // only the visible one is stored, the other two look the same.
    let (st, v) = post(
        &tok_de,
        &json!({"type": "bundle", "objects": [
            sighting(json!({"x_threatgate_value": "203.0.113.9"})),
            sighting(json!({"sighting_of_ref": AMBER_ID})),
            sighting(json!({"x_threatgate_value": "192.0.2.1"})),
            sighting(json!({"sighting_of_ref": CIDR_ID})),
        ]}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"stored": 1, "ignored": 3}));
    // A bad sighting refuses the whole report and names where.
    let (st, v) = post(
        &tok_de,
        &json!({"objects": [sighting(json!({"sighting_of_ref": CIDR_ID})), sighting(json!({"sighting_of_ref": CIDR_ID, "count": "many"}))]}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("/objects/1/count"), "{v}");
    let (st, v) = post(
        &tok_de,
        &json!({"objects": [sighting(json!({"sighting_of_ref": CIDR_ID, "first_seen": "2026-11-21T00:00:00Z"}))]}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("/objects/0/last_seen"), "{v}");
    // A read-only token may not report; no token at all is a 401.
    assert_eq!(post(&tok_de_read, &json!({"objects": []})).0, 403);
    assert_eq!(
        http.post(server.url("/api/v1/sightings"))
            .json(&json!({"objects": []}))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    // Only the one good sighting was stored.
    let store_view = {
        let store = Store::open_dir(dir.path()).unwrap();
        let o = Observable::detect("198.51.100.0/24").unwrap();
        let row = store.observable(o.kind, &o.value).unwrap().unwrap();
        store.sightings(row.id).unwrap()
    };
    assert_eq!(store_view.len(), 1);
    assert_eq!(store_view[0].count, 2);
}

#[test]
fn sightings_of_records_without_stix_name_the_exported_derived_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let fr = {
        let store = Store::open_dir(dir.path()).unwrap();
        let vendor = org(&store, "vendor", OrgKind::Partner, None);
        agree(&store, &vendor, AgreementRole::Both, Tlp::Amber, 1000);
        let fr = org(&store, "cert-fr", OrgKind::Member, Some("FR"));
        agree(&store, &fr, AgreementRole::Receive, Tlp::Amber, 365);
        fr
    };
    // A plain list: no STIX indicator in the store, only what the export derives.
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "evil.example\n").unwrap();
    run(
        dir.path(),
        &[
            "ingest",
            "--as",
            "vendor",
            "--tlp",
            "green",
            list.to_str().unwrap(),
        ],
    );
    let indicators = {
        let store = Store::open_dir(dir.path()).unwrap();
        threatgate::matching::from_store(&store, &fr).unwrap()
    };
    let handle = indicators
        .info
        .iter()
        .position(|i| i.value == "evil.example")
        .expect("the listed domain is in FR's set") as u32;
    let mut seen = std::collections::BTreeMap::new();
    seen.insert(
        handle,
        threatgate::matching::Aggregate {
            count: 1,
            first_seen: None,
            last_seen: None,
            values: Default::default(),
        },
    );
    let bundle =
        threatgate::matching::sightings_bundle(&indicators, &seen, &fr.identity_id, "sensor");
    let reported = bundle["objects"][0]["sighting_of_ref"]
        .as_str()
        .expect("STIX 2.1 requires sighting_of_ref")
        .to_string();
    let out = run(dir.path(), &["export", "--as", "vendor"]);
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    let derived: Vec<&str> = exported["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["type"] == "indicator"
                && o["pattern"]
                    .as_str()
                    .is_some_and(|p| p.contains("'evil.example'"))
        })
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(derived, vec![reported.as_str()]);
}

#[test]
fn a_log_with_a_nul_byte_is_skipped_as_binary_or_scanned_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = Store::open_dir(&data).unwrap();
        org(&store, "hub", OrgKind::Hub, None);
        let vendor = org(&store, "vendor", OrgKind::Partner, None);
        agree(&store, &vendor, AgreementRole::Both, Tlp::Amber, 1000);
        let fr = org(&store, "cert-fr", OrgKind::Member, Some("FR"));
        agree(&store, &fr, AgreementRole::Receive, Tlp::Amber, 365);
    }
    let bundle = json!({"type": "bundle", "id": "bundle--55555555-5555-4555-8555-555555555555", "objects": [
        stix_indicator(DOMAIN_ID, "[domain-name:value = 'evil.example']", Tlp::Green),
    ]});
    let bundle_path = dir.path().join("vendor.json");
    std::fs::write(&bundle_path, bundle.to_string()).unwrap();
    run(
        &data,
        &["ingest", "--as", "vendor", bundle_path.to_str().unwrap()],
    );
    // One corrupt line (a NUL) at the top of an otherwise ordinary text log.
    let log = dir.path().join("proxy.log");
    std::fs::write(
        &log,
        b"1700000000 corrupt\0entry\n1700000001 GET http://a.b.evil.example/x\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();

    let skipped = run(&data, &["match", "--as", "cert-fr", log]);
    assert!(skipped.stdout.is_empty(), "no hit from a skipped file");
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(
        stderr.contains("skipped file") && stderr.contains("binary"),
        "{stderr}"
    );

    let scanned = run(
        &data,
        &["match", "--as", "cert-fr", "--binary", "scan", log],
    );
    let hits: Vec<Value> = String::from_utf8(scanned.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["line"], 2);
    assert_eq!(hits[0]["value"], "a.b.evil.example");

    // A mistyped log path is refused before anything is built, naming the path.
    let missing = dir.path().join("no-such.log");
    let out = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["match", "--as", "cert-fr", log, missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such.log"), "{stderr}");
    assert!(
        !stderr.contains("indicator set:"),
        "checked before the set is built: {stderr}"
    );
}
