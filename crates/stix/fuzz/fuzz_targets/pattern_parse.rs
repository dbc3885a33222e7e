//! Fuzzes the pattern parser, printer and evaluator with arbitrary bytes.
//!
//! Properties: nothing panics or overflows the stack; whatever parses prints to text that
//! parses again and prints identically; evaluation of anything that parses returns
//! (Ok or Err) on a small fixed observation set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stix::pattern::{parse, parse_lenient, Matcher};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for strict in [true, false] {
        let parsed = if strict { parse(&text) } else { parse_lenient(&text) };
        let Ok(pattern) = parsed else { continue };
        let printed = pattern.to_string();
        let again = parse_lenient(&printed).expect("printed pattern parses");
        assert_eq!(again.to_string(), printed);
        if let Ok(m) = Matcher::new(&pattern) {
            let observations = [serde_json::json!({
                "type": "observed-data", "id": "observed-data--1",
                "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:05Z",
                "number_observed": 2,
                "objects": {
                    "0": {"type": "ipv4-addr", "value": "10.0.0.1"},
                    "1": {"type": "a", "b": 1, "c": "x", "d": [1, 2], "e_ref": "0", "f_hex": "00ff"}
                }
            })];
            let _ = m.matches(&observations);
        }
    }
});
