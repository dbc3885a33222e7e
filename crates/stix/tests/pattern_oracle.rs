//! Agreement with the OASIS reference tools, on corpora whose answers they recorded.
//!
//! - `tests/patterns/validator_corpus.json`: does `stix::pattern::parse` accept exactly
//!   the patterns `stix2-patterns` (STIX 2.1) accepts?
//! - `tests/oracle/match_corpus.json`: does `Matcher::matches` answer match / no-match /
//!   error as `stix2-matcher` does? (The reference matcher parses by the grammar alone, so
//!   these cases use `parse_lenient`.)
//!
//! Known, deliberate differences are listed with their reason in
//! `tests/oracle/known_differences.json`; any other disagreement fails the test, and so
//! does a listed difference that no longer occurs (so the list stays true).
//! `tests/oracle/build_corpus.py` regenerates the corpora; `check_against_python.py`
//! compares against the live Python tools instead of the recorded answers.

use std::collections::BTreeSet;

use serde_json::Value;
use stix::pattern::{parse, parse_lenient, Matcher};

fn load(rel: &str) -> Value {
    let path = format!("{}/tests/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn known(section: &str) -> BTreeSet<String> {
    load("oracle/known_differences.json")[section]
        .as_array()
        .expect("known_differences section")
        .iter()
        .map(|d| d["case"].as_str().expect("case").to_string())
        .collect()
}

/// Our answer for one match case, in the corpus vocabulary.
fn our_match_answer(pattern: &str, observations: &[Value]) -> &'static str {
    let Ok(p) = parse_lenient(pattern) else {
        return "error";
    };
    let Ok(m) = Matcher::new(&p) else {
        return "error";
    };
    match m.matches(observations) {
        Ok(true) => "match",
        Ok(false) => "no-match",
        Err(_) => "error",
    }
}

fn report(what: &str, total: usize, differing: &[String], known: &BTreeSet<String>) {
    let unexpected: Vec<&String> = differing.iter().filter(|d| !known.contains(*d)).collect();
    let now: BTreeSet<&String> = differing.iter().collect();
    let stale: Vec<&String> = known.iter().filter(|k| !now.contains(k)).collect();
    eprintln!(
        "{what}: {} of {total} agree with the oracle ({} known differences)",
        total - differing.len(),
        differing.len() - unexpected.len()
    );
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{what}: unexpected disagreements:\n{}\nlisted as known but now agreeing:\n{}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

#[test]
fn parser_agrees_with_stix2_patterns_validator() {
    let corpus = load("patterns/validator_corpus.json");
    let cases = corpus["patterns"].as_array().expect("patterns");
    assert!(cases.len() >= 300, "corpus too small");
    let mut differing = Vec::new();
    for c in cases {
        let pattern = c["pattern"].as_str().expect("pattern");
        let expected = c["valid"].as_bool().expect("valid");
        let ours = parse(pattern);
        if ours.is_ok() != expected {
            differing.push(format!(
                "{} => oracle {}, ours {}",
                pattern,
                if expected { "valid" } else { "invalid" },
                match &ours {
                    Ok(_) => "valid".to_string(),
                    Err(e) => format!("invalid ({e})"),
                }
            ));
        }
        // Whatever we accept must print to something we accept, and print the same again.
        if let Ok(p) = ours {
            let printed = p.to_string();
            let again =
                parse(&printed).unwrap_or_else(|e| panic!("{pattern} printed as {printed}: {e}"));
            assert_eq!(again.to_string(), printed, "{pattern}");
        }
    }
    // Known differences are listed by pattern alone: strip our explanation.
    let keys: Vec<String> = differing
        .iter()
        .map(|d| d.split(" => ").next().unwrap_or(d).to_string())
        .collect();
    if !differing.is_empty() {
        eprintln!("{}", differing.join("\n"));
    }
    report("validator corpus", cases.len(), &keys, &known("validator"));
}

#[test]
fn evaluator_agrees_with_stix2_matcher() {
    let corpus = load("oracle/match_corpus.json");
    let fixtures = &corpus["fixtures"];
    let cases = corpus["cases"].as_array().expect("cases");
    assert!(cases.len() >= 300, "corpus too small");
    let mut differing = Vec::new();
    let mut details = Vec::new();
    for c in cases {
        let pattern = c["pattern"].as_str().expect("pattern");
        let fixture = c["fixture"].as_str().expect("fixture");
        let expected = c["expected"].as_str().expect("expected");
        let observations = fixtures[fixture].as_array().expect("fixture");
        let ours = our_match_answer(pattern, observations);
        // The canonical form of the pattern must answer the same.
        if let Ok(p) = parse_lenient(pattern) {
            let printed = p.to_string();
            assert_eq!(
                our_match_answer(&printed, observations),
                ours,
                "{pattern} printed as {printed}"
            );
        }
        if ours != expected {
            let key = format!("{fixture} {pattern}");
            details.push(format!("{key} => oracle {expected}, ours {ours}"));
            differing.push(key);
        }
    }
    if !details.is_empty() {
        eprintln!("{}", details.join("\n"));
    }
    report("match corpus", cases.len(), &differing, &known("match"));
}
