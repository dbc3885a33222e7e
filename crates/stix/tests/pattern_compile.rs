//! `compile` on the indicator patterns of the shared real data (the OASIS examples): every
//! one compiles, and the plain "value OR value" indicators come out simple, with
//! canonical anchors the log matcher can index.

use serde_json::Value;
use stix::pattern::{compile, parse};

#[test]
fn shared_data_indicators_compile_to_anchors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/patterns/validator_corpus.json"
    );
    let corpus: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus")).expect("json");
    let patterns: Vec<&str> = corpus["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter(|p| p["source"] == "shared-data")
        .filter_map(|p| p["pattern"].as_str())
        .collect();
    assert!(
        patterns.len() >= 40,
        "shared-data patterns missing from the corpus"
    );
    let mut simple = 0;
    for p in &patterns {
        let c = compile(&parse(p).unwrap_or_else(|e| panic!("{p}: {e}")));
        assert!(!c.alternatives.is_empty(), "{p}");
        for o in c.observables() {
            // Anchors are canonical: parsing them again changes nothing.
            let again = observable::Observable::parse(o.kind, &o.value).expect("canonical");
            assert_eq!(&again, o, "{p}");
        }
        if c.is_simple {
            simple += 1;
        } else {
            // The only non-simple ones here carry a value that is not a valid observable
            // (e.g. "domain autuo.xicp.net", with a space), or a non-indexable test.
            assert!(c.alternatives.iter().any(|a| !a.exact), "{p}");
            eprintln!("not simple: {p}");
        }
    }
    eprintln!(
        "{simple} of {} shared-data indicator patterns are simple",
        patterns.len()
    );
    assert!(
        simple * 10 >= patterns.len() * 8,
        "{simple} of {}",
        patterns.len()
    );
}
