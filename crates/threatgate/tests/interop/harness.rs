//! Shared by the server tests: a store with a hub, partners and members under agreements,
//! STIX objects at every TLP, tokens of every role, and the real `threatgate serve`
//! binary started on a free 127.0.0.1 port (killed when dropped).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use serde_json::{json, Value};
use threatgate::auth;
use threatgate::model::*;
use threatgate::store::{NewObject, Store, SubmissionMeta};

pub const TAXII: &str = "application/taxii+json;version=2.1";
pub const BIN: &str = env!("CARGO_BIN_EXE_threatgate");
/// How long a server may take to print its port.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// TLP 2.0 marking-definition ids.
pub fn tlp_marking(t: Tlp) -> &'static str {
    match t {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// A STIX indicator for `ip`, version `modified`, marked `tlp`.
pub fn indicator(uuid_seed: &str, modified: &str, ip: &str, tlp: Tlp) -> Value {
    let id = format!(
        "indicator--{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, uuid_seed.as_bytes())
    );
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("C2 {ip} ({})", tlp.as_str()),
        "pattern": format!("[ipv4-addr:value = '{ip}']"),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        "labels": ["c2"],
        "object_marking_refs": [tlp_marking(tlp)],
        "x_threatgate_test": {"custom": [1, 2, 3]},
    })
}

pub fn malware(seed: &str, tlp: Tlp) -> Value {
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": format!("malware--{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, seed.as_bytes())),
        "created": "2024-02-01T00:00:00.000Z",
        "modified": "2024-02-01T00:00:00.000Z",
        "name": seed,
        "is_family": true,
        "object_marking_refs": [tlp_marking(tlp)],
    })
}

/// Store objects as one submission of `org` (straight through the store, as ingest would).
pub fn put(store: &Store, org: &Org, objects: &[Value]) {
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: org.id,
            agreement_id: None,
            format: "test".into(),
            source_name: "fixture".into(),
        })
        .unwrap();
    for o in objects {
        let tlp = [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ]
        .into_iter()
        .find(|t| o["object_marking_refs"][0] == tlp_marking(*t))
        .unwrap_or(Tlp::Amber);
        w.add_object(&NewObject {
            stix_id: o["id"].as_str().unwrap().into(),
            stix_type: o["type"].as_str().unwrap().into(),
            version: o["modified"].as_str().unwrap().into(),
            spec_version: "2.1".into(),
            tlp,
            json: o.to_string(),
        })
        .unwrap();
    }
    w.finish(0, json!({})).unwrap();
}

pub fn org(store: &Store, name: &str, kind: OrgKind, country: Option<&str>) -> Org {
    store
        .create_org(
            &NewOrg {
                name: name.into(),
                kind,
                country: country.map(str::to_string),
            },
            None,
        )
        .unwrap()
}

pub fn agree(store: &Store, o: &Org, role: AgreementRole, max: Tlp, days_left: i64) {
    let now = Utc::now();
    store
        .add_agreement(
            &NewAgreement {
                org_id: o.id,
                role,
                signed_on: now - Days::days(400),
                valid_from: now - Days::days(400),
                valid_until: now + Days::days(days_left),
                max_tlp: max,
                scope: None,
                purpose: "test".into(),
                retention_days: None,
                renews: None,
            },
            None,
        )
        .unwrap();
}

pub fn token(store: &Store, o: &Org, role: TokenRole) -> String {
    let s = auth::generate_secret();
    store
        .create_token(o.id, role, "test", &auth::hash_secret(&s), None)
        .unwrap();
    s
}

/// The standard world: who is who, their tokens, and what each TLP object is.
pub struct World {
    pub hub: Org,
    pub vendor: Org,
    pub fr: Org,
    pub de: Org,
    pub stranger: Org,
    pub tok_admin: String,
    pub tok_vendor_ingest: String,
    pub tok_vendor_read: String,
    pub tok_fr: String,
    pub tok_de: String,
    pub tok_stranger: String,
    /// ids by TLP of the vendor's objects.
    pub ids_by_tlp: Vec<(Tlp, Vec<String>)>,
    /// An AMBER object explicitly shared with FR.
    pub shared_amber_id: String,
    /// An indicator with three versions (GREEN).
    pub versioned_id: String,
    pub versions: Vec<String>,
}

impl World {
    pub fn ids(&self, t: Tlp) -> Vec<String> {
        self.ids_by_tlp
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Per TLP, how many indicators the vendor submitted.
pub const PER_TLP: usize = 10;

pub fn world(store: &Store) -> World {
    let hub = org(store, "hub", OrgKind::Hub, None);
    let vendor = org(store, "vendor", OrgKind::Partner, None);
    agree(store, &vendor, AgreementRole::Both, Tlp::Amber, 1000);
    let fr = org(store, "cert-fr", OrgKind::Member, Some("FR"));
    agree(store, &fr, AgreementRole::Receive, Tlp::Red, 365);
    let de = org(store, "cert-de", OrgKind::Member, Some("DE"));
    agree(store, &de, AgreementRole::Receive, Tlp::Amber, 365);
    // An org with no agreement at all: sees nothing of others, may submit nothing.
    let stranger = org(store, "stranger", OrgKind::Partner, None);
    let mut ids_by_tlp = vec![];
    let mut all = vec![];
    let tlps = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];
    for (ti, t) in tlps.iter().enumerate() {
        let mut ids = vec![];
        for i in 0..PER_TLP {
            let o = indicator(
                &format!("{t}-{i}"),
                "2024-03-01T00:00:00.000Z",
                &format!("10.{ti}.0.{i}"),
                *t,
            );
            ids.push(o["id"].as_str().unwrap().to_string());
            all.push(o);
        }
        ids_by_tlp.push((*t, ids));
    }
    all.push(malware("emotet", Tlp::Green));
    put(store, &vendor, &all);
    // Versions arrive in separate submissions, oldest first.
    let versions: Vec<String> = [
        "2024-04-01T00:00:00.000Z",
        "2024-05-01T00:00:00.000Z",
        "2024-06-01T00:00:00.000Z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut versioned_id = String::new();
    for v in &versions {
        let o = indicator("versioned", v, "192.0.2.77", Tlp::Green);
        versioned_id = o["id"].as_str().unwrap().to_string();
        put(store, &vendor, &[o]);
    }
    // Share one AMBER object with FR explicitly.
    let shared_amber_id = ids_by_tlp[2].1[0].clone();
    let pk = store
        .read(|c| {
            c.query_one(
                "SELECT pk FROM objects WHERE stix_id = $1",
                &[shared_amber_id.as_str().into()],
            )
            .map(|r| r.unwrap().i64(0).unwrap())
        })
        .unwrap();
    store
        .share(fr.id, &[ShareSubject::Object(pk)], hub.id, "test share")
        .unwrap();
    World {
        tok_admin: token(store, &hub, TokenRole::Admin),
        tok_vendor_ingest: token(store, &vendor, TokenRole::Ingest),
        tok_vendor_read: token(store, &vendor, TokenRole::Read),
        tok_fr: token(store, &fr, TokenRole::Read),
        tok_de: token(store, &de, TokenRole::Analyst),
        tok_stranger: token(store, &stranger, TokenRole::Ingest),
        hub,
        vendor,
        fr,
        de,
        stranger,
        ids_by_tlp,
        shared_amber_id,
        versioned_id,
        versions,
    }
}

/// A running `threatgate serve`, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `threatgate <store args> serve --listen 127.0.0.1:0 <extra>`.
    pub fn start(store_args: &[String], extra: &[&str]) -> Server {
        Server::start_with_log(store_args, extra, None)
    }

    /// Start with `THREATGATE_LOG=debug`, stderr written to `log` (to check what is logged).
    pub fn start_with_log(
        store_args: &[String],
        extra: &[&str],
        log: Option<&std::path::Path>,
    ) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(store_args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped());
        match log {
            Some(p) => {
                cmd.env("THREATGATE_LOG", "debug")
                    .stderr(std::fs::File::create(p).unwrap());
            }
            None => {
                cmd.env("THREATGATE_LOG", "warn").stderr(Stdio::inherit());
            }
        }
        let mut child = cmd.spawn().expect("start threatgate serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("threatgate listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let started = Instant::now();
        let addr = rx
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("threatgate serve did not start within {START_TIMEOUT:?}"));
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        let _ = started;
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    pub fn sqlite(dir: &std::path::Path) -> Server {
        Server::start(&["--data".into(), dir.display().to_string()], &[])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A data directory with the standard world, its store closed again.
pub fn sqlite_world() -> (tempfile::TempDir, World) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    let w = world(&store);
    drop(store);
    (dir, w)
}

/// HTTP helper with a token.
pub struct Http {
    pub client: reqwest::blocking::Client,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }
}

impl Http {
    pub fn get(&self, url: &str, token: &str) -> reqwest::blocking::Response {
        self.client
            .get(url)
            .bearer_auth(token)
            .header("Accept", TAXII)
            .send()
            .unwrap()
    }

    /// The server's Prometheus text (`/metrics` needs no token).
    pub fn metrics(&self, s: &Server) -> String {
        self.client
            .get(s.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// GET and parse JSON, asserting 200 and the TAXII media type.
    pub fn json(&self, url: &str, token: &str) -> Value {
        let r = self.get(url, token);
        assert_eq!(r.status(), 200, "GET {url}");
        assert_eq!(r.headers()["content-type"], TAXII, "GET {url}");
        r.json().unwrap()
    }

    pub fn post(&self, url: &str, token: &str, body: &Value) -> reqwest::blocking::Response {
        self.client
            .post(url)
            .bearer_auth(token)
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(body.to_string())
            .send()
            .unwrap()
    }
}

/// Ids of an envelope's objects.
pub fn ids_of(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Collection URL by alias for the API root of `server`.
pub fn collection_url(http: &Http, server: &Server, token: &str, alias: &str) -> String {
    let cols = http.json(&server.url("/taxii2/api/collections/"), token);
    let id = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alias"] == alias)
        .unwrap_or_else(|| panic!("no collection {alias}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.url(&format!("/taxii2/api/collections/{id}/"))
}

/// Follow `next` to the end; returns all objects' ids in order and the page count.
pub fn all_pages(http: &Http, url: &str, token: &str, query: &str) -> (Vec<String>, usize) {
    let mut ids = vec![];
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let mut u = format!("{url}?{query}");
        if let Some(n) = &next {
            u.push_str(&format!("&next={n}"));
        }
        let v = http.json(&u, token);
        pages += 1;
        ids.extend(ids_of(&v));
        if v["more"] == true {
            next = Some(v["next"].as_str().expect("next with more").to_string());
        } else {
            assert!(v.get("next").is_none(), "no next without more");
            break;
        }
        assert!(pages < 10_000, "pagination does not end");
    }
    (ids, pages)
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
