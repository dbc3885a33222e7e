#!/usr/bin/env python3
"""Python side of the bundle-parse benchmark: time OASIS stix2.parse on a bundle file.

usage: .venv/bin/python bench/stix_parse.py FILE [REPEATS]
Prints one line: `python stix2.parse: <MB> MB in <s> s = <MB/s> MB/s wall, <s> s = <MB/s> MB/s CPU (...)`.
allow_custom=True because partner feeds carry custom properties (x_partner_score).
"""
import os
import sys
import time

import stix2


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    size = os.path.getsize(path)
    best = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        with open(path, encoding="utf-8") as f:
            bundle = stix2.parse(f.read(), allow_custom=True)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or cpu < best[1]:
            best = (dt, cpu)
    n = len(bundle.objects)
    wall, cpu = best
    print("python stix2.parse: %.1f MB in %.3f s = %.2f MB/s wall, %.3f s = %.2f MB/s CPU (%d objects)"
          % (size / 1e6, wall, size / 1e6 / wall, cpu, size / 1e6 / cpu, n))


if __name__ == "__main__":
    main()
