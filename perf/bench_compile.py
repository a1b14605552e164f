"""First runs: the seconds a pair's fill takes to compile with an empty numba cache.

Run: ``python perf/bench_compile.py [OUTPUT:INPUT ...]`` (default: a few pairs of every kind).
Each pair runs in a fresh process with its own empty ``NUMBA_CACHE_DIR``; the process first
compiles a tiny kernel, so that numba's own start-up stays out of the figure, then times the
pair's fill and its prange loop. A second fresh process first builds (output, equirectangular)
and (equirectangular, input), which compiles the pair's two stages, then times the pair's fill:
what a new pair costs once its projections have been used in other pairs.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("orthographic:orthographic", "mollweide:mollweide", "winkel-tripel:orthographic",
           "mercator:equal-earth", "robinson:equirectangular")
PROBE = """
import sys, time
import numpy as np
from polewarp import GeometrySpec
from polewarp.engine import kernels
from polewarp.engine.lut import RowFill
kernels._row_terms(3, True, 1.0, np.empty((3, 3)))
lut = np.empty((0, 64, 2), np.uint16)
if sys.argv[3] == "stages first":
    for pair in ((sys.argv[1], "equirectangular"), ("equirectangular", sys.argv[2])):
        RowFill.for_spec(GeometrySpec((64, 32), (64, 32), to=pair[0], source=pair[1]))(lut, 0, 0)
fill = RowFill.for_spec(GeometrySpec((64, 32), (64, 32), to=sys.argv[1], source=sys.argv[2]))
start = time.perf_counter(); fill(lut, 0, 0); middle = time.perf_counter()
fill.fill_blocks(lut, np.zeros(0, np.int64), np.zeros(0, np.int64))
print(f"{middle - start:.2f} {time.perf_counter() - middle:.2f}")
"""


def main():
    print("| output | input | fill, s | prange loop, s | fill, its stages compiled before, s |\n"
          "|---|---|---|---|---|")
    for pair in sys.argv[1:] or DEFAULT:
        output, source = pair.split(":")
        fill, blocks = _probe(output, source, "cold")
        staged, _ = _probe(output, source, "stages first")
        print(f"| {output} | {source} | {fill} | {blocks} | {staged} |", flush=True)


def _probe(output: str, source: str, warm_up: str) -> list[str]:
    """The probe's two figures, in a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-c", PROBE, output, source, warm_up], env=env, check=True,
                              capture_output=True, text=True)
    return done.stdout.split()


if __name__ == "__main__":
    main()
