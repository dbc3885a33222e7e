//! The operations commands end to end through the real binary: enrich, targets, reports,
//! dissemination, takedown moves, probe (only of servers this test starts on 127.0.0.1),
//! counts and the summary; and the bad inputs that must fail clearly and change nothing.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use serde_json::json;
use support::cli::{ok, tg};
use support::*;
use threatgate::model::*;
use threatgate::store::{Store, SubmissionMeta};

fn fails(data: &Path, args: &[&str]) -> String {
    let o = tg(data, args);
    assert!(!o.status.success(), "{args:?} should fail");
    String::from_utf8(o.stderr).unwrap()
}

/// A tiny HTTP server: `/ok` answers 200, anything else 404. Returns its port.
fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let status = if req.starts_with("GET /ok ") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    port
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn setup(dir: &Path, items: &[(&str, Vec<u16>, Pap)]) {
    let store = Store::open_dir(dir).unwrap();
    let w = world(&store);
    let mut wr = store
        .begin_submission(SubmissionMeta {
            org_id: w.partner.id,
            agreement_id: None,
            format: "test".into(),
            source_name: "t".into(),
        })
        .unwrap();
    for (v, ports, pap) in items {
        let c = Claim {
            labels: vec!["c2".into()],
            malware: vec!["Emotet".into()],
            confidence: Some(80),
            tlp: Some(Tlp::Amber),
            pap: Some(*pap),
            ports: ports.clone(),
            ..Default::default()
        };
        wr.add_claim(&Observable::detect(v).unwrap(), &c, None)
            .unwrap();
    }
    wr.finish(0, json!({})).unwrap();
}

fn audit_len(dir: &Path) -> i64 {
    Store::open_dir(dir).unwrap().audit_head().unwrap().0
}

#[test]
fn operation_lifecycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(
        d,
        &[
            ("2.3.0.1", vec![8443], Pap::Green),
            ("2.3.0.2", vec![], Pap::Amber),
            ("2.28.0.9", vec![], Pap::Green),
        ],
    );
    let tables = shared_data().join("ip-location-db");
    let contacts = d.join("contacts.csv");
    std::fs::write(&contacts, "asn,contact\n3215,abuse@orange.example\n").unwrap();
    let out = ok(
        d,
        &[
            "enrich",
            "--ip-country",
            tables.join("asn-country-ipv4.csv.gz").to_str().unwrap(),
            "--ip-asn",
            tables
                .join("asn-ipv4.subset-for-samples.csv")
                .to_str()
                .unwrap(),
            "--contacts",
            contacts.to_str().unwrap(),
        ],
    );
    assert!(out.contains("enriched"), "{out}");
    ok(
        d,
        &[
            "operation",
            "create",
            "Op Test",
            "--window",
            "2020-01-01..2030-12-31",
            "--filter",
            "label = c2 AND malware = emotet AND country IN (FR, DE) AND confidence >= 60",
        ],
    );
    let out = ok(d, &["operation", "targets", "Op Test"]);
    assert!(
        out.contains("2.3.0.1") && out.contains("2.28.0.9") && out.contains("needs source consent"),
        "{out}"
    );
    let reports = d.join("reports");
    let out = ok(
        d,
        &[
            "operation",
            "report",
            "Op Test",
            "--out",
            reports.to_str().unwrap(),
        ],
    );
    assert!(out.contains("Wrote 2 reports (6 files)"), "{out}");
    let html = std::fs::read_to_string(reports.join("op-test-FR.html")).unwrap();
    assert!(
        html.contains("2[.]3[.]0[.]1")
            && html.contains("needs source consent")
            && html.contains("TLP:AMBER"),
        "html"
    );
    let export = |org: &str| ok(d, &["export", "--as", org, "--format", "csv"]);
    assert!(
        !export("cert-fr").contains("2.3.0.1"),
        "AMBER: not visible before the report is sent"
    );
    let out = ok(
        d,
        &["operation", "disseminate", "Op Test", "--country", "FR"],
    );
    // The policy now lets cert-fr, and no other member, read the report's data in exports.
    let fr = export("cert-fr");
    assert!(
        fr.contains("2.3.0.1") && fr.contains("2.3.0.2") && !fr.contains("2.28.0.9"),
        "{fr}"
    );
    let de = export("cert-de");
    assert!(!de.contains("2.3.0.1") && !de.contains("2.28.0.9"), "{de}");
    assert!(
        out.contains("sent to cert-fr") && out.contains("2 newly reported"),
        "{out}"
    );
    ok(
        d,
        &[
            "operation",
            "target-state",
            "Op Test",
            "2.3.0.1",
            "--to",
            "acknowledged",
            "--as",
            "cert-fr",
            "--evidence",
            "case 17",
        ],
    );
    ok(
        d,
        &[
            "operation",
            "target-state",
            "Op Test",
            "2.3.0.1",
            "--to",
            "taken-down",
            "--as",
            "cert-fr",
            "--evidence",
            "hoster suspended it",
        ],
    );
    let hist = ok(d, &["operation", "history", "Op Test", "2.3.0.1"]);
    assert!(
        hist.contains("acknowledged -> taken-down by cert-fr: hoster suspended it"),
        "{hist}"
    );
    ok(
        d,
        &[
            "operation",
            "record",
            "Op Test",
            "--seizures",
            "4",
            "--arrests",
            "2",
        ],
    );
    let s: serde_json::Value = serde_json::from_str(&ok(
        d,
        &["operation", "summary", "Op Test", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(s["countries"]["FR"]["targets"], 2);
    assert_eq!(s["countries"]["FR"]["taken_down"], 1);
    assert_eq!(s["countries"]["DE"]["reported"], 0);
    assert_eq!(
        (
            s["seizures"].as_i64(),
            s["arrests"].as_i64(),
            s["targets"].as_i64()
        ),
        (Some(4), Some(2), Some(3))
    );
    let text = ok(d, &["operation", "summary", "Op Test"]);
    assert!(
        text.contains("3 targets identified") && text.contains("4 seizures, 2 arrests"),
        "{text}"
    );
    assert!(
        tg(d, &["audit", "--verify"]).status.success(),
        "the audit chain verifies"
    );
}

#[test]
fn probe_checks_only_local_servers_with_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = http_server();
    let closed = closed_port();
    let up = format!("http://127.0.0.1:{port}/ok");
    let gone = format!("http://127.0.0.1:{port}/gone");
    let dead = format!("http://127.0.0.1:{closed}/x");
    setup(
        d,
        &[
            ("127.0.0.1", vec![closed, port], Pap::Green),
            (&up, vec![], Pap::Green),
            (&gone, vec![], Pap::Green),
            (&dead, vec![], Pap::Green),
        ],
    );
    ok(
        d,
        &[
            "operation",
            "create",
            "probe",
            "--window",
            "2020-01-01..2030-12-31",
        ],
    );
    ok(d, &["operation", "targets", "probe"]);
    let t0 = std::time::Instant::now();
    let out = ok(
        d,
        &[
            "operation",
            "probe",
            "probe",
            "--concurrency",
            "2",
            "--timeout",
            "2000",
        ],
    );
    assert!(
        out.contains("probed 4 targets: 2 online, 2 offline"),
        "{out}"
    );
    assert!(t0.elapsed().as_secs() < 30);
    let store = Store::open_dir(d).unwrap();
    let op = store.operation_by_name("probe").unwrap().unwrap();
    let targets = store.targets(op.id).unwrap();
    let obs = store.observations(op.id).unwrap();
    let state = |v: &str| {
        let id = targets.iter().find(|t| t.value == v).unwrap().id;
        let o = obs.iter().find(|o| o.target_id == id).unwrap();
        (o.online, o.method.clone(), o.detail.clone())
    };
    assert_eq!(
        state("127.0.0.1"),
        (
            true,
            "tcp".into(),
            format!("port {port} accepts connections")
        )
    );
    assert_eq!(state(&up), (true, "http".into(), "HTTP 200".into()));
    assert_eq!(state(&gone), (false, "http".into(), "HTTP 404".into()));
    assert!(!state(&dead).0);
    let e = fails(d, &["operation", "probe", "probe", "--concurrency", "0"]);
    assert!(e.contains("--concurrency must be between 1 and"), "{e}");
}

#[test]
fn bad_input_fails_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, &[("2.3.0.1", vec![], Pap::Green)]);
    let tables = shared_data().join("ip-location-db");
    ok(
        d,
        &[
            "enrich",
            "--ip-country",
            tables.join("asn-country-ipv4.csv.gz").to_str().unwrap(),
        ],
    );
    ok(
        d,
        &[
            "operation",
            "create",
            "op",
            "--window",
            "2020-01-01..2030-12-31",
        ],
    );
    ok(d, &["operation", "targets", "op"]);
    let before = audit_len(d);
    let enrichment = || {
        let s = Store::open_dir(d).unwrap();
        s.observable(Kind::Ipv4, "2.3.0.1")
            .unwrap()
            .unwrap()
            .enrichment
    };
    let enriched = enrichment();
    assert_eq!(enriched.country.as_deref(), Some("FR"));

    // An unknown country code.
    let e = fails(d, &["operation", "disseminate", "op", "--country", "ZZ"]);
    assert!(
        e.contains("\"ZZ\" is not an ISO 3166-1 alpha-2 country code"),
        "{e}"
    );
    let e = fails(
        d,
        &[
            "operation",
            "report",
            "op",
            "--country",
            "QQ",
            "--out",
            d.join("r").to_str().unwrap(),
        ],
    );
    assert!(e.contains("ISO 3166-1"), "{e}");
    // An overlapping and an unsorted range table.
    let overlap = d.join("overlap.csv");
    std::fs::write(&overlap, "2.3.0.0,2.3.0.255,DE\n2.3.0.128,2.3.1.255,US\n").unwrap();
    let e = fails(d, &["enrich", "--ip-country", overlap.to_str().unwrap()]);
    assert!(e.contains("overlap.csv:2") && e.contains("overlaps"), "{e}");
    let unsorted = d.join("unsorted.csv");
    std::fs::write(&unsorted, "2.3.1.0,2.3.1.255,DE\n2.3.0.0,2.3.0.255,US\n").unwrap();
    let e = fails(d, &["enrich", "--ip-country", unsorted.to_str().unwrap()]);
    assert!(
        e.contains("unsorted.csv:2") && e.contains("not sorted"),
        "{e}"
    );
    // A filter with a syntax error.
    let e = fails(
        d,
        &[
            "operation",
            "create",
            "op2",
            "--window",
            "2020-01-01..2030-12-31",
            "--filter",
            "label = c2 AND country IN (FR",
        ],
    );
    assert!(
        e.contains("column 30") && e.contains("expected `,` and another value, or `)`"),
        "{e}"
    );
    // Said once: the error's cause is its own text, which must not be printed again.
    assert_eq!(e.matches("filter error").count(), 1, "{e}");
    // A state change that is not allowed (skipping ahead; another country's member).
    let e = fails(
        d,
        &[
            "operation",
            "target-state",
            "op",
            "2.3.0.1",
            "--to",
            "taken-down",
            "--evidence",
            "x",
        ],
    );
    assert!(
        e.contains(
            "is identified; it cannot move to taken-down: allowed next: reported, false-positive"
        ),
        "{e}"
    );
    ok(d, &["operation", "disseminate", "op", "--country", "FR"]);
    let after_send = audit_len(d);
    let e = fails(
        d,
        &[
            "operation",
            "target-state",
            "op",
            "2.3.0.1",
            "--to",
            "acknowledged",
            "--as",
            "cert-de",
            "--evidence",
            "x",
        ],
    );
    assert!(e.contains("cert-de may not change targets in FR"), "{e}");
    let e = fails(
        d,
        &[
            "operation",
            "target-state",
            "op",
            "9.9.9.9",
            "--to",
            "acknowledged",
            "--evidence",
            "x",
        ],
    );
    assert!(e.contains("has no target"), "{e}");

    assert_eq!(
        enrichment(),
        enriched,
        "a refused table changes no enrichment"
    );
    let s = Store::open_dir(d).unwrap();
    assert!(s.operation_by_name("op2").unwrap().is_none());
    assert_eq!(
        before + 3,
        after_send,
        "only the dissemination (share, record, move) was audited"
    );
    assert_eq!(audit_len(d), after_send, "refused moves are not recorded");
    let op = s.operation_by_name("op").unwrap().unwrap();
    assert_eq!(s.targets(op.id).unwrap()[0].state.as_str(), "reported");
}
