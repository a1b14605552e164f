"""The gathers of two checkouts of polewarp, timed in alternate subprocesses of the same run.

Two copies of polewarp do not import side by side in one process, so each round runs every case
in a fresh process per checkout (base first in even rounds, candidate first in odd ones, so that
drift reaches both alike); a process warms the case up (compiling it) and reports the median of
its calls. The table gives the median over rounds and the candidate's ratio to the base.

Run: ``python perf/compare.py /path/to/base/checkout [--rounds 5] [--calls 7] [-k PATTERN]``.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (2048, 1024)
# Each case: (resample, dtype, channels, alpha, LUT as from outside: checked while gathering).
CASES = [
    *(("nearest", "uint8", c, False, False) for c in (1, 3, 4, 5, 6)),
    ("nearest", "uint16", 3, False, False),
    ("nearest", "uint8", 3, False, True),
    *(("bilinear", "uint8", c, c == 4, False) for c in (1, 3, 4)),
    ("bilinear", "float32", 3, False, False),
    *(("average", "uint8", c, c == 4, False) for c in (1, 3, 4)),
    ("average", "float32", 3, False, False),
]

CHILD = """
import json, statistics, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from polewarp import GeometrySpec, Lut, apply_lut, build_lut
resample, dtype, channels, alpha, foreign, calls = json.loads(sys.argv[2])
spec = GeometrySpec(tuple(json.loads(sys.argv[3])), resample=resample)
lut = build_lut(spec)
if foreign:  # as read from a file or the cache
    lut = Lut(np.array(lut.array), spec)
pixels = np.random.default_rng(0).integers(0, 256, (spec.input_size[1], spec.input_size[0], channels))
image = pixels.astype(dtype)
if alpha:
    image[..., -1] = np.where(image[..., -1] > 100, 255, 0)
apply_lut(lut, image, gather="numba", alpha=alpha)
spent = []
for _ in range(calls):
    start = time.perf_counter()
    apply_lut(lut, image, gather="numba", alpha=alpha)
    spent.append(time.perf_counter() - start)
print(statistics.median(spent))
"""


def label(case) -> str:
    """A case's name in the table."""
    resample, dtype, channels, alpha, foreign = case
    return f"{resample} {channels} x {dtype}" + (" alpha" if alpha else "") + (" (checked)" if foreign else "")


def run_case(root: Path, case, calls: int) -> float:
    """Median seconds of one call of ``case`` in a fresh process importing polewarp from ``root``."""
    args = [sys.executable, "-c", CHILD, str(root), json.dumps([*case, calls]), json.dumps(SIZE)]
    return float(subprocess.run(args, check=True, capture_output=True, text=True, cwd=root).stdout)


def compare(base: Path, candidate: Path, cases, rounds: int, calls: int) -> dict:
    """{case: (base median, candidate median)} over ``rounds`` alternating rounds."""
    times = {case: ([], []) for case in cases}
    for round_ in range(rounds):
        order = ((0, base), (1, candidate)) if round_ % 2 == 0 else ((1, candidate), (0, base))
        for case in cases:
            for side, root in order:
                times[case][side].append(run_case(root, case, calls))
    return {case: tuple(statistics.median(t) for t in pair) for case, pair in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", type=Path, help="the checkout to compare against (e.g. a worktree of main)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=7, help="timed calls per process")
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    args = parser.parse_args()
    cases = [case for case in CASES if args.k in label(case)]
    results = compare(args.base.resolve(), HERE.parent, cases, args.rounds, args.calls)
    pixels = SIZE[0] * SIZE[1]
    print(f"| gather {SIZE[0]}x{SIZE[1]}, numba | base ms | this ms | Mpx/s | base / this |")
    print("|---|---:|---:|---:|---:|")
    for case, (old, new) in results.items():
        print(f"| {label(case)} | {old * 1000:.2f} | {new * 1000:.2f} | {pixels / new / 1e6:.0f} | {old / new:.3f} |")


if __name__ == "__main__":
    main()
