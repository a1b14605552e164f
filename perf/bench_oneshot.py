"""One-shot LUT builds (issue 17): each backend's single ``build_lut`` at four sizes, and ``auto``'s pick.

Run: ``python perf/bench_oneshot.py [--repeat 11] [--sizes 1024x512,2048x1024,...] [--workers 2]``.
"One shot" is what a ``convert`` pays: one ``build_lut`` call in a process whose kernels are
loaded (one warm-up build per backend first), no pool started before it, the pool's start and
what is left of its shutdown on the caller's path included. The pool's workers exit after
``build_lut`` returns (a daemon thread awaits them): that is awaited, untimed, before the next
line runs, so that no line pays for another's workers, and reported on its own. The backends
take turns in every round, and each size's fastest backend is the baseline of its lines;
``auto`` is timed like the others.
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polewarp import GeometrySpec, build_lut  # noqa: E402
from polewarp.engine.backends import choose_backend  # noqa: E402
from polewarp.engine.profiler import machine  # noqa: E402

BACKENDS = ("serial", "threads", "prange", "processes", "auto")
SIZES = "1024x512,2048x1024,4096x2048,8192x4096"  # 0.5, 2, 8 and 33 Mpx


def one_shot(spec, backend, workers) -> tuple[float, float]:
    """Seconds of one build_lut, and then of its pool's workers' exit (0 without a pool)."""
    start = time.perf_counter()
    build_lut(spec, backend, 1 if backend == "serial" else workers)
    built = time.perf_counter()
    for thread in threading.enumerate():
        if thread.name == "polewarp-reaper":
            thread.join()
    return built - start, time.perf_counter() - built


def bench_size(size, workers, repeat):
    spec = GeometrySpec((2048, 1024), size)
    for backend in BACKENDS:  # warm-up
        one_shot(spec, backend, workers)
    times = {b: [] for b in BACKENDS}
    exits = []
    for _ in range(repeat):
        for backend in BACKENDS:
            seconds, exit_s = one_shot(spec, backend, workers)
            times[backend].append(seconds)
            if backend == "processes":
                exits.append(exit_s)
    medians = {b: statistics.median(spent) for b, spent in times.items()}
    fastest = min(median for name, median in medians.items() if name != "auto")
    cells = [f"{medians[b] * 1000:.1f} (x{medians[b] / fastest:.2f})" for b in BACKENDS]
    print(f"| {size[0]}x{size[1]} | {size[0] * size[1] / 1e6:.1f} | " + " | ".join(cells)
          + f" | {choose_backend(spec, workers)} | {statistics.median(exits) * 1000:.1f} |", flush=True)


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
    print("| output | Mpx | " + " | ".join(BACKENDS) + " | auto picks | the pool's exit, after |")
    print("|---|---|" + "---|" * (len(BACKENDS) + 2))
    for text in args.sizes.split(","):
        width, height = map(int, text.split("x"))
        bench_size((width, height), args.workers, args.repeat)


if __name__ == "__main__":
    main()
