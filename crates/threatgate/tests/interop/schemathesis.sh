#!/usr/bin/env bash
# Check the running REST API against its own OpenAPI document with schemathesis, in a
# bounded run (a few examples per operation, hard time limit).
#
# usage: schemathesis.sh [THREATGATE_BIN]
#   THREATGATE_BIN  the threatgate binary (default: target/debug/threatgate)
#   THREATGATE_VENV virtualenv with schemathesis (default: <repo>/.venv, made by .ci/setup-python)
# Exits non-zero on any failed check.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
BIN="${1:-${THREATGATE_BIN:-$ROOT/target/debug/threatgate}}"
VENV="${THREATGATE_VENV:-$ROOT/.venv}"
# Bounds: examples per operation and the whole run's wall time (seconds).
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
RUN_LIMIT="${SCHEMATHESIS_TIME_LIMIT:-170}"

[ -x "$BIN" ] || { echo "threatgate binary not found at $BIN; build it first (cargo build -p threatgate)" >&2; exit 2; }
[ -x "$VENV/bin/schemathesis" ] || { echo "schemathesis not found in $VENV; run .ci/setup-python" >&2; exit 2; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

DATA="$WORK/data"
TOKEN="$("$BIN" --data "$DATA" init | tail -1 | tr -d ' ')"
"$BIN" --data "$DATA" org add vendor --kind partner >/dev/null
"$BIN" --data "$DATA" org add cert-fr --kind member --country FR >/dev/null
"$BIN" --data "$DATA" agreement add --org vendor --role both --signed-on 2024-01-01 \
  --valid-from 2024-01-01 --valid-until 2030-01-01 --max-tlp amber >/dev/null

# A high failure burst: schemathesis deliberately sends bad credentials (ignored_auth).
"$BIN" --data "$DATA" serve --listen 127.0.0.1:0 --auth-failure-burst 100000 > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
ADDR="$(sed -n 's/^threatgate listening on //p' "$WORK/serve.out")"
[ -n "$ADDR" ] || { echo "server did not start:"; cat "$WORK/serve.err"; exit 1; }
BASE="http://$ADDR"

set +e
cd "$WORK"  # schemathesis keeps its example database in the working directory
timeout "$RUN_LIMIT" "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
  --url "$BASE" \
  -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,negative_data_rejection \
  --phases examples,coverage,fuzzing \
  --max-examples "$MAX_EXAMPLES" \
  --request-timeout 10 \
  --seed 42 \
  --suppress-health-check all \
  --no-color 2>&1 | tee "$WORK/schemathesis.log" | tail -60
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ]; then echo "schemathesis exceeded ${RUN_LIMIT}s" >&2; exit 1; fi
exit "$rc"
