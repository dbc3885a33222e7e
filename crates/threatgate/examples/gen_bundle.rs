//! Benchmark helper for ingest (bench/ingest.sh).
//!
//! ```text
//! gen_bundle generate [--count N] [--out FILE]   write a STIX 2.1 bundle of N indicators
//! gen_bundle ingest --data DIR FILE|DIR...        ingest into an embedded store at DIR
//! gen_bundle parse FILE                           the STIX ingest parser alone (no store)
//! ```
//!
//! `parse` runs exactly what ingest runs on its parser thread (stream, validate, markings,
//! pattern compile, claims) and discards the result: it separates parse cost from store
//! cost, and is the fair comparison with `stix2.parse`.
//!
//! The bundle mixes IPv4 addresses (40%), domains (25%), URLs (20%) and SHA-256 hashes
//! (15%) from three sources (identities, `created_by_ref`), with 30% of the indicators
//! naming a value another indicator also names, so the merge path is exercised. One
//! indicator in a hundred `indicates` one of ten malware families (relationships at the
//! end, as producers usually write them). Output is deterministic for a given count.
//!
//! `ingest` is a stand-in for `threatgate ingest` while the CLI command is being written:
//! it creates a hub and a partner with an open agreement if the store has none.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{Duration, Utc};
use threatgate::ingest::{self, IngestOptions, Progress};
use threatgate::model::*;
use threatgate::store::Store;

const SOURCES: usize = 3;
const OVERLAP_PERCENT: u64 = 30;
const FAMILIES: [&str; 10] = [
    "emotet",
    "qakbot",
    "icedid",
    "trickbot",
    "dridex",
    "lokibot",
    "remcos",
    "asyncrat",
    "agenttesla",
    "cobaltstrike",
];

/// xorshift64*: deterministic, fast, good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn uuid(&mut self) -> uuid::Uuid {
        let a = self.next().to_le_bytes();
        let b = self.next().to_le_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a);
        bytes[8..].copy_from_slice(&b);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// The `n`-th distinct value of a kind chosen by `n`.
fn value(n: u64) -> (&'static str, String) {
    let kind = n % 20;
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    match kind {
        0..=7 => {
            let ip = 0x0B00_0000u32.wrapping_add((h >> 20) as u32 % 0xB000_0000);
            let ip = std::net::Ipv4Addr::from(ip ^ (n as u32 & 0xFF));
            ("ipv4-addr:value", ip.to_string())
        }
        8..=12 => (
            "domain-name:value",
            format!("host{n}.bad{}.example", h % 997),
        ),
        13..=16 => (
            "url:value",
            format!("http://site{}.example/path/{n}/gate.php", h % 5003),
        ),
        _ => (
            "file:hashes.'SHA-256'",
            format!("{:016x}{:016x}{:016x}{:016x}", h, n, h.rotate_left(17), !n),
        ),
    }
}

fn generate(count: u64, out: PathBuf) -> std::io::Result<()> {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    write!(
        w,
        "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
        rng.uuid()
    )?;
    let ts = "2025-01-15T10:00:00.000Z";
    let identities: Vec<String> = (0..SOURCES)
        .map(|_| format!("identity--{}", rng.uuid()))
        .collect();
    for (i, id) in identities.iter().enumerate() {
        write!(w, "{{\"type\":\"identity\",\"spec_version\":\"2.1\",\"id\":\"{id}\",\"created\":\"{ts}\",\"modified\":\"{ts}\",\"name\":\"Source {i}\",\"identity_class\":\"organization\"}},")?;
    }
    let malware: Vec<String> = FAMILIES
        .iter()
        .map(|_| format!("malware--{}", rng.uuid()))
        .collect();
    for (i, id) in malware.iter().enumerate() {
        write!(w, "{{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"{id}\",\"created\":\"{ts}\",\"modified\":\"{ts}\",\"name\":\"{}\",\"is_family\":true}},", FAMILIES[i])?;
    }
    let tlp_green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
    let distinct = count - count * OVERLAP_PERCENT / 100;
    let mut relationships = vec![];
    for i in 0..count {
        // 30% of indicators re-use a value an earlier indicator (of another source) named.
        let n = if i >= distinct {
            rng.next() % distinct
        } else {
            i
        };
        let (path, v) = value(n);
        let id = rng.uuid();
        let source = &identities[(i as usize) % SOURCES];
        let conf = 50 + (rng.next() % 50);
        let label = if n % 3 == 0 {
            "malicious-activity"
        } else {
            "anomalous-activity"
        };
        write!(
            w,
            "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{id}\",\"created_by_ref\":\"{source}\",\"created\":\"{ts}\",\"modified\":\"{ts}\",\"indicator_types\":[\"{label}\"],\"pattern\":\"[{path} = '{v}']\",\"pattern_type\":\"stix\",\"valid_from\":\"{ts}\",\"confidence\":{conf},\"object_marking_refs\":[\"{tlp_green}\"],\"x_bench_seq\":{i}}},"
        )?;
        if i % 100 == 0 {
            relationships.push((id, (i / 100) as usize % FAMILIES.len()));
        }
    }
    let mut first = true;
    for (ind, fam) in relationships {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        write!(
            w,
            "{{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"relationship--{}\",\"created\":\"{ts}\",\"modified\":\"{ts}\",\"relationship_type\":\"indicates\",\"source_ref\":\"indicator--{ind}\",\"target_ref\":\"{}\"}}",
            rng.uuid(),
            malware[fam]
        )?;
    }
    w.write_all(b"]}\n")?;
    w.flush()
}

struct Dots;
impl Progress for Dots {
    fn on_file(&self, name: &str, total: u64) {
        eprintln!("ingesting {name} ({total} bytes)");
    }
    fn on_bytes(&self, _n: u64) {}
}

fn ingest_cmd(data: PathBuf, paths: Vec<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open_dir(&data)?;
    let hub = match store.hub()? {
        Some(h) => h,
        None => store.create_org(
            &NewOrg {
                name: "hub".into(),
                kind: OrgKind::Hub,
                country: None,
            },
            None,
        )?,
    };
    let org = match store.org_by_name("bench-partner")? {
        Some(o) => o,
        None => {
            let o = store.create_org(
                &NewOrg {
                    name: "bench-partner".into(),
                    kind: OrgKind::Partner,
                    country: None,
                },
                Some(hub.id),
            )?;
            let now = Utc::now();
            store.add_agreement(
                &NewAgreement {
                    org_id: o.id,
                    role: AgreementRole::Provide,
                    signed_on: now - Duration::days(1),
                    valid_from: now - Duration::days(1),
                    valid_until: now + Duration::days(365),
                    max_tlp: Tlp::Red,
                    scope: None,
                    purpose: "benchmark".into(),
                    retention_days: None,
                    renews: None,
                },
                Some(hub.id),
            )?;
            o
        }
    };
    let started = std::time::Instant::now();
    let opts = IngestOptions {
        partial: true,
        ..Default::default()
    };
    let r = ingest::ingest_paths(&store, &org, &paths, &opts, &Dots)?;
    eprintln!("{}", r.summary());
    for rej in r.rejected.iter().take(10) {
        eprintln!("  rejected: {rej}");
    }
    eprintln!("ingest took {:.2?}", started.elapsed());
    Ok(())
}

/// The same allocator as the `threatgate` binary's batch commands.
#[global_allocator]
static ALLOC: threatgate::alloc::ThreatgateAlloc = threatgate::alloc::ThreatgateAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=threatgate::ingest=debug prints where the writer's time went.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("generate") => {
            let mut count = 1_000_000;
            let mut out = PathBuf::from("bundle.json");
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--count" => count = args.next().ok_or("--count N")?.parse()?,
                    "--out" => out = args.next().ok_or("--out FILE")?.into(),
                    other => return Err(format!("unknown argument {other}").into()),
                }
            }
            generate(count, out)?;
            Ok(())
        }
        Some("parse") => {
            let path = PathBuf::from(args.next().ok_or("parse FILE")?);
            struct Count(u64, u64, u64);
            impl ingest::Emit for Count {
                fn emit(&mut self, e: ingest::Event) -> Result<(), ingest::Stop> {
                    match e {
                        ingest::Event::Item(i) => {
                            self.0 += 1;
                            self.1 += i.claims.len() as u64;
                        }
                        ingest::Event::Reject { .. } => self.2 += 1,
                    }
                    Ok(())
                }
            }
            let ctx = ingest::ParseContext { name: path.display().to_string(), path: Some(path.clone()), opts: IngestOptions::default() };
            let started = std::time::Instant::now();
            let mut c = Count(0, 0, 0);
            if ingest::stix::parse_bundle(std::fs::File::open(&path)?, &ctx, &mut c).is_err() {
                return Err("parse failed".into());
            }
            eprintln!("parsed {} objects, {} claims, {} rejected in {:.2?}", c.0, c.1, c.2, started.elapsed());
            Ok(())
        }
        Some("ingest") => {
            let mut data = None;
            let mut paths = vec![];
            while let Some(a) = args.next() {
                if a == "--data" {
                    data = Some(PathBuf::from(args.next().ok_or("--data DIR")?));
                } else {
                    paths.push(PathBuf::from(a));
                }
            }
            ingest_cmd(data.ok_or("--data DIR is required")?, paths)
        }
        _ => Err("usage: gen_bundle generate [--count N] [--out FILE] | gen_bundle ingest --data DIR FILE...".into()),
    }
}
