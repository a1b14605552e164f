"""A small benchmark harness: warm up, repeat, report the median and the spread."""

import statistics
import subprocess
import sys
import time


def measure(function, repeat=5, warmup=1):
    """(median, min, max) seconds of ``function()`` after ``warmup`` untimed calls."""
    return measure_interleaved({None: function}, repeat, warmup)[None]


def measure_interleaved(functions, repeat=9, warmup=1):
    """The same for each of a dict of functions, called in turn in every round, so that the
    machine's drift reaches them all alike: {name: (median, min, max)}."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    times = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(spent), min(spent), max(spent)) for name, spent in times.items()}


def measure_command(args, repeat=5, warmup=1, **kwargs):
    """The same for a whole subprocess (wall time, interpreter start included)."""

    def run():
        subprocess.run(args, check=True, capture_output=True, **kwargs)

    return measure(run, repeat, warmup)


def wall_time(args, env=None) -> float:
    """Seconds one subprocess takes (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def python(code: str) -> list[str]:
    """A command running ``code`` in this interpreter."""
    return [sys.executable, "-c", code]


def row(name, seconds, pixels=None, baseline=None):
    """One printed line: median ms, spread, Mpx/s and the ratio to a baseline."""
    median, low, high = seconds
    text = f"{name:<52} {median * 1000:9.1f} ms  [{low * 1000:.1f}-{high * 1000:.1f}]"
    if pixels:
        text += f"  {pixels / median / 1e6:8.1f} Mpx/s"
    if baseline:
        text += f"  x{baseline[0] / median:6.2f}"
    print(text, flush=True)
    return median
