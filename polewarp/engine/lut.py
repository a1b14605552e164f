"""Lut (array + spec), its layouts, the per-spec precomputation of the fill, and build_lut.

build_lut is the front door; the backends that fill the rows live in ``backends``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .geometry import GeometrySpec
from .projections import DEFAULT_MERCATOR_EXTENT


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
    """The original script's angles: Python's round to 2 decimals on Python floats, its own sampling."""
    s = np.array([round((float(c) / width * 2 * math.pi) - math.pi, 2) for c in range(width)])
    top = DEFAULT_MERCATOR_EXTENT
    t = np.array(
        [round(((r + 1) / height * (-35 * math.pi / 18)) + top, 2) for r in range(height)]
    )
    return np.stack([s, np.sin(s), np.cos(s)], axis=1), np.stack([t, np.sinh(t), np.cosh(t)], axis=1)


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
    from .backends import LutBuilder

    with LutBuilder(spec, backend, workers) as builder:
        array = builder.build(rows_per_task, progress, last=True)
    array.setflags(write=False)
    workers = builder.workers
    origin = (f"built ({builder.backend}, {workers} worker{'s' * (workers > 1)}, "
              f"{builder.rows_per_task} rows/task)")
    return Lut(array, spec, origin, checked=True)
