//! The streaming reader's memory stays bounded by one object, whatever the bundle size,
//! and pathological nesting is refused rather than overflowing the stack.
//!
//! This file is its own test binary so the peak-RSS measurement sees only this test.

use std::io::Read;

use serde_json::Value;
use stix::bundle::{BundleError, BundleReader};
use stix::validate::validate_object;

/// Produces a bundle of `n` indicators on the fly, so the input itself takes no memory.
pub struct GeneratedBundle {
    n: usize,
    next: usize,
    pending: Vec<u8>,
    pos: usize,
    done: bool,
}

impl GeneratedBundle {
    pub fn new(n: usize) -> Self {
        let head = b"{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": [\n".to_vec();
        GeneratedBundle {
            n,
            next: 0,
            pending: head,
            pos: 0,
            done: false,
        }
    }

    fn refill(&mut self) {
        self.pending.clear();
        self.pos = 0;
        if self.next < self.n {
            let i = self.next;
            let sep = if i + 1 < self.n { "," } else { "" };
            let text = format!(
                concat!(
                    "  {{\"type\": \"indicator\", \"spec_version\": \"2.1\", \"id\": \"indicator--{:08x}-17d4-4cbf-938f-98ee46b3cd3f\", ",
                    "\"created\": \"2024-01-01T00:00:00.000Z\", \"modified\": \"2024-01-01T00:00:00.000Z\", ",
                    "\"name\": \"C2 {}\", \"pattern\": \"[ipv4-addr:value = '10.{}.{}.{}']\", \"pattern_type\": \"stix\", ",
                    "\"valid_from\": \"2024-01-01T00:00:00Z\", \"labels\": [\"c2\"], \"confidence\": 80, ",
                    "\"x_source\": {{\"feed\": \"gen\", \"row\": {}}}}}{}\n"
                ),
                i,
                i,
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255,
                i,
                sep
            );
            self.pending.extend_from_slice(text.as_bytes());
            self.next += 1;
        } else if !self.done {
            self.pending.extend_from_slice(b"]}\n");
            self.done = true;
        }
    }
}

impl Read for GeneratedBundle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.pending.len() {
            self.refill();
            if self.pending.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Peak resident set size of this process in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn two_hundred_thousand_objects_in_bounded_memory() {
    const N: usize = 200_000;
    let before = peak_rss_kib();
    let mut count = 0usize;
    let mut bytes = 0u64;
    let mut reader = BundleReader::new(GeneratedBundle::new(N));
    for entry in reader.by_ref() {
        let entry = entry.unwrap();
        assert_eq!(entry.index, count);
        if count.is_multiple_of(50_000) {
            assert!(validate_object(&entry.object, &entry.pointer()).is_valid());
        }
        bytes += entry.object.to_json().len() as u64;
        count += 1;
    }
    assert_eq!(count, N);
    assert!(reader.bytes_read() > bytes, "the whole input was consumed");
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        // ~90 MB of JSON went through; the reader may hold one object plus its buffers.
        let grown = a.saturating_sub(b);
        eprintln!(
            "read {count} objects ({} MB); peak RSS grew by {grown} KiB",
            reader.bytes_read() / 1_000_000
        );
        assert!(
            grown < 32 * 1024,
            "peak RSS grew by {grown} KiB reading a streamed bundle"
        );
    }
}

#[test]
fn serde_json_refuses_deep_nesting_without_overflowing() {
    // serde_json's own recursion limit (128) protects a parse of a whole document...
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let err = serde_json::from_str::<Value>(&deep).unwrap_err();
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
    // ...and the bundle reader refuses the same nesting inside an object, with a location.
    let bundle =
        format!("{{\"type\":\"bundle\",\"objects\":[{{\"type\":\"x-deep\",\"a\":{deep}}}]}}");
    let first = BundleReader::new(bundle.as_bytes()).next().unwrap();
    match first {
        Err(e @ BundleError::TooDeep { .. }) => {
            assert_eq!(e.pointer().unwrap().as_str(), "/objects/0");
            assert_eq!(e.location().line, 1);
            assert!(e.to_string().contains("128"), "{e}");
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }
}
