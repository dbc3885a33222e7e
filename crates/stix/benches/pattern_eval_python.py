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

    # Indicator workload, mirroring indicator_events() in pattern_eval.rs.
    import re
    with open(os.path.join(HERE, "..", "tests", "patterns", "validator_corpus.json"), encoding="utf-8") as f:
        vc = json.load(f)["patterns"]
    shared = [p["pattern"] for p in vc if p["source"] == "shared-data"]
    indicators = [Pattern(p["pattern"], "2.1") for p in vc if p["source"] == "shared-data" and p["valid"]]
    ips, domains = set(), set()
    for p in shared:
        for v in re.findall(r"'([^']+)'", p):
            if re.fullmatch(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", v) and all(int(x) < 256 for x in v.split(".")):
                ips.add(v)
            elif "/" not in v and " " not in v and "." in v:
                domains.add(v)
    ips, domains = sorted(ips), sorted(domains)
    events = []
    for i in range(1000):
        if i % 10 == 0 and ips and domains:
            ip, dom = ips[(i // 10) % len(ips)], domains[(i // 10) % len(domains)]
        else:
            ip, dom = "10.0.%d.%d" % (i // 256, i % 256), "host%d.example" % i
        events.append(oracle_lib.to_oracle_input([{
            "type": "observed-data", "id": "observed-data--%d" % i,
            "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z",
            "number_observed": 1,
            "objects": {"0": {"type": "ipv4-addr", "value": ip},
                        "1": {"type": "domain-name", "value": dom, "resolves_to_refs": ["0"]}}}]))
    start = time.perf_counter()
    py_hits = 0
    for e in events:
        for m in indicators:
            if m.match(e):
                py_hits += 1
    py_ind = time.perf_counter() - start

    out = subprocess.run(["cargo", "bench", "-q", "-p", "stix", "--bench", "pattern_eval", "--", "--json"],
                         cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout.decode()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    rust = lines[0]
    rind = lines[1]
    print("cases: python %d, rust %d" % (len(prepared), rust["cases"]))
    print("evaluation per pass: python %.1f ms, rust %.3f ms -> rust is %.0fx faster"
          % (py_pass * 1e3, rust["eval_seconds_per_pass"] * 1e3, py_pass / rust["eval_seconds_per_pass"]))
    print("validation of %d patterns: python %.1f ms, rust %.3f ms -> rust is %.0fx faster"
          % (len(patterns), py_parse * 1e3, rust["parse_seconds_per_pass"] * 1e3,
             py_parse / rust["parse_seconds_per_pass"]))
    print("indicator workload (%d patterns x %d events; hits python %d, rust %d): python %.1f ms, rust %.3f ms"
          " -> rust is %.0fx faster"
          % (len(indicators), len(events), py_hits, rind["hits"], py_ind * 1e3,
             rind["indicator_seconds_per_pass"] * 1e3, py_ind / rind["indicator_seconds_per_pass"]))
    print("  rust reading each event once for all patterns (Observations): %.3f ms -> %.0fx faster"
          % (rind["prepared_seconds_per_pass"] * 1e3, py_ind / rind["prepared_seconds_per_pass"]))


if __name__ == "__main__":
    main()
