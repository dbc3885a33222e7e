//! Shared harness for the fuzz targets: one small indicator set, built once, and a scanner
//! configured to exercise the parsers (one thread, tiny blocks, binary input scanned).

use std::sync::OnceLock;

use matcher::{BinaryPolicy, Hit, IndicatorSet, IndicatorSetBuilder, LogFormat, Scanner};
use observable::Kind;

fn set() -> &'static IndicatorSet {
    static SET: OnceLock<IndicatorSet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut b = IndicatorSetBuilder::new();
        b.add(1, Kind::Domain, "evil.example").unwrap();
        b.add(2, Kind::Ipv4, "192.0.2.0/24").unwrap();
        b.add(3, Kind::Ipv6, "2001:db8::/32").unwrap();
        b.add(4, Kind::Url, "http://bad.example/gate.php").unwrap();
        b.add(5, Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap();
        b.add(6, Kind::Email, "a@evil.example").unwrap();
        b.mark_complex(2);
        b.build().unwrap()
    })
}

/// Scan `data` as `format`; panics only on a bug (a hit outside the input's lines).
pub fn run(format: LogFormat, data: &[u8]) {
    let scanner = Scanner::builder()
        .format(format)
        .threads(1)
        .block_size(256)
        .max_line_len(4096)
        .binary(BinaryPolicy::Scan)
        .events(matcher::EventMode::AllHits)
        .build();
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let summary = scanner
        .scan_bytes(data, "fuzz", set(), &mut |h: &Hit| {
            assert!(h.line >= 1 && h.line <= lines, "hit on line {} of {lines}", h.line);
        })
        .expect("in-memory scans do not fail");
    assert!(summary.lines <= lines);
}
