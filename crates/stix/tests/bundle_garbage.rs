//! Bounded, stable-Rust counterpart of the `bundle_parse` fuzz target: thousands of
//! mutated OASIS bundles (bytes flipped, deleted, duplicated, truncated) go through the
//! reader, validation and markings. Nothing may panic, every error must point inside the
//! input, and everything read must validate without panicking.

use stix::{validate_object, BundleReader, Markings};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b",",
    b":",
    b"null",
    b"-1e999",
    b"\xff",
    b"\n",
    b"\"objects\":[",
    b"[[[[[[[[",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, piece.iter().copied());
            }
            3 => v.truncate(at),
            _ => {
                let from = rng.below(v.len());
                let end = (from + rng.below(64)).min(v.len());
                let chunk = v[from..end].to_vec();
                v.splice(at.min(v.len())..at.min(v.len()), chunk);
            }
        }
    }
    v
}

#[test]
fn mutated_bundles_never_panic() {
    let dir = std::env::var_os("THREATGATE_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        })
        .join("oasis-stix-examples");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| std::fs::read(p).unwrap())
        .filter(|b| b.len() < 8000) // small seeds keep the test fast
        .collect();
    seeds.sort();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut read, mut errors) = (0usize, 0usize);
    for round in 0..3000 {
        let input = mutate(&mut rng, &seeds[round % seeds.len()]);
        let mut markings = Markings::new();
        for entry in BundleReader::new(&input[..]) {
            match entry {
                Ok(e) => {
                    let report = validate_object(&e.object, &e.pointer());
                    let doc = e.object.clone().into_value();
                    let prefix = e.pointer().as_str().to_string();
                    for issue in &report.issues {
                        let rel = issue
                            .pointer
                            .as_str()
                            .strip_prefix(prefix.as_str())
                            .expect("pointer inside the object");
                        let parent = &rel[..rel.rfind('/').unwrap_or(0)];
                        assert!(
                            doc.pointer(rel).is_some()
                                || doc.pointer(parent).is_some_and(|v| v.is_object()),
                            "{issue}: pointer resolves to nothing"
                        );
                    }
                    markings.learn(&e.object);
                    let _ = (
                        markings.tlp_of(&e.object),
                        markings.pap_of(&e.object),
                        e.object.view(),
                    );
                    read += 1;
                }
                Err(err) => {
                    let loc = err.location();
                    assert!(
                        loc.offset <= input.len() as u64 && loc.line >= 1 && loc.column >= 1,
                        "{err}"
                    );
                    let _ = err.to_string();
                    errors += 1;
                }
            }
        }
    }
    assert!(
        read > 1000 && errors > 1000,
        "mutations exercised both paths: {read} read, {errors} errors"
    );
}
