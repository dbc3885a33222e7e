#!/usr/bin/env bash
# Ingest benchmark (bounded: well under 10 minutes on the 2-core dev machine).
#
#   bench/ingest.sh [COUNT]        default COUNT=1000000
#
# 1. builds the release `gen_bundle` example (generator + ingest driver; `threatgate ingest`
#    will replace the driver once the CLI command exists);
# 2. generates a COUNT-indicator STIX 2.1 bundle (IPs, domains, URLs, SHA-256 hashes from
#    3 sources, 30% overlap);
# 3. ingests it into a fresh SQLite data dir, measuring wall time and peak RSS with
#    /usr/bin/time -v;
# 4. times Python's stix2.parse (parse only, .venv from .ci/setup-python) on a 100,000-
#    indicator bundle and times our ingest of that same file, and reports the ratio
#    (stix2.parse on the full bundle would need several GB and many minutes: set
#    BENCH_PYTHON_FULL=1 to run it anyway, with a 9-minute timeout);
# 5. times ingest of all of ../shared/data (trails, URLhaus, MISP, feed, STIX, hash lists).
# Results go to stdout; bench/INGEST_RESULTS.md records a run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
SMALL=100000
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/h-ingest}
command -v /usr/bin/time >/dev/null || { sudo apt-get install -y time >/dev/null || apt-get install -y time >/dev/null; }
# BENCH_PROFILE=dev reuses the dev build's optimised dependencies (opt-level 1 for the
# workspace crates) when there is no time for a release build; results then say so.
PROFILE=${BENCH_PROFILE:-release}
if [ "$PROFILE" = dev ]; then
  cargo build -q -p threatgate --example gen_bundle
  GEN=$CARGO_TARGET_DIR/debug/examples/gen_bundle
else
  cargo build --release -q -p threatgate --example gen_bundle
  GEN=$CARGO_TARGET_DIR/release/examples/gen_bundle
fi
echo "== profile: $PROFILE"
# The writer logs where its time went (waiting for the parser, writing, commit).
export RUST_LOG=${RUST_LOG:-threatgate::ingest=debug}
TMP=$(mktemp -d /tmp/tg-ingest-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -v "$@" 2>"$TMP/time.txt" >/dev/null || { cat "$TMP/time.txt"; return 1; }
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$TMP/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$TMP/time.txt" | awk '{print $NF}')
  local user sys
  user=$(grep 'User time' "$TMP/time.txt" | awk '{print $NF}')
  sys=$(grep 'System time' "$TMP/time.txt" | awk '{print $NF}')
  grep -E '^(ingest took|[0-9]+ file)|writer timings' "$TMP/time.txt" | sed -E 's/^.*(ingest writer timings)/\1/; s/^/    /' || true
  printf '%-46s wall %s  CPU %ss user + %ss sys  peak RSS %d MB\n' "$label" "$wall" "$user" "$sys" $((rss / 1024))
}

echo "== generating bundles"
"$GEN" generate --count "$COUNT" --out "$TMP/big.json"
"$GEN" generate --count "$SMALL" --out "$TMP/small.json"
ls -l "$TMP/big.json" "$TMP/small.json" | awk '{printf "    %s %d MB\n", $NF, $5/1e6}'

echo "== ingest, $COUNT indicators, fresh SQLite store"
measure "ingest $COUNT indicators" "$GEN" ingest --data "$TMP/data-big" "$TMP/big.json"

echo "== $SMALL indicators: our ingest (parse + validate + store) vs Python stix2.parse (parse only)"
measure "ingest $SMALL indicators" "$GEN" ingest --data "$TMP/data-small" "$TMP/small.json"
ours=$(grep 'Elapsed (wall clock)' "$TMP/time.txt" | awk '{print $NF}')
[ -x .venv/bin/python ] || .ci/setup-python
measure "python stix2.parse $SMALL indicators" .venv/bin/python bench/stix_parse.py "$TMP/small.json"
theirs=$(grep 'Elapsed (wall clock)' "$TMP/time.txt" | awk '{print $NF}')
python3 - "$ours" "$theirs" <<'EOF'
import sys
def secs(t):
    s = 0.0
    for p in t.split(':'):
        s = s * 60 + float(p)
    return s
o, t = secs(sys.argv[1]), secs(sys.argv[2])
print("    ratio: stix2.parse alone takes %.1fx the wall time of our full ingest" % (t / o))
EOF
if [ "${BENCH_PYTHON_FULL:-0}" = 1 ]; then
  measure "python stix2.parse $COUNT indicators" timeout 540 .venv/bin/python bench/stix_parse.py "$TMP/big.json" || echo "    (timed out or failed)"
fi

echo "== ingest all of ../shared/data"
D=../shared/data
measure "ingest shared data" "$GEN" ingest --data "$TMP/data-shared" \
  "$D/maltrail/trails" "$D/urlhaus" "$D/eset-malware-ioc" "$D/misp-circl-osint-events/feed" "$D/oasis-stix-examples"
