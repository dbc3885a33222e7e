//! Ingest rules end to end on a real store (SQLite always, PostgreSQL when
//! THREATGATE_TEST_PG is set): merging across sources, policy refusals, bad input,
//! `--partial`, format detection, and the TAXII objects entry point.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use threatgate::ingest::{self, Format, IngestError, IngestOptions, NoProgress};
use threatgate::model::*;
use threatgate::store::Store;

use support::{all_stores, t, TestStore};

/// Row counts of every table a submission writes (the audit log is checked separately:
/// refusals are audited on purpose).
/// Whether the store holds this observable (from any source).
fn stored(store: &Store, kind: Kind, value: &str) -> bool {
    store.observable(kind, value).unwrap().is_some()
}

fn counts(store: &Store) -> Vec<(String, i64)> {
    [
        "observables",
        "records",
        "objects",
        "object_observables",
        "submissions",
    ]
    .iter()
    .map(|table| {
        let n = store
            .read(|c| {
                c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                    .map(|r| r.map(|r| r.i64(0).unwrap()).unwrap_or(0))
            })
            .unwrap();
        (table.to_string(), n)
    })
    .collect()
}

fn audit_actions(store: &Store) -> Vec<String> {
    store
        .audit_entries(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.action)
        .collect()
}

fn hub(store: &Store) -> Org {
    match store.hub().unwrap() {
        Some(h) => h,
        None => store
            .create_org(
                &NewOrg {
                    name: "hub".into(),
                    kind: OrgKind::Hub,
                    country: None,
                },
                None,
            )
            .unwrap(),
    }
}

/// A partner with one agreement as described.
fn partner(
    store: &Store,
    name: &str,
    role: AgreementRole,
    from: Time,
    until: Time,
    scope: Option<Vec<&str>>,
) -> (Org, Agreement) {
    let h = hub(store);
    let org = store
        .create_org(
            &NewOrg {
                name: name.into(),
                kind: OrgKind::Partner,
                country: None,
            },
            Some(h.id),
        )
        .unwrap();
    let a = store
        .add_agreement(
            &NewAgreement {
                org_id: org.id,
                role,
                signed_on: from,
                valid_from: from,
                valid_until: until,
                max_tlp: Tlp::Amber,
                scope: scope.map(|s| s.into_iter().map(String::from).collect()),
                purpose: "test".into(),
                retention_days: None,
                renews: None,
            },
            Some(h.id),
        )
        .unwrap();
    (org, a)
}

fn active_partner(store: &Store, name: &str) -> Org {
    let now = Utc::now();
    partner(
        store,
        name,
        AgreementRole::Provide,
        now - Duration::days(10),
        now + Duration::days(365),
        None,
    )
    .0
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn ingest(
    store: &Store,
    org: &Org,
    paths: &[PathBuf],
    opts: &IngestOptions,
) -> Result<ingest::IngestReport, IngestError> {
    ingest::ingest_paths(store, org, paths, opts, &NoProgress)
}

const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","x_acme_score":{"v":[1,2,3]}},
{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"Poison Ivy","is_family":true},
{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}
]}"#;

fn each_store(f: impl Fn(&TestStore)) {
    for ts in all_stores() {
        eprintln!("engine: {}", ts.engine);
        f(&ts);
    }
}

#[test]
fn stix_bundle_claims_objects_links_and_custom_properties() {
    each_store(|ts| {
        let store = &ts.store;
        let org = active_partner(store, "vendor-a");
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bundle.json", BUNDLE.as_bytes());
        let r = ingest(store, &org, &[p], &IngestOptions::default()).unwrap();
        assert_eq!(r.submissions.len(), 1);
        assert_eq!(r.by_type.get("ipv4-addr"), Some(&2), "{r:?}"); // indicator + malware pass
        assert_eq!(r.objects_by_type.get("indicator"), Some(&1));
        let obs = store
            .observable(Kind::Ipv4, "198.51.100.1")
            .unwrap()
            .expect("observable");
        let h = hub(store);
        let scope = threatgate::policy::read_scope(
            &h,
            &[],
            Utc::now(),
            threatgate::policy::Channel::Interactive,
        );
        let recs = store.visible_records(obs.id, &scope).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].claim.malware, vec!["Poison Ivy"]);
        assert_eq!(recs[0].claim.labels, vec!["malicious-activity"]);
        assert_eq!(
            recs[0].claim.stix_ids,
            vec!["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]
        );
        let objs = store
            .visible_objects_for_observable(obs.id, &scope)
            .unwrap();
        assert_eq!(objs.len(), 1);
        let json: serde_json::Value = serde_json::from_str(&objs[0].json).unwrap();
        assert_eq!(json["x_acme_score"]["v"], serde_json::json!([1, 2, 3]));
        // Re-ingesting the same file changes nothing but adds a submission.
        let before = counts(store);
        let dir2 = tempfile::tempdir().unwrap();
        let p = write(dir2.path(), "bundle.json", BUNDLE.as_bytes());
        ingest(store, &org, &[p], &IngestOptions::default()).unwrap();
        let after = counts(store);
        assert_eq!(before[..4], after[..4]);
    });
}

#[test]
fn same_observable_from_two_sources_merges() {
    each_store(|ts| {
        let store = &ts.store;
        let a = active_partner(store, "vendor-a");
        let b = active_partner(store, "vendor-b");
        let dir = tempfile::tempdir().unwrap();
        let list = write(dir.path(), "a.txt", b"evil[.]example\n198.51.100.1:443\n");
        let csv = write(
            dir.path(),
            "b.csv",
            b"Indicator,Type,TLP,Malware\nEVIL.example.,domain,green,Emotet\nhttp://x.example/a,url,,\n",
        );
        ingest(
            store,
            &a,
            &[list],
            &IngestOptions {
                tlp: Some(Tlp::Amber),
                ..Default::default()
            },
        )
        .unwrap();
        ingest(store, &b, &[csv], &IngestOptions::default()).unwrap();
        let obs = store
            .observable(Kind::Domain, "evil.example")
            .unwrap()
            .unwrap();
        let h = hub(store);
        let scope = threatgate::policy::read_scope(
            &h,
            &[],
            Utc::now(),
            threatgate::policy::Channel::Interactive,
        );
        let recs = store.visible_records(obs.id, &scope).unwrap();
        assert_eq!(recs.len(), 2, "one observable, one record per source");
        let by_org: std::collections::BTreeMap<i64, &SourceRecord> =
            recs.iter().map(|r| (r.org_id, r)).collect();
        assert_eq!(by_org[&a.id].claim.tlp, Some(Tlp::Amber));
        assert_eq!(by_org[&b.id].claim.tlp, Some(Tlp::Green));
        assert_eq!(by_org[&b.id].claim.malware, vec!["Emotet"]);
        let n_obs = counts(store)[0].1;
        assert_eq!(n_obs, 3);
    });
}

#[test]
fn policy_refusals_leave_the_store_unchanged_and_are_audited() {
    each_store(|ts| {
        let store = &ts.store;
        let now = Utc::now();
        let dir = tempfile::tempdir().unwrap();
        let list = write(dir.path(), "list.txt", b"evil.example\n198.51.100.1\n");
        let bundle = write(dir.path(), "bundle.json", BUNDLE.as_bytes());
        // Something in the store first, so "unchanged" is not trivially "empty".
        let ok = active_partner(store, "ok");
        ingest(
            store,
            &ok,
            std::slice::from_ref(&list),
            &IngestOptions::default(),
        )
        .unwrap();

        let cases: Vec<(&str, Org, PathBuf, Vec<String>)> = {
            let (expired, a) = partner(
                store,
                "expired",
                AgreementRole::Provide,
                t("2019-07-03"),
                t("2024-07-03"),
                None,
            );
            let (future, b) = partner(
                store,
                "future",
                AgreementRole::Provide,
                now + Duration::days(30),
                now + Duration::days(400),
                None,
            );
            let (terminated, c) = partner(
                store,
                "terminated",
                AgreementRole::Provide,
                now - Duration::days(30),
                now + Duration::days(400),
                None,
            );
            store
                .end_agreement(c.id, now - Duration::days(1), "breach", None)
                .unwrap();
            let (recv, d) = partner(
                store,
                "receiver",
                AgreementRole::Receive,
                now - Duration::days(30),
                now + Duration::days(400),
                None,
            );
            let (scoped, e) = partner(
                store,
                "scoped",
                AgreementRole::Provide,
                now - Duration::days(30),
                now + Duration::days(400),
                Some(vec!["indicator", "ipv4-addr"]),
            );
            vec![
                (
                    "expired",
                    expired,
                    list.clone(),
                    vec![
                        format!("agreement #{}", a.id),
                        "2019-07-03 to 2024-07-03".into(),
                        "expired".into(),
                    ],
                ),
                (
                    "future",
                    future,
                    list.clone(),
                    vec![
                        format!("agreement #{}", b.id),
                        "not yet in force".into(),
                        (now + Duration::days(30)).format("%Y-%m-%d").to_string(),
                    ],
                ),
                (
                    "terminated",
                    terminated,
                    list.clone(),
                    vec![format!("agreement #{}", c.id), "terminated".into()],
                ),
                (
                    "receive-only",
                    recv,
                    list.clone(),
                    vec![format!("agreement #{}", d.id), "receive-only".into()],
                ),
                (
                    "out of scope",
                    scoped,
                    bundle.clone(),
                    vec![
                        format!("agreement #{}", e.id),
                        "does not cover these types: domain-name, malware".into(),
                    ],
                ),
            ]
        };
        for (what, org, path, needles) in cases {
            let before = counts(store);
            let audits_before = audit_actions(store).len();
            let err = ingest(store, &org, &[path], &IngestOptions::default()).unwrap_err();
            let text = err.to_string();
            assert!(err.refusal().is_some(), "{what}: {text}");
            for n in needles {
                assert!(text.contains(&n), "{what}: {text:?} should mention {n:?}");
            }
            assert_eq!(counts(store), before, "{what}: store changed");
            let audits = audit_actions(store);
            assert_eq!(audits.len(), audits_before + 1, "{what}");
            assert_eq!(audits.last().unwrap(), "submission.refused");
        }
        assert!(store.verify_audit().unwrap().is_ok());
    });
}

#[test]
fn bad_input_is_located_and_rolled_back() {
    each_store(|ts| {
        let store = &ts.store;
        let org = active_partner(store, "vendor");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let indicator_no_pattern = BUNDLE.replace(
            r#""pattern":"[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']","#,
            "",
        );
        let truncated = &BUNDLE[..BUNDLE.len() / 2];
        let cases: Vec<(&str, PathBuf, Option<Format>, Vec<&str>)> = vec![
            ("truncated JSON", write(d, "trunc.json", truncated.as_bytes()), None, vec!["trunc.json: malformed JSON at line ", "(in /objects/", "end of input"]),
            ("missing property", write(d, "bundle.json", indicator_no_pattern.as_bytes()), None, vec!["bundle.json: /objects/0/pattern: indicator requires `pattern`"]),
            ("wrong JSON types", write(d, "types.json", br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","id":7}]}"#), None, vec!["types.json: /objects/0/id: `id` must be a string, found a number"]),
            ("misp wrong types", write(d, "event.json", br#"{"Event":{"uuid":"x","Attribute":[{"type":"ip-dst","value":["1.2.3.4"]}]}}"#), None, vec!["event.json: /Event/Attribute/0/value: \"value\" must be a string, found an array"]),
            ("bad IP", write(d, "ips.txt", b"198.51.100.1\n999.1.1.1\n"), None, vec!["ips.txt: line 2:", "999.1.1.1", "octets"]),
            ("hash length", write(d, "h.csv", b"value,type\nabcdef0123,sha256\n"), None, vec!["h.csv: line 2:", "sha256"]),
            ("invalid UTF-8", write(d, "u.txt", b"evil.example\n\xff\xfeevil.example\n"), None, vec!["u.txt: line 2: not valid UTF-8"]),
            ("empty file", write(d, "empty.txt", b""), None, vec!["empty.txt: the file is empty"]),
            ("not json", write(d, "x.json", b"{\"a\": 1}"), Some(Format::Stix), vec!["x.json", "not a STIX bundle"]),
        ];
        for (what, path, format, needles) in cases {
            let before = counts(store);
            let audits_before = audit_actions(store).len();
            let err = ingest(
                store,
                &org,
                &[path],
                &IngestOptions {
                    format,
                    ..Default::default()
                },
            )
            .unwrap_err();
            let text = err.to_string();
            for n in needles {
                assert!(text.contains(n), "{what}: {text:?} should contain {n:?}");
            }
            // The place is said once, not once by the reader and again by ingest.
            assert!(
                !(text.contains(": /objects/") && text.contains("(in /objects/")),
                "{what}: {text:?} repeats its location"
            );
            assert_eq!(counts(store), before, "{what}: store changed");
            assert_eq!(
                audit_actions(store).len(),
                audits_before,
                "{what}: audit changed"
            );
        }
        // A directory with no known files.
        let empty_dir = d.join("nothing");
        std::fs::create_dir(&empty_dir).unwrap();
        write(&empty_dir, "README.md", b"# hi\n");
        write(&empty_dir, "image.png", b"\x89PNG");
        let err = ingest(store, &org, &[empty_dir], &IngestOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no ingestible files"), "{err}");
    });
}

#[test]
fn bom_is_accepted_and_stripped() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "bom.txt", b"\xEF\xBB\xBFevil.example\n");
    let csv = write(
        dir.path(),
        "bom.csv",
        b"\xEF\xBB\xBFValue,Type\nother.example,domain\n",
    );
    let mut bundle = b"\xEF\xBB\xBF".to_vec();
    bundle.extend_from_slice(BUNDLE.as_bytes());
    let stix = write(dir.path(), "bom.json", &bundle);
    let r = ingest(store, &org, &[list, csv, stix], &IngestOptions::default()).unwrap();
    assert_eq!(
        r.files.iter().map(|f| f.format).collect::<Vec<_>>(),
        vec![Format::Lines, Format::Csv, Format::Stix]
    );
    assert!(stored(store, Kind::Domain, "evil.example"));
    assert!(stored(store, Kind::Domain, "other.example"));
}

#[test]
fn huge_single_line_is_refused_without_holding_it() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"evil.example\n").unwrap();
        let chunk = vec![b'a'; 1024 * 1024];
        for _ in 0..50 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\nother.example\n").unwrap();
    }
    let err = ingest(
        store,
        &org,
        std::slice::from_ref(&path),
        &IngestOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("huge.txt: line 2: the line is 52428800 bytes long"),
        "{err}"
    );
    let r = ingest(
        store,
        &org,
        std::slice::from_ref(&path),
        &IngestOptions {
            partial: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.claims(), 2);
    assert_eq!(r.rejected.len(), 1);
    // The same line in a CSV file: a clear error naming the line.
    let csv = dir.path().join("huge.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
        f.write_all(b"value,type\nevil.example,domain\n").unwrap();
        let chunk = vec![b'a'; 1024 * 1024];
        for _ in 0..50 {
            f.write_all(&chunk).unwrap();
        }
    }
    let err = ingest(store, &org, &[csv], &IngestOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("huge.csv: line 3 is longer than"),
        "{err}"
    );
}

#[test]
fn partial_keeps_valid_items_and_lists_rejections() {
    each_store(|ts| {
        let store = &ts.store;
        let org = active_partner(store, "vendor");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let good = write(d, "a.txt", b"evil.example\n999.1.1.1\n198.51.100.1\n");
        let bad = write(
            d,
            "b.csv",
            b"value,type\nabcdef,sha256\nhttp://x.example/,url\n",
        );
        let empty = write(d, "c.txt", b"");
        let r = ingest(
            store,
            &org,
            &[good, bad, empty],
            &IngestOptions {
                partial: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.submissions.len(), 2);
        assert_eq!(r.claims(), 3);
        let rej: Vec<String> = r.rejected.iter().map(|r| r.to_string()).collect();
        assert_eq!(rej.len(), 3, "{rej:?}");
        assert!(
            rej[0].starts_with(&format!("{}: line 2: ", d.join("a.txt").display())),
            "{rej:?}"
        );
        assert!(rej[1].contains("b.csv: line 2"), "{rej:?}");
        assert!(rej[2].contains("c.txt: the file is empty"), "{rej:?}");
        assert_eq!(r.submissions[0].rejected, 1);
    });
}

#[test]
fn several_files_stop_at_the_first_bad_one_and_say_what_was_committed() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write(d, "a.txt", b"evil.example\n");
    let b = write(d, "b.txt", b"999.1.1.1\n");
    let c = write(d, "c.txt", b"other.example\n");
    let err = ingest(store, &org, &[a, b, c], &IngestOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("b.txt: line 1"), "{text}");
    assert!(text.contains("1 earlier file(s) were committed"), "{text}");
    assert!(text.contains("a.txt (submission #"), "{text}");
    assert!(stored(store, Kind::Domain, "evil.example"));
    assert!(!stored(store, Kind::Domain, "other.example"));
}

#[test]
fn taxii_objects_report_each_object() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let doc: serde_json::Value = serde_json::from_str(BUNDLE).unwrap();
    let mut objects: Vec<serde_json::Value> = doc["objects"].as_array().unwrap().clone();
    objects.push(serde_json::json!({"type": "indicator", "id": "indicator--0a9b5c5e-6f0d-4b8e-9d7c-2b1f3e4d5c6b", "spec_version": "2.1"}));
    objects.push(serde_json::json!(42));
    let opts = IngestOptions {
        partial: true,
        ..Default::default()
    };
    let r = ingest::ingest_stix_objects(
        store,
        &org,
        "taxii:collection-1",
        objects.clone().into_iter(),
        &opts,
    )
    .unwrap();
    assert_eq!(r.objects.len(), 5);
    assert!(
        r.objects[..3].iter().all(|o| o.error.is_none()),
        "{:?}",
        r.objects
    );
    assert_eq!(
        r.objects[0].id.as_deref(),
        Some("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    );
    assert!(
        r.objects[3]
            .error
            .as_deref()
            .unwrap()
            .contains("requires `created`"),
        "{:?}",
        r.objects[3]
    );
    assert!(r.objects[4].error.is_some());
    // Without partial, one bad object refuses all.
    let before = counts(store);
    let err = ingest::ingest_stix_objects(
        store,
        &org,
        "taxii:collection-1",
        objects.into_iter(),
        &IngestOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/objects/3"), "{err}");
    assert_eq!(counts(store), before);
}

#[test]
fn format_detection_in_a_directory() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "bundle.json", BUNDLE.as_bytes());
    write(d, "event.json", br#"{"Event":{"uuid":"5c706a30-8ad4-4fcc-9e17-4d3d02de0b81","Attribute":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]}}"#);
    write(d, "urlhaus.csv", b"id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"1\",\"2025-04-21 12:35:06\",\"http://117.209.87.242:60905/bin.sh\",\"online\",\"2025-04-21 12:35:06\",\"malware_download\",\"Mozi\",\"https://urlhaus.abuse.ch/url/1/\",\"x\"\n");
    write(d, "iocs.csv", b"Indicator,Type\n203.0.113.5,IPv4\n");
    write(
        d,
        "samples.sha256",
        b"433d0ca49bf2d80f3d61dcf97cd5af0ee52be83d5f8a070560cbf26ff840a676\n",
    );
    write(d, "README.md", b"not data");
    let feed = d.join("feed");
    std::fs::create_dir(&feed).unwrap();
    write(
        &feed,
        "manifest.json",
        br#"{"6c706a30-8ad4-4fcc-9e17-4d3d02de0b81": {"info": "x"}}"#,
    );
    write(&feed, "6c706a30-8ad4-4fcc-9e17-4d3d02de0b81.json", br#"{"Event":{"uuid":"6c706a30-8ad4-4fcc-9e17-4d3d02de0b81","Attribute":[{"type":"domain","value":"feed.example"}]}}"#);
    let r = ingest(store, &org, &[d.to_path_buf()], &IngestOptions::default()).unwrap();
    let formats: Vec<(String, Format)> = r
        .files
        .iter()
        .map(|f| {
            (
                Path::new(&f.file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                f.format,
            )
        })
        .collect();
    assert_eq!(
        formats,
        vec![
            ("bundle.json".to_string(), Format::Stix),
            ("event.json".to_string(), Format::Misp),
            (
                "6c706a30-8ad4-4fcc-9e17-4d3d02de0b81.json".to_string(),
                Format::Misp
            ),
            ("iocs.csv".to_string(), Format::Csv),
            ("samples.sha256".to_string(), Format::Lines),
            ("urlhaus.csv".to_string(), Format::Urlhaus),
        ]
    );
    assert!(stored(store, Kind::Domain, "feed.example"));
}

#[test]
fn missing_feed_event_names_the_manifest_entry() {
    let ts = support::sqlite_store();
    let store = &ts.store;
    let org = active_partner(store, "vendor");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "manifest.json",
        br#"{"6c706a30-8ad4-4fcc-9e17-4d3d02de0b81": {}}"#,
    );
    let err = ingest(
        store,
        &org,
        &[dir.path().to_path_buf()],
        &IngestOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("manifest.json: /6c706a30-8ad4-4fcc-9e17-4d3d02de0b81: entry 1 names event"),
        "{err}"
    );
}

/// SCOs have no `modified`: an identical SCO is one object however often it is ingested
/// (and however often it appears in one file); a changed one is a new version.
#[test]
fn identical_scos_are_stored_once() {
    const SCO: &str = r#"{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}"#;
    let bundle = |objects: &[&str]| {
        format!(
            r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{}]}}"#,
            objects.join(",")
        )
    };
    let objects = |store: &Store| {
        store
            .read(|c| {
                c.query_one(
                    "SELECT COUNT(*) FROM objects WHERE stix_type = 'ipv4-addr'",
                    &[],
                )
                .map(|r| r.unwrap().i64(0).unwrap())
            })
            .unwrap()
    };
    each_store(|ts| {
        let store = &ts.store;
        let org = active_partner(store, "vendor-a");
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "sco.json", bundle(&[SCO, SCO]).as_bytes());
        let r = ingest(
            store,
            &org,
            std::slice::from_ref(&p),
            &IngestOptions::default(),
        )
        .unwrap();
        assert_eq!(r.objects_by_type.get("ipv4-addr"), Some(&1), "{r:?}");
        assert_eq!(
            objects(store),
            1,
            "two identical copies in one file are one object"
        );
        let before = counts(store);
        let r = ingest(store, &org, &[p], &IngestOptions::default()).unwrap();
        assert_eq!(r.objects_by_type.get("ipv4-addr"), None, "{r:?}");
        assert_eq!(counts(store)[..4], before[..4], "re-ingest changes nothing");
        // A changed SCO (same id, another property) is kept as a new version.
        let changed = SCO.replace(r#""value""#, r#""x_seen_by":"sensor-1","value""#);
        let p = write(dir.path(), "changed.json", bundle(&[&changed]).as_bytes());
        ingest(
            store,
            &org,
            std::slice::from_ref(&p),
            &IngestOptions::default(),
        )
        .unwrap();
        assert_eq!(objects(store), 2);
        ingest(store, &org, &[p], &IngestOptions::default()).unwrap();
        assert_eq!(objects(store), 2);
    });
}
