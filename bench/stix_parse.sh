#!/usr/bin/env bash
# Bundle parsing: Rust (stix::BundleReader) vs Python (OASIS stix2.parse), as MB/s and a
# ratio, on the same generated bundle; plus the 1,000,000-object ingest run (time, RSS).
#
# usage: bench/stix_parse.sh [SMALL_N] [LARGE_N]     (defaults 20000 and 1000000)
# env:   BENCH_DIR (default /tmp/stix-bench) holds the generated files; they are reused.
#
# Figures are recorded in crates/stix/BENCH_NOTES_OBJECTS.md. Both wall and CPU time are
# printed: on a shared machine, CPU time is the fair comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-20000}
large=${2:-1000000}
dir=${BENCH_DIR:-/tmp/stix-bench}
mkdir -p "$dir"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/h-objects}
[ -x .venv/bin/python ] || .ci/setup-python
for n in "$small" "$large"; do
  f="$dir/bundle-$n.json"
  [ -s "$f" ] || { echo "generating $f"; python3 bench/stix_parse_gen.py "$n" "$f"; }
done
cargo bench -q -p stix --bench bundle_parse --no-run
bin=$(cargo bench -q -p stix --bench bundle_parse --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="bundle_parse": print(m["executable"])')
echo "== $small objects ($(du -h "$dir/bundle-$small.json" | cut -f1))"
rust_line=$("$bin" "$dir/bundle-$small.json" stream); echo "$rust_line"
"$bin" "$dir/bundle-$small.json" validate
py_line=$(.venv/bin/python bench/stix_parse.py "$dir/bundle-$small.json"); echo "$py_line"
python3 - "$rust_line" "$py_line" <<'PY'
import re, sys
def rates(line):
    wall, cpu = re.findall(r"= ([0-9.]+) MB/s", line)
    return float(wall), float(cpu)
r, p = rates(sys.argv[1]), rates(sys.argv[2])
print("ratio rust/python: %.0fx (CPU), %.0fx (wall)" % (r[1] / p[1], r[0] / p[0]))
PY
echo "== $large objects ($(du -h "$dir/bundle-$large.json" | cut -f1)), one process per mode"
"$bin" "$dir/bundle-$large.json" stream
"$bin" "$dir/bundle-$large.json" validate
"$bin" "$dir/bundle-$large.json" whole
