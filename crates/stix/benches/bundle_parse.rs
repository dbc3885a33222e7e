//! Bundle parsing throughput and memory: the Rust side of `bench/stix_parse.sh`.
//!
//! usage: cargo bench -p stix --bench bundle_parse -- FILE [MODE]
//!
//! MODE is one of
//! - `stream` (default): `BundleReader` over the file, every object parsed into a `StixObject`;
//! - `validate`: the same plus `validate_object` and `Markings::tlp_of` on every object
//!   (what ingest does);
//! - `whole`: `serde_json::from_reader` of the whole file into one `Value` (the
//!   non-streaming baseline, for the memory comparison).
//!
//! Prints `rust <mode>: <MB> MB in <s> s = <MB/s> MB/s wall, <s> s = <MB/s> MB/s CPU (...)`.
//! Peak RSS is the process's VmHWM, so run one mode per process (the script does).

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use stix::{validate_object, BundleReader, Markings};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU time of this process so far, in seconds (schedstat: ns on a CPU). On a shared
/// machine wall time includes waiting for a core; CPU time does not.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn main() {
    // cargo bench passes `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench -p stix --bench bundle_parse -- FILE [stream|validate|whole]\n(bench/stix_parse.sh generates FILE)");
        return;
    };
    let mode = args.get(1).map_or("stream", String::as_str);
    let size = std::fs::metadata(path).expect("bundle file").len() as f64;
    let t0 = Instant::now();
    let c0 = cpu_seconds();
    let mut n = 0usize;
    let mut errors = 0usize;
    match mode {
        "stream" | "validate" => {
            let mut markings = Markings::new();
            for entry in BundleReader::new(File::open(path).unwrap()) {
                let entry = entry.unwrap_or_else(|e| panic!("{path}: {e}"));
                if mode == "validate" {
                    markings.learn(&entry.object);
                    let report = validate_object(&entry.object, &entry.pointer());
                    errors += usize::from(!report.is_valid());
                    std::hint::black_box(markings.tlp_of(&entry.object));
                }
                std::hint::black_box(&entry.object);
                n += 1;
            }
        }
        "whole" => {
            let v: serde_json::Value =
                serde_json::from_reader(BufReader::new(File::open(path).unwrap())).unwrap();
            n = v["objects"].as_array().map_or(0, Vec::len);
        }
        other => panic!("unknown mode {other}"),
    }
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    println!(
        "rust {mode}: {:.1} MB in {dt:.3} s = {:.1} MB/s wall, {cpu:.3} s = {:.1} MB/s CPU ({n} objects, {errors} invalid, peak RSS {:.0} MiB)",
        size / 1e6,
        size / 1e6 / dt,
        size / 1e6 / cpu,
        peak_rss_mib()
    );
}
