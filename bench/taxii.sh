#!/usr/bin/env bash
# TAXII read throughput and latency, against nginx serving the same pages pre-rendered,
# plus a mixed load (readers and writers) and a ratio to the OASIS reference server.
#
#   bench/taxii.sh            # defaults: 1,000,000 objects, pages of 1,000
#   BENCH_OBJECTS=100000 bench/taxii.sh
#
# Needs: a release build (built here if missing), wrk and nginx (apt-get install wrk nginx),
# and .venv from .ci/setup-python (requests, medallion). Bounded: every phase has a fixed
# duration; the whole run stays under 10 minutes on the 2-core reference machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${THREATGATE_BIN:-$ROOT/target/release/threatgate}"
PY="${THREATGATE_VENV:-$ROOT/.venv}/bin/python"
MEDALLION="${THREATGATE_VENV:-$ROOT/.venv}/bin/medallion"
N="${BENCH_OBJECTS:-1000000}"          # objects in the collection
CLIENTS="${BENCH_CLIENTS:-4}"          # concurrent readers for the throughput phase
SECONDS_READ="${BENCH_READ_SECONDS:-20}"
LOAD_READERS="${BENCH_LOAD_READERS:-200}"
LOAD_WRITERS="${BENCH_LOAD_WRITERS:-10}"
LOAD_SECONDS="${BENCH_LOAD_SECONDS:-60}"
PAGE_CACHE_MB="${BENCH_PAGE_CACHE_MB:-}"   # serve --page-cache-mb (empty: the server's default)
HERE="$ROOT/bench/taxii"

if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release -p threatgate --bin threatgate)
fi
for t in wrk nginx; do command -v $t >/dev/null || { echo "$t not found: apt-get install wrk nginx" >&2; exit 2; }; done

WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() { # data-dir out-file -> sets ADDR, SPID
  "$BIN" --data "$1" serve --listen 127.0.0.1:0 --workers 2 ${PAGE_CACHE_MB:+--page-cache-mb "$PAGE_CACHE_MB"} > "$2" 2>/dev/null &
  SPID=$!; PIDS+=($SPID)
  for _ in $(seq 1 100); do grep -q "listening on" "$2" 2>/dev/null && break; sleep 0.1; done
  ADDR="$(sed -n 's/^threatgate listening on //p' "$2")"
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wrk_summary() { # wrk output file -> "MB/s p50 p99 req/s non2xx"
  awk '
    /Transfer\/sec/ { v=$2; if (v ~ /GB/) { sub("GB","",v); v*=1024 } else if (v ~ /MB/) { sub("MB","",v) } else if (v ~ /KB/) { sub("KB","",v); v/=1024 }; mb=v }
    /^ +50%/ { p50=$2 } /^ +99%/ { p99=$2 } /Requests\/sec/ { rps=$2 } /Non-2xx/ { bad=$NF }
    /Socket errors/ { se=$0 }
    END { printf "%s %s %s %s %s\n", mb, p50, p99, rps, (bad==""?0:bad) }' "$1"
}

echo "== load $N objects"
DATA="$WORK/data"
TOKEN="$("$BIN" --data "$DATA" init | tail -1 | tr -d ' ')"
start_server "$DATA" "$WORK/serve.out"; MAIN_PID=$SPID; BASE="http://$ADDR"
GEN="$("$PY" "$HERE/load.py" generate --url "$BASE" --token "$TOKEN" --n "$N")"; echo "$GEN"

echo "== pre-render every page of 1,000 (threatgate answers, saved for nginx)"
PRE="$("$PY" "$HERE/load.py" prerender --url "$BASE" --token "$TOKEN" --dir "$WORK/www" --urls "$WORK/urls.txt" --files "$WORK/files.txt")"; echo "$PRE"
PAGE_BYTES="$(du -sb "$WORK/www" | cut -f1)"

# nginx workers run unprivileged: let them read the pages.
chmod 755 "$WORK"; chmod -R a+rX "$WORK/www"
NGINX_PORT="$(free_port)"
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { application/json json; }
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5

echo "== read throughput: $CLIENTS clients, ${SECONDS_READ}s each, pages of 1,000"
# Server CPU time per page: steadier than bytes/s on a shared machine (other work slows
# wrk and the server alike, but not what a page costs the server).
cpu_ticks() { awk '{print $14 + $15}' /proc/$MAIN_PID/stat; }
CPU0="$(cpu_ticks)"
BENCH_URLS="$WORK/urls.txt" BENCH_TOKEN="$TOKEN" wrk -t2 -c"$CLIENTS" -d"${SECONDS_READ}s" --latency -s "$HERE/pages.lua" "$BASE" > "$WORK/wrk-tg.txt"
CPU1="$(cpu_ticks)"
BENCH_URLS="$WORK/files.txt" BENCH_TOKEN="" wrk -t2 -c"$CLIENTS" -d"${SECONDS_READ}s" --latency -s "$HERE/pages.lua" "http://127.0.0.1:$NGINX_PORT" > "$WORK/wrk-nginx.txt"
read TG_MB TG_P50 TG_P99 TG_RPS TG_BAD < <(wrk_summary "$WORK/wrk-tg.txt")
TG_REQS="$(awk '/requests in/ {print $1}' "$WORK/wrk-tg.txt")"
CPU_PER_PAGE="$(awk -v t=$((CPU1 - CPU0)) -v hz="$(getconf CLK_TCK)" -v n="$TG_REQS" 'BEGIN { printf "%.0f", (n > 0 ? 1e6 * t / hz / n : 0) }')"
read NG_MB NG_P50 NG_P99 NG_RPS NG_BAD < <(wrk_summary "$WORK/wrk-nginx.txt")
cat "$WORK/wrk-tg.txt" "$WORK/wrk-nginx.txt"
RSS_HWM="$(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$MAIN_PID/status)"
RSS_NOW="$(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$MAIN_PID/status)"
# Of it: the process's own memory, and the file pages it maps (SQLite readers map the
# database: the OS's shared, reclaimable file cache).
RSS_SPLIT="$(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {printf "anonymous %.0f MiB, file-backed %.0f MiB", a/1024, f/1024}' /proc/$MAIN_PID/status)"
# The page cache after the read phase: what it holds compressed and raw, and its hit count
# since the server started (the pre-render walk's misses included).
CACHE="$(curl -s "$BASE/metrics" | awk '
  /^threatgate_taxii_page_cache_pages / { p=$2 } /^threatgate_taxii_page_cache_bytes / { b=$2 }
  /^threatgate_taxii_page_cache_body_bytes / { r=$2 } /^threatgate_taxii_page_cache_budget_bytes / { g=$2 }
  /^threatgate_taxii_page_cache_hits_total / { h=$2 } /^threatgate_taxii_page_cache_misses_total / { m=$2 }
  END { if (g == "") { print "no page cache metrics"; exit }
        printf "budget %.0f MiB, %d pages held, %.1f MiB compressed of %.1f MiB raw (%.1fx), %d hits, %d misses",
          g/1048576, p, b/1048576, r/1048576, (b > 0 ? r/b : 0), h, m }')"

echo "== mixed load: $LOAD_READERS readers and $LOAD_WRITERS writers for ${LOAD_SECONDS}s"
# Memory flat from start to end: the server's RSS every 5 s while the load runs.
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$MAIN_PID/status; }
( while kill -0 $MAIN_PID 2>/dev/null; do echo "$(rss_mib)"; sleep 5; done ) > "$WORK/rss.txt" &
RSS_SAMPLER=$!; PIDS+=($RSS_SAMPLER)
BENCH_URLS="$WORK/urls.txt" BENCH_TOKEN="$TOKEN" wrk -t2 -c"$LOAD_READERS" -d"${LOAD_SECONDS}s" --timeout 30s --latency -s "$HERE/pages.lua" "$BASE" > "$WORK/wrk-load.txt" &
WRK_PID=$!
WRITES="$("$PY" "$HERE/load.py" writers --url "$BASE" --token "$TOKEN" --threads "$LOAD_WRITERS" --seconds "$LOAD_SECONDS")"
wait $WRK_PID
read LD_MB LD_P50 LD_P99 LD_RPS LD_BAD < <(wrk_summary "$WORK/wrk-load.txt")
cat "$WORK/wrk-load.txt"; echo "$WRITES"
LD_SOCK="$(grep 'Socket errors' "$WORK/wrk-load.txt" || echo 'Socket errors: none')"
RSS_LOAD="$(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$MAIN_PID/status)"
kill $RSS_SAMPLER 2>/dev/null || true
RSS_SAMPLES="$(tr '\n' ' ' < "$WORK/rss.txt")"
RSS_START="$(head -1 "$WORK/rss.txt")"; RSS_END="$(rss_mib)"
RSS_MAX="$(sort -n "$WORK/rss.txt" | tail -1)"
echo "server RSS during the load (MiB, every 5 s): $RSS_SAMPLES; start $RSS_START, end $RSS_END, max $RSS_MAX"

echo "== medallion at 1,000 objects"
D2="$WORK/small"; T2="$("$BIN" --data "$D2" init | tail -1 | tr -d ' ')"
start_server "$D2" "$WORK/serve2.out"; B2="http://$ADDR"
"$PY" "$HERE/load.py" generate --url "$B2" --token "$T2" --n 1000 --tag small > /dev/null
MPORT="$(free_port)"
CID="$("$PY" "$HERE/load.py" medallion-data --url "$B2" --token "$T2" --out "$WORK/m-data.json" --config "$WORK/m-config.json" --port "$MPORT")"
"$MEDALLION" --host 127.0.0.1 --port "$MPORT" "$WORK/m-config.json" > /dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null -u bench:bench "http://127.0.0.1:$MPORT/taxii2/" && break; sleep 0.2; done
CMP="$("$PY" "$HERE/load.py" compare --url "$B2" --token "$T2" --medallion "http://127.0.0.1:$MPORT" --collection-id "$CID" --seconds 10 || echo "comparison failed")"

RATIO="$(awk -v a="$TG_MB" -v b="$NG_MB" 'BEGIN { printf "%.0f%%", 100*a/b }')"
cat <<REPORT

## Results ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))

Command: \`bench/taxii.sh\` (BENCH_OBJECTS=$N, pages of 1,000, $CLIENTS readers for ${SECONDS_READ}s, page cache ${PAGE_CACHE_MB:-default} MiB)

Load: $GEN
Pre-render: $PRE ($((PAGE_BYTES / 1048576)) MiB of pages)

| server | MB/s | requests/s (pages) | p50 | p99 | non-2xx |
|---|---|---|---|---|---|
| threatgate | $TG_MB | $TG_RPS | $TG_P50 | $TG_P99 | $TG_BAD |
| nginx (same pages, static files) | $NG_MB | $NG_RPS | $NG_P50 | $NG_P99 | $NG_BAD |

threatgate reaches **$RATIO** of nginx's bytes/s. Server memory: peak RSS $RSS_HWM after the read phase (now $RSS_NOW: $RSS_SPLIT).
Server CPU per page served (user + system): $CPU_PER_PAGE µs.
Page cache after the read phase: $CACHE.

Mixed load, $LOAD_READERS concurrent readers + $LOAD_WRITERS writers, ${LOAD_SECONDS}s:
readers $LD_RPS pages/s, $LD_MB MB/s, p50 $LD_P50, p99 $LD_P99, non-2xx $LD_BAD, $LD_SOCK;
writers: $WRITES; server peak RSS $RSS_LOAD.
Server RSS during the load, every 5 s (MiB): $RSS_SAMPLES (start $RSS_START, end $RSS_END, max $RSS_MAX).

medallion (memory backend) at 1,000 objects, pages of 100 read to the end for 10 s each: $CMP
REPORT
