//! Pattern evaluation throughput on the oracle corpus, for comparison with stix2-matcher.
//!
//! `cargo bench -p stix --bench pattern_eval` prints a table; add `-- --json` for one JSON
//! line (what `benches/pattern_eval_python.py` reads to compute the ratio against the
//! Python reference matcher on the very same cases).
//!
//! Cases: every match-corpus case the reference matcher answers without error (the
//! inputs are the same for both sides). Each side prepares the pattern once per case
//! (here `Matcher::new`, there `stix2matcher.matcher.Pattern`) and the timed loop is the
//! match call. Parsing is timed separately over the validator corpus.

use std::time::{Duration, Instant};

use serde_json::Value;
use stix::pattern::{parse, parse_lenient, Matcher, Observations};

fn load(rel: &str) -> Value {
    let path = format!("{}/tests/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("corpus")).expect("json")
}

/// Runs `f` repeatedly for at least `budget`; returns the median seconds per run (the
/// machine is shared, so the median resists other jobs' bursts better than the mean).
fn time_per_run(budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < budget || samples.len() < 5 {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    samples[samples.len() / 2]
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    let corpus = load("oracle/match_corpus.json");
    let fixtures = &corpus["fixtures"];
    let mut prepared = Vec::new();
    for c in corpus["cases"].as_array().expect("cases") {
        if c["expected"] == "error" {
            continue;
        }
        let Ok(p) = parse_lenient(c["pattern"].as_str().expect("pattern")) else {
            continue;
        };
        let Ok(m) = Matcher::new(&p) else { continue };
        // Fixtures are shared between cases, as on the Python side.
        let obs = fixtures[c["fixture"].as_str().expect("fixture")]
            .as_array()
            .expect("fixture");
        prepared.push((m, obs.as_slice()));
    }
    let n_cases = prepared.len();
    let mut matched = 0usize;
    let eval_pass = time_per_run(Duration::from_secs(3), || {
        matched = 0;
        for (m, obs) in &prepared {
            if m.matches(obs) == Ok(true) {
                matched += 1;
            }
        }
    });

    let patterns: Vec<String> = load("patterns/validator_corpus.json")["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter_map(|p| p["pattern"].as_str().map(str::to_string))
        .collect();
    let parse_pass = time_per_run(Duration::from_secs(2), || {
        for p in &patterns {
            let _ = std::hint::black_box(parse(p));
        }
    });

    // Indicator workload: the indicator patterns of the shared real data (OASIS examples)
    // against 1,000 single-observation events, 1 in 10 carrying an indicator's values.
    let indicators: Vec<Matcher> = load("patterns/validator_corpus.json")["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter(|p| p["source"] == "shared-data" && p["valid"] == true)
        .filter_map(|p| parse(p["pattern"].as_str()?).ok())
        .filter_map(|p| Matcher::new(&p).ok())
        .collect();
    let events = indicator_events();
    let mut hits = 0usize;
    let indicator_pass = time_per_run(Duration::from_secs(3), || {
        hits = 0;
        for e in &events {
            for m in &indicators {
                if m.matches(std::slice::from_ref(e)) == Ok(true) {
                    hits += 1;
                }
            }
        }
    });
    let pairs = (events.len() * indicators.len()) as f64;
    // The same, reading each event once for all patterns (what an application would do).
    let prepared_events: Vec<Observations> = events
        .iter()
        .map(|e| Observations::new(std::slice::from_ref(e)).expect("event"))
        .collect();
    let prepared_pass = time_per_run(Duration::from_secs(3), || {
        for e in &prepared_events {
            for m in &indicators {
                let _ = std::hint::black_box(m.matches_observations(e));
            }
        }
    });

    let eval_rate = n_cases as f64 / eval_pass;
    let parse_rate = patterns.len() as f64 / parse_pass;
    if json_out {
        println!(
            "{{\"cases\":{n_cases},\"matched\":{matched},\"eval_seconds_per_pass\":{eval_pass},\"eval_cases_per_second\":{eval_rate},\"patterns\":{},\"parse_seconds_per_pass\":{parse_pass},\"parse_patterns_per_second\":{parse_rate}}}",
            patterns.len()
        );
        println!(
            "{{\"indicator_patterns\":{},\"events\":{},\"hits\":{hits},\"indicator_seconds_per_pass\":{indicator_pass},\"pattern_event_pairs_per_second\":{},\"prepared_seconds_per_pass\":{prepared_pass}}}",
            indicators.len(),
            events.len(),
            pairs / indicator_pass
        );
    } else {
        println!(
            "indicator workload: {} patterns x {} events ({hits} hits), {:.3} ms per pass, {:.0} pattern-event evaluations/s",
            indicators.len(),
            events.len(),
            indicator_pass * 1e3,
            pairs / indicator_pass
        );
        println!(
            "  with events read once (Observations): {:.3} ms per pass, {:.0} pattern-event evaluations/s",
            prepared_pass * 1e3,
            pairs / prepared_pass
        );
        println!("pattern evaluation: {n_cases} cases ({matched} match), {:.3} ms per pass, {:.0} cases/s", eval_pass * 1e3, eval_rate);
        println!(
            "pattern parsing: {} patterns, {:.3} ms per pass, {:.0} patterns/s",
            patterns.len(),
            parse_pass * 1e3,
            parse_rate
        );
    }
}

/// 1,000 observed-data events with an IPv4 address and a domain each; every tenth uses
/// values named by the indicator patterns, the rest are unrelated. Mirrored exactly by
/// `pattern_eval_python.py`.
fn indicator_events() -> Vec<Value> {
    let quoted = regex::Regex::new(r"'([^']+)'").expect("regex");
    let (mut ips, mut domains) = (Vec::new(), Vec::new());
    for p in load("patterns/validator_corpus.json")["patterns"]
        .as_array()
        .expect("patterns")
    {
        if p["source"] != "shared-data" {
            continue;
        }
        for c in quoted.captures_iter(p["pattern"].as_str().unwrap_or("")) {
            let v = c[1].to_string();
            if v.parse::<std::net::Ipv4Addr>().is_ok() {
                ips.push(v);
            } else if !v.contains('/') && !v.contains(' ') && v.contains('.') {
                domains.push(v);
            }
        }
    }
    ips.sort();
    ips.dedup();
    domains.sort();
    domains.dedup();
    (0..1000usize)
        .map(|i| {
            let (ip, domain) = if i % 10 == 0 && !ips.is_empty() && !domains.is_empty() {
                (ips[(i / 10) % ips.len()].clone(), domains[(i / 10) % domains.len()].clone())
            } else {
                (format!("10.0.{}.{}", i / 256, i % 256), format!("host{i}.example"))
            };
            serde_json::json!({
                "type": "observed-data", "id": format!("observed-data--{i}"),
                "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
                "number_observed": 1,
                "objects": {"0": {"type": "ipv4-addr", "value": ip},
                            "1": {"type": "domain-name", "value": domain, "resolves_to_refs": ["0"]}}
            })
        })
        .collect()
}
