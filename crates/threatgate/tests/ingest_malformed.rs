//! A corpus of malformed inputs through ingest, for every format (STIX bundle, MISP event,
//! MISP feed, CSV, URLhaus, plain list): truncated files, wrong JSON types, invalid UTF-8,
//! UTF-16 byte-order marks, a line of 100 MB, JSON nested 100,000 deep and an array of
//! 10^7 elements. Each must be answered with an error that names the file and where in it,
//! and leave the store exactly as it was: a digest of every table, audit chain included,
//! is compared before and after. The big inputs are generated here into a temp dir.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use support::*;
use threatgate::ingest::{self, Format, IngestOptions, NoProgress};
use threatgate::model::*;
use threatgate::store::backend::Dialect;
use threatgate::store::Store;

const MB: usize = 1024 * 1024;
const DEEP: usize = 100_000;
const MANY: usize = 10_000_000;

/// A digest of every row of every table (the audit chain included).
fn digest(store: &Store) -> String {
    let tables: Vec<String> = store
        .read(|c| {
            let sql = match store.backend().dialect() {
                Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                Dialect::Postgres => "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
            };
            c.query(sql, &[])?.iter().map(|r| r.string(0)).collect()
        })
        .unwrap();
    assert!(tables.iter().any(|t| t == "audit_log"), "{tables:?}");
    let mut h = Sha256::new();
    for t in tables {
        let mut rows: Vec<String> = store
            .read(|c| {
                Ok(c.query(&format!("SELECT * FROM {t}"), &[])?
                    .iter()
                    .map(|r| format!("{:?}", r.0))
                    .collect())
            })
            .unwrap();
        rows.sort();
        h.update(t.as_bytes());
        for r in rows {
            h.update(r.as_bytes());
            h.update(b"\n");
        }
    }
    hex::encode(h.finalize())
}

const BUNDLE_HEAD: &str =
    r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":["#;
const INDICATOR: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'bücher.example']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}"#;
const EVENT_UUID: &str = "5a0ac036-6fbc-4855-83af-422b950d210f";

fn event(attributes: &str) -> String {
    format!(
        r#"{{"Event":{{"uuid":"{EVENT_UUID}","info":"test","date":"2024-01-01","Attribute":{attributes}}}}}"#
    )
}

fn good_attributes() -> String {
    r#"[{"type":"ip-dst","value":"198.51.100.1","category":"Network activity","to_ids":true},{"type":"domain","value":"bücher.example","category":"Network activity","to_ids":true}]"#.into()
}

/// A valid input of `format` (for the feed: the event file's contents).
fn valid(format: Format) -> String {
    match format {
        Format::Stix => format!("{BUNDLE_HEAD}{INDICATOR}]}}"),
        Format::Misp | Format::MispFeed => event(&good_attributes()),
        Format::Csv => "value,type,tlp\n198.51.100.1,ipv4-addr,green\n\"bücher.example\",domain-name,green\n".into(),
        Format::Urlhaus => "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"1\",\"2025-04-21 12:35:06\",\"http://bücher.example/bin.sh\",\"online\",\"2025-04-21 12:35:06\",\"malware_download\",\"elf\",\"https://urlhaus.abuse.ch/url/1/\",\"x\"\n".into(),
        Format::Lines => "198.51.100.1\nbücher.example\n".into(),
    }
}

/// Write `bytes` as an input of `format` under `dir`; returns the path to ingest and the
/// file the error must name.
fn place(dir: &Path, case: &str, format: Format, bytes: &[u8]) -> (PathBuf, String) {
    let ext = match format {
        Format::Stix | Format::Misp => "json",
        Format::Csv | Format::Urlhaus => "csv",
        _ => "txt",
    };
    if format == Format::MispFeed {
        let feed = dir.join(format!("{case}-feed"));
        std::fs::create_dir_all(&feed).unwrap();
        std::fs::write(
            feed.join("manifest.json"),
            format!(r#"{{"{EVENT_UUID}":{{"info":"test","date":"2024-01-01","timestamp":"1700000000"}}}}"#),
        )
        .unwrap();
        let f = format!("{EVENT_UUID}.json");
        std::fs::write(feed.join(&f), bytes).unwrap();
        (feed, f)
    } else {
        let name = format!("{case}-{}.{ext}", format.as_str());
        let p = dir.join(&name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        (p, name)
    }
}

/// Bytes of the files in `p` when it is a directory (a MISP feed).
fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The malformed variants of `format`'s input: (case, bytes).
fn corpus(format: Format) -> Vec<(&'static str, Vec<u8>)> {
    let good = valid(format);
    let mut out = vec![];
    // Truncated: inside the multi-byte 'ü' (and, for JSON, mid-document).
    let cut = good.find('ü').unwrap() + 1;
    out.push(("truncated", good.as_bytes()[..cut].to_vec()));
    // Wrong JSON types (for text formats: JSON where text is expected).
    out.push((
        "wrong-types",
        match format {
            Format::Stix => format!(r#"{BUNDLE_HEAD}{{"type":"indicator","id":7}}]}}"#),
            Format::Misp | Format::MispFeed => {
                event(r#"[{"type":"ip-dst","value":["198.51.100.1"]}]"#)
            }
            _ => r#"{"value": ["198.51.100.1"], "type": 4}"#.to_string() + "\n",
        }
        .into_bytes(),
    ));
    // Invalid UTF-8 inside a value.
    let mut bad = good.as_bytes().to_vec();
    let at = good.find('ü').unwrap();
    bad.splice(at..at, [0xff, 0xfe]);
    out.push(("invalid-utf8", bad));
    // UTF-16 (little-endian, with its byte-order mark).
    let mut utf16 = vec![0xff, 0xfe];
    for u in good.encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    out.push(("utf16-bom", utf16));
    // A line of 100 MB: for JSON a string value, for text one long line.
    let long = "a".repeat(100 * MB);
    out.push((
        "line-100mb",
        match format {
            Format::Stix => format!(r#"{BUNDLE_HEAD}{{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","is_family":true,"name":"{long}"}}]}}"#),
            Format::Misp | Format::MispFeed => event(&format!(r#"[{{"type":"domain","value":"{long}.example"}}]"#)),
            _ => format!("{long}.example\n"),
        }
        .into_bytes(),
    ));
    drop(long);
    // Nested 100,000 deep.
    let deep = format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP));
    out.push((
        "nested-100k",
        match format {
            Format::Stix => format!(r#"{BUNDLE_HEAD}{{"type":"x-deep","id":"x-deep--31b940d4-6f7f-459a-80ea-9c1f17b5891b","spec_version":"2.1","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","x":{deep}}}]}}"#),
            Format::Misp | Format::MispFeed => event(&deep),
            _ => format!("{deep}\n"),
        }
        .into_bytes(),
    ));
    // An array of 10^7 elements.
    let mut many = String::with_capacity(2 * MANY + 2);
    many.push('[');
    for i in 0..MANY {
        if i > 0 {
            many.push(',');
        }
        many.push('0');
    }
    many.push(']');
    out.push((
        "array-1e7",
        match format {
            Format::Stix => format!(r#"{BUNDLE_HEAD}{}]}}"#, &many[1..many.len() - 1]),
            Format::Misp | Format::MispFeed => event(&many),
            _ => format!("{many}\n"),
        }
        .into_bytes(),
    ));
    if format == Format::Stix {
        // The same array as a property of a well-formed custom object (20 MB, under the
        // object byte limit): it must be refused before it becomes a tree.
        out.push((
            "array-1e7-in-object",
            format!(r#"{BUNDLE_HEAD}{{"type":"x-many","id":"x-many--31b940d4-6f7f-459a-80ea-9c1f17b5891b","spec_version":"2.1","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","x":{many}}}]}}"#)
                .into_bytes(),
        ));
    }
    out
}

/// A field of /proc/self/status in MB (Linux), e.g. `VmRSS` or `VmHWM` (the peak).
fn status_mb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with(field))?;
    Some(l.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// Reset the peak (`VmHWM`) to the current RSS; false where the kernel does not allow it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[test]
fn malformed_inputs_are_located_and_change_nothing() {
    for ts in all_stores() {
        let store = &ts.store;
        let hub = new_org(store, "hub", OrgKind::Hub, None, None);
        let vendor = new_org(store, "vendor", OrgKind::Partner, None, Some(&hub));
        let now = Utc::now();
        let in_force = (now - Duration::days(10), now + Duration::days(365));
        agreement(
            store,
            &vendor,
            AgreementRole::Provide,
            in_force,
            Tlp::Amber,
            None,
            &hub,
        );
        let dir = tempfile::tempdir().unwrap();
        for format in Format::ALL {
            // The valid input goes in (so the corpus is not refused for some other reason).
            let (p, _) = place(dir.path(), "valid", format, valid(format).as_bytes());
            let opts = IngestOptions {
                format: Some(format),
                ..Default::default()
            };
            ingest::ingest_paths(store, &vendor, &[p], &opts, &NoProgress)
                .unwrap_or_else(|e| panic!("{}: valid {format} input refused: {e}", ts.engine));
            for (case, bytes) in corpus(format) {
                let what = format!("{}: {format} {case}", ts.engine);
                let (p, file) = place(dir.path(), case, format, &bytes);
                drop(bytes);
                let before = digest(store);
                let size_mb = (std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) + dir_size(&p))
                    as f64
                    / MB as f64;
                let measured = reset_peak();
                let rss_before = status_mb("VmRSS:").unwrap_or(0);
                let started = std::time::Instant::now();
                let result = ingest::ingest_paths(
                    store,
                    &vendor,
                    std::slice::from_ref(&p),
                    &opts,
                    &NoProgress,
                );
                let grew = status_mb("VmHWM:").unwrap_or(0).saturating_sub(rss_before);
                let err = match result {
                    Ok(r) => panic!("{what}: accepted: {}", r.summary()),
                    Err(e) => e.to_string(),
                };
                eprintln!(
                    "{what}: {:?}, {size_mb:.1} MB input, peak memory +{grew} MB: {}",
                    started.elapsed(),
                    err.chars().take(200).collect::<String>()
                );
                // Reading an input may cost a few times its size, never a tree many times
                // bigger (10^7 numbers as JSON values: 17x). Generous, so it cannot flake.
                if measured {
                    let bound = 3.0 * size_mb + 100.0;
                    assert!((grew as f64) <= bound, "{what}: memory grew {grew} MB for a {size_mb:.1} MB input (bound {bound:.0} MB)");
                }
                assert!(
                    err.contains(&file),
                    "{what}: the error does not name the file: {err}"
                );
                let located = ["line ", "column ", "/"].iter().any(|l| {
                    err.split_once(file.as_str())
                        .is_some_and(|(_, rest)| rest.contains(l))
                });
                assert!(located, "{what}: the error does not say where: {err}");
                assert!(
                    err.len() < 2000,
                    "{what}: the error quotes too much ({} bytes)",
                    err.len()
                );
                assert_eq!(digest(store), before, "{what}: the store changed");
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).unwrap();
                } else {
                    std::fs::remove_file(&p).unwrap();
                }
            }
        }
        assert!(store.verify_audit().unwrap().is_ok());
    }
}
