//! The REST management API end to end against the real binary: every endpoint, roles,
//! status codes, the OpenAPI document, no secret in the logs, and (when the reference
//! tools are installed) schemathesis checking the server against its own document.

#[path = "interop/harness.rs"]
mod harness;

use harness::*;
use serde_json::{json, Value};
use threatgate::model::*;
use threatgate::store::{Store, SubmissionMeta};

struct Api {
    s: Server,
    c: reqwest::blocking::Client,
}

impl Api {
    fn get(&self, path: &str, tok: &str) -> (u16, Value) {
        let r = self
            .c
            .get(self.s.url(path))
            .bearer_auth(tok)
            .send()
            .unwrap();
        let st = r.status().as_u16();
        if st != 204 {
            assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        }
        (st, r.json().unwrap_or(Value::Null))
    }
    fn post(&self, path: &str, tok: &str, body: &Value) -> (u16, Value) {
        let r = self
            .c
            .post(self.s.url(path))
            .bearer_auth(tok)
            .json(body)
            .send()
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json().unwrap_or(Value::Null))
    }
    fn delete(&self, path: &str, tok: &str) -> u16 {
        self.c
            .delete(self.s.url(path))
            .bearer_auth(tok)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

fn setup(log: Option<&std::path::Path>) -> (tempfile::TempDir, World, Api) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let w = world(&store);
    // A claim about one observable, AMBER, from the vendor.
    let mut sub = store
        .begin_submission(SubmissionMeta {
            org_id: w.vendor.id,
            agreement_id: None,
            format: "test".into(),
            source_name: "claims".into(),
        })
        .unwrap();
    sub.add_claim(
        &Observable::detect("198.51.100.7").unwrap(),
        &Claim {
            tlp: Some(Tlp::Amber),
            labels: vec!["c2".into()],
            ..Default::default()
        },
        None,
    )
    .unwrap();
    sub.add_claim(
        &Observable::detect("evil.example").unwrap(),
        &Claim {
            tlp: Some(Tlp::Green),
            labels: vec!["phishing".into()],
            ..Default::default()
        },
        None,
    )
    .unwrap();
    sub.finish(0, json!({})).unwrap();
    drop(store);
    let s = Server::start_with_log(
        &["--data".into(), dir.path().display().to_string()],
        &[],
        log,
    );
    (
        dir,
        w,
        Api {
            s,
            c: reqwest::blocking::Client::new(),
        },
    )
}

#[test]
fn openapi_document_describes_every_route() {
    let (_d, _w, a) = setup(None);
    let r = a.c.get(a.s.url("/api/v1/openapi.json")).send().unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/orgs",
        "/api/v1/orgs/{id}",
        "/api/v1/agreements",
        "/api/v1/agreements/{id}/end",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/observables",
        "/api/v1/sightings",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/whoami",
        "/api/v1/stats",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn orgs_agreements_tokens_by_role() {
    let (_d, w, a) = setup(None);
    // 401 without a token, on every route.
    for p in [
        "/api/v1/orgs",
        "/api/v1/agreements",
        "/api/v1/tokens",
        "/api/v1/observables?value=x",
        "/api/v1/audit",
        "/api/v1/whoami",
        "/api/v1/stats",
    ] {
        let r = a.c.get(a.s.url(p)).send().unwrap();
        assert_eq!(r.status(), 401, "{p}");
        let e: Value = r.json().unwrap();
        assert_eq!(e["http_status"], "401");
    }
    let (st, me) = a.get("/api/v1/whoami", &w.tok_fr);
    assert_eq!(st, 200);
    assert_eq!(me["org"]["name"], "cert-fr");
    assert_eq!(me["role"], "read");
    // Orgs: the admin sees all, others themselves only.
    let (_, all) = a.get("/api/v1/orgs", &w.tok_admin);
    assert_eq!(all.as_array().unwrap().len(), 5);
    let (_, mine) = a.get("/api/v1/orgs", &w.tok_fr);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(
        a.get(&format!("/api/v1/orgs/{}", w.fr.id), &w.tok_fr).0,
        200
    );
    assert_eq!(
        a.get(&format!("/api/v1/orgs/{}", w.vendor.id), &w.tok_fr).0,
        404
    );
    assert_eq!(a.get("/api/v1/orgs/abc", &w.tok_admin).0, 400);
    assert_eq!(a.get("/api/v1/orgs/999", &w.tok_admin).0, 404);
    // Create: admin only, validated, conflicts reported.
    let nl = json!({"name": "cert-nl", "kind": "member", "country": "NL"});
    assert_eq!(a.post("/api/v1/orgs", &w.tok_de, &nl).0, 403);
    let (st, o) = a.post("/api/v1/orgs", &w.tok_admin, &nl);
    assert_eq!(st, 201, "{o}");
    assert_eq!(o["country"], "NL");
    assert_eq!(a.post("/api/v1/orgs", &w.tok_admin, &nl).0, 409);
    assert_eq!(
        a.post(
            "/api/v1/orgs",
            &w.tok_admin,
            &json!({"name": "x", "kind": "member"})
        )
        .0,
        400
    );
    assert_eq!(
        a.post(
            "/api/v1/orgs",
            &w.tok_admin,
            &json!({"name": "x", "kind": "hub"})
        )
        .0,
        400
    );
    assert_eq!(
        a.post(
            "/api/v1/orgs",
            &w.tok_admin,
            &json!({"name": "x", "kind": "member", "country": "XX"})
        )
        .0,
        400
    );
    let r =
        a.c.post(a.s.url("/api/v1/orgs"))
            .bearer_auth(&w.tok_admin)
            .header("Content-Type", "text/plain")
            .body(nl.to_string())
            .send()
            .unwrap();
    assert_eq!(r.status(), 415);
    // Agreements.
    let ag = json!({"org_id": o["id"], "role": "receive", "signed_on": "2024-01-01", "valid_from": "2024-01-01",
                    "valid_until": "2029-01-01", "max_tlp": "green", "purpose": "CERT"});
    assert_eq!(a.post("/api/v1/agreements", &w.tok_de, &ag).0, 403);
    let (st, created) = a.post("/api/v1/agreements", &w.tok_admin, &ag);
    assert_eq!(st, 201, "{created}");
    assert_eq!(created["in_force"], true);
    let mut bad = ag.clone();
    bad["max_tlp"] = json!("purple");
    assert_eq!(a.post("/api/v1/agreements", &w.tok_admin, &bad).0, 400);
    let mut bad = ag.clone();
    bad["scope"] = json!(["indicator", "indicatr"]);
    let (st, why) = a.post("/api/v1/agreements", &w.tok_admin, &bad);
    assert_eq!(st, 400, "{why}");
    assert!(why.to_string().contains("did you mean"), "{why}");
    let (_, list) = a.get("/api/v1/agreements", &w.tok_admin);
    assert_eq!(list.as_array().unwrap().len(), 4);
    let (_, own) = a.get("/api/v1/agreements", &w.tok_fr);
    assert!(own
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["org_id"] == json!(w.fr.id)));
    let (st, ended) = a.post(
        &format!("/api/v1/agreements/{}/end", created["id"]),
        &w.tok_admin,
        &json!({"reason": "test"}),
    );
    assert_eq!(st, 200);
    assert_eq!(ended["status"], "terminated");
    assert_eq!(
        a.post(
            &format!("/api/v1/agreements/{}/end", created["id"]),
            &w.tok_admin,
            &json!({"reason": "again"})
        )
        .0,
        409
    );
    // Tokens: create, use on TAXII, revoke; the caller's own token is protected.
    assert_eq!(a.get("/api/v1/tokens", &w.tok_fr).0, 403);
    let (st, t) = a.post(
        "/api/v1/tokens",
        &w.tok_admin,
        &json!({"org_id": w.de.id, "role": "read", "label": "sensor"}),
    );
    assert_eq!(st, 201);
    let secret = t["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tg_"));
    let (_, listed) = a.get("/api/v1/tokens", &w.tok_admin);
    assert!(
        !listed.to_string().contains(&secret),
        "secrets are never listed"
    );
    assert_eq!(a.get("/api/v1/whoami", &secret).1["org"]["name"], "cert-de");
    assert_eq!(
        a.delete(
            &format!("/api/v1/tokens/{}", t["token"]["id"]),
            &w.tok_admin
        ),
        204
    );
    assert_eq!(a.get("/api/v1/whoami", &secret).0, 401);
    let (_, me) = a.get("/api/v1/whoami", &w.tok_admin);
    assert_eq!(
        a.delete(&format!("/api/v1/tokens/{}", me["token_id"]), &w.tok_admin),
        409
    );
    assert_eq!(a.delete("/api/v1/tokens/99999", &w.tok_admin), 404);
}

#[test]
fn observable_search_follows_the_policy_and_audit_is_admin_only() {
    let (_d, w, a) = setup(None);
    // AMBER record: the source and the hub see it; FR (not shared) and DE do not.
    let q = "/api/v1/observables?value=198.51.100%5B.%5D7";
    let (st, v) = a.get(q, &w.tok_vendor_read);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["observable"]["value"], "198.51.100.7");
    assert_eq!(a.get(q, &w.tok_admin).0, 200);
    let (st, v) = a.get(q, &w.tok_fr);
    assert_eq!(st, 404);
    assert!(!v.to_string().contains("vendor"));
    assert_eq!(a.get(q, &w.tok_de).0, 404);
    // GREEN: members see it.
    assert_eq!(
        a.get("/api/v1/observables?value=evil.example", &w.tok_de).0,
        200
    );
    assert_eq!(a.get("/api/v1/observables?value=", &w.tok_de).0, 400);
    // Stats count only what the caller may see.
    let (_, s_de) = a.get("/api/v1/stats", &w.tok_de);
    let (_, s_v) = a.get("/api/v1/stats", &w.tok_vendor_read);
    assert_eq!(s_de["records"], 1);
    assert_eq!(s_v["records"], 2);
    // Audit: admin only, the searches are in it, and the chain verifies.
    assert_eq!(a.get("/api/v1/audit", &w.tok_fr).0, 403);
    let (st, log) = a.get("/api/v1/audit?limit=1000", &w.tok_admin);
    assert_eq!(st, 200);
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "search"));
    assert_eq!(a.get("/api/v1/audit?limit=0", &w.tok_admin).0, 400);
    assert_eq!(a.get("/api/v1/audit?limit=5000", &w.tok_admin).0, 400);
    let (_, page) = a.get("/api/v1/audit?after=2&limit=3", &w.tok_admin);
    assert_eq!(page.as_array().unwrap().len(), 3);
    assert_eq!(page[0]["seq"], 3);
    let (_, ver) = a.get("/api/v1/audit/verify", &w.tok_admin);
    assert_eq!(ver["ok"], true);
}

#[test]
fn no_secret_in_logs_and_metrics() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let (_d, w, a) = setup(Some(log.path()));
    a.get("/api/v1/whoami", &w.tok_fr);
    a.c.get(a.s.url("/taxii2/"))
        .basic_auth("x", Some(&w.tok_de))
        .send()
        .unwrap();
    a.get("/api/v1/whoami", "tg_00000000wrongtoken");
    let (_, t) = a.post(
        "/api/v1/tokens",
        &w.tok_admin,
        &json!({"org_id": w.de.id, "role": "read", "label": "x"}),
    );
    let metrics = a.c.get(a.s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("route=\"/api/v1/whoami\""));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.contains("/api/v1/whoami"),
        "requests are logged: {text}"
    );
    for secret in [
        &w.tok_fr,
        &w.tok_de,
        &w.tok_admin,
        "tg_00000000wrongtoken",
        t["secret"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "a token appears in the log");
        assert!(!metrics.contains(secret));
    }
}

/// schemathesis against the running server (bounded). Needs the reference tools
/// (.ci/setup-python); in CI their absence fails the test instead of skipping it.
#[test]
fn schemathesis_against_the_openapi_document() {
    let venv = std::env::var("THREATGATE_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv"));
    if !venv.join("bin/schemathesis").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but schemathesis is not installed in {}",
            venv.display()
        );
        eprintln!("skipping: no schemathesis in {}", venv.display());
        return;
    }
    let script = workspace_root().join("crates/threatgate/tests/interop/schemathesis.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(BIN)
        .env("THREATGATE_VENV", &venv)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
