//! Operations on real data: the C2 tracker's current C2 IPs and the URLhaus dump, enriched
//! with the shared ip-location-db tables, give per-country target counts that must equal an
//! independent computation; the tracker's first/last-seen table gives a time-to-takedown
//! distribution that must equal one computed independently from the same table.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;
use support::*;
use threatgate::enrich::{self, TableFiles, Tables};
use threatgate::model::*;
use threatgate::ops::{self, report, status, summary, takedown, targets};
use threatgate::store::{Store, SubmissionMeta};

fn read_all(p: &Path) -> String {
    let raw = std::fs::read(p).unwrap();
    let mut s = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(raw).unwrap()
    }
}

/// Independent country lookup: hand-parsed ranges, binary search over ends.
struct Cc(Vec<(u32, u32, String)>);
impl Cc {
    fn load() -> Cc {
        let mut v: Vec<(u32, u32, String)> =
            read_all(&shared_data().join("ip-location-db/asn-country-ipv4.csv.gz"))
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    Some((
                        u32::from(f[0].parse::<Ipv4Addr>().ok()?),
                        u32::from(f[1].parse::<Ipv4Addr>().ok()?),
                        f[2].to_string(),
                    ))
                })
                .collect();
        v.sort();
        Cc(v)
    }
    fn get(&self, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(a) = ip else { return None };
        let q = u32::from(a);
        let i = self.0.partition_point(|r| r.1 < q);
        self.0
            .get(i)
            .filter(|r| r.0 <= q)
            .map(|r| r.2.clone())
            .filter(|c| c != "ZZ")
    }
}

fn enrich_shared(store: &Store) {
    let d = shared_data().join("ip-location-db");
    let tables = Tables::load(&TableFiles {
        country: vec![d.join("asn-country-ipv4.csv.gz")],
        asn: vec![d.join("asn-ipv4.subset-for-samples.csv")],
        policy: Default::default(),
    })
    .unwrap();
    enrich::enrich_store(store, &tables, &mut |_| {}).unwrap();
}

fn meta(org: &Org) -> SubmissionMeta {
    SubmissionMeta {
        org_id: org.id,
        agreement_id: None,
        format: "test".into(),
        source_name: "real data".into(),
    }
}

#[test]
fn per_country_counts_match_an_independent_computation() {
    let ts = sqlite_store();
    let w = world(&ts.store);
    let cc = Cc::load();
    // What we expect, computed from the files directly: distinct C2 IPs, and distinct URLs.
    let mut c2: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(shared_data().join("c2-tracker/data")).unwrap() {
        let p = e.unwrap().path();
        let family = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(" IPs.txt")
            .to_string();
        if family == "all.txt" {
            continue;
        }
        for l in read_all(&p).lines() {
            if let Ok(ip) = l.trim().parse::<IpAddr>() {
                c2.entry(ip).or_default().insert(family.clone());
            }
        }
    }
    let mut urls: BTreeMap<String, Option<IpAddr>> = BTreeMap::new();
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    for (ip, fams) in &c2 {
        let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
        let claim = Claim {
            labels: vec!["c2".into()],
            malware: fams.iter().cloned().collect(),
            tlp: Some(Tlp::Green),
            pap: Some(Pap::Green),
            confidence: Some(70),
            ..Default::default()
        };
        wr.add_claim(
            &Observable::parse(kind, &ip.to_string()).unwrap(),
            &claim,
            None,
        )
        .unwrap();
    }
    let text = read_all(&shared_data().join("urlhaus/urlhaus_online_2025-04-21.csv"));
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let Ok(o) = Observable::parse(Kind::Url, &rec[2]) else {
            continue;
        };
        let host = rec[2]
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("");
        let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        urls.insert(rec[2].to_string(), host.parse::<IpAddr>().ok());
        let t = status::parse_loose_time(&rec[1]);
        let claim = Claim {
            labels: vec![rec[5].to_string()],
            malware: rec[6]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            first_seen: t,
            last_seen: status::parse_loose_time(&rec[4]).or(t),
            tlp: Some(Tlp::Clear),
            pap: Some(Pap::Clear),
            ..Default::default()
        };
        wr.add_claim(&o, &claim, None).unwrap();
    }
    wr.finish(0, json!({})).unwrap();
    enrich_shared(&ts.store);

    let op = ops::operation::create(
        &ts.store,
        &w.hub,
        "real",
        (t("2025-01-01"), Utc::now() + chrono::Duration::days(1)),
        "",
    )
    .unwrap();
    let picked = targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    assert_eq!(picked.matched, c2.len() + urls.len(), "{picked:?}");
    let s = summary::summarise(&ts.store, &op).unwrap();

    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for ip in c2.keys().copied().chain(urls.values().flatten().copied()) {
        if let Some(c) = cc.get(ip) {
            *expected.entry(c).or_default() += 1;
        }
    }
    let got: BTreeMap<String, usize> = s
        .countries
        .iter()
        .map(|(k, f)| (k.clone(), f.targets))
        .collect();
    assert_eq!(got, expected);
    let located: usize = expected.values().sum();
    assert_eq!(s.unknown_country, s.overall.targets - located);
    let top: Vec<String> = {
        let mut v: Vec<(&String, &usize)> = expected.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter().take(8).map(|(k, n)| format!("{k}={n}")).collect()
    };
    eprintln!(
        "{} targets ({} C2 IPs, {} URLs) in {} countries, {} unlocated (domain hosts); top: {}",
        s.overall.targets,
        c2.len(),
        urls.len(),
        s.country_count,
        s.unknown_country,
        top.join(" ")
    );

    // URLhaus's own status data marks every URL of the dump online at its last_online.
    let imp = status::import(
        &ts.store,
        &op,
        &shared_data().join("urlhaus/urlhaus_online_2025-04-21.csv"),
        status::StatusFormat::Urlhaus,
        Utc::now(),
        None,
        Some(w.hub.id),
    )
    .unwrap();
    assert_eq!((imp.rows, imp.matched_targets), (urls.len(), urls.len()));
    assert!(ts
        .store
        .observations(op.id)
        .unwrap()
        .iter()
        .all(|o| o.online));

    // A filtered operation selects exactly the independent subset.
    let op2 = ops::operation::create(
        &ts.store,
        &w.hub,
        "c2-us-de",
        (t("2025-01-01"), Utc::now() + chrono::Duration::days(1)),
        "label = c2 AND country IN (US, DE) AND malware ~ cobalt",
    )
    .unwrap();
    targets::pick_now(&ts.store, &op2, &w.hub).unwrap();
    let want = c2
        .iter()
        .filter(|(ip, f)| {
            matches!(cc.get(**ip).as_deref(), Some("US" | "DE"))
                && f.iter().any(|x| x.to_lowercase().contains("cobalt"))
        })
        .count();
    assert_eq!(ts.store.targets(op2.id).unwrap().len(), want);
    assert!(want > 0);

    // Reports for every country: HTML with an SVG chart, CSV with one row per target, and
    // a STIX bundle marked with the most restrictive TLP of its records (GREEN here).
    let dir = tempfile::tempdir().unwrap();
    let reports = report::build(&ts.store, &op, &w.hub, None).unwrap();
    assert_eq!(reports.len(), expected.len());
    report::write(&reports, dir.path()).unwrap();
    let (top_cc, top_n) = expected.iter().max_by_key(|(_, n)| **n).unwrap();
    let html = std::fs::read_to_string(dir.path().join(format!("real-{top_cc}.html"))).unwrap();
    assert!(
        html.contains("<svg")
            && html.contains("seize/sinkhole the server")
            && !html.contains("<script"),
        "html"
    );
    let csv_text = std::fs::read_to_string(dir.path().join(format!("real-{top_cc}.csv"))).unwrap();
    assert_eq!(csv_text.lines().count(), top_n + 1);
    let bundle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("real-{top_cc}.stix.json"))).unwrap(),
    )
    .unwrap();
    let objs = bundle["objects"].as_array().unwrap();
    let rep = objs.iter().find(|o| o["type"] == "report").unwrap();
    assert_eq!(rep["object_refs"].as_array().unwrap().len(), top_n * 2);
    let green = stix::Tlp::Green.marking_id();
    assert!(rep["object_marking_refs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == green));
    assert!(objs
        .iter()
        .any(|o| o["id"] == green && o["type"] == "marking-definition"));
    assert_eq!(
        objs.iter().filter(|o| o["type"] == "indicator").count(),
        *top_n
    );
}

#[test]
fn c2_tracker_table_gives_the_time_to_takedown_distribution() {
    /// One row in this many of the 104,955-row table: enough for a distribution, quick to run.
    const SAMPLE_EVERY: usize = 40;
    let ts = sqlite_store();
    let w = world(&ts.store);
    let data = shared_data().join("c2-tracker");
    let table = read_all(&data.join("all_ip_first_last_seen.csv.gz"));
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let mut snaps: Vec<Time> = read_all(&data.join("all_snapshots.csv"))
        .lines()
        .skip(1)
        .map(|l| parse(l.split(',').next().unwrap()))
        .collect();
    snaps.sort();
    let rows: Vec<(IpAddr, Time, Time, bool)> = table
        .lines()
        .skip(1)
        .step_by(SAMPLE_EVERY)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                parse(f[1]),
                parse(f[2]),
                f[3] == "True",
            )
        })
        .collect();
    let mut wr = ts.store.begin_submission(meta(&w.partner)).unwrap();
    for (ip, first, last, _) in &rows {
        let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
        let claim = Claim {
            labels: vec!["c2".into()],
            first_seen: Some(*first),
            last_seen: Some(*last),
            tlp: Some(Tlp::Green),
            pap: Some(Pap::Green),
            ..Default::default()
        };
        wr.add_claim(
            &Observable::parse(kind, &ip.to_string()).unwrap(),
            &claim,
            None,
        )
        .unwrap();
    }
    wr.finish(0, json!({})).unwrap();
    let op = ops::operation::create(
        &ts.store,
        &w.hub,
        "tracker",
        (t("2022-01-01"), t("2026-12-31")),
        "",
    )
    .unwrap();
    targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let tg = ts.store.targets(op.id).unwrap();
    assert_eq!(tg.len(), rows.len());
    // Each server is taken as reported when the tracker first saw it.
    for t in &tg {
        takedown::move_target(
            &ts.store,
            t,
            "reported",
            &w.hub,
            "reported when first seen",
            t.snapshot.first_seen,
        )
        .unwrap();
    }
    let imported = status::import(
        &ts.store,
        &op,
        &data.join("all_ip_first_last_seen.csv.gz"),
        status::StatusFormat::C2Tracker,
        Utc::now(),
        Some(&data.join("all_snapshots.csv")),
        Some(w.hub.id),
    )
    .unwrap();
    assert_eq!(imported.matched_targets, rows.len());
    let s = summary::summarise(&ts.store, &op).unwrap();

    // Independently: gone = not present in the latest snapshot; offline at the next snapshot.
    let mut ttd: Vec<i64> = rows
        .iter()
        .filter(|r| !r.3)
        .map(|(_, first, last, _)| {
            let gone = snaps
                .iter()
                .find(|s| *s > last)
                .copied()
                .unwrap_or(*last + chrono::Duration::hours(24));
            (gone - *first).num_seconds()
        })
        .collect();
    ttd.sort();
    let rank = |p: f64| ttd[((p * ttd.len() as f64).ceil() as usize).max(1) - 1];
    let hours = |s: i64| (s as f64 / 36.0).round() / 100.0;
    let f = &s.overall;
    assert_eq!((f.reported, f.taken_down), (rows.len(), ttd.len()));
    assert_eq!(f.time_to_takedown.samples, ttd.len());
    assert_eq!(f.time_to_takedown.median_hours, Some(hours(rank(0.5))));
    assert_eq!(f.time_to_takedown.p90_hours, Some(hours(rank(0.9))));
    eprintln!(
        "C2 tracker sample of {} servers: {} taken down ({:?}%); time to takedown median {:.1} days, p90 {:.1} days, p25 {:.1} days, p75 {:.1} days",
        rows.len(),
        ttd.len(),
        f.taken_down_pct,
        rank(0.5) as f64 / 86400.0,
        rank(0.9) as f64 / 86400.0,
        rank(0.25) as f64 / 86400.0,
        rank(0.75) as f64 / 86400.0
    );
    // Re-importing the same table changes nothing.
    let again = status::import(
        &ts.store,
        &op,
        &data.join("all_ip_first_last_seen.csv.gz"),
        status::StatusFormat::C2Tracker,
        Utc::now(),
        Some(&data.join("all_snapshots.csv")),
        Some(w.hub.id),
    )
    .unwrap();
    assert_eq!(again.new_observations, 0);
}
