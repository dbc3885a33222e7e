//! Leak test: random orgs, agreements (some expired, some not yet in force), records with
//! every TLP and PAP, and explicit shares. Every library read path — search (lookup),
//! the store's scoped reads, exports (STIX, CSV, Zeek) and the matcher's indicator set —
//! must return exactly what the policy function permits, item by item, and nothing else.
//! The expected sets come from `ReadScope::permits` evaluated over every stored record
//! (read with raw SQL, not through the scoped reads under test).

mod support;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde_json::json;
use support::*;
use threatgate::export::{export, Format};
use threatgate::lookup::{lookup, scope_for};
use threatgate::model::*;
use threatgate::policy::{Channel, ItemMeta};
use threatgate::store::{Store, SubmissionMeta};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

const TLPS: [Tlp; 5] = [
    Tlp::Clear,
    Tlp::Green,
    Tlp::Amber,
    Tlp::AmberStrict,
    Tlp::Red,
];
const PAPS: [Option<Pap>; 5] = [
    None,
    Some(Pap::Clear),
    Some(Pap::Green),
    Some(Pap::Amber),
    Some(Pap::Red),
];

/// Build a random world; returns every org.
fn random_world(store: &Store, rng: &mut Rng) -> Vec<Org> {
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
    let now = Utc::now();
    let mut orgs = vec![hub.clone()];
    for i in 0..8 {
        let kind = if i < 3 {
            OrgKind::Partner
        } else {
            OrgKind::Member
        };
        let country =
            (kind == OrgKind::Member).then(|| ["FR", "DE", "NL", "US", "GB"][i % 5].to_string());
        let o = store
            .create_org(
                &NewOrg {
                    name: format!("org{i}"),
                    kind,
                    country,
                },
                Some(hub.id),
            )
            .unwrap();
        // Agreements: in force, expired, not yet valid, or terminated; various ceilings and scopes.
        let n = 1 + rng.next() % 2;
        for _ in 0..n {
            let (from, until) = match rng.next() % 4 {
                0 => (now - Duration::days(400), now - Duration::days(10)),
                1 => (now + Duration::days(10), now + Duration::days(400)),
                _ => (now - Duration::days(100), now + Duration::days(300)),
            };
            let role = *rng.pick(&[
                AgreementRole::Provide,
                AgreementRole::Receive,
                AgreementRole::Both,
            ]);
            let role = if i < 3 && role == AgreementRole::Receive {
                AgreementRole::Both
            } else {
                role
            };
            let scope = rng.chance(25).then(|| {
                vec![
                    "ipv4-addr".to_string(),
                    "url".to_string(),
                    "indicator".to_string(),
                ]
            });
            let a = store
                .add_agreement(
                    &NewAgreement {
                        org_id: o.id,
                        role,
                        signed_on: from,
                        valid_from: from,
                        valid_until: until,
                        max_tlp: *rng.pick(&TLPS),
                        scope,
                        purpose: "t".into(),
                        retention_days: None,
                        renews: None,
                    },
                    Some(hub.id),
                )
                .unwrap();
            if rng.chance(15) {
                store
                    .end_agreement(a.id, now - Duration::days(1), "test", Some(hub.id))
                    .unwrap();
            }
        }
        orgs.push(o);
    }
    // Records from the hub and the partners, submitted directly (the policy on submission
    // is tested elsewhere; here only reads matter).
    for (k, source) in orgs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind != OrgKind::Member)
    {
        let mut w = store
            .begin_submission(SubmissionMeta {
                org_id: source.id,
                agreement_id: None,
                format: "test".into(),
                source_name: "leak".into(),
            })
            .unwrap();
        for j in 0..40 {
            let value = match j % 4 {
                0 => format!("10.{k}.{}.{}", j / 4, rng.next() % 250),
                1 => format!("http://site{}.example/p{j}", rng.next() % 30),
                2 => format!("host{}.example", rng.next() % 30),
                _ => format!("{:032x}", rng.next() as u128 * 7919 + j as u128),
            };
            let claim = Claim {
                tlp: Some(*rng.pick(&TLPS)),
                pap: *rng.pick(&PAPS),
                labels: vec!["c2".into()],
                ..Default::default()
            };
            w.add_claim(&Observable::detect(&value).unwrap(), &claim, None)
                .unwrap();
        }
        w.finish(0, json!({})).unwrap();
    }
    // Random explicit shares of records.
    let record_ids: Vec<i64> = store
        .read(|c| {
            c.query("SELECT id FROM records", &[])?
                .iter()
                .map(|r| r.i64(0))
                .collect()
        })
        .unwrap();
    for o in orgs.iter().skip(1) {
        let subjects: Vec<ShareSubject> = record_ids
            .iter()
            .filter(|_| rng.chance(20))
            .map(|id| ShareSubject::Record(*id))
            .collect();
        store
            .share(o.id, &subjects, hub.id, "random share")
            .unwrap();
    }
    orgs
}

/// (kind, value) of every record `viewer` may see through `channel`, computed from raw rows.
fn expected(store: &Store, viewer: &Org, channel: Channel) -> BTreeSet<(String, String)> {
    let scope = scope_for(store, viewer, Utc::now(), channel).unwrap();
    let rows = store
        .read(|c| {
            c.query(
                "SELECT o.kind, o.value, r.org_id, r.tlp, (SELECT COUNT(*) FROM shares s WHERE s.subject_kind = 'record' AND s.subject_id = r.id AND s.recipient = $1)
                 FROM records r JOIN observables o ON o.id = r.observable_id",
                &[viewer.id.into()],
            )
        })
        .unwrap();
    rows.iter()
        .filter(|r| {
            let kind: Kind = r.str(0).unwrap().parse().unwrap();
            scope.permits(&ItemMeta {
                source: r.i64(2).unwrap(),
                tlp: parse_tlp(r.str(3).unwrap()).unwrap(),
                stix_type: kind.stix_type(),
                shared_with_viewer: r.i64(4).unwrap() > 0,
            })
        })
        .map(|r| (r.string(0).unwrap(), r.string(1).unwrap()))
        .collect()
}

#[test]
fn every_library_read_path_returns_exactly_what_the_policy_permits() {
    for seed in [1u64, 7, 42] {
        for ts in all_stores() {
            let store = &ts.store;
            let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
            let orgs = random_world(store, &mut rng);
            let all: BTreeSet<(String, String)> = store
                .read(|c| c.query("SELECT kind, value FROM observables", &[]))
                .unwrap()
                .iter()
                .map(|r| (r.string(0).unwrap(), r.string(1).unwrap()))
                .collect();
            let mut some_hidden = false;
            for viewer in &orgs {
                let bulk = expected(store, viewer, Channel::Bulk);
                let interactive = expected(store, viewer, Channel::Interactive);
                some_hidden |= bulk.len() < all.len();
                assert!(bulk.is_subset(&interactive));

                // The store's scoped reads.
                let scope = scope_for(store, viewer, Utc::now(), Channel::Bulk).unwrap();
                let got: BTreeSet<(String, String)> = store
                    .visible_observables(&scope, 0, 100_000)
                    .unwrap()
                    .into_iter()
                    .map(|(o, _)| (o.kind.as_str().to_string(), o.value))
                    .collect();
                assert_eq!(
                    got, bulk,
                    "{}: visible_observables (seed {seed}, {})",
                    viewer.name, ts.engine
                );

                // Search: every observable, visible ones found, others indistinguishable from unknown.
                for (kind, value) in &all {
                    let found = lookup(store, viewer, value, Channel::Interactive).unwrap();
                    let want = interactive.contains(&(kind.clone(), value.clone()));
                    assert_eq!(
                        found.is_some(),
                        want,
                        "{}: search {value} (seed {seed}, {})",
                        viewer.name,
                        ts.engine
                    );
                    if let Some(v) = found {
                        assert!(v.records.iter().all(|r| {
                            let s =
                                scope_for(store, viewer, Utc::now(), Channel::Interactive).unwrap();
                            s.permits(&ItemMeta {
                                source: r.record.org_id,
                                tlp: r.record.claim.tlp_or_default(),
                                stix_type: v.observable.kind.stix_type(),
                                shared_with_viewer: true,
                            })
                        }));
                    }
                }

                // Exports.
                let mut csv = vec![];
                export(store, viewer, Format::Csv, &mut csv).unwrap();
                let csv_values: BTreeSet<(String, String)> = String::from_utf8(csv)
                    .unwrap()
                    .lines()
                    .skip(1)
                    .map(|l| {
                        let mut f = l.split(',');
                        (f.next().unwrap().to_string(), f.next().unwrap().to_string())
                    })
                    .collect();
                assert_eq!(
                    csv_values, bulk,
                    "{}: CSV export (seed {seed}, {})",
                    viewer.name, ts.engine
                );
                let mut bundle = vec![];
                export(store, viewer, Format::Stix, &mut bundle).unwrap();
                let b: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
                let sco_values: BTreeSet<String> = b["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|o| {
                        o["type"] != "indicator"
                            && o["type"] != "identity"
                            && o["type"] != "marking-definition"
                    })
                    .map(|o| {
                        o["value"].as_str().map(str::to_string).unwrap_or_else(|| {
                            o["hashes"]
                                .as_object()
                                .unwrap()
                                .values()
                                .next()
                                .unwrap()
                                .as_str()
                                .unwrap()
                                .to_string()
                        })
                    })
                    .collect();
                let want_values: BTreeSet<String> = bulk.iter().map(|(_, v)| v.clone()).collect();
                assert_eq!(
                    sco_values, want_values,
                    "{}: STIX export (seed {seed}, {})",
                    viewer.name, ts.engine
                );

                // The matcher's indicator set.
                let ind = threatgate::matching::from_store(store, viewer).unwrap();
                let set_values: BTreeSet<String> =
                    ind.info.iter().map(|i| i.value.clone()).collect();
                assert_eq!(
                    set_values, want_values,
                    "{}: matcher indicator set (seed {seed}, {})",
                    viewer.name, ts.engine
                );
            }
            assert!(
                some_hidden,
                "the random world hid nothing: the test proved nothing"
            );
        }
    }
}
