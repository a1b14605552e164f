"""The four interchangeable backends that fill a LUT's rows, behind one signature.

``processes`` is the shared-memory pool of ``workers``; ``threads`` runs the same nogil kernel
on a thread pool; ``prange`` is numba's own parallel loop; ``serial`` runs in this process.
All four fill the same row blocks with the same kernel, so they build identical LUTs.
``LutBuilder`` holds one backend's resources so that the profiler can time its steady state.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from . import signals
from .choices import BACKENDS
from .errors import SpecError
from .geometry import GeometrySpec
from .lut import BandFill, RowFill, graticule_layout, lut_layout

# Below this many output pixels (a build of a few ms) starting threads saves too little: serial
# was within 1.1x of the fastest backend at 0.5 Mpx in every run, threads not (perf/RESULTS.md).
THREADS_MIN_PIXELS = 1_000_000
# A task should be large enough to dwarf its ~20 us dispatch cost...
MIN_TASK_PIXELS = 65_536
# ...and each worker should get several tasks so that uneven rows even out.
TASKS_PER_WORKER = 4


def available_cpus() -> int:
    """The logical CPUs this process may run on (the default worker count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_rows_per_task(width: int, height: int, workers: int) -> int:
    """Rows per task: at least MIN_TASK_PIXELS a task, else TASKS_PER_WORKER tasks a worker."""
    floor_rows = math.ceil(MIN_TASK_PIXELS / width)
    balanced = math.ceil(height / (TASKS_PER_WORKER * workers))
    return max(1, min(height, max(floor_rows, balanced)))


def row_blocks(height: int, rows_per_task: int, start: int = 0) -> list[tuple[int, int]]:
    """[r0, r1) ranges covering the rows [start, height); the last one may be shorter."""
    return [(r0, min(r0 + rows_per_task, height)) for r0 in range(start, height, rows_per_task)]


def _check_parallelism(backend: str, workers: int | None) -> int:
    """The worker count (default: every CPU available), refusing an unknown backend."""
    if backend not in BACKENDS + ("auto",):
        raise SpecError(f"backend must be one of auto, {', '.join(BACKENDS)}, not {backend!r}")
    workers = available_cpus() if workers is None else int(workers)
    if workers < 1:
        raise SpecError(f"workers must be at least 1, not {workers}")
    return workers


def choose_backend(spec: GeometrySpec, workers: int) -> str:
    """``auto``, for the one-shot builds it serves (a pool kept for several builds is the
    profiler's, which names its backends): by perf/RESULTS.md's one-shot table, threads from
    THREADS_MIN_PIXELS (within 1.1x of the fastest backend at 2, 8 and 33 Mpx: a process pool's
    start and its segment's page faults cost more than they save, and prange, as fast, compiles
    a kernel of its own on a first run), serial below it and with one worker."""
    height, width = spec.output_shape
    return "threads" if workers > 1 and height * width >= THREADS_MIN_PIXELS else "serial"


class LutBuilder:
    """One backend's resources for one spec, set up once and reused for repeated builds.

    ``start()`` pays the one-off costs (loading the kernels, starting a pool), ``build()`` the
    steady state. ``build_lut`` uses one for a single build; the profiler times them apart.
    ``graticule``: build the spec's graticule mask (``graticule.GraticuleFill``) instead of its LUT.
    With ``band_rows`` (output rows) the builder holds one band of the LUT, filled by
    ``fill_band``: the banded pipeline's LUT, never whole. ``planes``: see ``build_lut``.
    """

    def __init__(self, spec: GeometrySpec, backend: str = "auto", workers: int | None = None,
                 graticule: bool = False, band_rows: int | None = None, planes=None):
        self.workers = _check_parallelism(backend, workers)
        self.backend = choose_backend(spec, self.workers) if backend == "auto" else backend
        self.spec = spec
        self.graticule = graticule
        self.planes = planes
        # An average LUT is a nearest one on a k times finer grid, regrouped after the build.
        self.fill_spec = spec.sampling_spec() if spec.resample == "average" and not graticule else spec
        self.shape, self.dtype = graticule_layout(spec) if graticule else lut_layout(self.fill_spec)
        self.fine = self.fill_spec.output_shape[0] // spec.output_shape[0]  # fill rows an output row
        self.band_rows = None if band_rows is None else min(band_rows * self.fine, self.shape[0])
        if self.band_rows is not None:
            self.shape = (self.band_rows,) + self.shape[1:]
        self._resources = contextlib.ExitStack()
        self._pool = self._shared = self._threads = self._scratch = None
        self.fill = None
        self.rows_per_task = None  # of the last build, for the LUT's origin

    def start(self, ready: bool = True) -> LutBuilder:
        """Load the kernels (the forked workers inherit them) and start the backend's workers.

        ``ready``: wait until every pool worker is up (the profiler times that apart); a
        one-shot build sends its blocks at once instead, the workers taking them as they come up.
        """
        if self.fill is not None:
            return self
        with signals.kept_as_interruption():  # numba's import and kernel loading
            if self.graticule:
                from .graticule import GraticuleFill

                self.fill = GraticuleFill.for_spec(self.spec)
            else:
                self.fill = RowFill.for_spec(self.fill_spec, self.planes)
            if self.band_rows is not None:
                self.fill = BandFill(self.fill, self.band_rows)
            self.fill(np.empty((0,) + self.shape[1:], self.dtype), 0, 0)
        # Pools are imported here, not at the top: a cache hit never needs them.
        from concurrent.futures import ThreadPoolExecutor

        from .workers import RowPool, SharedArray

        with contextlib.ExitStack() as stack:
            if self.backend == "processes":
                # The workers allocate the rows they fill: in parallel, not here first.
                self._shared = stack.enter_context(SharedArray(self.shape, self.dtype, reserve=False))
                self._pool = stack.enter_context(RowPool(self._shared, self.fill, self.workers))
                if ready:
                    self._pool.start()
            elif self.backend == "threads":
                self._threads = stack.enter_context(ThreadPoolExecutor(max_workers=self.workers))
            elif self.backend == "prange":
                _run_prange(self.fill, np.empty((0,) + self.shape[1:], self.dtype), [], self.workers)
            self._resources = stack.pop_all()
        return self

    def build(self, rows_per_task: int | None = None, progress=None, last: bool = False) -> np.ndarray:
        """A new LUT array; ``rows_per_task`` None means ``auto_rows_per_task``.

        ``last``: no build follows, so the process pool's segment is handed over as the result
        instead of copied, and its workers are ended without waiting for them (the builder must
        be closed next).
        """
        array = self._fill(rows_per_task, progress, fresh=True)
        if self.backend == "processes" and last:
            array = self._shared.detach()
            self._pool.close(background=True)
        elif self.backend == "processes":
            array = array.copy()
        return regroup(array, self.spec.supersample) if self.fill_spec is not self.spec else array

    def fill_band(self, r0: int, r1: int, rows_per_task: int | None = None) -> np.ndarray:
        """The LUT's output rows [r0, r1), one band (at most ``band_rows``), filled in the
        builder's own array (valid until the next fill); an average band regrouped."""
        array = self._fill(rows_per_task, None, fresh=False, rows=(r0 * self.fine, r1 * self.fine))
        return regroup(array, self.spec.supersample) if self.fill_spec is not self.spec else array

    def fill_in_place(self, rows_per_task: int | None = None, progress=None) -> np.ndarray:
        """Fill the builder's own array again, the shared segment or one kept for the other
        backends, and return it (valid until the next fill or ``close``): the workers' steady
        state, which ``profile`` times, without allocating, faulting in or copying a result
        (costs that depend on the backend, not on the workers)."""
        return self._fill(rows_per_task, progress, fresh=False)

    def _fill(self, rows_per_task, progress, fresh: bool, rows: tuple[int, int] | None = None) -> np.ndarray:
        """Fill the LUT's rows [r0, r1) (default: all) and return them: the pool's shared segment,
        else a new array (``fresh``) or the one this builder keeps."""
        if rows_per_task is not None and int(rows_per_task) < 1:
            raise SpecError(f"rows per task must be at least 1, not {rows_per_task}")
        self.start()
        height, width = self.fill_spec.output_shape
        r0, r1 = rows or (0, height)
        self.rows_per_task = int(rows_per_task or auto_rows_per_task(width, r1 - r0, self.workers))
        blocks = row_blocks(r1, self.rows_per_task, r0)
        if self.backend == "processes":
            self._pool.run(blocks, progress)
            return self._shared.array[:r1 - r0]
        array = np.empty(self.shape, self.dtype) if fresh or self._scratch is None else self._scratch
        if not fresh:
            self._scratch = array
        if self.backend == "threads":
            _run_threads(self.fill, array, blocks, self._threads, progress)
        elif self.backend == "prange":
            _run_prange(self.fill, array, blocks, self.workers, progress)
        else:
            _run_serial(self.fill, array, blocks, progress)
        return array[:r1 - r0]

    def close(self) -> None:
        """Shut the workers down and unlink the shared segment, whatever happened."""
        self._resources.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def regroup(fine: np.ndarray, k: int) -> np.ndarray:
    """A new array with each output pixel's k x k samples side by side (average LUTs): the
    (k H, k W, 2) nearest LUT of the finer grid as (H, W, k*k, 2), for any run of whole rows."""
    height, width = fine.shape[0] // k, fine.shape[1] // k
    grouped = fine.reshape(height, k, width, k, 2).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grouped).reshape(height, width, k * k, 2)


def _run_serial(fill, array, blocks, progress) -> None:
    for r0, r1 in blocks:
        fill(array, r0, r1)
        if progress is not None:
            progress(r1 - r0)


def _run_threads(fill, array, blocks, threads, progress) -> None:
    def fill_block(block):
        fill(array, *block)
        return block[1] - block[0]

    for rows in threads.map(fill_block, blocks):
        if progress is not None:
            progress(rows)


def _run_prange(fill, array, blocks, workers, progress=None) -> None:
    import numba

    starts = np.array([r0 for r0, _ in blocks], dtype=np.int64)
    stops = np.array([r1 for _, r1 in blocks], dtype=np.int64)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    try:
        fill.fill_blocks(array, starts, stops)
    finally:
        numba.set_num_threads(previous)
    if progress is not None:
        progress(int((stops - starts).sum()))
