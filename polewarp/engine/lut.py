"""Lut (array + spec) and build(): the four interchangeable backends behind one signature.

``processes`` is the design card's shared-memory pool; ``threads`` runs the same nogil kernel
on a thread pool; ``prange`` is numba's own parallel loop; ``serial`` runs in this process.
All four fill the same row blocks with the same kernel, so they build identical LUTs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os

import numpy as np

from . import signals
from .errors import SpecError
from .geometry import LEGACY_EXTENT, GeometrySpec

BACKENDS = ("processes", "threads", "prange", "serial")
# Below this many output pixels a process pool costs more than it saves (see perf/RESULTS.md).
POOL_MIN_PIXELS = 3_000_000
# A task should be large enough to dwarf its ~20 us dispatch cost...
MIN_TASK_PIXELS = 65_536
# ...and each worker should get several tasks so that uneven rows even out.
TASKS_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class Lut:
    """A lookup table (H_out, W_out, 2) of source (row, column) and the spec it was built for.

    ``origin`` says how it was obtained (built and how, or loaded from the cache), for --time.
    ``checked``: its pairs are known to lie within the input (built here, or checked when
    loaded); ``apply_lut`` checks any other LUT as it gathers.
    """

    array: np.ndarray
    spec: GeometrySpec
    origin: str = "built"
    checked: bool = False

    @property
    def missing(self) -> int:
        """The value that marks an output pixel with no source pixel."""
        return int(np.iinfo(self.array.dtype).max)


def lut_dtype(input_size: tuple[int, int]) -> np.dtype:
    """uint16 while both input sides fit below its top value (the sentinel), uint32 beyond."""
    return np.dtype(np.uint16 if max(input_size) <= 65535 else np.uint32)


def lut_layout(spec: GeometrySpec) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a spec's LUT: (H, W, 2) of (row, column) for nearest; the same in
    1/256 pixel, uint32, for bilinear; (H, W, k*k, 2) of k x k samples for average."""
    height, width = spec.output_shape
    if spec.resample == "bilinear":
        return (height, width, 2), np.dtype(np.uint32)
    if spec.resample == "average":
        return (height, width, spec.supersample**2, 2), lut_dtype(spec.input_size)
    return (height, width, 2), lut_dtype(spec.input_size)


def physical_cores() -> int:
    """The cores this process may run on (the default worker count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_rows_per_task(width: int, height: int, workers: int) -> int:
    """Rows per task: at least MIN_TASK_PIXELS a task, else TASKS_PER_WORKER tasks a worker."""
    floor_rows = math.ceil(MIN_TASK_PIXELS / width)
    balanced = math.ceil(height / (TASKS_PER_WORKER * workers))
    return max(1, min(height, max(floor_rows, balanced)))


def row_blocks(height: int, rows_per_task: int) -> list[tuple[int, int]]:
    """[r0, r1) ranges covering the rows; the last one may be shorter."""
    return [(r0, min(r0 + rows_per_task, height)) for r0 in range(0, height, rows_per_task)]


@dataclasses.dataclass(frozen=True)
class RowFill:
    """The fill kernel with its per-geometry tables: ``fill(lut, r0, r1)`` writes rows [r0, r1).

    Picklable and small, so a spawned worker can receive it once in the pool initializer.
    """

    kind: int  # kernels.NEAREST, LEGACY or BILINEAR
    columns: np.ndarray
    rows: np.ndarray
    pole: np.ndarray
    in_mercator: bool
    in_extent: float
    in_w: int
    in_h: int
    missing: int

    @classmethod
    def for_spec(cls, spec: GeometrySpec) -> RowFill:
        """Precompute the per-column and per-row terms (W + H values) once per build.

        ``spec`` is a nearest or bilinear one (an average LUT is built from its sampling spec).
        """
        out_h, out_w = spec.output_shape
        in_h, in_w = spec.input_shape
        params = spec.kernel_params()
        from . import kernels

        if spec.legacy:
            columns, rows = _legacy_tables(out_w, out_h)
        else:
            columns = np.empty((out_w, 3))
            rows = np.empty((out_h, 3))
            kernels._column_terms(out_w, np.array(params.centre), np.array(params.east), columns)
            kernels._row_terms(out_h, params.out_mercator, params.out_extent, rows)
        kind = kernels.LEGACY if spec.legacy else (
            kernels.BILINEAR if spec.resample == "bilinear" else kernels.NEAREST)
        return cls(
            kind=kind,
            columns=columns,
            rows=rows,
            pole=np.array(params.pole),
            in_mercator=params.in_mercator,
            in_extent=params.in_extent,
            in_w=in_w,
            in_h=in_h,
            missing=int(np.iinfo(lut_layout(spec)[1]).max),
        )

    def kernel_args(self) -> tuple:
        """The arguments that follow (lut, r0, r1) in every fill kernel."""
        return (self.columns, self.rows, self.pole, self.in_mercator, self.in_extent,
                self.in_w, self.in_h, self.missing)

    def __call__(self, lut: np.ndarray, r0: int, r1: int) -> None:
        from . import kernels

        kernels.FILLS[self.kind](lut, r0, r1, *self.kernel_args())


def _legacy_tables(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The old script's angles: Python's round to 2 decimals on Python floats, its own sampling."""
    s = np.array([round((float(c) / width * 2 * math.pi) - math.pi, 2) for c in range(width)])
    top = LEGACY_EXTENT
    t = np.array(
        [round(((r + 1) / height * (-35 * math.pi / 18)) + top, 2) for r in range(height)]
    )
    return np.stack([s, np.sin(s), np.cos(s)], axis=1), np.stack([t, np.sinh(t), np.cosh(t)], axis=1)


def _check_parallelism(backend: str, workers: int | None, rows_per_task: int | None):
    if backend not in BACKENDS + ("auto",):
        raise SpecError(f"backend must be one of auto, {', '.join(BACKENDS)}, not {backend!r}")
    workers = physical_cores() if workers is None else int(workers)
    if workers < 1:
        raise SpecError(f"workers must be at least 1, not {workers}")
    if rows_per_task is not None and int(rows_per_task) < 1:
        raise SpecError(f"rows per task must be at least 1, not {rows_per_task}")
    return workers


def choose_backend(spec: GeometrySpec, workers: int) -> str:
    """``auto``: the process pool for large builds, threads in this process for small ones
    (a pool's start costs more than it saves there), serial with one worker."""
    height, width = spec.output_shape
    if workers == 1:
        return "serial"
    return "processes" if height * width >= POOL_MIN_PIXELS else "threads"


class LutBuilder:
    """One backend's resources for one spec, set up once and reused for repeated builds.

    ``start()`` pays the one-off costs (loading the kernels, starting a pool), ``build()`` the
    steady state. ``build_lut`` uses one for a single build; the profiler times them apart.
    """

    def __init__(self, spec: GeometrySpec, backend: str = "auto", workers: int | None = None):
        self.workers = _check_parallelism(backend, workers, None)
        self.backend = choose_backend(spec, self.workers) if backend == "auto" else backend
        self.spec = spec
        # An average LUT is a nearest one on a k times finer grid, regrouped after the build.
        self.fill_spec = spec.sampling_spec() if spec.resample == "average" else spec
        self.shape, self.dtype = lut_layout(self.fill_spec)
        self._resources = contextlib.ExitStack()
        self._pool = self._shared = self._threads = self._scratch = None
        self.fill = None
        self.rows_per_task = None  # of the last build, for the LUT's origin

    def start(self) -> LutBuilder:
        """Load the kernels (the forked workers inherit them) and start the backend's workers."""
        if self.fill is not None:
            return self
        with signals.kept_as_interruption():  # numba's import and kernel loading
            self.fill = RowFill.for_spec(self.fill_spec)
            self.fill(np.empty((0,) + self.shape[1:], self.dtype), 0, 0)
        # Pools are imported here, not at the top: a cache hit never needs them.
        from concurrent.futures import ThreadPoolExecutor

        from .workers import RowPool, SharedArray

        with contextlib.ExitStack() as stack:
            if self.backend == "processes":
                self._shared = stack.enter_context(SharedArray(self.shape, self.dtype))
                self._pool = stack.enter_context(RowPool(self._shared, self.fill, self.workers))
                self._pool.start()
            elif self.backend == "threads":
                self._threads = stack.enter_context(ThreadPoolExecutor(max_workers=self.workers))
            elif self.backend == "prange":
                _run_prange(self.fill, np.empty((0,) + self.shape[1:], self.dtype), [], self.workers)
            self._resources = stack.pop_all()
        return self

    def build(self, rows_per_task: int | None = None, progress=None, last: bool = False) -> np.ndarray:
        """A new LUT array; ``rows_per_task`` None means ``auto_rows_per_task``.

        ``last``: no build follows, so the process pool's segment may be handed over as the
        result instead of copied (the builder must be closed next).
        """
        array = self._fill(rows_per_task, progress, fresh=True)
        if self.backend == "processes":
            array = self._shared.detach() if last else array.copy()
        return self._regroup(array) if self.spec.resample == "average" else array

    def fill_in_place(self, rows_per_task: int | None = None, progress=None) -> np.ndarray:
        """Fill the builder's own array again, the shared segment or one kept for the other
        backends, and return it (valid until the next fill or ``close``): the workers' steady
        state, which ``profile`` times, without allocating, faulting in or copying a result
        (costs that depend on the backend, not on the workers)."""
        return self._fill(rows_per_task, progress, fresh=False)

    def _fill(self, rows_per_task, progress, fresh: bool) -> np.ndarray:
        """Fill every row of a LUT array and return it: the pool's shared segment, else a new
        array (``fresh``) or the one this builder keeps."""
        if rows_per_task is not None and int(rows_per_task) < 1:
            raise SpecError(f"rows per task must be at least 1, not {rows_per_task}")
        self.start()
        height, width = self.fill_spec.output_shape
        self.rows_per_task = int(rows_per_task or auto_rows_per_task(width, height, self.workers))
        blocks = row_blocks(height, self.rows_per_task)
        if self.backend == "processes":
            self._pool.run(blocks, progress)
            return self._shared.array
        array = np.empty(self.shape, self.dtype) if fresh or self._scratch is None else self._scratch
        if not fresh:
            self._scratch = array
        if self.backend == "threads":
            _run_threads(self.fill, array, blocks, self._threads, progress)
        elif self.backend == "prange":
            _run_prange(self.fill, array, blocks, self.workers, progress)
        else:
            _run_serial(self.fill, array, blocks, progress)
        return array

    def _regroup(self, fine: np.ndarray) -> np.ndarray:
        """A new array with each output pixel's k x k samples side by side (average LUTs)."""
        k = self.spec.supersample
        height, width = self.spec.output_shape
        grouped = fine.reshape(height, k, width, k, 2).transpose(0, 2, 1, 3, 4)
        return np.ascontiguousarray(grouped).reshape(height, width, k * k, 2)

    def close(self) -> None:
        """Shut the workers down and unlink the shared segment, whatever happened."""
        self._resources.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def build_lut(spec: GeometrySpec, backend: str = "auto", workers: int | None = None,
              rows_per_task: int | None = None, progress=None) -> Lut:
    """Build the LUT for ``spec``.

    Parameters
    ----------
    spec : the geometry and sizes.
    backend : ``auto`` (default), ``processes``, ``threads``, ``prange`` or ``serial``.
    workers : processes or threads to use (default: the cores this process may use).
    rows_per_task : output rows per task (default: ``auto_rows_per_task``).
    progress : optional callable, given the number of rows finished each time a block is done.

    Returns a read-only :class:`Lut`.
    """
    with LutBuilder(spec, backend, workers) as builder:
        array = builder.build(rows_per_task, progress, last=True)
    array.setflags(write=False)
    workers = builder.workers
    origin = (f"built ({builder.backend}, {workers} worker{'s' * (workers > 1)}, "
              f"{builder.rows_per_task} rows/task)")
    return Lut(array, spec, origin, checked=True)


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

    from . import kernels

    starts = np.array([r0 for r0, _ in blocks], dtype=np.int64)
    stops = np.array([r1 for _, r1 in blocks], dtype=np.int64)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    try:
        kernels._fill_blocks_prange(array, starts, stops, fill.kind, *fill.kernel_args())
    finally:
        numba.set_num_threads(previous)
    if progress is not None:
        progress(int((stops - starts).sum()))
