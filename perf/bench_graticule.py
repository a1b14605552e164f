"""A LUT build with a graticule against the same build without, in the same run.

Run: ``python perf/bench_graticule.py [--size 2048x1024] [--repeat 7] [--step 10]``. For the
default geometry and a few others, ``build_lut`` with ``--graticule STEP`` (and, in a second row,
``--graticule-rotated STEP`` too) against ``build_lut`` without, serial and with 2 threads,
interleaved round by round. The targets: x1.3 for the default geometry, x2.2 for the others.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import measure_interleaved  # noqa: E402

from polewarp import GeometrySpec, build_lut  # noqa: E402

GEOMETRIES = {
    "default (transverse mercator)": {},
    "equirectangular, north up": dict(to="equirectangular", heading=0.0),
    "orthographic at 60N": dict(to="orthographic", center=(60.0, 0.0), heading=0.0),
    "mollweide": dict(to="mollweide", heading=0.0),
    "stereographic": dict(to="stereographic", center=(30.0, 40.0), heading=20.0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2048x1024")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--step", type=float, default=10.0)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    print("| geometry | graticule | backend | without ms | with ms | ratio | target |")
    print("|---|---|---|---|---|---|---|")
    failures = []
    for name, fields in GEOMETRIES.items():
        plain = GeometrySpec(size, size, **fields)
        for label, extra in (("geographic", dict(graticule=args.step)),
                             ("both", dict(graticule=args.step, graticule_rotated=args.step))):
            drawn = GeometrySpec(size, size, **fields, **extra)
            for backend, workers in (("serial", 1), ("threads", 2)):
                times = measure_interleaved({
                    "without": lambda: build_lut(plain, backend, workers),
                    "with": lambda: build_lut(drawn, backend, workers),
                }, repeat=args.repeat)
                ratio = times["with"][0] / times["without"][0]
                goal = 1.3 if not fields else 2.2
                if ratio > goal:
                    failures.append(f"{name} {label} {backend} x{ratio:.2f} > x{goal}")
                print(f"| {name} | {label} | {backend} | {times['without'][0] * 1000:.1f} | "
                      f"{times['with'][0] * 1000:.1f} | x{ratio:.2f} | x{goal} |", flush=True)
    print("\nabove target: " + ("; ".join(failures) if failures else "none"))


if __name__ == "__main__":
    main()
