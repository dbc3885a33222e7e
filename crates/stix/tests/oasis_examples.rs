//! The OASIS STIX 2.1 example bundles: every one streams, round-trips with nothing lost
//! (compared as `serde_json::Value`), and validates without errors.

use std::path::PathBuf;

use serde_json::Value;
use stix::bundle::{read_bundle, BundleReader, BundleWriter};
use stix::validate::{validate_bundle_value, validate_object};

/// The shared data directory: `$THREATGATE_SHARED_DATA` or `../shared/data` beside the
/// workspace (where CI puts it).
fn examples_dir() -> PathBuf {
    let base = std::env::var_os("THREATGATE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    base.join("oasis-stix-examples")
}

fn examples() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(examples_dir())
        .expect("the OASIS examples directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 11,
        "expected the 11 OASIS example bundles, found {}",
        out.len()
    );
    out
}

#[test]
fn every_example_round_trips_unchanged() {
    for (name, bytes) in examples() {
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let mut reader = BundleReader::new(&bytes[..]);
        let mut writer = BundleWriter::new(Vec::new(), original["id"].as_str().unwrap()).unwrap();
        for entry in reader.by_ref() {
            let entry = entry.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                &entry.object.clone().into_value(),
                &original["objects"][entry.index],
                "{name} {}",
                entry.pointer()
            );
            writer.write(&entry.object).unwrap();
        }
        let written: Value = serde_json::from_slice(&writer.finish().unwrap()).unwrap();
        assert_eq!(written, original, "{name}: the rewritten bundle differs");
        // Key order survives too (preserve_order), not only meaning.
        let (_, objects) = read_bundle(&bytes).unwrap();
        for (o, orig) in objects.iter().zip(original["objects"].as_array().unwrap()) {
            assert_eq!(o.to_json(), serde_json::to_string(orig).unwrap());
        }
    }
}

#[test]
fn every_example_is_valid() {
    for (name, bytes) in examples() {
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let report = validate_bundle_value(&value);
        let errors: Vec<String> = report.errors().map(|i| i.to_string()).collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        for entry in BundleReader::new(&bytes[..]) {
            let entry = entry.unwrap();
            assert!(validate_object(&entry.object, &entry.pointer()).is_valid());
        }
    }
}
