//! Per-call cost of evaluating one simple indicator against one event (a profiling aid).
use std::time::Instant;

use stix::pattern::{parse, Matcher, Observations};

fn main() {
    let p = parse("[domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.1']")
        .expect("pattern");
    let m = Matcher::new(&p).expect("matcher");
    let event = [serde_json::json!({
        "type": "observed-data", "id": "observed-data--1",
        "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
        "number_observed": 1,
        "objects": {"0": {"type": "ipv4-addr", "value": "10.0.0.1"},
                    "1": {"type": "domain-name", "value": "host.example", "resolves_to_refs": ["0"]}}
    })];
    let obs = Observations::new(&event).expect("event");
    let n = 2_000_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(m.matches_observations(&obs)).ok();
    }
    println!(
        "matches_observations: {:.0} ns/call",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n / 4 {
        std::hint::black_box(m.matches(&event)).ok();
    }
    println!(
        "matches (reads the event each call): {:.0} ns/call",
        t.elapsed().as_nanos() as f64 / (n / 4) as f64
    );
}
