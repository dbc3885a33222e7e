//! Shared harness for threatgate's fuzz targets: run one ingest parser over bytes, the way
//! the pipeline does but with an in-memory collector instead of the store, and check what
//! every parser promises whatever the input:
//!
//! - it returns (no panic, no stack overflow, no endless loop);
//! - every rejection and every fatal error says why (non-empty reason);
//! - line locations (`line N`) lie inside the input, JSON locations are pointers;
//! - every observable it claims is canonical (canonicalising it again changes nothing,
//!   so the same indicator from two sources merges into one row);
//! - claim fields stay in their ranges (confidence 0–100, Admiralty A–F and 1–6).

use threatgate::ingest::{self, Emit, Event, Format, IngestOptions, ParseContext, ParseEnd, Stop};
use threatgate::model::Observable;

/// Collects what a parser emits.
#[derive(Default)]
pub struct Collect {
    pub events: Vec<Event>,
}

impl Emit for Collect {
    fn emit(&mut self, e: Event) -> Result<(), Stop> {
        self.events.push(e);
        Ok(())
    }
}

/// Parse `data` as `format` and check the parser's promises; panics only on a bug.
pub fn run(format: Format, data: &[u8]) {
    let ctx = ParseContext {
        name: "fuzz-input".into(),
        path: None,
        opts: IngestOptions::default(),
    };
    let mut out = Collect::default();
    let end = ingest::parse(format, data, &ctx, &mut out);
    let lines = data.split(|&b| b == b'\n').count() as u64;
    match end {
        Ok(()) => {}
        Err(ParseEnd::Stopped) => panic!("the collector never stops the parser"),
        Err(ParseEnd::Fatal { location, reason }) => {
            assert!(
                !reason.is_empty(),
                "fatal error without a reason at {location:?}"
            );
            check_location(&location, lines);
        }
    }
    for e in &out.events {
        match e {
            Event::Reject { location, reason } => {
                assert!(
                    !reason.is_empty(),
                    "rejection without a reason at {location:?}"
                );
                check_location(location, lines);
            }
            Event::Item(item) => {
                check_location(&item.location, lines);
                for (obs, claim) in &item.claims {
                    check_canonical(obs);
                    assert!(claim.confidence.is_none_or(|c| c <= 100), "{claim:?}");
                    assert!(
                        claim.reliability.is_none_or(|r| ('A'..='F').contains(&r)),
                        "{claim:?}"
                    );
                    assert!(
                        claim.credibility.is_none_or(|c| (1..=6).contains(&c)),
                        "{claim:?}"
                    );
                }
            }
        }
    }
}

/// A location is empty (the whole input), `line N[, column M]` inside the input, or a
/// JSON pointer.
pub fn check_location(location: &str, lines: u64) {
    if location.is_empty() || location.starts_with('/') {
        return;
    }
    let rest = location
        .strip_prefix("line ")
        .unwrap_or_else(|| panic!("location {location:?} is neither a line nor a JSON pointer"));
    let n: u64 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("location {location:?} has no line number"));
    assert!(
        n >= 1 && n <= lines,
        "location {location:?} outside the input's {lines} line(s)"
    );
}

/// Canonicalising a canonical observable again must change nothing.
pub fn check_canonical(obs: &Observable) {
    match Observable::parse(obs.kind, &obs.value) {
        Ok(again) => assert_eq!(&again, obs, "canonical form is not stable"),
        Err(e) => panic!("canonical {obs} does not parse again: {e}"),
    }
}
