"""The scaling profile: LUT build time over sizes x backends x workers x rows per task.

Numpy in, records out, progress through a callback: the CLI prints tables, JSON, CSV or a plot.
One-off costs (loading kernels, starting a pool) are timed apart from the steady state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from .backends import LutBuilder, auto_rows_per_task
from .choices import BACKENDS
from .gather import apply_lut
from .geometry import Geometry
from .lut import Lut


@dataclasses.dataclass
class Record:
    """One measured combination (a --json / --csv record)."""

    size: str
    backend: str
    workers: int
    rows_per_task: str  # a number, or "auto"
    rows_resolved: int
    median_s: float
    min_s: float
    max_s: float
    mpx_per_s: float
    speedup: float | None = None  # over one worker of the same backend and rows per task
    efficiency: float | None = None


@dataclasses.dataclass
class OneOff:
    """The start-up cost of one backend and worker count (kernel load, pool start)."""

    size: str
    backend: str
    workers: int
    seconds: float


@dataclasses.dataclass
class GatherRecord:
    """The gather of an RGB map through the LUT, for scale."""

    size: str
    gather: str
    median_s: float
    mpx_per_s: float


def machine() -> dict:
    """CPU model, physical and logical cores, SIMD flags and library versions."""
    import numba

    model, cores, flags = platform.processor() or "unknown", set(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
        for block in text.split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
            fields = {k.strip(): v.strip() for k, v in fields.items()}
            if "model name" in fields:
                model = fields["model name"]
                cores.add((fields.get("physical id"), fields.get("core id")))
                flags = fields.get("flags", "").split()
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon")
            if f in flags]
    return {
        "cpu": model,
        "physical_cores": len(cores) or os.cpu_count(),
        "logical_cores": os.cpu_count(),
        "simd": simd,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def profile(sizes, workers_list, rows_list, backends, repeat: int = 5, geometry: Geometry | None = None,
            on_one_off=None, on_step=None):
    """Measure every combination; yields Records, a size and backend at a time (so Ctrl-C keeps
    what is done).

    ``rows_list`` holds numbers or "auto". The repeats go round every worker count and rows per
    task in turn, so that a noisy moment on a shared machine spreads over all settings instead
    of spoiling one. ``on_one_off(OneOff)`` reports start-up costs, ``on_step()`` is called once
    per timed build, for a progress bar.
    """
    geometry = geometry or Geometry()
    for size in sizes:
        spec = geometry.spec(size)
        label = f"{size[0]}x{size[1]}"
        for backend in backends:
            with contextlib.ExitStack() as stack:
                builders = {}
                for workers in workers_list:
                    builder = stack.enter_context(contextlib.closing(LutBuilder(spec, backend, workers)))
                    seconds = _timed(builder.start)
                    if on_one_off:
                        on_one_off(OneOff(label, backend, workers, seconds))
                    builders[workers] = builder
                settings = [(w, rows, auto_rows_per_task(size[0], size[1], w) if rows == "auto" else rows)
                            for w in workers_list for rows in rows_list]
                for workers, _, resolved in settings:
                    builders[workers].fill_in_place(resolved)  # warm-up: first touch and caches
                times = {setting: [] for setting in settings}
                for _ in range(repeat):
                    for setting in settings:
                        workers, _, resolved = setting
                        times[setting].append(_timed(functools.partial(builders[workers].fill_in_place, resolved)))
                        if on_step:
                            on_step()
            yield from _records(label, size[0] * size[1], backend, times)


def _records(label, pixels, backend, times):
    """Records with speedups over one worker at the same rows per task."""
    baseline = {rows: statistics.median(t) for (workers, rows, _), t in times.items() if workers == 1}
    for (workers, rows, resolved), samples in times.items():
        median = statistics.median(samples)
        record = Record(label, backend, workers, str(rows), resolved, median, min(samples), max(samples),
                        pixels / median / 1e6)
        if rows in baseline:
            record.speedup = baseline[rows] / median
            record.efficiency = record.speedup / workers
        yield record


def profile_gather(sizes, geometry: Geometry | None = None, repeat: int = 5):
    """The gather of a random RGB map through each size's LUT, with numba and with numpy."""
    for size in sizes:
        spec = (geometry or Geometry()).spec(size)
        with LutBuilder(spec, "threads") as builder:
            lut = Lut(builder.build(), spec, checked=True)
        image = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        for gather in ("numba", "numpy"):
            apply_lut(lut, image, gather=gather)
            run = functools.partial(apply_lut, lut, image, gather=gather)
            median = statistics.median(_timed(run) for _ in range(repeat))
            yield GatherRecord(f"{size[0]}x{size[1]}", gather, median, size[0] * size[1] / median / 1e6)


def steps(sizes, workers_list, rows_list, backends, repeat) -> int:
    """How many builds a profile times (for the progress bar)."""
    return len(sizes) * len(workers_list) * len(rows_list) * len(backends) * repeat


__all__ = ["BACKENDS", "Record", "OneOff", "GatherRecord", "machine", "profile", "profile_gather", "steps"]
