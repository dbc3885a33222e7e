//! Benchmark corpus generator and checker for the matcher (see `bench/match.sh`).
//!
//! ```text
//! gen_bench generate DIR [--indicators N] [--bytes B] [--data SHARED_DATA]
//! gen_bench check DIR [--threads N] [--repeat N]  # build the set, scan every log, compare with expected
//! ```
//! `check` prints one `key=value` line per measurement, for the script to pick up.

#[path = "support/benchgen.rs"]
mod benchgen;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// CPU seconds (user + system) used by this process so far, all threads, including those
/// that have ended: `CLOCK_PROCESS_CPUTIME_ID`, nanosecond resolution (the `/proc/self/stat`
/// ticks used before were 10 ms, too coarse for a 0.07 s scan).
fn cpu_secs() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let dir = PathBuf::from(args.get(2).cloned().unwrap_or_else(|| "bench-data".into()));
    match cmd {
        "generate" => {
            let cfg = benchgen::Config {
                indicators: arg(&args, "--indicators").map_or(1_000_000, |v| v.parse().unwrap()),
                log_bytes: arg(&args, "--bytes").map_or(2_000_000_000, |v| v.parse().unwrap()),
                seed: arg(&args, "--seed").map_or(42, |v| v.parse().unwrap()),
                data_dir: arg(&args, "--data").map(PathBuf::from),
            };
            let t = Instant::now();
            let g = benchgen::generate(&cfg, &dir).expect("generate");
            let n = std::fs::read_to_string(&g.indicators)
                .unwrap()
                .lines()
                .count();
            println!("indicators={n}");
            println!("expected_hits={}", g.expected_hits);
            for l in &g.logs {
                println!(
                    "log={} bytes={}",
                    l.display(),
                    std::fs::metadata(l).unwrap().len()
                );
            }
            println!("generate_secs={:.1}", t.elapsed().as_secs_f64());
        }
        "check" => {
            let threads: usize = arg(&args, "--threads").map_or(2, |v| v.parse().unwrap());
            let t = Instant::now();
            let b = benchgen::load_indicators(&dir.join("indicators.tsv")).expect("indicators");
            let load = t.elapsed();
            let t = Instant::now();
            let set = Arc::new(b.build().expect("build"));
            let build = t.elapsed();
            let st = set.stats();
            println!("set_indicators={}", st.indicators);
            println!("set_value_bytes={}", st.value_bytes);
            println!("set_overhead_bytes={}", st.overhead_bytes);
            println!(
                "set_overhead_per_indicator={:.1}",
                st.overhead_per_indicator()
            );
            println!("set_memory_bytes={}", st.memory_bytes);
            println!(
                "load_secs={:.2} build_secs={:.2}",
                load.as_secs_f64(),
                build.as_secs_f64()
            );
            // MATCH_BENCH_NO_PREFILTER=1: every line takes the full path (A/B of the prefilter).
            let prefilter = std::env::var_os("MATCH_BENCH_NO_PREFILTER").is_none();
            let scanner = matcher::Scanner::builder()
                .threads(threads)
                .prefilter(prefilter)
                .build();
            // --repeat N: scan N more times without printing, for a steadier per-scan CPU figure
            // (the best and the median of the repeats).
            let repeat: usize = arg(&args, "--repeat").map_or(0, |v| v.parse().unwrap());
            let mut rounds = Vec::new();
            for _ in 0..repeat {
                let cpu0 = cpu_secs();
                for name in [
                    "dns.jsonl",
                    "proxy.log",
                    "conn.log",
                    "http.log",
                    "files.log",
                ] {
                    let p = dir.join(name);
                    if !p.exists() {
                        continue;
                    }
                    scanner
                        .scan_path(&p, &set, &mut |_: &matcher::Hit| {})
                        .expect("scan");
                }
                rounds.push(cpu_secs() - cpu0);
            }
            if !rounds.is_empty() {
                let mean = rounds.iter().sum::<f64>() / rounds.len() as f64;
                rounds.sort_by(f64::total_cmp);
                println!(
                    "repeat_scan_cpu_secs_best={:.4} median={:.4} mean={mean:.4} rounds={}",
                    rounds[0],
                    rounds[rounds.len() / 2],
                    rounds.len()
                );
            }
            let mut got = BTreeSet::new();
            let (mut bytes, mut lines, mut secs) = (0u64, 0u64, 0f64);
            let cpu0 = cpu_secs();
            for name in [
                "dns.jsonl",
                "proxy.log",
                "conn.log",
                "http.log",
                "files.log",
            ] {
                let p = dir.join(name);
                if !p.exists() {
                    continue; // a directory holding only some logs (per-log timing)
                }
                let t = Instant::now();
                let s = scanner
                    .scan_path(&p, &set, &mut |h: &matcher::Hit| {
                        got.insert(benchgen::hit_to_line(h));
                    })
                    .expect("scan");
                let e = t.elapsed().as_secs_f64();
                println!(
                    "file={name} format={:?} bytes={} lines={} hits={} skipped={} secs={e:.2} mb_per_s={:.0}",
                    s.format,
                    s.bytes,
                    s.lines,
                    s.hits,
                    s.skipped(),
                    s.bytes as f64 / e / 1e6
                );
                bytes += s.bytes;
                lines += s.lines;
                secs += e;
            }
            println!(
                "total_bytes={bytes} total_lines={lines} scan_secs={secs:.2} mb_per_s={:.0}",
                bytes as f64 / secs / 1e6
            );
            let cpu = cpu_secs() - cpu0;
            println!(
                "scan_cpu_secs={cpu:.2} mb_per_cpu_s={:.0}",
                bytes as f64 / cpu / 1e6
            );
            let (miss, fp) = benchgen::compare(&dir.join("expected.tsv"), &got).expect("expected");
            println!(
                "hits={} misses={} false_positives={}",
                got.len(),
                miss.len(),
                fp.len()
            );
            for m in miss.iter().take(5) {
                println!("MISS {m}");
            }
            for f in fp.iter().take(5) {
                println!("FP   {f}");
            }
            if !miss.is_empty() || !fp.is_empty() {
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: gen_bench generate DIR [--indicators N] [--bytes B] [--data DIR] | gen_bench check DIR [--threads N]");
            std::process::exit(2);
        }
    }
}
