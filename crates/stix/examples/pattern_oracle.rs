//! Answers pattern questions the way the OASIS oracles do, for differential testing.
//!
//! Reads one JSON request on stdin:
//! `{"validate": ["pattern", ...], "match": [{"pattern": "...", "observations": [...]}, ...]}`
//! and writes `{"validate": [true, ...], "match": ["match" | "no-match" | "error", ...]}`.
//!
//! `validate` uses `stix::pattern::parse` (the validator's rules); `match` uses
//! `parse_lenient` + `Matcher`, since the reference matcher parses by the grammar alone.
//! Driven by `crates/stix/tests/oracle/check_against_python.py`.

use std::io::Read;

use serde_json::{json, Value};
use stix::pattern::{parse, parse_lenient, Matcher};

fn match_answer(pattern: &str, observations: &[Value]) -> &'static str {
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

fn main() {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .expect("read stdin");
    let req: Value = serde_json::from_str(&input).expect("request is JSON");
    let validate: Vec<bool> = req["validate"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| parse(p.as_str().unwrap_or("")).is_ok())
                .collect()
        })
        .unwrap_or_default();
    let empty = Vec::new();
    let matches: Vec<&str> = req["match"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let obs = c["observations"].as_array().unwrap_or(&empty);
                    match_answer(c["pattern"].as_str().unwrap_or(""), obs)
                })
                .collect()
        })
        .unwrap_or_default();
    println!("{}", json!({"validate": validate, "match": matches}));
}
