//! Benchmark / correctness corpus: indicators from the real shared data plus generated ones,
//! and DNS (JSON lines), proxy (squid text), Zeek conn / http / files logs with planted hits.
//!
//! Shared by `examples/gen_bench.rs` (the 2 GB benchmark) and `tests/planted.rs` (a small
//! version run by `cargo test`). The expected hits are computed by a deliberately naive,
//! independent reference (std `HashMap`s, every suffix and every prefix length probed), not
//! by the matcher's own tables, so the check means something.
//!
//! Background values come from namespaces no indicator may live in (indicators there are
//! dropped): clients in 10.0.0.0/8, servers in 100.64.0.0/10 and 2001:db8::/32, names under
//! `.test`. So a background value can never match, and every expected hit is planted.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use observable::{Kind, Observable};

/// One planted line in `PLANT_EVERY` (per log).
pub const PLANT_EVERY: u64 = 400;

pub struct Config {
    pub indicators: usize,
    pub log_bytes: u64,
    pub seed: u64,
    /// `shared/data`; `None` or missing: generated indicators only.
    pub data_dir: Option<PathBuf>,
}

pub struct Generated {
    pub indicators: PathBuf,
    pub patterns: PathBuf,
    pub logs: Vec<PathBuf>,
    pub expected: PathBuf,
    pub expected_hits: usize,
}

/// wyrand: fast, good enough for test data.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    #[inline]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa0761d6478bd642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe7037ed1a0b428db) as u128);
        ((t >> 64) ^ t) as u64
    }
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn hex(&mut self, n: usize) -> String {
        const H: &[u8] = b"0123456789abcdef";
        (0..n).map(|_| H[self.below(16) as usize] as char).collect()
    }
    pub fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| A[self.below(36) as usize] as char).collect()
    }
}

/// The naive reference model: canonical value -> handles.
#[derive(Default)]
pub struct Reference {
    exact: HashMap<(Kind, String), Vec<u32>>,
    cidr4: HashMap<(u32, u8), Vec<u32>>,
    cidr6: HashMap<(u128, u8), Vec<u32>>,
    url_hosts: HashMap<String, Vec<u32>>,
    tlds: HashSet<String>,
}

fn in_background(o: &Observable) -> bool {
    let bg4: [(u32, u8); 2] = [(0x0a000000, 8), (0x64400000, 10)];
    let bg6: (u128, u8) = (0x2001_0db8u128 << 96, 32);
    let overlaps4 = |n: u32, l: u8| {
        bg4.iter().any(|&(bn, bl)| {
            let m = l.min(bl);
            let mask = if m == 0 { 0 } else { u32::MAX << (32 - m) };
            n & mask == bn & mask
        })
    };
    let overlaps6 = |n: u128, l: u8| {
        let m = l.min(bg6.1);
        let mask = if m == 0 { 0 } else { u128::MAX << (128 - m) };
        n & mask == bg6.0 & mask
    };
    match o.kind {
        Kind::Ipv4 | Kind::Ipv6 => match o.network() {
            Some(ipnet::IpNet::V4(n)) => overlaps4(n.network().into(), n.prefix_len()),
            Some(ipnet::IpNet::V6(n)) => overlaps6(n.network().into(), n.prefix_len()),
            None => match o.value.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => overlaps4(a.into(), 32),
                Ok(IpAddr::V6(a)) => overlaps6(a.into(), 128),
                Err(_) => true,
            },
        },
        Kind::Domain => o.value == "test" || o.value.ends_with(".test"),
        Kind::Url => match o.host() {
            Some(h) => {
                h.ends_with(".test")
                    || in_background(&Observable {
                        kind: Kind::Domain,
                        value: h.to_string(),
                    })
                    || h.parse::<IpAddr>()
                        .map(|a| {
                            in_background(&Observable {
                                kind: if a.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 },
                                value: a.to_string(),
                            })
                        })
                        .unwrap_or(false)
            }
            None => true,
        },
        Kind::Email => o.value.ends_with(".test"),
        _ => false,
    }
}

/// Hit as compared between matcher and reference.
pub type HitKey = (String, u64, String, String, String, String, Vec<u32>);

pub fn hit_line(
    file: &str,
    line: u64,
    field: &str,
    value: &str,
    rule: &str,
    indicator: &str,
    handles: &[u32],
) -> String {
    let hs: Vec<String> = handles.iter().map(|h| h.to_string()).collect();
    format!(
        "{file}\t{line}\t{field}\t{value}\t{rule}\t{indicator}\t{}",
        hs.join(",")
    )
}

impl Reference {
    fn add(&mut self, handle: u32, o: &Observable) {
        match (o.kind, o.network()) {
            (_, Some(ipnet::IpNet::V4(n))) => self
                .cidr4
                .entry((n.network().into(), n.prefix_len()))
                .or_default()
                .push(handle),
            (_, Some(ipnet::IpNet::V6(n))) => self
                .cidr6
                .entry((n.network().into(), n.prefix_len()))
                .or_default()
                .push(handle),
            (Kind::Url, None) => {
                if let Some(h) = o.host() {
                    self.url_hosts
                        .entry(h.to_string())
                        .or_default()
                        .push(handle);
                }
                self.exact
                    .entry((o.kind, o.value.clone()))
                    .or_default()
                    .push(handle);
            }
            (Kind::Domain, None) => {
                self.tlds
                    .insert(o.value.rsplit('.').next().unwrap_or("").to_string());
                self.exact
                    .entry((o.kind, o.value.clone()))
                    .or_default()
                    .push(handle);
            }
            _ => {
                let k = match o.kind {
                    Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 => Kind::Md5,
                    k => k,
                };
                self.exact
                    .entry((k, o.value.clone()))
                    .or_default()
                    .push(handle);
            }
        }
    }

    fn finish(&mut self) {
        for v in self
            .exact
            .values_mut()
            .chain(self.cidr4.values_mut())
            .chain(self.cidr6.values_mut())
            .chain(self.url_hosts.values_mut())
        {
            v.sort_unstable();
            v.dedup();
        }
    }

    /// (rule, indicator, handles) for an IP.
    pub fn ip(&self, ip: IpAddr) -> Vec<(String, String, Vec<u32>)> {
        let mut out = Vec::new();
        let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
        if let Some(h) = self.exact.get(&(kind, ip.to_string())) {
            out.push(("ip-exact".into(), ip.to_string(), h.clone()));
        }
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                for l in 0..=32u8 {
                    let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
                    if let Some(h) = self.cidr4.get(&(a & mask, l)) {
                        out.push((
                            "ip-in-cidr".into(),
                            format!("{}/{}", std::net::Ipv4Addr::from(a & mask), l),
                            h.clone(),
                        ));
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                for l in 0..=128u8 {
                    let mask = if l == 0 { 0 } else { u128::MAX << (128 - l) };
                    if let Some(h) = self.cidr6.get(&(a & mask, l)) {
                        out.push((
                            "ip-in-cidr".into(),
                            format!("{}/{}", std::net::Ipv6Addr::from(a & mask), l),
                            h.clone(),
                        ));
                    }
                }
            }
        }
        out
    }

    pub fn domain(&self, d: &str) -> Vec<(String, String, Vec<u32>)> {
        let mut out = Vec::new();
        let labels: Vec<&str> = d.split('.').collect();
        for i in 0..labels.len().saturating_sub(1) {
            let suffix = labels[i..].join(".");
            if let Some(h) = self.exact.get(&(Kind::Domain, suffix.clone())) {
                out.push((
                    if i == 0 { "domain-exact" } else { "subdomain" }.to_string(),
                    suffix,
                    h.clone(),
                ));
            }
        }
        out
    }

    pub fn host(&self, host: &str) -> Vec<(String, String, Vec<u32>)> {
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => self.ip(ip),
            Err(_) => self.domain(host),
        }
    }

    /// URL rules only (exact, else url-host).
    pub fn url(&self, canonical: &str) -> Vec<(String, String, Vec<u32>)> {
        if let Some(h) = self.exact.get(&(Kind::Url, canonical.to_string())) {
            return vec![("url-exact".into(), canonical.to_string(), h.clone())];
        }
        let o = Observable {
            kind: Kind::Url,
            value: canonical.to_string(),
        };
        match o.host().and_then(|h| self.url_hosts.get(h).map(|v| (h, v))) {
            Some((h, v)) => vec![("url-host".into(), h.to_string(), v.clone())],
            None => vec![],
        }
    }

    pub fn hash(&self, h: &str) -> Vec<(String, String, Vec<u32>)> {
        match self.exact.get(&(Kind::Md5, h.to_string())) {
            Some(v) => vec![("hash".into(), h.to_string(), v.clone())],
            None => vec![],
        }
    }

    /// Could a dot-containing token of `s` be probed into a match? Only if its last label is
    /// the TLD of some domain indicator. Used to keep planted URL paths free of accidents.
    pub fn path_is_inert(&self, s: &str) -> bool {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
            .filter(|t| t.contains('.'))
            .all(|t| {
                !self
                    .tlds
                    .contains(&t.rsplit('.').next().unwrap_or("").to_ascii_lowercase())
                    && !t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
            && !s.contains('@')
            && !s.contains("://")
            && !s
                .split(|c: char| !c.is_ascii_hexdigit())
                .any(|t| matches!(t.len(), 32 | 40 | 64 | 128))
    }
}

/// Pools of indicator values to plant, by shape.
#[derive(Default)]
struct Pools {
    domains: Vec<String>,
    ip4: Vec<String>,
    ip6: Vec<String>,
    cidr4: Vec<(u32, u8)>,
    cidr6: Vec<(u128, u8)>,
    /// URLs safe in free text (no stop characters, no trailing punctuation).
    urls_text: Vec<String>,
    /// http, no port, no userinfo, no fragment: plantable as Zeek host + uri.
    urls_http: Vec<(String, String)>,
    md5: Vec<String>,
    sha1: Vec<String>,
    sha256: Vec<String>,
}

fn read_real(dir: &Path, budget: usize, out: &mut Vec<(Kind, String)>) {
    // maltrail trails: domains, IP:port, host/path
    let mut trails = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.join("maltrail/trails/static/malware")) {
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Ok(s) = std::fs::read_to_string(&f) {
                for l in s.lines() {
                    let l = l.trim();
                    if !l.is_empty() && !l.starts_with('#') {
                        trails.push(l.to_string());
                    }
                }
            }
        }
    }
    // URLhaus CSV: url is the 3rd column
    let mut urls = Vec::new();
    if let Ok(s) = std::fs::read_to_string(dir.join("urlhaus/urlhaus_online_2025-04-21.csv")) {
        for l in s.lines().skip(1) {
            if let Some(u) = l.split("\",\"").nth(2) {
                urls.push(u.to_string());
            }
        }
    }
    // C2 tracker first/last-seen table: IPv4 and IPv6
    let mut ips = Vec::new();
    if let Ok(f) = File::open(dir.join("c2-tracker/all_ip_first_last_seen.csv.gz")) {
        let mut s = String::new();
        if flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .is_ok()
        {
            for l in s.lines().skip(1) {
                if let Some(ip) = l.split(',').next() {
                    ips.push(ip.to_string());
                }
            }
        }
    }
    let total = trails.len() + urls.len() + ips.len();
    if total == 0 {
        return;
    }
    // Take every k-th entry of each source so a small budget still samples all three.
    let step = (total as f64 / budget as f64).max(1.0);
    for src in [trails, urls, ips] {
        let mut x = 0.0;
        while (x as usize) < src.len() {
            if let Ok((o, _)) = observable::detect_with_port(&src[x as usize]) {
                out.push((o.kind, o.value));
            }
            x += step;
        }
    }
}

const TLDS: [&str; 8] = ["com", "net", "org", "info", "xyz", "ru", "top", "biz"];

pub fn generate(cfg: &Config, out: &Path) -> std::io::Result<Generated> {
    std::fs::create_dir_all(out)?;
    let mut rng = Rng::new(cfg.seed);
    let mut raw: Vec<(Kind, String)> = Vec::with_capacity(cfg.indicators);
    if let Some(d) = &cfg.data_dir {
        read_real(d, cfg.indicators * 3 / 10, &mut raw);
    }
    // Generated indicators fill the rest, in fixed proportions.
    let rest = cfg.indicators.saturating_sub(raw.len());
    let share = |pct: usize| rest * pct / 100;
    for i in 0..share(30) {
        raw.push((
            Kind::Domain,
            format!("g{i}{}.{}", rng.alnum(6), TLDS[rng.below(8) as usize]),
        ));
    }
    for i in 0..share(4) {
        raw.push((
            Kind::Domain,
            format!(
                "{}.g{i}{}.{}",
                rng.alnum(4),
                rng.alnum(5),
                TLDS[rng.below(8) as usize]
            ),
        ));
    }
    for _ in 0..share(12) {
        raw.push((Kind::Md5, rng.hex(32)));
    }
    for _ in 0..share(8) {
        raw.push((Kind::Sha1, rng.hex(40)));
    }
    for _ in 0..share(16) {
        raw.push((Kind::Sha256, rng.hex(64)));
    }
    for _ in 0..share(1) {
        raw.push((Kind::Sha512, rng.hex(128)));
    }
    for _ in 0..share(12) {
        let a = rng.next() as u32;
        raw.push((Kind::Ipv4, std::net::Ipv4Addr::from(a).to_string()));
    }
    for _ in 0..share(2) {
        let a = ((rng.next() as u128) << 64) | rng.next() as u128;
        raw.push((Kind::Ipv6, std::net::Ipv6Addr::from(a).to_string()));
    }
    for _ in 0..share(3) {
        // 240.0.0.0/4 (reserved), /20 to /28, a few /12 to nest others.
        let l = if rng.below(50) == 0 {
            12 + rng.below(4) as u8
        } else {
            20 + rng.below(9) as u8
        };
        let n = (0xf000_0000 | (rng.next() as u32 & 0x0fff_ffff)) & (u32::MAX << (32 - l));
        raw.push((Kind::Ipv4, format!("{}/{l}", std::net::Ipv4Addr::from(n))));
    }
    for _ in 0..share(1) {
        // fd00::/8 (ULA), /40 to /64
        let l = 40 + rng.below(25) as u8;
        let n = ((0xfdu128 << 120) | ((rng.next() as u128) << 56)) & (u128::MAX << (128 - l));
        raw.push((Kind::Ipv6, format!("{}/{l}", std::net::Ipv6Addr::from(n))));
    }
    for i in 0..share(8) {
        let host = if rng.below(4) == 0 {
            format!("{}", std::net::Ipv4Addr::from(rng.next() as u32))
        } else {
            format!("u{i}{}.{}", rng.alnum(5), TLDS[rng.below(8) as usize])
        };
        raw.push((
            Kind::Url,
            format!(
                "http://{host}/{}/{}.php?id={}",
                rng.alnum(6),
                rng.alnum(5),
                rng.below(1000)
            ),
        ));
    }
    for i in 0..share(1) {
        raw.push((
            Kind::Email,
            format!("user{i}@m{}.{}", rng.alnum(6), TLDS[rng.below(8) as usize]),
        ));
    }
    while raw.len() < cfg.indicators {
        raw.push((Kind::Md5, rng.hex(32)));
    }

    // Canonicalise, drop background-namespace values, write TSV and grep patterns.
    let mut reference = Reference::default();
    let mut pools = Pools::default();
    let ind_path = out.join("indicators.tsv");
    let pat_path = out.join("patterns.txt");
    let mut iw = BufWriter::new(File::create(&ind_path)?);
    let mut pw = BufWriter::new(File::create(&pat_path)?);
    let mut handle = 0u32;
    let mut canon: Vec<(u32, Observable)> = Vec::with_capacity(raw.len());
    for (kind, v) in raw {
        let Ok(o) = Observable::parse(kind, &v) else {
            continue;
        };
        if in_background(&o) {
            continue;
        }
        writeln!(iw, "{handle}\t{}\t{}", o.kind.as_str(), o.value)?;
        writeln!(pw, "{}", o.value)?;
        reference.add(handle, &o);
        canon.push((handle, o));
        handle += 1;
    }
    iw.flush()?;
    pw.flush()?;
    reference.finish();
    for (_, o) in &canon {
        match (o.kind, o.network()) {
            (_, Some(ipnet::IpNet::V4(n))) => {
                pools.cidr4.push((n.network().into(), n.prefix_len()))
            }
            (_, Some(ipnet::IpNet::V6(n))) => {
                pools.cidr6.push((n.network().into(), n.prefix_len()))
            }
            (Kind::Ipv4, None) => pools.ip4.push(o.value.clone()),
            (Kind::Ipv6, None) => pools.ip6.push(o.value.clone()),
            (Kind::Domain, None) if o.value.len() < 200 => pools.domains.push(o.value.clone()),
            (Kind::Md5, _) => pools.md5.push(o.value.clone()),
            (Kind::Sha1, _) => pools.sha1.push(o.value.clone()),
            (Kind::Sha256, _) => pools.sha256.push(o.value.clone()),
            (Kind::Url, _) => {
                let u = &o.value;
                let safe_text = !u.bytes().any(|b| b <= b' ' || b"\"<>`{}\\".contains(&b))
                    && !u.ends_with(['.', ',', ';', ':', '!', '?', '\'', ')', ']']);
                if safe_text {
                    pools.urls_text.push(u.clone());
                }
                if let Some(rest) = u.strip_prefix("http://") {
                    let slash = rest.find('/').unwrap_or(rest.len());
                    let (host, uri) = rest.split_at(slash);
                    if !host.contains(':')
                        && !host.contains('@')
                        && !host.starts_with('[')
                        && !uri.contains('#')
                        && !uri.contains('\t')
                        && uri.starts_with('/')
                        && reference.path_is_inert(uri)
                    {
                        pools.urls_http.push((host.to_string(), uri.to_string()));
                    }
                }
            }
            _ => {}
        }
    }

    // Logs: shares of the byte budget.
    let mut exp = BTreeSet::new();
    let logs = vec![
        gen_dns(
            &out.join("dns.jsonl"),
            cfg.log_bytes * 35 / 100,
            &mut rng,
            &pools,
            &reference,
            &mut exp,
        )?,
        gen_proxy(
            &out.join("proxy.log"),
            cfg.log_bytes * 30 / 100,
            &mut rng,
            &pools,
            &reference,
            &mut exp,
        )?,
        gen_conn(
            &out.join("conn.log"),
            cfg.log_bytes * 20 / 100,
            &mut rng,
            &pools,
            &reference,
            &mut exp,
        )?,
        gen_http(
            &out.join("http.log"),
            cfg.log_bytes * 10 / 100,
            &mut rng,
            &pools,
            &reference,
            &mut exp,
        )?,
        gen_files(
            &out.join("files.log"),
            cfg.log_bytes * 5 / 100,
            &mut rng,
            &pools,
            &reference,
            &mut exp,
        )?,
    ];
    let exp_path = out.join("expected.tsv");
    let mut ew = BufWriter::new(File::create(&exp_path)?);
    for l in &exp {
        writeln!(ew, "{l}")?;
    }
    ew.flush()?;
    Ok(Generated {
        indicators: ind_path,
        patterns: pat_path,
        logs,
        expected: exp_path,
        expected_hits: exp.len(),
    })
}

fn name(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> Option<&'a T> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.below(v.len() as u64) as usize])
    }
}

fn bg_domain(rng: &mut Rng) -> String {
    let n = 3 + rng.below(8) as usize;
    format!("{}.bg{}.test", rng.alnum(n), rng.below(5000))
}

fn bg_ip4(rng: &mut Rng) -> String {
    let a = 0x6440_0000 | (rng.next() as u32 & 0x003f_ffff);
    std::net::Ipv4Addr::from(a).to_string()
}

fn client(rng: &mut Rng) -> String {
    std::net::Ipv4Addr::from(0x0a00_0000 | (rng.next() as u32 & 0x00ff_ffff)).to_string()
}

fn in_cidr4(rng: &mut Rng, (n, l): (u32, u8)) -> String {
    let host = if l == 32 {
        0
    } else {
        rng.next() as u32 & (u32::MAX >> l)
    };
    std::net::Ipv4Addr::from(n | host).to_string()
}

fn in_cidr6(rng: &mut Rng, (n, l): (u128, u8)) -> String {
    let r = ((rng.next() as u128) << 64) | rng.next() as u128;
    let host = if l == 128 { 0 } else { r & (u128::MAX >> l) };
    std::net::Ipv6Addr::from(n | host).to_string()
}

/// A planted IP: exact indicator or a member of a CIDR, v4 or v6.
fn planted_ip(rng: &mut Rng, p: &Pools) -> Option<String> {
    match rng.below(4) {
        0 => pick(rng, &p.ip4).cloned(),
        1 => pick(rng, &p.ip6).cloned(),
        2 => pick(rng, &p.cidr4).copied().map(|c| in_cidr4(rng, c)),
        _ => pick(rng, &p.cidr6).copied().map(|c| in_cidr6(rng, c)),
    }
}

fn expect(
    exp: &mut BTreeSet<String>,
    file: &str,
    line: u64,
    field: &str,
    value: &str,
    found: Vec<(String, String, Vec<u32>)>,
) {
    for (rule, ind, hs) in found {
        exp.insert(hit_line(file, line, field, value, &rule, &ind, &hs));
    }
}

fn gen_dns(
    path: &Path,
    bytes: u64,
    rng: &mut Rng,
    p: &Pools,
    r: &Reference,
    exp: &mut BTreeSet<String>,
) -> std::io::Result<PathBuf> {
    let f = name(path);
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    let (mut written, mut line) = (0u64, 0u64);
    let base = 1_700_000_000u64;
    while written < bytes {
        line += 1;
        let plant = line % PLANT_EVERY == 0;
        let mut query = bg_domain(rng);
        let mut answer = bg_ip4(rng);
        if plant {
            if rng.below(2) == 0 {
                if let Some(d) = pick(rng, &p.domains) {
                    query = if rng.below(2) == 0 {
                        d.clone()
                    } else {
                        format!("q{}.{d}", rng.alnum(5))
                    };
                    expect(exp, &f, line, "query", &query, r.domain(&query));
                }
            } else if let Some(ip) = planted_ip(rng, p) {
                answer = ip;
                let ipa: IpAddr = answer.parse().unwrap();
                expect(exp, &f, line, "answers", &answer, r.ip(ipa));
            }
        }
        let t = base + line / 50;
        let s = format!(
            "{{\"ts\":\"{}\",\"client\":\"{}\",\"query\":\"{query}\",\"qtype\":\"A\",\"rcode\":\"NOERROR\",\"answers\":[\"{answer}\",\"{}\"],\"ttl\":{}}}\n",
            chrono::DateTime::from_timestamp(t as i64, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ"),
            client(rng),
            bg_ip4(rng),
            rng.below(3600)
        );
        written += s.len() as u64;
        w.write_all(s.as_bytes())?;
    }
    w.flush()?;
    Ok(path.to_path_buf())
}

fn gen_proxy(
    path: &Path,
    bytes: u64,
    rng: &mut Rng,
    p: &Pools,
    r: &Reference,
    exp: &mut BTreeSet<String>,
) -> std::io::Result<PathBuf> {
    let f = name(path);
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    let (mut written, mut line) = (0u64, 0u64);
    while written < bytes {
        line += 1;
        let plant = line % PLANT_EVERY == 0;
        let mut url = format!(
            "http://{}/p/{}/{}",
            bg_domain(rng),
            rng.alnum(8),
            rng.alnum(6)
        );
        let mut server = bg_ip4(rng);
        if plant {
            match rng.below(4) {
                0 => {
                    if let Some(u) = pick(rng, &p.urls_text) {
                        url = u.clone();
                    }
                }
                1 => {
                    // same host as a URL indicator, another path: url-host
                    if let Some(u) = pick(rng, &p.urls_text) {
                        let o = Observable {
                            kind: Kind::Url,
                            value: u.clone(),
                        };
                        let scheme_end = u.find("://").unwrap() + 3;
                        let path_start = u[scheme_end..]
                            .find(['/', '?', '#'])
                            .map_or(u.len(), |k| scheme_end + k);
                        let _ = o;
                        url = observable::canonical_url(&format!(
                            "{}/zz{}",
                            &u[..path_start],
                            rng.alnum(8)
                        ))
                        .unwrap();
                    }
                }
                2 => {
                    if let Some(d) = pick(rng, &p.domains) {
                        url = format!("https://w{}.{d}/index", rng.alnum(3));
                    }
                }
                _ => {
                    if let Some(ip) = planted_ip(rng, p) {
                        server = ip;
                        let ipa: IpAddr = server.parse().unwrap();
                        expect(exp, &f, line, "text", &server, r.ip(ipa));
                    }
                }
            }
            if !url.contains(".test/") {
                let canonical = observable::canonical_url(&url).unwrap();
                expect(exp, &f, line, "text", &canonical, r.url(&canonical));
                let o = Observable {
                    kind: Kind::Url,
                    value: canonical.clone(),
                };
                let host = o.host().unwrap().to_string();
                let host_value = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                expect(exp, &f, line, "text", &host_value, r.host(&host));
            }
        }
        let s = format!(
            "{}.{:03} {:>6} {} TCP_MISS/200 {} GET {url} - HIER_DIRECT/{server} text/html\n",
            1_700_000_000 + line / 40,
            rng.below(1000),
            rng.below(100_000),
            client(rng),
            rng.below(1_000_000)
        );
        written += s.len() as u64;
        w.write_all(s.as_bytes())?;
    }
    w.flush()?;
    Ok(path.to_path_buf())
}

/// The header Zeek writes (without `#open`/`#close`): separators, `#fields` and `#types`.
/// Returns its bytes and its lines.
fn zeek_header(
    w: &mut impl Write,
    path: &str,
    columns: &[(&str, &str)],
) -> std::io::Result<(u64, u64)> {
    let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let types: Vec<&str> = columns.iter().map(|c| c.1).collect();
    let s = format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#fields\t{}\n#types\t{}\n",
        names.join("\t"),
        types.join("\t")
    );
    w.write_all(s.as_bytes())?;
    Ok((s.len() as u64, s.matches('\n').count() as u64))
}

fn uid(rng: &mut Rng) -> String {
    format!("C{}", rng.alnum(17))
}

fn gen_conn(
    path: &Path,
    bytes: u64,
    rng: &mut Rng,
    p: &Pools,
    r: &Reference,
    exp: &mut BTreeSet<String>,
) -> std::io::Result<PathBuf> {
    let f = name(path);
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    // Names and types as Zeek's conn.log has them.
    let fields = [
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("service", "string"),
        ("duration", "interval"),
        ("orig_bytes", "count"),
        ("resp_bytes", "count"),
        ("conn_state", "string"),
    ];
    let (mut written, mut line) = zeek_header(&mut w, "conn", &fields)?;
    while written < bytes {
        line += 1;
        let mut resp = if rng.below(5) == 0 {
            format!("2001:db8::{:x}", rng.below(65536))
        } else {
            bg_ip4(rng)
        };
        if line % PLANT_EVERY == 0 {
            if let Some(ip) = planted_ip(rng, p) {
                resp = ip;
                expect(
                    exp,
                    &f,
                    line,
                    "id.resp_h",
                    &resp,
                    r.ip(resp.parse().unwrap()),
                );
            }
        }
        let s = format!(
            "{}.{:06}\t{}\t{}\t{}\t{resp}\t{}\ttcp\t-\t{}.{:06}\t{}\t{}\tSF\n",
            1_700_000_000 + line / 60,
            rng.below(1_000_000),
            uid(rng),
            client(rng),
            1024 + rng.below(60000),
            [80, 443, 53, 8080][rng.below(4) as usize],
            rng.below(100),
            rng.below(1_000_000),
            rng.below(100_000),
            rng.below(1_000_000)
        );
        written += s.len() as u64;
        w.write_all(s.as_bytes())?;
    }
    w.flush()?;
    Ok(path.to_path_buf())
}

fn gen_http(
    path: &Path,
    bytes: u64,
    rng: &mut Rng,
    p: &Pools,
    r: &Reference,
    exp: &mut BTreeSet<String>,
) -> std::io::Result<PathBuf> {
    let f = name(path);
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    let fields = [
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("method", "string"),
        ("host", "string"),
        ("uri", "string"),
        ("user_agent", "string"),
        ("status_code", "count"),
    ];
    let (mut written, mut line) = zeek_header(&mut w, "http", &fields)?;
    while written < bytes {
        line += 1;
        let mut host = bg_domain(rng);
        let mut uri = format!("/p/{}", rng.alnum(10));
        if line % PLANT_EVERY == 0 {
            if rng.below(2) == 0 {
                if let Some((h, u)) = pick(rng, &p.urls_http) {
                    host = h.clone();
                    uri = u.clone();
                }
            } else if let Some(d) = pick(rng, &p.domains) {
                host = d.clone();
            }
            if !host.ends_with(".test") {
                let canonical = observable::canonical_url(&format!("http://{host}{uri}")).unwrap();
                expect(exp, &f, line, "url", &canonical, r.url(&canonical));
                expect(exp, &f, line, "host", &host, r.host(&host));
            }
        }
        let s = format!(
            "{}.{:06}\t{}\t{}\t{}\t{}\t80\tGET\t{host}\t{uri}\tMozilla/5.0 (X11; Linux x86_64)\t200\n",
            1_700_000_000 + line / 60,
            rng.below(1_000_000),
            uid(rng),
            client(rng),
            1024 + rng.below(60000),
            bg_ip4(rng)
        );
        written += s.len() as u64;
        w.write_all(s.as_bytes())?;
    }
    w.flush()?;
    Ok(path.to_path_buf())
}

fn gen_files(
    path: &Path,
    bytes: u64,
    rng: &mut Rng,
    p: &Pools,
    r: &Reference,
    exp: &mut BTreeSet<String>,
) -> std::io::Result<PathBuf> {
    let f = name(path);
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    let fields = [
        ("ts", "time"),
        ("fuid", "string"),
        ("tx_hosts", "set[addr]"),
        ("rx_hosts", "set[addr]"),
        ("mime_type", "string"),
        ("filename", "string"),
        ("md5", "string"),
        ("sha1", "string"),
        ("sha256", "string"),
    ];
    let (mut written, mut line) = zeek_header(&mut w, "files", &fields)?;
    while written < bytes {
        line += 1;
        let (mut md5, mut sha1, mut sha256) = (rng.hex(32), rng.hex(40), rng.hex(64));
        if line % PLANT_EVERY == 0 {
            match rng.below(3) {
                0 => {
                    if let Some(h) = pick(rng, &p.md5) {
                        md5 = h.clone();
                        expect(exp, &f, line, "md5", &md5, r.hash(&md5));
                    }
                }
                1 => {
                    if let Some(h) = pick(rng, &p.sha1) {
                        sha1 = h.clone();
                        expect(exp, &f, line, "sha1", &sha1, r.hash(&sha1));
                    }
                }
                _ => {
                    if let Some(h) = pick(rng, &p.sha256) {
                        sha256 = h.clone();
                        expect(exp, &f, line, "sha256", &sha256, r.hash(&sha256));
                    }
                }
            }
        }
        let s = format!(
            "{}.{:06}\tF{}\t{}\t{}\tapplication/octet-stream\tfile{}\t{md5}\t{sha1}\t{sha256}\n",
            1_700_000_000 + line / 60,
            rng.below(1_000_000),
            rng.alnum(17),
            bg_ip4(rng),
            client(rng),
            rng.below(100000)
        );
        written += s.len() as u64;
        w.write_all(s.as_bytes())?;
    }
    w.flush()?;
    Ok(path.to_path_buf())
}

/// Load `indicators.tsv` into a builder.
pub fn load_indicators(path: &Path) -> std::io::Result<matcher::IndicatorSetBuilder> {
    let mut b = matcher::IndicatorSetBuilder::new();
    for l in BufReader::with_capacity(1 << 20, File::open(path)?).lines() {
        let l = l?;
        let mut it = l.splitn(3, '\t');
        let (Some(h), Some(k), Some(v)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let kind: Kind = k
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{e}")))?;
        // Values are canonical already: skip re-parsing (the app stores canonical values).
        b.add_observable(
            h.parse().unwrap_or(0),
            &Observable {
                kind,
                value: v.to_string(),
            },
        );
    }
    Ok(b)
}

/// Hits as the matcher reports them, in the expected-file line format.
pub fn hit_to_line(h: &matcher::Hit) -> String {
    let mut hs = h.handles.clone();
    hs.sort_unstable();
    hit_line(
        &h.file,
        h.line,
        &h.field,
        &h.value,
        h.rule.as_str(),
        &h.indicator,
        &hs,
    )
}

/// Compare: (misses, false positives), with up to 5 examples of each.
pub fn compare(
    expected: &Path,
    got: &BTreeSet<String>,
) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let want: BTreeSet<String> = BufReader::new(File::open(expected)?)
        .lines()
        .collect::<Result<_, _>>()?;
    let misses: Vec<String> = want.difference(got).cloned().collect();
    let fps: Vec<String> = got.difference(&want).cloned().collect();
    Ok((misses, fps))
}
