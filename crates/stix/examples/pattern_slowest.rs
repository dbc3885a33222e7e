//! Lists the slowest match-corpus cases for our evaluator (a profiling aid).
use std::time::Instant;

use serde_json::Value;
use stix::pattern::{parse_lenient, Matcher};

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/match_corpus.json"
    );
    let corpus: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus")).expect("json");
    let mut times = Vec::new();
    for c in corpus["cases"].as_array().expect("cases") {
        let Ok(p) = parse_lenient(c["pattern"].as_str().unwrap_or("")) else {
            continue;
        };
        let Ok(m) = Matcher::new(&p) else { continue };
        let obs = corpus["fixtures"][c["fixture"].as_str().unwrap_or("")]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let start = Instant::now();
        for _ in 0..20 {
            let _ = m.matches(&obs);
        }
        times.push((
            start.elapsed().as_secs_f64() / 20.0,
            c["pattern"].as_str().unwrap_or("").to_string(),
            obs.len(),
        ));
    }
    times.sort_by(|a, b| b.0.partial_cmp(&a.0).expect("finite"));
    let total: f64 = times.iter().map(|t| t.0).sum();
    println!("total {:.3} ms over {} cases", total * 1e3, times.len());
    for (t, p, n) in times.iter().take(12) {
        println!(
            "{:9.1} us  {n:3} obs  {}",
            t * 1e6,
            p.chars().take(120).collect::<String>()
        );
    }
}
