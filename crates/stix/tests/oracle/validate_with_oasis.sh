#!/usr/bin/env bash
# Validate STIX 2.1 files with the OASIS reference validator (stix2-validator), the
# oracle our own validator (stix::validate) and our exports are checked against.
#
# usage: crates/stix/tests/oracle/validate_with_oasis.sh [--json] FILE...
#
#   exit 0  every file is valid STIX 2.1 per stix2-validator (warnings allowed)
#   exit 1  at least one file is invalid (errors are printed)
#   exit 2  the oracle could not run (no venv, bad usage)
#
# --json prints one line per file: {"file":..., "valid":bool, "errors":[...], "warnings":[...]}
# (errors/warnings as "object-id: message" strings); without it, a human summary.
#
# The venv is <repo>/.venv (created by .ci/setup-python, which this runs if it is missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
py="$root/.venv/bin/python"
if ! "$py" -c 'import stix2validator' 2>/dev/null; then
  if [ -x "$root/.ci/setup-python" ]; then
    "$root/.ci/setup-python" >&2 || { echo "validate_with_oasis: .ci/setup-python failed" >&2; exit 2; }
  else
    echo "validate_with_oasis: no $py with stix2validator; run .ci/setup-python" >&2
    exit 2
  fi
fi
json=0
if [ "${1:-}" = "--json" ]; then json=1; shift; fi
if [ $# -eq 0 ]; then
  echo "usage: $0 [--json] FILE..." >&2
  exit 2
fi
exec "$py" - "$json" "$@" <<'PY'
import json
import sys

from stix2validator import ValidationOptions, validate_file

as_json = sys.argv[1] == "1"
files = sys.argv[2:]
# STIX 2.1 with the default checks (the same as `stix2_validator -v 2.1`).
options = ValidationOptions(version="2.1")
all_valid = True
for path in files:
    try:
        result = validate_file(path, options)
        errors, warnings = [], []
        for obj in result.object_results:
            errors += ["%s: %s" % (obj.object_id, e) for e in obj.errors]
            warnings += ["%s: %s" % (obj.object_id, w) for w in obj.warnings]
        if getattr(result, "fatal", None):
            errors.append("fatal: %s" % result.fatal)
        valid = bool(result.is_valid)
    except Exception as exc:  # unreadable JSON etc.: the oracle says invalid
        valid, errors, warnings = False, ["%s: %s" % (type(exc).__name__, exc)], []
    all_valid &= valid
    if as_json:
        print(json.dumps({"file": path, "valid": valid, "errors": errors, "warnings": warnings}))
    else:
        print("%s: %s" % (path, "valid" if valid else "INVALID"))
        for e in errors:
            print("  error: " + e)
sys.exit(0 if all_valid else 1)
PY
