//! Floats in STIX objects (custom scores, extension properties) come back from ingest and
//! export exactly: the same f64, written the same shortest way. serde_json parses floats
//! exactly only with its `float_roundtrip` feature (enabled in the workspace Cargo.toml);
//! without it some of the values below come back one unit in the last place off.

mod support;

use serde_json::Value;
use support::*;
use threatgate::export::{export, Format};
use threatgate::ingest::{self, IngestOptions, NoProgress};

/// Shortest round-trip spellings (as serde_json prints them), chosen to include values
/// serde_json's fast, inexact float parser gets wrong (-9.87…e-250, 123456789.12345679 and the last three), plus extremes.
const FLOATS: &[&str] = &[
    "0.30000000000000004",
    "1e-7",
    "1.7976931348623157e+308",
    "5e-324",
    "2.2250738585072014e-308",
    "-9.87654321012345e-250",
    "123456789.12345679",
    "0.1",
    // Found by writing random f64s with serde_json and reading them back without
    // `float_roundtrip`: each came back one unit in the last place off.
    "9.335744933994957e-17",
    "5.084767197776064e+190",
    "-1.638344060600543e-227",
];

fn indicator() -> String {
    let list = FLOATS.join(", ");
    let props: Vec<String> = FLOATS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("\"x_float_{i}\": {f}"))
        .collect();
    format!(
        r#"{{"type": "bundle", "id": "bundle--2d1c1a8f-7f5b-4d5e-9a0c-1b6f0f3e9a11", "objects": [
{{"type": "indicator", "spec_version": "2.1",
  "id": "indicator--6a8c1b2e-3d4f-4a5b-8c7d-9e0f1a2b3c4d",
  "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
  "name": "floats", "pattern": "[ipv4-addr:value = '198.51.100.23']", "pattern_type": "stix",
  "valid_from": "2024-05-01T00:00:00Z",
  "x_scores": [{list}],
  "x_nested": {{"score": {first}, "list": [{list}]}},
  {props}}}
]}}"#,
        first = FLOATS[0],
        props = props.join(",\n  ")
    )
}

#[test]
fn floats_survive_ingest_and_export_unchanged() {
    let input = indicator();
    let original: Value = serde_json::from_str(&input).unwrap();
    let original = &original["objects"][0];
    for ts in all_stores() {
        let w = world(&ts.store);
        ingest::ingest_reader(
            &ts.store,
            &w.partner,
            "floats.json",
            ingest::Format::Stix,
            input.as_bytes(),
            &IngestOptions::default(),
            &NoProgress,
        )
        .unwrap_or_else(|e| panic!("{}: ingest: {e}", ts.engine));
        let mut out = vec![];
        export(&ts.store, &w.partner, Format::Stix, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        let got = bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == original["id"])
            .unwrap_or_else(|| panic!("{}: the indicator was not exported", ts.engine));
        assert_eq!(got, original, "{}: the object changed", ts.engine);
        // Same bits, not just close: compare each float as f64 and as text.
        for (i, f) in FLOATS.iter().enumerate() {
            let want: f64 = f.parse().unwrap();
            let v = &got[format!("x_float_{i}")];
            assert_eq!(
                v.as_f64().map(f64::to_bits),
                Some(want.to_bits()),
                "{}: x_float_{i} = {f} came back as {v}",
                ts.engine
            );
            assert_eq!(
                v.to_string(),
                *f,
                "{}: x_float_{i} spelled differently",
                ts.engine
            );
            assert!(
                text.contains(&format!("\"x_float_{i}\":{f}"))
                    || text.contains(&format!("\"x_float_{i}\": {f}")),
                "{}: x_float_{i} is not written as {f} in the export",
                ts.engine
            );
        }
    }
}

/// serde_json as the workspace builds it (with `float_roundtrip`) reads each value above
/// to the same f64 as the standard library's correctly rounded parse.
#[test]
fn the_chosen_floats_parse_exactly() {
    for f in FLOATS {
        let v: Value = serde_json::from_str(f).unwrap();
        let want: f64 = f.parse().unwrap();
        assert_eq!(v.as_f64().map(f64::to_bits), Some(want.to_bits()), "{f}");
    }
}
