#!/usr/bin/env python3
"""Re-runs the live OASIS oracles on the committed corpora and compares with our answers.

    .venv/bin/python crates/stix/tests/oracle/check_against_python.py [--random N]

Our answers come from `cargo run -p stix --example pattern_oracle` (CARGO_TARGET_DIR is
honoured). Reports three things:
1. drift: cases where the live Python tools now answer differently from the answers
   recorded in the corpus (a new stix2-patterns / stix2-matcher release);
2. disagreements between us and the live tools, minus the deliberate ones listed in
   known_differences.json;
3. with --random N: N extra random mutations of corpus patterns, validated by both.
Exits 1 if there is any unexpected disagreement. The last line reads
"N passed, M failed" for CI log parsers.
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))
sys.path.insert(0, HERE)
import oracle_lib  # noqa: E402
from build_corpus import mutations  # noqa: E402


def ours(request):
    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "stix", "--example", "pattern_oracle"],
        cwd=ROOT, input=json.dumps(request).encode(), stdout=subprocess.PIPE, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", type=int, default=0, help="extra random mutated patterns to validate")
    args = ap.parse_args()

    with open(os.path.join(HERE, "..", "patterns", "validator_corpus.json"), encoding="utf-8") as f:
        vcorpus = json.load(f)["patterns"]
    with open(os.path.join(HERE, "match_corpus.json"), encoding="utf-8") as f:
        mcorpus = json.load(f)
    with open(os.path.join(HERE, "known_differences.json"), encoding="utf-8") as f:
        known = json.load(f)
    known_v = {d["case"] for d in known["validator"]}
    known_m = {d["case"] for d in known["match"]}

    patterns = [c["pattern"] for c in vcorpus]
    extra = []
    if args.random:
        extra = [p for p in mutations(patterns, random.Random(), args.random) if p not in set(patterns)]
    fixtures = mcorpus["fixtures"]
    cases = mcorpus["cases"]
    request = {"validate": patterns + extra,
               "match": [{"pattern": c["pattern"], "observations": fixtures[c["fixture"]]} for c in cases]}
    answers = ours(request)

    failed = passed = 0
    drift = 0
    for i, c in enumerate(vcorpus):
        live = oracle_lib.validate(c["pattern"])
        if live != c["valid"]:
            drift += 1
            print("DRIFT validator: %r recorded %s, live %s" % (c["pattern"], c["valid"], live))
        if answers["validate"][i] != live and c["pattern"] not in known_v:
            failed += 1
            print("DISAGREE validator: %r oracle %s, ours %s" % (c["pattern"], live, answers["validate"][i]))
        else:
            passed += 1
    for j, p in enumerate(extra):
        live = oracle_lib.validate(p)
        if answers["validate"][len(vcorpus) + j] != live:
            failed += 1
            print("DISAGREE validator (random): %r oracle %s, ours %s"
                  % (p, live, answers["validate"][len(vcorpus) + j]))
        else:
            passed += 1
    for i, c in enumerate(cases):
        live = oracle_lib.match(c["pattern"], fixtures[c["fixture"]])
        key = "%s %s" % (c["fixture"], c["pattern"])
        if live != c["expected"]:
            drift += 1
            print("DRIFT matcher: %s recorded %s, live %s" % (key, c["expected"], live))
        if answers["match"][i] != live and key not in known_m:
            failed += 1
            print("DISAGREE matcher: %s oracle %s, ours %s" % (key, live, answers["match"][i]))
        else:
            passed += 1
    print("validator: %d patterns (+%d random); matcher: %d cases; %d known differences; %d drifted"
          % (len(vcorpus), len(extra), len(cases), len(known_v) + len(known_m), drift))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
