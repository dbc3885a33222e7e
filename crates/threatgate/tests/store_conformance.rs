//! The store conformance suite: every test runs against SQLite and, when
//! `THREATGATE_TEST_PG` is set (CI sets it), against PostgreSQL in a fresh schema.

mod support;

use chrono::{Duration, Utc};
use serde_json::json;
use support::*;
use threatgate::audit::ChainBreak;
use threatgate::auth;
use threatgate::lookup::scope_for;
use threatgate::model::*;
use threatgate::policy::Channel;
use threatgate::store::{
    Entry, NewObject, ObjectQuery, Store, StoreError, SubmissionMeta, BULK_ROWS,
};

macro_rules! conformance {
    ($name:ident, |$ts:ident| $body:block) => {
        #[test]
        fn $name() {
            for $ts in all_stores() {
                eprintln!("-- {} on {}", stringify!($name), $ts.engine);
                $body
            }
        }
    };
}

fn meta(org: &Org) -> SubmissionMeta {
    SubmissionMeta {
        org_id: org.id,
        agreement_id: None,
        format: "test".into(),
        source_name: "test".into(),
    }
}

fn claim(tlp: Tlp, labels: &[&str]) -> Claim {
    Claim {
        tlp: Some(tlp),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn obs(s: &str) -> Observable {
    Observable::detect(s).unwrap()
}

fn submit(store: &Store, org: &Org, items: &[(&str, Claim)]) -> Submission {
    let mut w = store.begin_submission(meta(org)).unwrap();
    for (v, c) in items {
        w.add_claim(&obs(v), c, None).unwrap();
    }
    w.finish(0, json!({})).unwrap()
}

fn table_count(store: &Store, table: &str) -> i64 {
    store
        .read(|c| {
            c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                .unwrap()
                .i64(0)
        })
        .unwrap()
}

conformance!(orgs_have_exactly_one_hub, |ts| {
    let w = world(&ts.store);
    let err = ts
        .store
        .create_org(
            &NewOrg {
                name: "hub2".into(),
                kind: OrgKind::Hub,
                country: None,
            },
            None,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let dup = ts
        .store
        .create_org(
            &NewOrg {
                name: "vendor".into(),
                kind: OrgKind::Partner,
                country: None,
            },
            None,
        )
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    let names: Vec<String> = ts
        .store
        .orgs()
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["hub", "vendor", "cert-fr", "cert-de"]);
    assert_eq!(ts.store.hub().unwrap().unwrap(), w.hub);
    assert_eq!(
        ts.store
            .org_by_name("cert-fr")
            .unwrap()
            .unwrap()
            .country
            .as_deref(),
        Some("FR")
    );
});

conformance!(agreements_round_trip_end_and_renew, |ts| {
    let w = world(&ts.store);
    let ags = ts.store.agreements(Some(w.partner.id)).unwrap();
    assert_eq!(ags.len(), 1);
    let a = &ags[0];
    assert!(a.in_force_at(Utc::now()));
    let end_at = Utc::now() - Duration::seconds(1);
    let ended = ts
        .store
        .end_agreement(a.id, end_at, "test", Some(w.hub.id))
        .unwrap();
    assert_eq!(ended.status, AgreementStatus::Terminated);
    assert!(!ended.in_force_at(Utc::now()));
    assert!(ts.store.end_agreement(a.id, end_at, "again", None).is_err());
    let renewed = ts
        .store
        .add_agreement(
            &NewAgreement {
                org_id: w.partner.id,
                role: a.role,
                signed_on: Utc::now(),
                valid_from: Utc::now(),
                valid_until: Utc::now() + Duration::days(10),
                max_tlp: a.max_tlp,
                scope: Some(vec!["indicator".into()]),
                purpose: a.purpose.clone(),
                retention_days: Some(30),
                renews: Some(a.id),
            },
            Some(w.hub.id),
        )
        .unwrap();
    assert_eq!(renewed.renews, Some(a.id));
    assert_eq!(
        renewed.scope.as_deref(),
        Some(&["indicator".to_string()][..])
    );
    assert_eq!(renewed.retention_days, Some(30));
    assert_eq!(
        ts.store.agreements(Some(w.partner.id)).unwrap().len(),
        2,
        "history kept"
    );
    let bad = NewAgreement {
        valid_until: t("2019-01-01"),
        valid_from: t("2020-01-01"),
        ..NewAgreement {
            org_id: w.partner.id,
            role: AgreementRole::Provide,
            signed_on: t("2019-01-01"),
            valid_from: t("2019-01-01"),
            valid_until: t("2019-01-01"),
            max_tlp: Tlp::Green,
            scope: None,
            purpose: String::new(),
            retention_days: None,
            renews: None,
        }
    };
    assert!(ts.store.add_agreement(&bad, None).is_err());
});

conformance!(tokens_are_stored_hashed_and_revocable, |ts| {
    let w = world(&ts.store);
    let secret = auth::generate_secret();
    let tok = ts
        .store
        .create_token(
            w.partner.id,
            TokenRole::Ingest,
            "feed",
            &auth::hash_secret(&secret),
            None,
        )
        .unwrap();
    assert_eq!(
        auth::authenticate(&ts.store, &secret).unwrap().unwrap().id,
        tok.id
    );
    assert!(auth::authenticate(&ts.store, "tg_wrong").unwrap().is_none());
    let stored: Vec<String> = ts
        .store
        .read(|c| {
            c.query("SELECT secret_hash FROM tokens", &[])?
                .iter()
                .map(|r| r.string(0))
                .collect()
        })
        .unwrap();
    assert!(
        !stored.iter().any(|h| h.contains(&secret)),
        "secret stored in clear"
    );
    ts.store.revoke_token(tok.id, None).unwrap();
    assert!(auth::authenticate(&ts.store, &secret).unwrap().is_none());
});

conformance!(a_submission_is_one_transaction, |ts| {
    let w = world(&ts.store);
    let before = table_count(&ts.store, "records");
    {
        let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
        wr.add_claim(&obs("192.0.2.1"), &claim(Tlp::Green, &["c2"]), None)
            .unwrap();
        wr.add_claim(&obs("evil.example"), &claim(Tlp::Green, &["c2"]), None)
            .unwrap();
        // dropped without finish: rolled back
    }
    assert_eq!(table_count(&ts.store, "records"), before);
    assert_eq!(table_count(&ts.store, "observables"), 0);
    assert_eq!(table_count(&ts.store, "submissions"), 0);
    let s = submit(
        &ts.store,
        &w.partner,
        &[
            ("192.0.2.1", claim(Tlp::Green, &["c2"])),
            ("evil.example", claim(Tlp::Green, &[])),
        ],
    );
    assert_eq!(s.records, 2);
    assert_eq!(table_count(&ts.store, "records"), 2);
});

conformance!(same_observable_from_two_sources_merges, |ts| {
    let w = world(&ts.store);
    let hub = &w.hub;
    submit(
        &ts.store,
        &w.partner,
        &[("hxxp://evil[.]example/a", claim(Tlp::Green, &["c2"]))],
    );
    submit(
        &ts.store,
        hub,
        &[("http://EVIL.example:80/a", claim(Tlp::Amber, &["phishing"]))],
    );
    assert_eq!(table_count(&ts.store, "observables"), 1);
    assert_eq!(table_count(&ts.store, "records"), 2);
    // Re-submitting the same claim changes nothing.
    let again = submit(
        &ts.store,
        &w.partner,
        &[("http://evil.example/a", claim(Tlp::Green, &["c2"]))],
    );
    assert_eq!(again.records, 0, "no record changed");
    // A new label merges into the existing record.
    submit(
        &ts.store,
        &w.partner,
        &[("http://evil.example/a", claim(Tlp::Green, &["botnet"]))],
    );
    let o = ts
        .store
        .observable(Kind::Url, "http://evil.example/a")
        .unwrap()
        .unwrap();
    let scope = scope_for(&ts.store, &w.partner, Utc::now(), Channel::Interactive).unwrap();
    let recs = ts.store.visible_records(o.id, &scope).unwrap();
    assert_eq!(
        recs.len(),
        1,
        "the hub's AMBER record is not the partner's to see"
    );
    assert_eq!(recs[0].claim.labels, ["botnet", "c2"]);
});

conformance!(records_follow_the_policy, |ts| {
    let w = world(&ts.store);
    let (fr, de) = (&w.members[0], &w.members[1]);
    submit(
        &ts.store,
        &w.partner,
        &[
            ("198.51.100.1", claim(Tlp::Green, &[])),
            ("198.51.100.2", claim(Tlp::Amber, &[])),
            ("198.51.100.3", claim(Tlp::Red, &[])),
            ("198.51.100.4", claim(Tlp::AmberStrict, &[])),
        ],
    );
    let now = Utc::now();
    let visible = |org: &Org, ch: Channel| -> Vec<String> {
        let scope = scope_for(&ts.store, org, now, ch).unwrap();
        ts.store
            .visible_observables(&scope, 0, 100)
            .unwrap()
            .into_iter()
            .map(|(o, _)| o.value)
            .collect()
    };
    assert_eq!(visible(fr, Channel::Interactive), ["198.51.100.1"]);
    assert_eq!(visible(&w.hub, Channel::Interactive).len(), 4);
    assert_eq!(visible(&w.hub, Channel::Bulk).len(), 3, "RED never in bulk");
    assert_eq!(visible(&w.partner, Channel::Bulk).len(), 4, "own data");
    // Share the AMBER and RED records with FR: AMBER appears, RED stays above FR's ceiling.
    let rid = |v: &str| {
        let o = ts.store.observable(Kind::Ipv4, v).unwrap().unwrap();
        ts.store
            .read(|c| {
                c.query_one(
                    "SELECT id FROM records WHERE observable_id = $1",
                    &[o.id.into()],
                )?
                .unwrap()
                .i64(0)
            })
            .unwrap()
    };
    ts.store
        .share(
            fr.id,
            &[
                ShareSubject::Record(rid("198.51.100.2")),
                ShareSubject::Record(rid("198.51.100.3")),
            ],
            w.hub.id,
            "report FR",
        )
        .unwrap();
    assert_eq!(
        visible(fr, Channel::Interactive),
        ["198.51.100.1", "198.51.100.2"]
    );
    assert_eq!(
        visible(de, Channel::Interactive),
        ["198.51.100.1"],
        "no other member sees FR's share"
    );
    let stats = ts
        .store
        .stats(&scope_for(&ts.store, de, now, Channel::Interactive).unwrap())
        .unwrap();
    assert_eq!(stats.records, 1, "counts reveal nothing either");
});

conformance!(objects_page_by_date_added_without_gaps, |ts| {
    let w = world(&ts.store);
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    for i in 0..25 {
        let id = format!("indicator--00000000-0000-4000-8000-{i:012}");
        let json =
            json!({"type": "indicator", "id": id, "spec_version": "2.1", "x_custom": {"keep": i}})
                .to_string();
        let tlp = if i % 5 == 4 { Tlp::Red } else { Tlp::Green };
        wr.add_object(&NewObject {
            stix_id: id,
            stix_type: "indicator".into(),
            version: "2024-01-01T00:00:00.000Z".into(),
            spec_version: "2.1".into(),
            tlp,
            json,
        })
        .unwrap();
    }
    // The same version again is ignored.
    let dup = wr
        .add_object(&NewObject {
            stix_id: "indicator--00000000-0000-4000-8000-000000000000".into(),
            stix_type: "indicator".into(),
            version: "2024-01-01T00:00:00.000Z".into(),
            spec_version: "2.1".into(),
            tlp: Tlp::Green,
            json: "{}".into(),
        })
        .unwrap();
    assert_eq!(dup, None);
    wr.finish(0, json!({})).unwrap();
    let scope = scope_for(&ts.store, &w.members[0], Utc::now(), Channel::Bulk).unwrap();
    let mut seen = vec![];
    let mut q = ObjectQuery {
        limit: 7,
        ..Default::default()
    };
    loop {
        let page = ts.store.visible_objects(&scope, &q).unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        q.after = Some((format_time(last.date_added), last.pk));
        seen.extend(page);
    }
    assert_eq!(seen.len(), 20, "RED objects excluded, all others once");
    let ids: std::collections::BTreeSet<_> = seen.iter().map(|o| o.stix_id.clone()).collect();
    assert_eq!(ids.len(), 20);
    assert!(
        seen.windows(2).all(|p| p[0].date_added < p[1].date_added),
        "strictly increasing date_added"
    );
    let v: serde_json::Value = serde_json::from_str(&seen[0].json).unwrap();
    assert_eq!(v["x_custom"]["keep"], 0, "custom properties kept");
    let by_type = ts
        .store
        .visible_objects(
            &scope,
            &ObjectQuery {
                types: vec!["malware".into()],
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(by_type.is_empty());
});

conformance!(audit_chain_detects_edits_deletes_and_reorders, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[("192.0.2.7", claim(Tlp::Green, &[]))],
    );
    let n = ts.store.verify_audit().unwrap().unwrap();
    assert!(n >= 6, "org, agreement and submission entries: {n}");
    let raw = |sql: &str| {
        ts.store
            .write(|c| Ok((c.execute(sql, &[])?, vec![])))
            .unwrap()
    };
    // Edit
    raw("UPDATE audit_log SET subject = 'org:999' WHERE seq = 2");
    assert_eq!(
        ts.store.verify_audit().unwrap(),
        Err(ChainBreak::Edited { seq: 2 })
    );
    raw("UPDATE audit_log SET subject = 'org:2' WHERE seq = 2");
    assert!(ts.store.verify_audit().unwrap().is_ok(), "restored");
    // Reorder: swap the sequence numbers of entries 3 and 4.
    raw("UPDATE audit_log SET seq = -3 WHERE seq = 3");
    raw("UPDATE audit_log SET seq = 3 WHERE seq = 4");
    raw("UPDATE audit_log SET seq = 4 WHERE seq = -3");
    assert!(matches!(
        ts.store.verify_audit().unwrap(),
        Err(ChainBreak::Unlinked { seq: 3 }) | Err(ChainBreak::Edited { seq: 3 })
    ));
    raw("UPDATE audit_log SET seq = -3 WHERE seq = 3");
    raw("UPDATE audit_log SET seq = 3 WHERE seq = 4");
    raw("UPDATE audit_log SET seq = 4 WHERE seq = -3");
    assert!(ts.store.verify_audit().unwrap().is_ok());
    // Delete in the middle, then at the end.
    raw("DELETE FROM audit_log WHERE seq = 3");
    assert_eq!(
        ts.store.verify_audit().unwrap(),
        Err(ChainBreak::Gap {
            seq: 4,
            expected: 3
        })
    );
});

conformance!(audit_truncation_is_detected, |ts| {
    world(&ts.store);
    let (head, _) = ts.store.audit_head().unwrap();
    ts.store
        .write(|c| {
            Ok((
                c.execute("DELETE FROM audit_log WHERE seq = $1", &[head.into()])?,
                vec![],
            ))
        })
        .unwrap();
    assert!(matches!(
        ts.store.verify_audit().unwrap(),
        Err(ChainBreak::Truncated { .. })
    ));
});

conformance!(enrichment_and_sightings_round_trip, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[("203.0.113.9", claim(Tlp::Green, &["c2"]))],
    );
    let o = ts
        .store
        .observable(Kind::Ipv4, "203.0.113.9")
        .unwrap()
        .unwrap();
    let e = Enrichment {
        country: Some("FR".into()),
        asn: Some(16276),
        network: Some("OVH SAS".into()),
        registered_domain: None,
    };
    ts.store.set_enrichment(&[(o.id, e.clone())]).unwrap();
    assert_eq!(ts.store.observable_by_id(o.id).unwrap().enrichment, e);
    let sid = ts
        .store
        .add_sighting(&threatgate::store::NewSighting {
            observable_id: o.id,
            org_id: w.members[0].id,
            count: 3,
            first_seen: t("2024-01-01"),
            last_seen: t("2024-01-02"),
            where_sighted: "sensor-1".into(),
        })
        .unwrap();
    let s = ts.store.sightings(o.id).unwrap();
    assert_eq!((s.len(), s[0].id, s[0].count), (1, sid, 3));
});

conformance!(observables_of_an_object_across_versions, |ts| {
    let w = world(&ts.store);
    let id = "indicator--00000000-0000-4000-8000-0000000000aa";
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    let mut linked = vec![];
    for (version, value) in [
        ("2024-01-01T00:00:00.000Z", "192.0.2.1"),
        ("2024-02-01T00:00:00.000Z", "evil.example"),
    ] {
        let pk = wr
            .add_object(&NewObject {
                stix_id: id.into(),
                stix_type: "indicator".into(),
                version: version.into(),
                spec_version: "2.1".into(),
                tlp: Tlp::Green,
                json: json!({"type": "indicator", "id": id}).to_string(),
            })
            .unwrap()
            .unwrap();
        let (oid, _) = wr
            .add_claim(&obs(value), &claim(Tlp::Green, &["c2"]), Some(pk))
            .unwrap();
        linked.push(oid);
    }
    wr.add_claim(&obs("198.51.100.1"), &claim(Tlp::Green, &["c2"]), None)
        .unwrap();
    wr.finish(0, json!({})).unwrap();
    linked.sort();
    assert_eq!(ts.store.observables_of_object(id).unwrap(), linked);
    assert!(ts
        .store
        .observables_of_object("indicator--00000000-0000-4000-8000-0000000000ff")
        .unwrap()
        .is_empty());
});

conformance!(reopening_does_not_reapply_migrations, |ts| {
    let v: i64 = ts
        .store
        .read(|c| {
            c.query_one("SELECT MAX(version) FROM schema_migrations", &[])?
                .unwrap()
                .i64(0)
        })
        .unwrap();
    assert_eq!(v, threatgate::store::schema::latest());
    let again = ts
        .store
        .read(|c| {
            c.query_one("SELECT COUNT(*) FROM schema_migrations", &[])?
                .unwrap()
                .i64(0)
        })
        .unwrap();
    assert_eq!(again as usize, threatgate::store::schema::MIGRATIONS.len());
});

/// Every row's write-time version flags agree with a from-scratch computation.
fn assert_version_flags_true(store: &Store) {
    let wrong = store
        .read(|c| {
            c.query_one(
                "SELECT COUNT(*) FROM objects x WHERE
                   x.is_latest <> CASE WHEN EXISTS (SELECT 1 FROM objects y WHERE y.stix_id = x.stix_id
                       AND (y.version > x.version OR (y.version = x.version AND y.pk < x.pk))) THEN 0 ELSE 1 END
                OR x.is_first <> CASE WHEN EXISTS (SELECT 1 FROM objects y WHERE y.stix_id = x.stix_id
                       AND (y.version < x.version OR (y.version = x.version AND y.pk < x.pk))) THEN 0 ELSE 1 END",
                &[],
            )?
            .unwrap()
            .i64(0)
        })
        .unwrap();
    assert_eq!(wrong, 0, "rows with stale version flags");
}

conformance!(version_selection_follows_writes_and_the_reader, |ts| {
    use threatgate::store::{CollectionQuery, VersionSelect};
    let w = world(&ts.store);
    let fr = &w.members[0];
    let put = |org: &Org, id: &str, version: &str, tlp: Tlp| {
        let mut wr = ts.store.begin_submission(meta(org)).unwrap();
        wr.add_object(&NewObject {
            stix_id: id.into(),
            stix_type: "indicator".into(),
            version: version.into(),
            spec_version: "2.1".into(),
            tlp,
            json: json!({"type": "indicator", "id": id, "modified": version}).to_string(),
        })
        .unwrap()
        .unwrap();
        wr.finish(0, json!({})).unwrap();
    };
    let a = "indicator--00000000-0000-4000-8000-00000000000a";
    let b = "indicator--00000000-0000-4000-8000-00000000000b";
    let (v1, v2, v3) = (
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z",
    );
    // Versions arrive out of order; the hub submits a copy of v2 too.
    put(&w.partner, a, v2, Tlp::Green);
    put(&w.partner, a, v1, Tlp::Green);
    put(&w.partner, b, v1, Tlp::Green);
    put(&w.hub, a, v2, Tlp::Green);
    put(&w.partner, a, v3, Tlp::Amber);
    assert_version_flags_true(&ts.store);
    let read = |org: &Org, versions: VersionSelect| -> Vec<(String, String, OrgId)> {
        let scope = scope_for(&ts.store, org, Utc::now(), Channel::Bulk).unwrap();
        let q = CollectionQuery {
            base: ObjectQuery {
                limit: 100,
                ..Default::default()
            },
            versions,
            ..Default::default()
        };
        let mut got: Vec<_> = ts
            .store
            .collection_page(&scope, &q)
            .unwrap()
            .objects
            .into_iter()
            .map(|o| (o.stix_id, o.version, o.org_id))
            .collect();
        got.sort();
        got
    };
    let row = |id: &str, v: &str, org: &Org| (id.to_string(), v.to_string(), org.id);
    let first = VersionSelect {
        first: true,
        ..Default::default()
    };
    // The hub sees v3; FR may not (AMBER, not shared), so its latest is v2, once, from
    // the first source that stored it.
    assert_eq!(
        read(&w.hub, VersionSelect::latest()),
        [row(a, v3, &w.partner), row(b, v1, &w.partner)]
    );
    assert_eq!(
        read(fr, VersionSelect::latest()),
        [row(a, v2, &w.partner), row(b, v1, &w.partner)]
    );
    assert_eq!(
        read(fr, first.clone()),
        [row(a, v1, &w.partner), row(b, v1, &w.partner)]
    );
    assert_eq!(
        read(fr, VersionSelect::every()),
        [
            row(a, v1, &w.partner),
            row(a, v2, &w.partner),
            row(b, v1, &w.partner)
        ]
    );
    // The partner withdraws its v2: the hub's copy answers now.
    ts.store
        .delete_own_object(w.partner.id, a, &[v2.to_string()], None)
        .unwrap();
    assert_version_flags_true(&ts.store);
    assert_eq!(
        read(fr, VersionSelect::latest()),
        [row(a, v2, &w.hub), row(b, v1, &w.partner)]
    );
    // And its v3 and v1: the hub's v2 is then every reader's latest and first.
    ts.store
        .delete_own_object(w.partner.id, a, &[v3.to_string(), v1.to_string()], None)
        .unwrap();
    assert_version_flags_true(&ts.store);
    for org in [&w.hub, fr] {
        assert_eq!(
            read(org, VersionSelect::latest()),
            [row(a, v2, &w.hub), row(b, v1, &w.partner)]
        );
        assert_eq!(read(org, first.clone()), read(org, VersionSelect::latest()));
    }
    let flags = ts
        .store
        .read(|c| {
            let r = c
                .query_one(
                    "SELECT is_latest, is_first FROM objects WHERE stix_id = $1",
                    &[a.into()],
                )?
                .unwrap();
            Ok((r.i64(0)?, r.i64(1)?))
        })
        .unwrap();
    assert_eq!(flags, (1, 1));
});

// A record the submission wrote in a batch and then rewrote row by row (`add_claim`) is
// merged from the row again in the next batch, not from the claim text the batches
// remembered (`bulk::KnownRecords`): every label survives.
conformance!(row_by_row_claim_between_batches_is_not_lost, |ts| {
    let w = world(&ts.store);
    let claims = |label: &str| vec![(obs("192.0.2.9"), claim(Tlp::Green, &[label]))];
    let (first, last) = (claims("first"), claims("last"));
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    let batch = |c| {
        [Entry {
            object: None,
            claims: c,
        }]
    };
    wr.add_entries(&batch(&first)).unwrap();
    wr.add_claim(&obs("192.0.2.9"), &claim(Tlp::Green, &["between"]), None)
        .unwrap();
    wr.add_entries(&batch(&last)).unwrap();
    wr.finish(0, json!({})).unwrap();
    let scope = scope_for(&ts.store, &w.partner, Utc::now(), Channel::Interactive).unwrap();
    let o = ts
        .store
        .observable(Kind::Ipv4, "192.0.2.9")
        .unwrap()
        .unwrap();
    let recs = ts.store.visible_records(o.id, &scope).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].claim.labels, ["between", "first", "last"]);
});

// A value named again in a later batch of the same submission is resolved from the ids
// the submission remembers (`bulk::KnownObservables`), one named in an earlier submission
// from the store: either way one observable, one record per org with the claims merged,
// and each object linked to it.
conformance!(later_batches_reuse_observables_resolved_earlier, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[("198.51.100.7", claim(Tlp::Green, &["earlier"]))],
    );
    let object = |n: u32| NewObject {
        stix_id: format!("indicator--00000000-0000-4000-8000-{n:012}"),
        stix_type: "indicator".into(),
        version: "2024-01-01T00:00:00.000Z".into(),
        spec_version: "2.1".into(),
        tlp: Tlp::Green,
        json: json!({"type": "indicator", "n": n}).to_string(),
    };
    let objects: Vec<NewObject> = (0..4).map(object).collect();
    let claims = |value: &str, label: &str| vec![(obs(value), claim(Tlp::Green, &[label]))];
    let batches = [
        vec![
            (0, claims("192.0.2.1", "first")),
            (1, claims("198.51.100.7", "again")),
        ],
        vec![
            (2, claims("192.0.2.1", "second")),
            (3, claims("198.51.100.7", "third")),
        ],
    ];
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    for batch in &batches {
        let entries: Vec<Entry<'_>> = batch
            .iter()
            .map(|(i, c)| Entry {
                object: Some(&objects[*i as usize]),
                claims: c,
            })
            .collect();
        assert_eq!(wr.add_entries(&entries).unwrap(), [true, true]);
    }
    wr.finish(0, json!({})).unwrap();
    assert_eq!(table_count(&ts.store, "observables"), 2);
    assert_eq!(table_count(&ts.store, "records"), 2);
    let scope = scope_for(&ts.store, &w.partner, Utc::now(), Channel::Interactive).unwrap();
    for (value, kind, labels, linked) in [
        ("192.0.2.1", Kind::Ipv4, vec!["first", "second"], [0, 2]),
        (
            "198.51.100.7",
            Kind::Ipv4,
            vec!["again", "earlier", "third"],
            [1, 3],
        ),
    ] {
        let o = ts.store.observable(kind, value).unwrap().unwrap();
        let recs = ts.store.visible_records(o.id, &scope).unwrap();
        assert_eq!(recs.len(), 1, "{value}");
        assert_eq!(recs[0].claim.labels, labels, "{value}");
        for i in linked {
            assert_eq!(
                ts.store.observables_of_object(&objects[i].stix_id).unwrap(),
                [o.id],
                "object {i} links to {value}"
            );
        }
    }
});

// Records merged in one batch are rewritten together (`Conn::update_many`: one statement
// per chunk on PostgreSQL). More rewrites than one statement takes, each with its own
// merged labels and raised TLP, all land on the right rows.
conformance!(
    many_record_rewrites_in_one_batch_each_keep_their_merge,
    |ts| {
        let w = world(&ts.store);
        let n = 600; // > 512 rows per statement, and not a multiple of it
        let values: Vec<String> = (0..n)
            .map(|i| format!("198.18.{}.{}", i / 250, i % 250 + 1))
            .collect();
        let first: Vec<(Observable, Claim)> = values
            .iter()
            .map(|v| (obs(v), claim(Tlp::Green, &["first"])))
            .collect();
        let second: Vec<(Observable, Claim)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (obs(v), claim(Tlp::Amber, &[&format!("second-{i}")])))
            .collect();
        let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
        let entries = |c: &[(Observable, Claim)]| -> Vec<(Observable, Claim)> { c.to_vec() };
        let (a, b) = (entries(&first), entries(&second));
        wr.add_entries(&[Entry {
            object: None,
            claims: &a,
        }])
        .unwrap();
        wr.add_entries(&[Entry {
            object: None,
            claims: &b,
        }])
        .unwrap();
        let sub = wr.finish(0, json!({})).unwrap();
        let scope = scope_for(&ts.store, &w.partner, Utc::now(), Channel::Interactive).unwrap();
        for (i, v) in values.iter().enumerate() {
            let o = ts.store.observable(Kind::Ipv4, v).unwrap().unwrap();
            let recs = ts.store.visible_records(o.id, &scope).unwrap();
            assert_eq!(recs.len(), 1, "{v}");
            assert_eq!(
                recs[0].claim.labels,
                ["first".to_string(), format!("second-{i}")],
                "{v}"
            );
            assert_eq!(recs[0].claim.tlp, Some(Tlp::Amber), "{v}");
            assert_eq!(recs[0].submission_id, sub.id, "{v}");
        }
        assert_eq!(table_count(&ts.store, "records"), n as i64);
        // The column the read policy filters on was rewritten too.
        let amber = ts
            .store
            .read(|c| {
                c.query_one("SELECT COUNT(*) FROM records WHERE tlp = 'amber'", &[])?
                    .unwrap()
                    .i64(0)
            })
            .unwrap();
        assert_eq!(amber, n as i64);
    }
);

// A submission past `BULK_ROWS` turns into a bulk load (SQLite: a larger page cache;
// PostgreSQL: statistics refreshed inside the transaction, so batch lookups use the
// indexes) and stays correct: every value stored once, with its record.
conformance!(a_submission_past_the_bulk_threshold_is_stored_whole, |ts| {
    let w = world(&ts.store);
    let n = BULK_ROWS as usize + 1_000;
    let claims: Vec<(Observable, Claim)> = (0..n)
        .map(|i| {
            let v = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            (obs(&v), claim(Tlp::Green, &["bulk"]))
        })
        .collect();
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    for chunk in claims.chunks(512) {
        wr.add_entries(&[Entry {
            object: None,
            claims: chunk,
        }])
        .unwrap();
    }
    wr.finish(0, json!({})).unwrap();
    assert_eq!(table_count(&ts.store, "records"), n as i64);
    assert_eq!(table_count(&ts.store, "observables"), n as i64);
    if ts.engine == "postgres" {
        let analysed = ts
            .store
            .read(|c| {
                c.query_one(
                    "SELECT COUNT(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'observables'",
                    &[],
                )?
                .unwrap()
                .i64(0)
            })
            .unwrap();
        assert!(
            analysed > 0,
            "the bulk load refreshed the planner's statistics"
        );
    }
});
