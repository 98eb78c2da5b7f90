#!/usr/bin/env python3
"""Alternates tinfer-bench-decode between two builds of the library and keeps each one's best step
time per position: on a machine whose memory bandwidth drifts from minute to minute (shared
hosts), only alternated runs compare two builds fairly.

    python3 benchmarks/ab_decode.py --base DIR [--new DIR] [--rounds N] -- BENCH_ARGS...

DIR holds a libtinfer.so.0 (tinfer-bench-decode finds it through LD_LIBRARY_PATH ahead of its
RUNPATH); --new defaults to build/lib. BENCH_ARGS go to build/examples/tinfer-bench-decode, e.g.
`--threads 2 --positions 1,128 --repeats 20 --prefill-len 1`. Prints, per position, both best
medians and their ratio."""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\s+(\d+) \|\s+[\d.]+ \| ([\d.]+)", re.M)


def run(lib_dir: str, bench_args: list) -> dict:
    env = dict(os.environ, LD_LIBRARY_PATH=lib_dir)
    out = subprocess.run([str(ROOT / "build" / "examples" / "tinfer-bench-decode"), *bench_args],
                         env=env, capture_output=True, text=True, check=True).stdout
    return {int(m.group(1)): float(m.group(2)) for m in ROW.finditer(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="directory with the base libtinfer.so.0")
    parser.add_argument("--new", default=str(ROOT / "build" / "lib"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    best = {"base": {}, "new": {}}
    for _ in range(args.rounds):
        for name, lib in (("base", args.base), ("new", args.new)):
            for pos, ms in run(lib, bench_args).items():
                best[name][pos] = min(best[name].get(pos, float("inf")), ms)
    for pos in sorted(best["base"]):
        b, n = best["base"][pos], best["new"].get(pos, float("nan"))
        print(f"position {pos}: base {b:.3f} ms, new {n:.3f} ms, base / new {b / n:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
