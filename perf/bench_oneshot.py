"""One-shot LUT builds (issue 17): each backend's single ``build_lut`` at four sizes, and ``auto``'s pick.

Run: ``python perf/bench_oneshot.py [--repeat 11] [--sizes 1024x512,2048x1024,...] [--workers 2]``.
"One shot" is what a ``convert`` pays: one ``build_lut`` call in a process whose kernels are
loaded (one warm-up build per backend first), no pool started before it, the pool's start and
shutdown included. The backends take turns in every round (``measure_interleaved``), and each
size's fastest backend is the baseline of its lines; ``auto`` is timed like the others.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import measure_interleaved  # noqa: E402

from polewarp import GeometrySpec, build_lut  # noqa: E402
from polewarp.engine.backends import choose_backend  # noqa: E402
from polewarp.engine.profiler import machine  # noqa: E402

BACKENDS = ("serial", "threads", "prange", "processes", "auto")
SIZES = "1024x512,2048x1024,4096x2048,8192x4096"  # 0.5, 2, 8 and 33 Mpx


def one_shot(spec, backend, workers):
    def run():
        build_lut(spec, backend, 1 if backend == "serial" else workers)

    return run


def bench_size(size, workers, repeat):
    spec = GeometrySpec((2048, 1024), size)
    times = measure_interleaved({b: one_shot(spec, b, workers) for b in BACKENDS}, repeat)
    fastest = min(median for name, (median, _, _) in times.items() if name != "auto")
    cells = [f"{times[b][0] * 1000:.1f} (x{times[b][0] / fastest:.2f})" for b in BACKENDS]
    pick = choose_backend(spec, workers)
    print(f"| {size[0]}x{size[1]} | {size[0] * size[1] / 1e6:.1f} | " + " | ".join(cells) + f" | {pick} |",
          flush=True)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", default=SIZES)
    args = parser.parse_args()
    info = machine()
    print(f"CPU: {info['cpu']}, {info['logical_cores']} logical cores, {'/'.join(info['simd'])}; "
          f"numba {info['numba']}; workers {args.workers}, "
          f"medians of {args.repeat} interleaved rounds, ms (x the fastest backend at that size)\n")
    print("| output | Mpx | " + " | ".join(BACKENDS) + " | auto picks |")
    print("|---|---|" + "---|" * (len(BACKENDS) + 1))
    for text in args.sizes.split(","):
        width, height = map(int, text.split("x"))
        bench_size((width, height), args.workers, args.repeat)


if __name__ == "__main__":
    main()
