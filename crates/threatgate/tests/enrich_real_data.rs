//! Enrichment end to end, on every IP in the shared data: the store's country, ASN and
//! network after `enrich` are compared with an independent lookup written another way
//! (a sorted merge sweep over the tables, instead of the iprange crate's indexed search).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde_json::json;
use support::*;
use threatgate::enrich::{self, TableFiles, Tables};
use threatgate::model::*;
use threatgate::store::{NewObject, Store, SubmissionMeta};

/// Every file under the shared data that holds threat data (not the lookup tables).
fn data_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let s = p.to_string_lossy();
        if s.contains("ip-location-db")
            || s.contains("iptoasn-fixture")
            || s.contains("maltrail/data")
        {
            continue;
        }
        if p.is_dir() {
            data_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn read_all(p: &Path) -> String {
    let raw = std::fs::read(p).unwrap();
    let mut bytes = vec![];
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .unwrap();
    } else {
        bytes = raw;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every IPv4 written anywhere in the data (tokens of digits and dots), and the IPv6
/// addresses of the C2 tracker's table.
fn every_ip() -> BTreeSet<IpAddr> {
    let mut files = vec![];
    data_files(&shared_data(), &mut files);
    let mut ips = BTreeSet::new();
    for f in &files {
        let text = read_all(f);
        for tok in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            if let Ok(ip) = tok.trim_matches('.').parse::<Ipv4Addr>() {
                ips.insert(IpAddr::V4(ip));
            }
        }
    }
    let table = read_all(&shared_data().join("c2-tracker/all_ip_first_last_seen.csv.gz"));
    for line in table.lines().skip(1) {
        if let Some(ip) = line
            .split(',')
            .next()
            .and_then(|s| s.parse::<IpAddr>().ok())
        {
            ips.insert(ip);
        }
    }
    ips
}

/// An independent table: (start, end, value) rows parsed by hand, sorted.
fn ranges(path: &Path, value: impl Fn(&[String]) -> String) -> Vec<(u32, u32, String)> {
    let text = read_all(path);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut out = vec![];
    for rec in rdr.records() {
        let rec: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
        let (Ok(a), Ok(b)) = (rec[0].parse::<Ipv4Addr>(), rec[1].parse::<Ipv4Addr>()) else {
            continue;
        };
        out.push((u32::from(a), u32::from(b), value(&rec)));
    }
    out.sort();
    out
}

/// Sweep sorted queries against sorted ranges: the answer for each query, by merge.
fn sweep(queries: &[u32], table: &[(u32, u32, String)]) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    let mut i = 0;
    for &q in queries {
        while i < table.len() && table[i].1 < q {
            i += 1;
        }
        if i < table.len() && table[i].0 <= q && q <= table[i].1 {
            out.insert(q, table[i].2.clone());
        }
    }
    out
}

fn submit_ips(store: &Store, org: &Org, ips: &BTreeSet<IpAddr>) {
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: org.id,
            agreement_id: None,
            format: "test".into(),
            source_name: "every ip".into(),
        })
        .unwrap();
    for ip in ips {
        let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
        let o = Observable::parse(kind, &ip.to_string()).unwrap();
        w.add_claim(
            &o,
            &Claim {
                labels: vec!["c2".into()],
                tlp: Some(Tlp::Green),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    }
    w.finish(0, json!({})).unwrap();
}

#[test]
fn enrich_matches_an_independent_lookup_on_every_ip_in_the_shared_data() {
    let ts = sqlite_store();
    let w = world(&ts.store);
    let ips = every_ip();
    let v4: Vec<u32> = ips
        .iter()
        .filter_map(|i| match i {
            IpAddr::V4(a) => Some(u32::from(*a)),
            _ => None,
        })
        .collect();
    eprintln!(
        "{} distinct IPs ({} IPv4) in the shared data",
        ips.len(),
        v4.len()
    );
    assert!(
        v4.len() > 50_000,
        "expected the C2 tracker's table among the data"
    );
    submit_ips(&ts.store, &w.hub, &ips);

    let d = shared_data().join("ip-location-db");
    let files = TableFiles {
        country: vec![d.join("asn-country-ipv4.csv.gz")],
        asn: vec![d.join("asn-ipv4.subset-for-samples.csv")],
        policy: Default::default(),
    };
    let t0 = std::time::Instant::now();
    let tables = Tables::load(&files).unwrap();
    let loaded = t0.elapsed();
    let t1 = std::time::Instant::now();
    let stats = enrich::enrich_store(&ts.store, &tables, &mut |_| {}).unwrap();
    eprintln!(
        "tables loaded in {loaded:.2?}; enriched {} observables in {:.2?}: {stats:?}",
        stats.observables,
        t1.elapsed()
    );

    let countries = sweep(
        &v4,
        &ranges(&d.join("asn-country-ipv4.csv.gz"), |r| r[2].clone()),
    );
    let asns = sweep(
        &v4,
        &ranges(&d.join("asn-ipv4.subset-for-samples.csv"), |r| {
            format!("{}|{}", r[2], r[3].trim())
        }),
    );
    let (mut checked, mut with_cc, mut with_asn) = (0, 0, 0);
    let mut after = 0;
    loop {
        let page = ts.store.observables_page(after, 10_000).unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for o in page {
            let ip: IpAddr = o.value.parse().unwrap();
            let (cc, asn) = match ip {
                IpAddr::V4(a) => {
                    let q = u32::from(a);
                    (
                        countries.get(&q).cloned().filter(|c| c != "ZZ"),
                        asns.get(&q).cloned().filter(|a| !a.starts_with("0|")),
                    )
                }
                IpAddr::V6(_) => (None, None),
            };
            assert_eq!(o.enrichment.country, cc, "country of {ip}");
            let got = o
                .enrichment
                .asn
                .map(|a| format!("{a}|{}", o.enrichment.network.clone().unwrap_or_default()));
            assert_eq!(got, asn, "ASN and network of {ip}");
            checked += 1;
            with_cc += cc.is_some() as usize;
            with_asn += asn.is_some() as usize;
        }
    }
    assert_eq!(checked, ips.len());
    assert_eq!((stats.with_country, stats.with_asn), (with_cc, with_asn));
    eprintln!("checked {checked} IPs: {with_cc} with a country, {with_asn} with an ASN");
    assert!(
        with_cc * 10 > v4.len() * 9,
        "most IPv4 addresses have a country"
    );
}

#[test]
fn urls_and_domains_get_host_ip_resolution_and_registered_domain() {
    let ts = sqlite_store();
    let w = world(&ts.store);
    let mut wr = ts
        .store
        .begin_submission(SubmissionMeta {
            org_id: w.partner.id,
            agreement_id: None,
            format: "test".into(),
            source_name: "t".into(),
        })
        .unwrap();
    let c = Claim {
        labels: vec!["c2".into()],
        tlp: Some(Tlp::Green),
        ..Default::default()
    };
    for v in [
        "2001:db8:10::5",
        "http://[2001:db8:10::6]/x",
        "http://1.1.1.5:8080/bin.sh",
        "https://a.b.example.co.uk/x",
        "evil.example.com",
        "WWW.Example.ORG",
    ] {
        wr.add_claim(&Observable::detect(v).unwrap(), &c, None)
            .unwrap();
    }
    // evil.example.com resolves to 1.1.1.7 in the data (a STIX domain-name with resolves_to_refs).
    let ip_id = stix::id::ipv4_id("1.1.1.7");
    let dom_id = stix::id::domain_id("evil.example.com");
    for (id, ty, body) in [
        (
            ip_id.clone(),
            "ipv4-addr",
            json!({"type": "ipv4-addr", "id": ip_id, "value": "1.1.1.7"}),
        ),
        (
            dom_id.clone(),
            "domain-name",
            json!({"type": "domain-name", "id": dom_id, "value": "evil.example.com", "resolves_to_refs": [ip_id]}),
        ),
    ] {
        wr.add_object(&NewObject {
            stix_id: id,
            stix_type: ty.into(),
            version: "2024-01-01T00:00:00.000Z".into(),
            spec_version: "2.1".into(),
            tlp: Tlp::Green,
            json: body.to_string(),
        })
        .unwrap();
    }
    wr.finish(0, json!({})).unwrap();
    let d = shared_data().join("ip-location-db");
    let v6 = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        v6.path(),
        "2001:db8::,2001:db8:ff:ffff:ffff:ffff:ffff:ffff,NL\n",
    )
    .unwrap();
    let tables = Tables::load(&TableFiles {
        country: vec![d.join("asn-country-ipv4.csv.gz"), v6.path().to_path_buf()],
        asn: vec![shared_data().join("iptoasn-fixture/ip2asn-v4.tsv")],
        policy: Default::default(),
    })
    .unwrap();
    let stats = enrich::enrich_store(&ts.store, &tables, &mut |_| {}).unwrap();
    assert_eq!(stats.via_resolution, 1, "{stats:?}");
    assert_eq!(
        get_cc(&ts.store, Kind::Ipv6, "2001:db8:10::5").as_deref(),
        Some("NL"),
        "IPv6 from the same table"
    );
    assert_eq!(
        get_cc(&ts.store, Kind::Url, "http://[2001:db8:10::6]/x").as_deref(),
        Some("NL")
    );
    let get = |k: Kind, v: &str| ts.store.observable(k, v).unwrap().unwrap().enrichment;
    let u = get(Kind::Url, "http://1.1.1.5:8080/bin.sh");
    assert_eq!(
        (u.country.as_deref(), u.registered_domain.as_deref()),
        (Some("AU"), None)
    );
    assert_eq!(u.asn, Some(13335), "from the iptoasn TSV");
    assert_eq!(
        u.network.as_deref(),
        Some("CLOUDFLARENET - Cloudflare, Inc.")
    );
    assert_eq!(
        get(Kind::Url, "https://a.b.example.co.uk/x")
            .registered_domain
            .as_deref(),
        Some("example.co.uk")
    );
    assert_eq!(
        get(Kind::Domain, "www.example.org")
            .registered_domain
            .as_deref(),
        Some("example.org")
    );
    let r = get(Kind::Domain, "evil.example.com");
    assert_eq!(
        (r.country.as_deref(), r.registered_domain.as_deref()),
        (Some("AU"), Some("example.com"))
    );
}

#[test]
fn bad_tables_are_refused_with_file_and_line_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let unsorted = dir.path().join("unsorted.csv");
    std::fs::write(&unsorted, "1.0.4.0,1.0.7.255,AU\n1.0.0.0,1.0.0.255,AU\n").unwrap();
    let overlap = dir.path().join("overlap.csv");
    std::fs::write(&overlap, "1.0.0.0,1.0.3.255,AU\n1.0.2.0,1.0.7.255,CN\n").unwrap();
    let bad_cc = dir.path().join("badcc.csv");
    std::fs::write(&bad_cc, "1.0.0.0,1.0.3.255,QQ\n").unwrap();
    for (p, want) in [
        (&unsorted, "not sorted"),
        (&overlap, "overlaps"),
        (&bad_cc, "country code"),
    ] {
        let e = Tables::load(&TableFiles {
            country: vec![p.clone()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(want)
                && e.contains(&*p.to_string_lossy())
                && (e.contains(":2") || e.contains(":1")),
            "{e}"
        );
    }
    let e = Tables::load(&TableFiles::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--ip-country"), "{e}");
}

fn get_cc(store: &Store, k: Kind, v: &str) -> Option<String> {
    store.observable(k, v).unwrap().unwrap().enrichment.country
}
