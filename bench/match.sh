#!/usr/bin/env bash
# Matcher benchmark: 1,000,000 indicators (real shared data + generated) against ~2 GB of
# generated DNS (JSON lines), proxy (squid text) and Zeek conn/http/files logs with planted
# hits. Checks that exactly the planted hits are reported, then compares throughput with
# `wc -l` (the floor), `grep -F -f` and `rg -F -f` on the same indicator values.
#
# Everything is generated in a temporary directory, removed on exit. Bounded in time: grep
# with a million fixed-string patterns scans a few MB/s, so it runs on a 100 MB prefix (same
# mix of logs); rg with a million patterns needs ~11 GB and minutes to compile them, so it
# gets the first 100k patterns and two prefixes (P and 3P bytes) whose CPU-time difference is
# its scanning cost. All compared in MB per CPU-second.
#
# Knobs (environment): MATCH_BENCH_BYTES (default 2000000000), MATCH_BENCH_INDICATORS
# (1000000), MATCH_BENCH_THREADS (2), MATCH_BENCH_GREP_BYTES (100000000),
# MATCH_BENCH_RG_BYTES (10000000: P above),
# MATCH_BENCH_RG_PATTERNS (100000: rg with all 1M patterns needs ~11 GB and minutes; set to
# 0 to use them all, or to -1 to skip rg), MATCH_BENCH_AB (1: also scan with the matcher's
# line prefilter off, 0 to skip), THREATGATE_SHARED_DATA (../shared/data).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${THREATGATE_SHARED_DATA:-$ROOT/../shared/data}
BYTES=${MATCH_BENCH_BYTES:-2000000000}
INDICATORS=${MATCH_BENCH_INDICATORS:-1000000}
THREADS=${MATCH_BENCH_THREADS:-2}
GREP_BYTES=${MATCH_BENCH_GREP_BYTES:-100000000}
RG_PATTERNS=${MATCH_BENCH_RG_PATTERNS:-100000}
PEER_TIMEOUT=${MATCH_BENCH_PEER_TIMEOUT:-240}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/h-matcher}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/match-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
# "wall cpu" seconds for a command (cpu = user + system), output discarded. CPU seconds are
# what to compare on a shared machine: other jobs stretch wall time, not CPU time.
secs() {
  /usr/bin/time -f '%e %U %S' -o "$WORK/time.txt" "$@" >/dev/null 2>&1 || true
  tail -n 1 "$WORK/time.txt" | awk '{w = $1; if (w < 0.01) w = 0.01; printf "%s %.2f\n", w, $2 + $3}'
}
wall() { echo "${1% *}"; }
cpu() { local c="${1#* }"; echo "c = $c; if (c < 0.01) c = 0.01; c" | bc -l; }
fmt() { printf '%.2f' "$1"; }

say "# matcher benchmark $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$ROOT" && cargo build --release -q -p matcher --example gen_bench)
BIN=$CARGO_TARGET_DIR/release/examples/gen_bench

say "## generate ($INDICATORS indicators, $BYTES bytes of logs)"
"$BIN" generate "$WORK" --indicators "$INDICATORS" --bytes "$BYTES" --data "$DATA" | tee "$WORK/gen.txt"
LOGS=("$WORK"/dns.jsonl "$WORK"/proxy.log "$WORK"/conn.log "$WORK"/http.log "$WORK"/files.log)
TOTAL=$(cat "${LOGS[@]}" | wc -c)

say "## warm the page cache"
cat "${LOGS[@]}" >/dev/null

say "## wc -l (floor)"
WCT=$(secs wc -l "${LOGS[@]}")
WC=$(wall "$WCT")
WC_CPU=$(cpu "$WCT")
say "wc_secs=$(fmt "$WC") wc_cpu_secs=$(fmt "$WC_CPU") wc_mb_per_s=$(fmt "$(echo "$TOTAL / $WC / 1000000" | bc -l)") wc_mb_per_cpu_s=$(fmt "$(echo "$TOTAL / $WC_CPU / 1000000" | bc -l)")"

say "## threatgate matcher ($THREADS threads): build set, scan all logs, compare with planted hits"
"$BIN" check "$WORK" --threads "$THREADS" | tee "$WORK/check.txt"
SCAN=$(grep -o 'scan_secs=[0-9.]*' "$WORK/check.txt" | cut -d= -f2)
BUILD=$(grep -o 'build_secs=[0-9.]*' "$WORK/check.txt" | cut -d= -f2)
SCAN_CPU=$(grep -o 'scan_cpu_secs=[0-9.]*' "$WORK/check.txt" | cut -d= -f2)
MATCH_MBS=$(echo "$TOTAL / $SCAN / 1000000" | bc -l)
MATCH_CPU_MBS=$(echo "$TOTAL / $SCAN_CPU / 1000000" | bc -l)

# The same scan with the line prefilter off (every line parsed and matched): what the
# prefilter gains, measured in this run. MATCH_BENCH_AB=0 skips it.
NOPF_CPU_MBS=""
if [ "${MATCH_BENCH_AB:-1}" != "0" ]; then
  say "## threatgate matcher, prefilter off ($THREADS threads)"
  MATCH_BENCH_NO_PREFILTER=1 "$BIN" check "$WORK" --threads "$THREADS" >"$WORK/check-nopf.txt"
  grep -E '^(scan_cpu_secs|hits=)' "$WORK/check-nopf.txt"
  NOPF_CPU=$(grep -o 'scan_cpu_secs=[0-9.]*' "$WORK/check-nopf.txt" | cut -d= -f2)
  NOPF_CPU_MBS=$(echo "$TOTAL / $NOPF_CPU / 1000000" | bc -l)
fi

say "## peers"
prefix() {
  : >"$2"
  for f in "${LOGS[@]}"; do
    share=$(echo "$1 * $(stat -c %s "$f") / $TOTAL" | bc)
    head -c "$share" "$f" >>"$2"
  done
}
# grep: one run on a GREP_BYTES prefix (same mix of logs), compile time included: with 1M
# patterns its scan is too slow for 2 GB, and its compile time (~20-30 CPU-s) varies too much
# to subtract reliably.
prefix "$GREP_BYTES" "$WORK/grep-prefix.log"
GB=$(stat -c %s "$WORK/grep-prefix.log")
GT=$(secs timeout "$PEER_TIMEOUT" grep -F -c -f "$WORK/patterns.txt" "$WORK/grep-prefix.log")
GREP_MBS=$(echo "$GB / $(cpu "$GT") / 1000000" | bc -l)
say "grep_prefix_bytes=$GB grep_cpu_secs=$(fmt "$(cpu "$GT")") grep_wall_secs=$(wall "$GT") grep_mb_per_cpu_s=$(fmt "$GREP_MBS") (all $(wc -l <"$WORK/patterns.txt") patterns, compile included, 1 thread)"

# rg: two prefixes (P and 3P bytes); both pay the same compile, the CPU difference is scanning.
RG_BYTES=${MATCH_BENCH_RG_BYTES:-10000000}
prefix "$RG_BYTES" "$WORK/prefix1.log"
prefix "$((3 * RG_BYTES))" "$WORK/prefix3.log"
P1=$(stat -c %s "$WORK/prefix1.log")
P3=$(stat -c %s "$WORK/prefix3.log")
# peer NAME PATTERNS CMD...: prints NAME_* figures, sets PEER_MBS (empty if not measurable)
peer() {
  local name=$1 pats=$2; shift 2
  local a b ca cb d
  a=$(secs timeout "$PEER_TIMEOUT" "$@" -f "$pats" "$WORK/prefix1.log")
  b=$(secs timeout "$PEER_TIMEOUT" "$@" -f "$pats" "$WORK/prefix3.log")
  ca=$(cpu "$a"); cb=$(cpu "$b")
  d=$(echo "$cb - $ca" | bc -l)
  if [ "$(echo "$d > 0.05" | bc -l)" = 1 ]; then
    PEER_MBS=$(echo "($P3 - $P1) / $d / 1000000" | bc -l)
  else
    PEER_MBS=""
  fi
  say "${name}_small_prefix_cpu_secs=$(fmt "$ca") ${name}_large_prefix_cpu_secs=$(fmt "$cb") ${name}_scan_mb_per_cpu_s=$( [ -n "$PEER_MBS" ] && fmt "$PEER_MBS" || echo n/a)"
}

RG_MBS=""
if [ "$RG_PATTERNS" != "-1" ] && command -v rg >/dev/null; then
  if [ "$RG_PATTERNS" = "0" ]; then cp "$WORK/patterns.txt" "$WORK/rg-patterns.txt"; else head -n "$RG_PATTERNS" "$WORK/patterns.txt" >"$WORK/rg-patterns.txt"; fi
  say "rg_patterns=$(wc -l <"$WORK/rg-patterns.txt")"
  peer rg "$WORK/rg-patterns.txt" rg -j1 -F -c
  RG_MBS=$PEER_MBS
else
  say "rg: skipped (not installed or MATCH_BENCH_RG_PATTERNS=-1)"
fi

say "## summary (per-core figures use CPU seconds; wall figures depend on the machine's load)"
say "log_bytes=$TOTAL set_build_secs=$BUILD threads=$THREADS"
say "matcher_wall_mb_per_s=$(fmt "$MATCH_MBS") matcher_mb_per_cpu_s=$(fmt "$MATCH_CPU_MBS")"
say "wc_wall_mb_per_s=$(fmt "$(echo "$TOTAL / $WC / 1000000" | bc -l)") wc_mb_per_cpu_s=$(fmt "$(echo "$TOTAL / $WC_CPU / 1000000" | bc -l)")"
if [ -n "$NOPF_CPU_MBS" ]; then say "matcher_no_prefilter_mb_per_cpu_s=$(fmt "$NOPF_CPU_MBS") prefilter_gain_per_core=$(fmt "$(echo "$MATCH_CPU_MBS / $NOPF_CPU_MBS" | bc -l)")x"; fi
say "matcher_vs_grep_per_core=$(fmt "$(echo "$MATCH_CPU_MBS / $GREP_MBS" | bc -l)")x (target >= 10x)"
if [ -n "$RG_MBS" ]; then say "matcher_vs_rg_per_core=$(fmt "$(echo "$MATCH_CPU_MBS / $RG_MBS" | bc -l)")x"; fi
say "matcher_wall_vs_wc_wall=$(fmt "$(echo "$SCAN / $WC" | bc -l)")x matcher_cpu_vs_wc_cpu=$(fmt "$(echo "$SCAN_CPU / $WC_CPU" | bc -l)")x (target <= 3x)"
grep -E '^(set_overhead_per_indicator|set_memory_bytes|hits=)' "$WORK/check.txt"
