"""Every projection's LUT build against the default geometry's, in the same run.

Run: ``python perf/bench_projections.py [--size 2048x1024] [--repeat 5]``. For each projection P:
P as output from an equirectangular input, and P as input to an equirectangular output (north
up), serial and with 2 worker threads; each median is a ratio to the default geometry's build
(transverse Mercator from equirectangular) measured in the same rounds. The targets: x0.5 of the
default's Mpx/s for closed forms, x0.2 for the 1-D iterations (robinson, equal-earth,
natural-earth inverses; mollweide, eckert4 forwards), x0.05 for the aitoff and winkel-tripel
inverses; and 2 workers speeding P up as much as they speed up the default.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import measure_interleaved  # noqa: E402

from polewarp import GeometrySpec  # noqa: E402
from polewarp.engine import projections  # noqa: E402
from polewarp.engine.backends import LutBuilder  # noqa: E402

ITERATIVE_1D = {"robinson", "equal-earth", "natural-earth"}
ITERATIVE_2D = {"winkel-tripel"}  # aitoff's inverse is a closed form here


def target(name: str, side: str) -> float:
    """The least ratio to the default build the issue asks of P on one side."""
    entry = projections.projection(name)
    if side == "output" and name in ITERATIVE_2D:
        return 0.05
    if (side == "output" and entry.iterative_inverse) or (side == "input" and entry.iterative_forward):
        return 0.2
    return 0.5


def builder(spec: GeometrySpec, backend: str, workers: int):
    """A started builder and the build it repeats (its kernels loaded, its threads running)."""
    started = LutBuilder(spec, backend, workers).start()
    return started, lambda: started.build()


def sides(name: str, size):
    """P as output from equirectangular, and P as input to an equirectangular output."""
    yield "output", GeometrySpec(size, size, to=name, source="equirectangular")
    yield "input", GeometrySpec(size, size, to="equirectangular", heading=0.0, source=name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2048x1024")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="projections to measure (default: all)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    pixels = size[0] * size[1]
    default = GeometrySpec(size)
    print("| P | side | serial ms | Mpx/s | x default | target | 2 threads: speed-up | default's speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    failures = []
    for name in args.only or projections.NAMES:
        for side, spec in sides(name, size):
            runs = {}
            started = []
            for label, s, backend, workers in (("default", default, "serial", 1), ("P", spec, "serial", 1),
                                               ("default2", default, "threads", 2), ("P2", spec, "threads", 2)):
                made, run = builder(s, backend, workers)
                started.append(made)
                runs[label] = run
            times = measure_interleaved(runs, repeat=args.repeat)
            for made in started:
                made.close()
            ratio = times["default"][0] / times["P"][0]
            speedup, default_speedup = times["P"][0] / times["P2"][0], times["default"][0] / times["default2"][0]
            goal = target(name, side)
            if ratio < goal:
                failures.append(f"{name} {side} x{ratio:.2f} < x{goal}")
            print(f"| {name} | {side} | {times['P'][0] * 1000:.1f} | {pixels / times['P'][0] / 1e6:.1f} | "
                  f"x{ratio:.2f} | x{goal} | x{speedup:.2f} | x{default_speedup:.2f} |", flush=True)
    print("\nbelow target: " + ("; ".join(failures) if failures else "none"))


if __name__ == "__main__":
    main()
