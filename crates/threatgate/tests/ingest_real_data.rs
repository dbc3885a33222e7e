//! Ingest ALL of the shared real data (maltrail trails, URLhaus, the ESET MISP events and
//! hash lists, the CIRCL MISP feed, the OASIS STIX examples), each dataset as its own
//! partner, and check the stored record counts against counts computed here by small,
//! separate parsers (which only share the definition of "canonical" with ingest: the
//! observable crate).
//!
//! Runs on SQLite, and on PostgreSQL when THREATGATE_TEST_PG is set. Missing data fails
//! (support::shared_data), so CI cannot skip this silently.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use observable::{Kind, Observable};
use serde_json::Value;
use threatgate::ingest::{self, IngestOptions, NoProgress};
use threatgate::model::*;
use threatgate::store::Store;

type Set = BTreeSet<(Kind, String)>;

fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if keep(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn add(set: &mut Set, o: Result<Observable, observable::Error>) {
    if let Ok(o) = o {
        set.insert((o.kind, o.value));
    }
}

/// Maltrail trails and hash lists: first token of each non-comment line.
fn count_lines(files: &[PathBuf]) -> Set {
    let mut set = Set::new();
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with('/') {
                continue;
            }
            let token = l.split_whitespace().next().unwrap();
            // Scheme-less `host[:port]/path` is a URL (maltrail).
            let o = observable::detect_with_port(token)
                .map(|(o, _)| o)
                .or_else(|e| {
                    if token.contains('/') && !token.contains("://") && !token.starts_with('/') {
                        Observable::parse(Kind::Url, &format!("http://{token}"))
                    } else {
                        Err(e)
                    }
                });
            add(&mut set, o);
        }
    }
    set
}

/// URLhaus: the third CSV column of every data row.
fn count_urlhaus(file: &Path) -> Set {
    let mut set = Set::new();
    let mut rd = csv::Reader::from_path(file).unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        add(&mut set, Observable::parse(Kind::Url, &rec[2]));
    }
    set
}

/// MISP: attribute types that name observables, composite values split on `|`.
fn count_misp(files: &[PathBuf]) -> Set {
    let mut set = Set::new();
    for f in files {
        let doc: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let events: Vec<&Value> = match doc.get("response") {
            Some(r) => r.as_array().unwrap().iter().map(|e| &e["Event"]).collect(),
            None => vec![&doc["Event"]],
        };
        for ev in events {
            let mut attrs: Vec<&Value> = ev["Attribute"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            for o in ev["Object"].as_array().into_iter().flatten() {
                if o["deleted"] == Value::Bool(true) {
                    continue;
                }
                attrs.extend(o["Attribute"].as_array().into_iter().flatten());
            }
            for a in attrs {
                if a["deleted"] == Value::Bool(true) {
                    continue;
                }
                let (t, v) = (a["type"].as_str().unwrap(), a["value"].as_str().unwrap());
                let ip = |s: &str| {
                    Observable::parse(
                        if s.contains(':') {
                            Kind::Ipv6
                        } else {
                            Kind::Ipv4
                        },
                        s,
                    )
                };
                match t {
                    "ip-dst" | "ip-src" => add(&mut set, ip(v)),
                    "ip-dst|port" | "ip-src|port" => {
                        add(&mut set, ip(v.split('|').next().unwrap()))
                    }
                    "domain" | "hostname" => add(&mut set, Observable::parse(Kind::Domain, v)),
                    "hostname|port" => add(
                        &mut set,
                        Observable::parse(Kind::Domain, v.split('|').next().unwrap()),
                    ),
                    "domain|ip" => {
                        let (d, i) = v.split_once('|').unwrap();
                        add(&mut set, Observable::parse(Kind::Domain, d));
                        add(&mut set, ip(i));
                    }
                    "url" => add(&mut set, Observable::parse(Kind::Url, v)),
                    "uri" if v.contains("://") => add(&mut set, Observable::parse(Kind::Url, v)),
                    "md5" | "sha1" | "sha256" | "sha512" => {
                        add(&mut set, Observable::parse(t.parse().unwrap(), v))
                    }
                    "filename|md5" | "malware-sample" => add(
                        &mut set,
                        Observable::parse(Kind::Md5, v.split('|').nth(1).unwrap()),
                    ),
                    "filename|sha1" => add(
                        &mut set,
                        Observable::parse(Kind::Sha1, v.split('|').nth(1).unwrap()),
                    ),
                    "filename|sha256" => add(
                        &mut set,
                        Observable::parse(Kind::Sha256, v.split('|').nth(1).unwrap()),
                    ),
                    "filename|sha512" => add(
                        &mut set,
                        Observable::parse(Kind::Sha512, v.split('|').nth(1).unwrap()),
                    ),
                    "email" | "email-src" | "email-dst" => {
                        add(&mut set, Observable::parse(Kind::Email, v))
                    }
                    _ => {}
                }
            }
        }
    }
    set
}

/// STIX: SCO values and hashes, and every `path = 'value'` comparison in a stix pattern.
fn count_stix(files: &[PathBuf]) -> Set {
    let mut set = Set::new();
    for f in files {
        let doc: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        for o in doc["objects"].as_array().unwrap() {
            let t = o["type"].as_str().unwrap();
            let kind = match t {
                "ipv4-addr" => Some(Kind::Ipv4),
                "ipv6-addr" => Some(Kind::Ipv6),
                "domain-name" => Some(Kind::Domain),
                "url" => Some(Kind::Url),
                "email-addr" => Some(Kind::Email),
                _ => None,
            };
            if let (Some(k), Some(v)) = (kind, o["value"].as_str()) {
                add(&mut set, Observable::parse(k, v));
            }
            if t == "file" {
                for (alg, h) in o["hashes"].as_object().into_iter().flatten() {
                    if let Some(k) = Kind::from_hash_algorithm(alg) {
                        add(&mut set, Observable::parse(k, h.as_str().unwrap()));
                    }
                }
            }
            if t == "indicator" && o["pattern_type"] == "stix" {
                let p = o["pattern"].as_str().unwrap();
                for part in p.split(" = '").skip(1).zip(p.split(" = '")) {
                    let (after, before) = part;
                    let value = after.split('\'').next().unwrap();
                    let path = before.rsplit(['[', '(', ' ']).next().unwrap();
                    if let Some(alg) = path.strip_prefix("file:hashes.") {
                        if let Some(k) = Kind::from_hash_algorithm(alg.trim_matches('\'')) {
                            add(&mut set, Observable::parse(k, value));
                        }
                        continue;
                    }
                    let kind = match path {
                        "ipv4-addr:value" => Some(Kind::Ipv4),
                        "ipv6-addr:value" => Some(Kind::Ipv6),
                        "domain-name:value" => Some(Kind::Domain),
                        "url:value" => Some(Kind::Url),
                        "email-addr:value" => Some(Kind::Email),
                        "file:hashes.MD5" | "file:hashes.'MD5'" => Some(Kind::Md5),
                        "file:hashes.'SHA-1'" | "file:hashes.SHA1" => Some(Kind::Sha1),
                        "file:hashes.'SHA-256'" | "file:hashes.SHA256" => Some(Kind::Sha256),
                        "file:hashes.'SHA-512'" => Some(Kind::Sha512),
                        _ => None,
                    };
                    if let Some(k) = kind {
                        add(&mut set, Observable::parse(k, value));
                    }
                }
            }
        }
    }
    set
}

fn partner(store: &Store, hub: &Org, name: &str) -> Org {
    let org = store
        .create_org(
            &NewOrg {
                name: name.into(),
                kind: OrgKind::Partner,
                country: None,
            },
            Some(hub.id),
        )
        .unwrap();
    let now = Utc::now();
    store
        .add_agreement(
            &NewAgreement {
                org_id: org.id,
                role: AgreementRole::Provide,
                signed_on: now - Duration::days(1),
                valid_from: now - Duration::days(1),
                valid_until: now + Duration::days(365),
                max_tlp: Tlp::Red,
                scope: None,
                purpose: "real data test".into(),
                retention_days: None,
                renews: None,
            },
            Some(hub.id),
        )
        .unwrap();
    org
}

fn stored(store: &Store, org: &Org) -> Set {
    store
        .read(|c| {
            let rows = c.query(
                "SELECT o.kind, o.value FROM records r JOIN observables o ON o.id = r.observable_id WHERE r.org_id = $1",
                &[org.id.into()],
            )?;
            Ok(rows.iter().map(|r| (r.str(0).unwrap().parse().unwrap(), r.string(1).unwrap())).collect())
        })
        .unwrap()
}

#[test]
fn all_shared_data_ingests_with_independently_counted_records() {
    let data = support::shared_data();
    let is = |ext: &'static str| move |p: &Path| p.extension().is_some_and(|e| e == ext);
    let trails = files_under(&data.join("maltrail/trails"), &is("txt"));
    let hash_lists = files_under(&data.join("eset-malware-ioc"), &|p: &Path| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("samples.")
    });
    let misp_events = files_under(&data.join("eset-malware-ioc"), &is("json"));
    let feed = data.join("misp-circl-osint-events/feed");
    let feed_events: Vec<PathBuf> = files_under(&feed, &is("json"))
        .into_iter()
        .filter(|p| !p.ends_with("manifest.json"))
        .collect();
    let stix = files_under(&data.join("oasis-stix-examples"), &is("json"));
    let urlhaus = files_under(&data.join("urlhaus"), &is("csv"));
    assert!(
        trails.len() >= 20
            && misp_events.len() >= 13
            && feed_events.len() >= 11
            && stix.len() >= 10
            && hash_lists.len() >= 12
    );

    let datasets: Vec<(&str, Vec<PathBuf>, Set)> = vec![
        (
            "maltrail",
            vec![data.join("maltrail/trails")],
            count_lines(&trails),
        ),
        ("eset-hashes", hash_lists.clone(), count_lines(&hash_lists)),
        (
            "urlhaus",
            urlhaus.clone(),
            urlhaus.iter().flat_map(|f| count_urlhaus(f)).collect(),
        ),
        ("eset-misp", misp_events.clone(), count_misp(&misp_events)),
        ("circl-feed", vec![feed.clone()], count_misp(&feed_events)),
        (
            "oasis-stix",
            vec![data.join("oasis-stix-examples")],
            count_stix(&stix),
        ),
    ];
    for ts in support::all_stores() {
        let store = &ts.store;
        let hub = store
            .create_org(
                &NewOrg {
                    name: "hub".into(),
                    kind: OrgKind::Hub,
                    country: None,
                },
                None,
            )
            .unwrap();
        let started = std::time::Instant::now();
        for (name, paths, expected) in &datasets {
            let org = partner(store, &hub, name);
            let opts = IngestOptions {
                partial: true,
                ..Default::default()
            };
            let r = ingest::ingest_paths(store, &org, paths, &opts, &NoProgress)
                .unwrap_or_else(|e| panic!("{} {name}: {e}", ts.engine));
            eprintln!(
                "{} {name}: {} ({} rejected)",
                ts.engine,
                r.summary(),
                r.rejected.len()
            );
            for rej in r.rejected.iter().take(30) {
                eprintln!("  rejected: {rej}");
            }
            let got = stored(store, &org);
            let missing: Vec<_> = expected.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(expected).take(5).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{} {name}: {} stored, {} expected; missing {missing:?}, extra {extra:?}",
                ts.engine,
                got.len(),
                expected.len()
            );
            assert!(!expected.is_empty(), "{name}");
            // Every file became one submission; files with rejections say so.
            let files = r.files.len();
            assert_eq!(r.submissions.len(), files, "{name}");
        }
        eprintln!("{}: all shared data in {:?}", ts.engine, started.elapsed());
        // Sanity on specific mappings from the real data.
        let h = store.hub().unwrap().unwrap();
        let scope = threatgate::policy::read_scope(
            &h,
            &[],
            Utc::now(),
            threatgate::policy::Channel::Interactive,
        );
        let emotet_file = data.join("maltrail/trails/static/malware/emotet.txt");
        let first_value = std::fs::read_to_string(&emotet_file)
            .unwrap()
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap()
            .to_string();
        let (o, _) = observable::detect_with_port(&first_value).unwrap();
        let obs = store.observable(o.kind, &o.value).unwrap().unwrap();
        let recs = store.visible_records(obs.id, &scope).unwrap();
        assert!(
            recs.iter()
                .any(|r| r.claim.malware.first().map(String::as_str) == Some("emotet")),
            "{recs:?}"
        );
        assert!(
            recs.iter().any(|r| !r.claim.references.is_empty()),
            "maltrail references kept: {recs:?}"
        );
        assert!(store.verify_audit().unwrap().is_ok());
    }
}
