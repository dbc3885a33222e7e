//! CHECK: every IP address found in the shared threat data (and every range boundary of the
//! tables), looked up through `iprange`, must agree with an independent implementation
//! written here another way: std-only parsing of the raw lines, a sweep-line over the rows
//! for the narrowest-range rule, a BTreeMap range query, a linear scan on a sample.
//!
//! The data lives in `../shared/data` relative to the workspace. Without it the tests skip,
//! unless `CI` is set, where they fail: CI must not go green by testing nothing.

use iprange::{IpTable, OrderPolicy, TableBuilder};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    resolve_data(&dir, std::env::var_os("CI").is_some())
}

/// `Some(dir)` when the data is there; otherwise a skip, or a panic when `ci` is true.
fn resolve_data(dir: &Path, ci: bool) -> Option<PathBuf> {
    if dir.join("ip-location-db").is_dir() {
        return Some(dir.to_path_buf());
    }
    if ci {
        panic!(
            "shared data missing at {} and CI is set: the CHECK tests must run in CI",
            dir.display()
        );
    }
    eprintln!(
        "SKIP: {} not found (set CI to make this fatal)",
        dir.display()
    );
    None
}

#[test]
#[should_panic(expected = "CI is set")]
fn missing_data_fails_under_ci() {
    resolve_data(Path::new("/nonexistent/shared/data"), true);
}

#[test]
fn missing_data_skips_without_ci() {
    assert!(resolve_data(Path::new("/nonexistent/shared/data"), false).is_none());
}

/// Whole file as text, gunzipped when the name ends in .gz (flate2 directly: the test does
/// not reuse the crate's sniffing).
fn read_text(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Regex-free IP extractor: cut the text at every byte that cannot be part of an address,
/// then try each piece as IPv4, IPv6, `v4:port`, with a trailing `.`/`:` trimmed.
fn extract_ips(text: &str, out: &mut BTreeSet<IpAddr>) {
    let is_ip_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    for tok in text.split(|c: char| !is_ip_char(c)) {
        if tok.len() < 2 || !(tok.contains('.') || tok.contains(':')) {
            continue;
        }
        let trimmed = tok.trim_matches(|c| c == '.' || c == ':');
        let candidates = [tok, trimmed, tok.split(':').next().unwrap_or("")];
        for c in candidates {
            if let Ok(ip) = c.parse::<Ipv4Addr>() {
                out.insert(IpAddr::V4(ip));
                break;
            }
            if c.contains(':') {
                if let Ok(ip) = c.parse::<Ipv6Addr>() {
                    out.insert(IpAddr::V6(ip));
                    break;
                }
            }
        }
    }
}

/// All IPs in the threat data: maltrail trails, URLhaus, C2 tracker, ESET and CIRCL MISP
/// events, phishing lists. The lookup tables themselves are not scanned (their boundaries
/// are added separately).
fn threat_ips(data: &Path) -> &'static BTreeSet<IpAddr> {
    static IPS: std::sync::OnceLock<BTreeSet<IpAddr>> = std::sync::OnceLock::new();
    IPS.get_or_init(|| scan_threat_ips(data))
}

fn scan_threat_ips(data: &Path) -> BTreeSet<IpAddr> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for sub in [
        "maltrail/trails",
        "urlhaus",
        "c2-tracker",
        "eset-malware-ioc",
        "misp-circl-osint-events",
        "phishing-link-status",
    ] {
        let d = data.join(sub);
        assert!(d.is_dir(), "{} missing", d.display());
        walk(&d, &mut files);
    }
    let mut ips = BTreeSet::new();
    for f in files {
        extract_ips(&read_text(&f), &mut ips);
    }
    ips
}

/// One parsed row of a table: inclusive range, value, 1-based line.
struct Row<A, V> {
    start: A,
    end: A,
    value: V,
    line: usize,
}

/// The narrowest-range rule (ties: later line), computed by a sweep over rows sorted by
/// start with a set of the active rows — a different algorithm from the crate's painting.
fn sweep_narrowest<V: Clone>(rows: &[Row<u32, V>], queries: &[u32]) -> Vec<Option<V>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].start);
    let mut active: BTreeSet<(u64, Reverse<usize>, usize)> = BTreeSet::new();
    let mut ends: BinaryHeap<Reverse<(u32, usize)>> = BinaryHeap::new();
    let key = |i: usize| {
        (
            u64::from(rows[i].end - rows[i].start),
            Reverse(rows[i].line),
            i,
        )
    };
    let mut next = 0;
    let mut out = Vec::with_capacity(queries.len());
    for &q in queries {
        while next < order.len() && rows[order[next]].start <= q {
            let i = order[next];
            active.insert(key(i));
            ends.push(Reverse((rows[i].end, i)));
            next += 1;
        }
        while let Some(&Reverse((end, i))) = ends.peek() {
            if end >= q {
                break;
            }
            ends.pop();
            active.remove(&key(i));
        }
        out.push(active.first().map(|&(_, _, i)| rows[i].value.clone()));
    }
    out
}

/// Parse an ip-location-db `start,end,CC` table with std only.
fn parse_country_csv(text: &str) -> Vec<Row<u32, String>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "line {}", i + 1);
            Row {
                start: u32::from(f[0].parse::<Ipv4Addr>().unwrap()),
                end: u32::from(f[1].parse::<Ipv4Addr>().unwrap()),
                value: f[2].to_string(),
                line: i + 1,
            }
        })
        .collect()
}

/// Queries: every threat IPv4 plus, for every row, start-1, start, end, end+1.
fn v4_queries(threat: &BTreeSet<IpAddr>, rows: &[Row<u32, String>]) -> Vec<u32> {
    let mut q: BTreeSet<u32> = threat
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v4) => Some(u32::from(*v4)),
            _ => None,
        })
        .collect();
    for r in rows {
        q.extend([r.start, r.end]);
        q.extend(r.start.checked_sub(1));
        q.extend(r.end.checked_add(1));
    }
    q.extend([0, u32::MAX]);
    q.into_iter().collect()
}

fn check_country_table(data: &Path, threat: &BTreeSet<IpAddr>, file: &str, expect_rows: usize) {
    let path = data.join("ip-location-db").join(file);
    let rows = parse_country_csv(&read_text(&path));
    assert_eq!(rows.len(), expect_rows, "{file}: row count");
    let table = IpTable::from_path_with(&path, OrderPolicy::NarrowestWins).unwrap();
    let queries = v4_queries(threat, &rows);
    let want = sweep_narrowest(&rows, &queries);
    let mut disagree = Vec::new();
    for (q, w) in queries.iter().zip(&want) {
        let ip = Ipv4Addr::from(*q);
        let got = table
            .lookup(IpAddr::V4(ip))
            .and_then(|e| e.country())
            .map(|c| c.to_string());
        let plain = table
            .lookup_v4_unindexed(ip)
            .and_then(|e| e.country())
            .map(|c| c.to_string());
        assert_eq!(got, plain, "indexed vs plain at {ip}");
        if got.as_ref() != w.as_ref() {
            disagree.push((ip, got, w.clone()));
        }
    }
    // Second oracle, trivially right: a linear scan over every row for a sample of queries.
    let step = (queries.len() / 400).max(1);
    for &q in queries.iter().step_by(step) {
        let best = rows
            .iter()
            .filter(|r| r.start <= q && q <= r.end)
            .min_by_key(|r| (r.end - r.start, Reverse(r.line)))
            .map(|r| r.value.clone());
        let got = table
            .lookup(IpAddr::V4(Ipv4Addr::from(q)))
            .and_then(|e| e.country())
            .map(|c| c.to_string());
        assert_eq!(got, best, "linear scan at {}", Ipv4Addr::from(q));
    }
    // For the notes: how often the naive "last start <= ip, then check end" reading of the
    // file would answer differently from the narrowest-range rule.
    let starts: Vec<u32> = rows.iter().map(|r| r.start).collect();
    let naive_differs = queries
        .iter()
        .zip(&want)
        .filter(|(q, w)| {
            let i = starts.partition_point(|s| s <= *q);
            let naive = i
                .checked_sub(1)
                .filter(|&i| **q <= rows[i].end)
                .map(|i| rows[i].value.clone());
            naive.as_ref() != w.as_ref()
        })
        .count();
    eprintln!(
        "CHECK {file}: {} rows, {} queries ({} threat IPs + boundaries), {} disagreements; \
         overlaps resolved {}; naive last-start lookup would differ on {naive_differs}",
        rows.len(),
        queries.len(),
        threat.iter().filter(|i| i.is_ipv4()).count(),
        disagree.len(),
        table.stats().overlaps,
    );
    assert!(
        disagree.is_empty(),
        "{file}: {} disagreements, first: {:?}",
        disagree.len(),
        &disagree[..disagree.len().min(5)]
    );
}

#[test]
fn check_geo_whois_asn_country() {
    let Some(data) = data_dir() else { return };
    let threat = threat_ips(&data);
    assert!(
        threat.len() > 10_000,
        "extractor found only {} IPs",
        threat.len()
    );
    check_country_table(&data, threat, "geo-whois-asn-country-ipv4.csv.gz", 334_373);
}

#[test]
fn check_asn_country() {
    let Some(data) = data_dir() else { return };
    let threat = threat_ips(&data);
    check_country_table(&data, threat, "asn-country-ipv4.csv.gz", 141_822);
    // This table has no overlaps: it must also load under the strict default.
    IpTable::from_path(data.join("ip-location-db/asn-country-ipv4.csv.gz")).unwrap();
}

/// Unquote one CSV field the simple way (the test's own code, not the crate's splitter).
fn parse_asn_line(l: &str) -> (u32, u32, u32, String) {
    let mut it = l.splitn(4, ',');
    let s = u32::from(it.next().unwrap().parse::<Ipv4Addr>().unwrap());
    let e = u32::from(it.next().unwrap().parse::<Ipv4Addr>().unwrap());
    let asn: u32 = it.next().unwrap().parse().unwrap();
    let org = it.next().unwrap();
    let org = match org.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => org.to_string(),
    };
    // The crate trims org names (documented in `load`); some rows end in a space.
    (s, e, asn, org.trim().to_string())
}

#[test]
fn check_asn_subset_btreemap() {
    let Some(data) = data_dir() else { return };
    let path = data.join("ip-location-db/asn-ipv4.subset-for-samples.csv");
    let text = read_text(&path);
    let mut map: BTreeMap<u32, (u32, u32, String)> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        let (s, e, asn, org) = parse_asn_line(l);
        map.insert(s, (e, asn, org));
    }
    assert_eq!(map.len(), 11_256);
    let quoted = text.lines().filter(|l| l.contains('"')).count();
    assert!(quoted > 100, "the subset has quoted org names");
    let table = IpTable::from_path(&path).unwrap();
    let threat = threat_ips(&data);
    let mut queries: BTreeSet<u32> = threat
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v) => Some(u32::from(*v)),
            _ => None,
        })
        .collect();
    for (&s, &(e, _, _)) in &map {
        queries.extend([s, e]);
        queries.extend(s.checked_sub(1));
        queries.extend(e.checked_add(1));
    }
    let mut found = 0;
    for q in queries.iter().copied() {
        let want = map
            .range(..=q)
            .next_back()
            .filter(|(_, (e, asn, _))| q <= *e && *asn != 0)
            .map(|(_, (_, asn, org))| (*asn, org.as_str()));
        let got = table
            .lookup(IpAddr::V4(Ipv4Addr::from(q)))
            .map(|e| (e.asn().unwrap(), e.org().unwrap_or("")));
        assert_eq!(got, want, "ASN at {}", Ipv4Addr::from(q));
        found += got.is_some() as usize;
    }
    eprintln!(
        "CHECK asn subset: {} queries, {found} with an ASN, 0 disagreements",
        queries.len()
    );
    let e = table.lookup("1.1.1.1".parse().unwrap());
    assert!(e.is_none() || e.unwrap().asn() == Some(13335));
}

#[test]
fn check_iptoasn_fixture() {
    let Some(data) = data_dir() else { return };
    let path = data.join("iptoasn-fixture/ip2asn-v4.tsv");
    let text = read_text(&path);
    let mut map: BTreeMap<u32, (u32, u32, String, String)> = BTreeMap::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let s = u32::from(f[0].parse::<Ipv4Addr>().unwrap());
        let e = u32::from(f[1].parse::<Ipv4Addr>().unwrap());
        map.insert(s, (e, f[2].parse().unwrap(), f[3].into(), f[4].into()));
    }
    let table = IpTable::from_path(&path).unwrap();
    let mut n = 0;
    for (&s, &(e, ..)) in &map {
        for q in [s, e, s.wrapping_sub(1), e.wrapping_add(1)] {
            let want = map
                .range(..=q)
                .next_back()
                .filter(|(_, (e, asn, ..))| q <= *e && *asn != 0)
                .map(|(_, (_, asn, cc, org))| (*asn, cc.clone(), org.clone()));
            let got = table.lookup(IpAddr::V4(Ipv4Addr::from(q))).map(|e| {
                (
                    e.asn().unwrap(),
                    e.country().map_or("None".to_string(), |c| c.to_string()),
                    e.org().unwrap_or("").to_string(),
                )
            });
            assert_eq!(got, want, "at {}", Ipv4Addr::from(q));
            n += 1;
        }
    }
    let e = table.lookup("8.8.8.8".parse().unwrap()).unwrap();
    assert_eq!(e.asn(), Some(15169));
    assert_eq!(e.country().unwrap().as_str(), "US");
    eprintln!("CHECK iptoasn fixture: {n} queries, 0 disagreements");
}

/// maltrail ip2cc / ip2cc6, decoded here the way maltrail's Python does (accumulate hex
/// deltas, shift v6 by 64, bisect_right), and compared on every threat IP of that family
/// plus every row boundary.
#[test]
fn check_maltrail_ip2cc_v4_v6() {
    let Some(data) = data_dir() else { return };
    let threat = threat_ips(&data);
    let mut b = TableBuilder::new();
    b.add_path(data.join("maltrail/data/ip2cc.csv.gz"), None)
        .unwrap()
        .add_path(data.join("maltrail/data/ip2cc6.csv.gz"), None)
        .unwrap();
    let table = b.build().unwrap();
    for (file, v6) in [("ip2cc.csv.gz", false), ("ip2cc6.csv.gz", true)] {
        let text = read_text(&data.join("maltrail/data").join(file));
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            if v6 { "#hexdelta1:6" } else { "#hexdelta1:4" }
        );
        let (mut starts, mut ccs) = (Vec::<u128>::new(), Vec::<String>::new());
        let mut acc = 0u128;
        for l in lines {
            let (d, cc) = l.split_once(',').unwrap();
            acc += u128::from_str_radix(d, 16).unwrap();
            starts.push(if v6 { acc << 64 } else { acc });
            ccs.push(cc.to_string());
        }
        let bisect = |v: u128| {
            let i = starts.partition_point(|&s| s <= v);
            i.checked_sub(1)
                .map(|i| ccs[i].clone())
                .filter(|c| !c.is_empty())
        };
        let mut queries: BTreeSet<u128> = threat
            .iter()
            .filter(|ip| ip.is_ipv6() == v6)
            .map(|ip| match ip {
                IpAddr::V4(a) => u128::from(u32::from(*a)),
                IpAddr::V6(a) => u128::from(*a),
            })
            .collect();
        let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        for &s in &starts {
            queries.insert(s);
            queries.extend(s.checked_sub(1));
            queries.insert((s + 1).min(max));
        }
        let n_threat = threat.iter().filter(|ip| ip.is_ipv6() == v6).count();
        let mut with_cc = 0;
        for &q in &queries {
            let ip = if v6 {
                IpAddr::V6(Ipv6Addr::from(q))
            } else {
                IpAddr::V4(Ipv4Addr::from(q as u32))
            };
            // Skip v4-mapped v6 queries: the crate deliberately answers them from the v4 rows.
            if let IpAddr::V6(a) = ip {
                if a.to_ipv4_mapped().is_some() {
                    continue;
                }
            }
            let got = table
                .lookup(ip)
                .and_then(|e| e.country())
                .map(|c| c.to_string());
            assert_eq!(got, bisect(q), "{file} at {ip}");
            with_cc += got.is_some() as usize;
        }
        eprintln!(
            "CHECK maltrail {file}: {} rows, {} queries ({n_threat} threat IPs), {with_cc} with a country, 0 disagreements",
            starts.len(),
            queries.len()
        );
    }
}

#[test]
fn every_country_code_in_the_data_is_valid() {
    let Some(data) = data_dir() else { return };
    for f in [
        "ip-location-db/geo-whois-asn-country-ipv4.csv.gz",
        "ip-location-db/asn-country-ipv4.csv.gz",
    ] {
        let text = read_text(&data.join(f));
        let codes: BTreeSet<&str> = text.lines().filter_map(|l| l.rsplit(',').next()).collect();
        for c in &codes {
            assert!(iprange::country::is_valid(c), "{f}: {c}");
            assert!(iprange::country::name(c).is_some());
        }
    }
}

#[test]
fn extractor_sanity() {
    let mut s = BTreeSet::new();
    extract_ips(
        "http://117.209.87.242:60905/bin.sh, 8.8.8.8. [2001:db8::1]:443 1.2.3 \
         \"value\": \"5.8.10.194\" 2604:a880:800:10::793:3001,2022 01.2.3.4",
        &mut s,
    );
    let got: Vec<String> = s.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        got,
        [
            "5.8.10.194",
            "8.8.8.8",
            "117.209.87.242",
            "2001:db8::1",
            "2604:a880:800:10::793:3001"
        ]
    );
}
