#!/usr/bin/env python3
"""Runs the same evaluation workload as benches/pattern_eval.rs on stix2-matcher, runs the
Rust bench, and prints both throughputs and their ratio.

    .venv/bin/python crates/stix/benches/pattern_eval_python.py

Same cases (match corpus, oracle answer not "error"), same preparation (pattern compiled
once per case, outside the timed loop), same timed unit (one match call per case).
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../.."))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
import oracle_lib  # noqa: E402
from stix2matcher.matcher import Pattern  # noqa: E402
from stix2patterns.validator import run_validator  # noqa: E402


def main():
    with open(os.path.join(HERE, "..", "tests", "oracle", "match_corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    prepared = []
    for c in corpus["cases"]:
        if c["expected"] == "error":
            continue
        try:
            prepared.append((Pattern(c["pattern"], "2.1"),
                             oracle_lib.to_oracle_input(corpus["fixtures"][c["fixture"]])))
        except Exception:
            continue

    def one_pass():
        for p, obs in prepared:
            try:
                p.match(obs)
            except Exception:
                pass

    one_pass()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < 10 or len(samples) < 5:
        t = time.perf_counter()
        one_pass()
        samples.append(time.perf_counter() - t)
    py_pass = sorted(samples)[len(samples) // 2]  # median, as the Rust side

    with open(os.path.join(HERE, "..", "tests", "patterns", "validator_corpus.json"), encoding="utf-8") as f:
        patterns = [p["pattern"] for p in json.load(f)["patterns"]]
    start = time.perf_counter()
    for p in patterns:
        try:
            run_validator(p, "2.1")
        except Exception:
            pass
    py_parse = time.perf_counter() - start

    out = subprocess.run(["cargo", "bench", "-q", "-p", "stix", "--bench", "pattern_eval", "--", "--json"],
                         cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout.decode()
    rust = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    print("cases: python %d, rust %d" % (len(prepared), rust["cases"]))
    print("evaluation per pass: python %.1f ms, rust %.3f ms -> rust is %.0fx faster"
          % (py_pass * 1e3, rust["eval_seconds_per_pass"] * 1e3, py_pass / rust["eval_seconds_per_pass"]))
    print("validation of %d patterns: python %.1f ms, rust %.3f ms -> rust is %.0fx faster"
          % (len(patterns), py_parse * 1e3, rust["parse_seconds_per_pass"] * 1e3,
             py_parse / rust["parse_seconds_per_pass"]))


if __name__ == "__main__":
    main()
