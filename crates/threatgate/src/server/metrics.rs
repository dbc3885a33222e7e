//! `/metrics` in the Prometheus text exposition format: requests by route and status, and
//! request durations as a histogram per route.
//!
//! Routes are the matched route templates (`/taxii2/api/collections/{id}/objects/`), never
//! raw paths, so the number of series stays bounded whatever clients request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Upper bounds (seconds) of the duration histogram buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    started: Option<Instant>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            inner: Mutex::default(),
            started: Some(Instant::now()),
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m
            .durations
            .entry((method.to_string(), route.to_string()))
            .or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; DURATION_BUCKETS.len() + 1];
        }
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        h.counts[i] += 1;
        h.sum += seconds;
        h.count += 1;
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP threatgate_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE threatgate_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "threatgate_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP threatgate_http_request_duration_seconds HTTP request durations by method and route.\n");
        out.push_str("# TYPE threatgate_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.durations {
            let route = escape(route);
            let mut cumulative = 0;
            for (i, b) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(out, "threatgate_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"{b}\"}} {cumulative}");
            }
            cumulative += h.counts[DURATION_BUCKETS.len()];
            let _ = writeln!(out, "threatgate_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"+Inf\"}} {cumulative}");
            let _ = writeln!(out, "threatgate_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "threatgate_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}} {}", h.count);
        }
        if let Some(s) = self.started {
            out.push_str("# HELP threatgate_uptime_seconds Seconds since the server started.\n# TYPE threatgate_uptime_seconds gauge\n");
            let _ = writeln!(
                out,
                "threatgate_uptime_seconds {}",
                s.elapsed().as_secs_f64()
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: time each request, count it under its route template, log one line.
/// The log line carries method, route, status and duration — never headers, so never a token.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state.metrics.observe(&method, &route, status, secs);
    tracing::info!(target: "threatgate::http", %method, %route, status, ms = secs * 1000.0, "request");
    resp
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render() + &page_cache_lines(&state.pages.stats(), state.pages.budget()),
    )
}

/// The TAXII page cache's gauges and counters: what it holds compressed and raw (their
/// ratio is what the compression buys), and how often a page read was a hit.
fn page_cache_lines(s: &super::taxii::cache::CacheStats, budget: usize) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in [
        (
            "threatgate_taxii_page_cache_budget_bytes",
            "gauge",
            "Byte budget of the TAXII page cache.",
            budget as u64,
        ),
        (
            "threatgate_taxii_page_cache_bytes",
            "gauge",
            "Bytes held against the budget (compressed pages, keys, headers).",
            s.bytes as u64,
        ),
        (
            "threatgate_taxii_page_cache_body_bytes",
            "gauge",
            "The held pages' bodies uncompressed.",
            s.body_bytes as u64,
        ),
        (
            "threatgate_taxii_page_cache_pages",
            "gauge",
            "Pages held.",
            s.pages as u64,
        ),
        (
            "threatgate_taxii_page_cache_hits_total",
            "counter",
            "Page reads answered from the cache.",
            s.hits,
        ),
        (
            "threatgate_taxii_page_cache_misses_total",
            "counter",
            "Page reads rendered from the store.",
            s.misses,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}
