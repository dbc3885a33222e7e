//! Interoperability with the OASIS TAXII 2.1 tools: the OASIS client (taxii2-client) drives
//! every endpoint of threatgate through `interop/taxii_client_check.py`, then the same
//! script runs against the OASIS reference server (medallion, memory backend) loaded with
//! the same objects and dates, and the two answers are compared where the specification
//! says they must agree: the object sets per filter, pagination totals, versions,
//! manifest entries, status counts and refusals.
//!
//! Needs the reference tools in the virtualenv made by `.ci/setup-python`
//! (`THREATGATE_VENV`, default `<repo>/.venv`); in CI their absence fails the test.

#[path = "interop/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::*;
use serde_json::{json, Value};
use threatgate::model::Tlp;
use threatgate::store::Store;

/// Extra GREEN indicators so pagination spans many pages (medallion's memory backend is
/// slow past ~1,000 objects; this stays far below).
const EXTRA: usize = 150;

fn venv() -> Option<PathBuf> {
    let v = std::env::var("THREATGATE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv"));
    if v.join("bin/medallion").exists() && v.join("bin/python").exists() {
        return Some(v);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but taxii2-client/medallion are not installed in {}",
        v.display()
    );
    eprintln!("skipping: no medallion/taxii2-client in {}", v.display());
    None
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_check(venv: &std::path::Path, args: &[String]) -> Value {
    let script = workspace_root().join("crates/threatgate/tests/interop/taxii_client_check.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "taxii_client_check.py {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn taxii2_client_against_threatgate_and_medallion_agree() {
    let Some(venv) = venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let w = world(&store);
    let extra: Vec<Value> = (0..EXTRA)
        .map(|i| {
            indicator(
                &format!("extra-{i}"),
                "2024-03-02T00:00:00.000Z",
                &format!("10.9.{}.{}", i / 250, i % 250),
                Tlp::Green,
            )
        })
        .collect();
    put(&store, &w.vendor, &extra);
    drop(store);
    let s = Server::sqlite(dir.path());
    let http = Http::default();
    let subs = collection_url(&http, &s, &w.tok_vendor_ingest, "submissions");
    let shared = collection_url(&http, &s, &w.tok_vendor_ingest, "shared-with-me");
    let id_of = |u: &str| {
        u.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let (subs_id, shared_id) = (id_of(&subs), id_of(&shared));

    // The same data for medallion: every version, with threatgate's date_added.
    let (_, _) = (subs.clone(), shared.clone());
    let man = http.json(
        &format!("{subs}manifest/?match[version]=all&limit=1000"),
        &w.tok_vendor_ingest,
    );
    let objs = http.json(
        &format!("{subs}objects/?match[version]=all&limit=1000"),
        &w.tok_vendor_ingest,
    );
    assert_eq!(man["more"], false);
    assert_eq!(objs["more"], false);
    let mport = free_port();
    let mroot = format!("http://127.0.0.1:{mport}/api1/");
    let data = json!({
        "/discovery": {
            "title": "medallion reference server",
            "description": "OASIS TAXII 2.1 reference implementation",
            "contact": "test",
            "default": mroot,
            "api_roots": [mroot],
        },
        "api1": {
            "information": {
                "title": "api1",
                "description": "reference API root",
                "versions": [TAXII],
                "max_content_length": 9_765_625,
            },
            "status": [],
            "collections": [
                {
                    "id": subs_id,
                    "title": "Own submissions",
                    "can_read": true,
                    "can_write": true,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objs["objects"],
                    "manifest": man["objects"],
                },
                {
                    "id": shared_id,
                    "title": "not readable, not writable",
                    "can_read": false,
                    "can_write": false,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ]
        }
    });
    let mdir = tempfile::tempdir().unwrap();
    std::fs::write(mdir.path().join("data.json"), data.to_string()).unwrap();
    let config = json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": mdir.path().join("data.json"),
        },
        "users": {"vendor": "medallion-password"},
        "taxii": {"max_page_size": 1000},
    });
    std::fs::write(mdir.path().join("config.json"), config.to_string()).unwrap();
    let medallion = Killed(
        Command::new(venv.join("bin/medallion"))
            .args(["--host", "127.0.0.1", "--port", &mport.to_string()])
            .arg(mdir.path().join("config.json"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(mdir.path().join("medallion.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let c = reqwest::blocking::Client::new();
    while c
        .get(format!("http://127.0.0.1:{mport}/taxii2/"))
        .basic_auth("vendor", Some("medallion-password"))
        .header("Accept", TAXII)
        .send()
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "medallion did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let ours = run_check(
        &venv,
        &[
            "--discovery".into(),
            s.url("/taxii2/"),
            "--user".into(),
            "vendor".into(),
            "--password".into(),
            w.tok_vendor_ingest.clone(),
            "--collection".into(),
            subs_id.clone(),
            "--forbidden-write".into(),
            shared_id.clone(),
            "--forbidden-read".into(),
            shared_id.clone(),
            "--forbidden-read-user".into(),
            "stranger".into(),
            "--forbidden-read-password".into(),
            w.tok_stranger.clone(),
        ],
    );
    let theirs = run_check(
        &venv,
        &[
            "--discovery".into(),
            format!("http://127.0.0.1:{mport}/taxii2/"),
            "--user".into(),
            "vendor".into(),
            "--password".into(),
            "medallion-password".into(),
            "--collection".into(),
            subs_id.clone(),
            "--forbidden-write".into(),
            shared_id.clone(),
            "--forbidden-read".into(),
            shared_id.clone(),
        ],
    );
    drop(medallion);
    // Where the specification says the answers must agree, they do.
    for k in [
        "filters",
        "pagination",
        "object_latest",
        "object_all_versions",
        "versions",
        "manifest_versions_of_multi",
        "manifest_count_all",
        "manifest_media_types",
        "status",
        "after_add_total",
        "deleted_get",
        "forbidden_write",
        "forbidden_read",
        "no_credentials",
        "wrong_accept",
        "api_root_versions",
    ] {
        if let Some(f) = ours[k].as_object() {
            for (sub, v) in f {
                assert_eq!(v, &theirs[k][sub], "{k}.{sub}: threatgate vs medallion");
            }
        }
        assert_eq!(ours[k], theirs[k], "{k}: threatgate vs medallion");
    }
    assert_eq!(
        ours["pagination"]["objects_total"],
        json!(5 * PER_TLP + 2 + EXTRA)
    );
}
