//! Bounded, stable-Rust stand-in for the `pattern_parse` fuzz target (crates/stix/fuzz):
//! random bytes, random token soup and mutated corpus patterns must never panic the
//! parser, the printer or the evaluator, and whatever parses must print to a pattern that
//! parses to the same text. Deterministic (fixed seed) so a failure reproduces.

use serde_json::{json, Value};
use stix::pattern::{parse, parse_lenient, Matcher};

/// xorshift64*: tiny, deterministic, good enough to drive input generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VOCAB: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "a",
    ":",
    "b",
    ".",
    "'x'",
    "'",
    "=",
    "!=",
    "<",
    ">=",
    "IN",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "EXISTS",
    "NOT",
    "AND",
    "OR",
    "FOLLOWEDBY",
    "WITHIN",
    "5",
    "1.5",
    "-3",
    "SECONDS",
    "REPEATS",
    "2",
    "TIMES",
    "START",
    "STOP",
    "t'2020-01-01T00:00:00Z'",
    "h'00ff'",
    "b'YQ=='",
    "true",
    "false",
    "[*]",
    "[0]",
    ",",
    " ",
    "file",
    "hashes",
    "'SHA-256'",
    "x_ref",
    "y_refs",
    "/*",
    "*/",
    "//",
    "\n",
    "é",
    "'%'",
    "'10.0.0.0/8'",
    "'(a'",
    "'\\\\'",
];

fn observations() -> Vec<Value> {
    vec![
        json!({"type": "observed-data", "id": "observed-data--1",
               "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:05Z",
               "number_observed": 2,
               "objects": {"0": {"type": "a", "b": "x", "x_ref": "1", "y_refs": ["1"], "n": 5},
                           "1": {"type": "ipv4-addr", "value": "10.0.0.1"},
                           "2": {"type": "file", "hashes": {"SHA-256": "x"}}}}),
        json!({"type": "observed-data", "id": "observed-data--2",
               "first_observed": "2020-01-01T00:00:03Z", "last_observed": "2020-01-01T00:00:03Z",
               "number_observed": 1, "objects": {"0": {"type": "a", "b": 1.5}}}),
    ]
}

fn check(text: &str, data: &[Value]) {
    for strict in [true, false] {
        let parsed = if strict {
            parse(text)
        } else {
            parse_lenient(text)
        };
        match parsed {
            Ok(p) => {
                let printed = p.to_string();
                let again = parse_lenient(&printed)
                    .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
                assert_eq!(again.to_string(), printed, "{text:?}");
                // The canonical form means the same: it evaluates the same way.
                let answer = |p: &stix::pattern::Pattern| {
                    Matcher::new(p).map(|m| m.matches(data).map_err(|e| e.message))
                };
                match (answer(&p), answer(&again)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?} vs {printed:?}"),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{text:?} vs {printed:?}: {a:?} / {b:?}"),
                }
            }
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1, "{text:?}: {e}");
                assert!(e.offset <= text.len(), "{text:?}: {e}");
                let _ = e.to_string();
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let data = observations();
    let corpus: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/patterns/validator_corpus.json"
        ))
        .expect("corpus"),
    )
    .expect("json");
    let seeds: Vec<String> = corpus["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter_map(|p| p["pattern"].as_str())
        .filter(|p| p.len() < 400)
        .map(str::to_string)
        .collect();

    for _ in 0..3_000 {
        // Random bytes (lossily decoded, as a fuzzer's would be).
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&String::from_utf8_lossy(&bytes), &data);

        // Token soup, often starting with '[' so it gets deep into the parser.
        let mut s = String::from(if rng.below(2) == 0 { "[" } else { "" });
        for _ in 0..rng.below(24) {
            s.push_str(VOCAB[rng.below(VOCAB.len())]);
            if rng.below(2) == 0 {
                s.push(' ');
            }
        }
        check(&s, &data);

        // A corpus pattern with a splice of another one.
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let (i, j) = (rng.below(a.len() + 1), rng.below(b.len() + 1));
        if a.is_char_boundary(i) && b.is_char_boundary(j) {
            check(&format!("{}{}", &a[..i], &b[j..]), &data);
        }
    }
}

#[test]
fn corpus_patterns_evaluate_without_panicking() {
    let data = observations();
    let corpus: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/patterns/validator_corpus.json"
        ))
        .expect("corpus"),
    )
    .expect("json");
    for p in corpus["patterns"].as_array().expect("patterns") {
        check(p["pattern"].as_str().expect("pattern"), &data);
    }
}
