//! Two `threatgate serve` nodes on one PostgreSQL store work together: a write on one is
//! read on the other, a status resource made by one is served by the other, and a
//! pagination cursor from one continues on the other. Runs when `THREATGATE_TEST_PG` is
//! set (CI sets it; there, its absence fails).

#[path = "interop/harness.rs"]
mod harness;

use harness::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use chrono::{Duration, DurationRound, Utc};
use threatgate::model::{AgreementRole, NewAgreement, ShareSubject, Tlp};
use threatgate::store::postgres::PostgresBackend;
use threatgate::store::Store;

fn pg_url() -> Option<String> {
    match std::env::var("THREATGATE_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but THREATGATE_TEST_PG is not: the two-node test would be skipped"
            );
            None
        }
    }
}

/// Drops the test schema at the end.
struct Schema(PostgresBackend);
impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.0.drop_schema();
    }
}

#[test]
fn two_nodes_on_one_postgresql_store() {
    let Some(url) = pg_url() else {
        eprintln!("skipping: THREATGATE_TEST_PG not set");
        return;
    };
    let schema = format!(
        "tg_nodes_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let store = Store::open_postgres(&url, Some(&schema)).unwrap();
    let _cleanup = Schema(PostgresBackend::connect(&url, Some(&schema)).unwrap());
    let w = world(&store);
    drop(store);
    // Each node's connections work inside the test schema.
    let sep = if url.contains('?') { '&' } else { '?' };
    let node_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let args = vec!["--database-url".to_string(), node_url];
    let a = Server::start(&args, &[]);
    let b = Server::start(&args, &[]);
    let http = Http::default();
    let subs_a = collection_url(&http, &a, &w.tok_vendor_ingest, "submissions");
    let subs_b = collection_url(&http, &b, &w.tok_vendor_ingest, "submissions");
    assert_eq!(
        subs_a.rsplit("/collections/").next(),
        subs_b.rsplit("/collections/").next()
    );
    // Write on A, read on B (and the other way round).
    let o1 = indicator(
        "node-a",
        "2024-09-01T00:00:00.000Z",
        "198.51.100.91",
        Tlp::Green,
    );
    let r = http.post(
        &format!("{subs_a}objects/"),
        &w.tok_vendor_ingest,
        &json!({"objects": [o1]}),
    );
    assert_eq!(r.status(), 202);
    let st: Value = r.json().unwrap();
    assert_eq!(st["success_count"], 1, "{st}");
    let id1 = o1["id"].as_str().unwrap();
    http.json(&format!("{subs_b}objects/{id1}/"), &w.tok_vendor_read);
    let o2 = indicator(
        "node-b",
        "2024-09-01T00:00:00.000Z",
        "198.51.100.92",
        Tlp::Green,
    );
    let r = http.post(
        &format!("{subs_b}objects/"),
        &w.tok_vendor_ingest,
        &json!({"objects": [o2]}),
    );
    assert_eq!(r.status(), 202);
    http.json(
        &format!("{subs_a}objects/{}/", o2["id"].as_str().unwrap()),
        &w.tok_vendor_read,
    );
    // The status made on A is served by B.
    let sid = st["id"].as_str().unwrap();
    assert_eq!(
        http.json(
            &b.url(&format!("/taxii2/api/status/{sid}/")),
            &w.tok_vendor_read
        ),
        st
    );
    // A read started on A continues on B, page by page, to the end with nothing lost.
    let mut ids = vec![];
    let mut next: Option<String> = None;
    let mut on_a = true;
    loop {
        let base = if on_a { &subs_a } else { &subs_b };
        let u = match &next {
            Some(n) => format!("{base}objects/?limit=10&next={n}"),
            None => format!("{base}objects/?limit=10"),
        };
        let v = http.json(&u, &w.tok_vendor_read);
        ids.extend(ids_of(&v));
        on_a = !on_a;
        if v["more"] != true {
            break;
        }
        next = Some(v["next"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 5 * PER_TLP + 2 + 2);
    let uniq: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(uniq.len(), ids.len());
    // Isolation holds on both nodes.
    for node in [&a, &b] {
        let shared = collection_url(&http, node, &w.tok_de, "shared-with-me");
        let (seen, _) = all_pages(&http, &format!("{shared}objects/"), &w.tok_de, "limit=1000");
        assert!(w
            .ids(Tlp::Red)
            .iter()
            .chain(w.ids(Tlp::Amber).iter())
            .all(|i| !seen.contains(i)));
        assert_eq!(seen.len(), 2 * PER_TLP + 2 + 2);
    }

    // Pages node A renders (and may keep) follow a write made on node B, a share, and
    // time passing the end of an agreement, with no write at all in between.
    let store = Store::open_postgres(&url, Some(&schema)).unwrap();
    let shared_a = collection_url(&http, &a, &w.tok_de, "shared-with-me");
    let page = || -> Result<BTreeSet<String>, u16> {
        let r = http.get(&format!("{shared_a}objects/?limit=1000"), &w.tok_de);
        if r.status() != 200 {
            return Err(r.status().as_u16());
        }
        Ok(ids_of(&r.json().unwrap()).into_iter().collect())
    };
    let before = page().unwrap();
    assert_eq!(page().unwrap(), before, "the same page twice");
    let o3 = indicator(
        "node-b-2",
        "2024-09-01T00:00:00.000Z",
        "198.51.100.93",
        Tlp::Green,
    );
    let r = http.post(
        &format!("{subs_b}objects/"),
        &w.tok_vendor_ingest,
        &json!({"objects": [o3]}),
    );
    assert_eq!(r.status(), 202);
    let mut want = before.clone();
    want.insert(o3["id"].as_str().unwrap().to_string());
    assert_eq!(page().unwrap(), want, "a write on B, read on A");
    // An AMBER+STRICT object, shared with DE, readable under a second agreement (ceiling
    // AMBER+STRICT) that ends a few seconds from now.
    let strict = w.ids(Tlp::AmberStrict)[0].clone();
    let pk = store
        .read(|c| {
            c.query_one(
                "SELECT pk FROM objects WHERE stix_id = $1",
                &[strict.as_str().into()],
            )?
            .unwrap()
            .i64(0)
        })
        .unwrap();
    let now = Utc::now();
    let until = now.duration_trunc(Duration::seconds(1)).unwrap() + Duration::seconds(3);
    store
        .add_agreement(
            &NewAgreement {
                org_id: w.de.id,
                role: AgreementRole::Receive,
                signed_on: now - Duration::days(1),
                valid_from: now - Duration::days(1),
                valid_until: until,
                max_tlp: Tlp::AmberStrict,
                scope: None,
                purpose: "test".into(),
                retention_days: None,
                renews: None,
            },
            None,
        )
        .unwrap();
    store
        .share(w.de.id, &[ShareSubject::Object(pk)], w.hub.id, "test")
        .unwrap();
    let during = page().unwrap();
    if Utc::now() < until {
        want.insert(strict.clone());
        assert_eq!(
            during, want,
            "shared AMBER+STRICT under the second agreement"
        );
        assert_eq!(page().unwrap(), want);
    }
    while Utc::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    want.remove(&strict);
    assert_eq!(page().unwrap(), want, "the second agreement has ended");
    // Ending DE's last agreement (a write through the store, no server involved).
    for a in store.agreements(Some(w.de.id)).unwrap() {
        if a.in_force_at(Utc::now()) {
            store
                .end_agreement(a.id, Utc::now() - Duration::seconds(1), "test", None)
                .unwrap();
        }
    }
    assert_eq!(page(), Err(403), "no receive agreement in force");
}
