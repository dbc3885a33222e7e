//! End to end: a small version of the benchmark corpus (20k indicators from the real shared
//! data plus generated ones, ~20 MB of DNS / proxy / Zeek logs with planted hits). The matcher
//! must report exactly the planted hits: no miss, no false positive.

#[path = "../examples/support/benchgen.rs"]
mod benchgen;

use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn reports_exactly_the_planted_hits() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let dir = std::env::temp_dir().join(format!("matcher-planted-{}", std::process::id()));
    let cfg = benchgen::Config {
        indicators: 20_000,
        log_bytes: 20_000_000,
        seed: 7,
        data_dir: data.exists().then_some(data),
    };
    let g = benchgen::generate(&cfg, &dir).unwrap();
    assert!(
        g.expected_hits > 100,
        "too few planted hits: {}",
        g.expected_hits
    );
    let set = benchgen::load_indicators(&g.indicators)
        .unwrap()
        .build()
        .unwrap();
    assert!(set.stats().indicators > 15_000);
    let scanner = matcher::Scanner::builder()
        .threads(2)
        .block_size(1 << 20)
        .build();
    let mut got = BTreeSet::new();
    for log in &g.logs {
        let s = scanner
            .scan_path(log, &set, &mut |h: &matcher::Hit| {
                got.insert(benchgen::hit_to_line(h));
            })
            .unwrap();
        assert_eq!(s.skipped(), 0, "{}: {:?}", log.display(), s.skipped_lines);
    }
    let (miss, fp) = benchgen::compare(&g.expected, &got).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        miss.is_empty(),
        "{} misses, e.g. {:?}",
        miss.len(),
        &miss[..miss.len().min(5)]
    );
    assert!(
        fp.is_empty(),
        "{} false positives, e.g. {:?}",
        fp.len(),
        &fp[..fp.len().min(5)]
    );
    assert_eq!(got.len(), g.expected_hits);
}
