"""Lut (array + spec), its layouts, the per-spec precomputation of the fill, and build_lut.

build_lut is the front door; the backends that fill the rows live in ``backends``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from .geometry import GeometrySpec
from .projections import DEFAULT_MERCATOR_EXTENT, number


@dataclasses.dataclass(frozen=True)
class Lut:
    """A lookup table (H_out, W_out, 2) of source (row, column) and the spec it was built for.

    ``origin`` says how it was obtained (built and how, or loaded from the cache), for --time.
    ``checked``: its pairs are known to lie within the input (built here, or checked when
    loaded); ``apply_lut`` checks any other LUT as it gathers. ``graticule``: the (H_out, W_out)
    uint8 mask of the pixels on the graticule (1) when the spec draws one, else None; a separate
    array, not a value reserved in the LUT, so that every gather stays as it is and the LUT keeps
    each pixel's source.
    """

    array: np.ndarray
    spec: GeometrySpec
    origin: str = "built"
    checked: bool = False
    graticule: np.ndarray | None = None

    @property
    def missing(self) -> int:
        """The value that marks an output pixel with no source pixel."""
        return int(np.iinfo(self.array.dtype).max)


def lut_dtype(input_size: tuple[int, int]) -> np.dtype:
    """uint16 while both input sides fit below its top value (the sentinel), uint32 beyond."""
    return np.dtype(np.uint16 if max(input_size) <= 65535 else np.uint32)


GRATICULE_DTYPE = np.dtype(np.uint8)


def graticule_layout(spec: GeometrySpec) -> tuple[tuple[int, int], np.dtype] | None:
    """Shape and dtype of a spec's graticule mask, one value an output pixel; None: no graticule."""
    if spec.graticule is None and spec.graticule_rotated is None:
        return None
    return spec.output_shape, GRATICULE_DTYPE


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
    ``columns`` and ``rows`` hold the per-column and per-row terms: for a cylindrical output the
    unit vectors of its columns at rotated latitude 0 and the (horizontal, pole, norm) weights of
    its rows' latitudes; for any other, the plane x of each column and y of each row.
    ``frame`` holds the output's axes (centre, east, pole) in the input's coordinates.
    """

    kind: int  # kernels.NEAREST, LEGACY or BILINEAR
    # (output, input) projection numbers and whether the input's columns wrap; None: the
    # Mercator/equirectangular kernels
    pair: tuple[int, int, bool] | None
    columns: np.ndarray
    rows: np.ndarray
    frame: np.ndarray
    out_params: np.ndarray
    in_params: np.ndarray
    in_bounds: np.ndarray
    in_mercator: bool
    in_w: int
    in_h: int
    missing: int
    # (H, W, 3): the output's unit vectors made before (planes.PlaneCache), or None: made per row
    planes: np.ndarray | None = None

    @classmethod
    def for_spec(cls, spec: GeometrySpec, planes=None) -> RowFill:
        """Precompute the per-column and per-row terms (W + H values) once per build.

        ``spec`` is a nearest or bilinear one (an average LUT is built from its sampling spec).
        ``planes``: a ``planes.PlaneCache`` to take the output's unit vectors from, where the
        output is not a cylinder (a cylinder's come from its column and row terms alone).
        """
        from . import kernels

        out_h, out_w = spec.output_shape
        frame = np.array(spec.geometry.output_axes_in_input())
        if spec.legacy:
            columns, rows = _legacy_tables(out_w, out_h)
        elif spec.output.cylindrical:
            columns, rows = np.empty((out_w, 3)), np.empty((out_h, 3))
            kernels._column_terms(out_w, frame[0], frame[1], columns)
            _cylinder_rows(spec, rows)
        else:
            x_edge, y_edge = spec.output.bounds(spec.options("to"))
            columns = ((np.arange(out_w) + 0.5) / out_w * (2.0 * x_edge) - x_edge).reshape(-1, 1)
            rows = (y_edge - (np.arange(out_h) + 0.5) / out_h * (2.0 * y_edge)).reshape(-1, 1)
        kind = kernels.LEGACY if spec.legacy else (
            kernels.BILINEAR if spec.resample == "bilinear" else kernels.NEAREST)
        in_h, in_w = spec.input_shape
        return cls(
            kind=kind,
            pair=None if spec.legacy or _classic(spec) else (number(spec.to), number(spec.from_),
                                                              spec.geometry.input_wraps()),
            columns=columns,
            rows=rows,
            frame=frame,
            out_params=np.array(spec.output.params(spec.options("to")), np.float64),
            in_params=np.array(spec.input.params(spec.options("from")), np.float64),
            in_bounds=np.array(spec.geometry.input_bounds(), np.float64),
            in_mercator=spec.from_ == "mercator",
            in_w=in_w,
            in_h=in_h,
            missing=int(np.iinfo(lut_layout(spec)[1]).max),
            planes=None if planes is None or spec.legacy or spec.output.cylindrical
            else planes.get(spec, columns, rows),
        )

    def kernel_args(self) -> tuple:
        """The arguments that follow (lut, r0, r1) in the fill kernel."""
        if self.pair is None:
            return (self.columns, self.rows, self.frame[2], self.in_mercator, float(self.in_bounds[1]),
                    self.in_w, self.in_h, self.missing)
        return (self.columns, self.rows, self.frame, self.out_params, self.in_params, self.in_bounds,
                self.in_w, self.in_h, self.missing)

    def __call__(self, lut: np.ndarray, r0: int, r1: int) -> None:
        from . import fills, kernels

        if self.planes is not None:
            _, in_number, wraps = self.pair
            fills.turned_fill(in_number, self.kind, wraps)(lut, r0, r1, self.planes, self.frame, self.in_params,
                                                           self.in_bounds, self.in_w, self.in_h, self.missing)
            return
        kernel = kernels.FILLS[self.kind] if self.pair is None else fills.pair_fill(*self._pair_key())
        kernel(lut, r0, r1, *self.kernel_args())

    def fill_blocks(self, lut: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> None:
        """Fill the row blocks [starts[i], stops[i]) in numba's parallel loop (the prange backend;
        it makes the output's vectors itself: the same LUT, with or without planes)."""
        from . import fills, kernels

        if self.pair is None:
            kernels._fill_blocks_prange(lut, starts, stops, self.kind, *self.kernel_args())
        else:
            fills.pair_fill_blocks(*self._pair_key())(lut, starts, stops, *self.kernel_args())

    def _pair_key(self) -> tuple[int, int, int, bool]:
        out_number, in_number, wraps = self.pair
        return out_number, in_number, self.kind, wraps

    def rows_from(self, r0: int, r1: int) -> RowFill:
        """The fill of rows [r0, r1) alone, as rows [0, r1 - r0): every kernel reads a row's
        terms and writes its LUT row by the same index, so slicing the row terms moves both."""
        planes = None if self.planes is None else self.planes[r0:r1]
        return dataclasses.replace(self, rows=self.rows[r0:r1], planes=planes)


@dataclasses.dataclass(frozen=True)
class BandFill:
    """A RowFill into an array of one band of ``band_rows`` rows (the banded pipeline's buffer,
    or the workers' one segment reused per band): rows [r0, r1) of the LUT land at their place
    in the band that holds them. Tasks still name rows of the whole LUT."""

    fill: RowFill
    band_rows: int

    def _start(self, r0: int) -> int:
        return r0 - r0 % self.band_rows

    def __call__(self, lut: np.ndarray, r0: int, r1: int) -> None:
        b0 = self._start(r0)
        self.fill.rows_from(r0, r1)(lut[r0 - b0:r1 - b0], 0, r1 - r0)

    def fill_blocks(self, lut: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> None:
        b0 = self._start(int(starts[0])) if starts.size else 0
        top = int(stops.max()) if stops.size else 0
        self.fill.rows_from(b0, top).fill_blocks(lut, starts - b0, stops - b0)


def _classic(spec: GeometrySpec) -> bool:
    """Whether the Mercator/equirectangular kernels build this LUT: a cylindrical output from a
    Mercator input or a whole-globe equirectangular one (the kernels that the pinned checksums hold)."""
    whole = spec.from_ == "equirectangular" and spec.from_lat_limit in (None, 90.0) and spec.from_bounds is None
    return spec.output.cylindrical and (spec.from_ == "mercator" or whole)


def _cylinder_rows(spec: GeometrySpec, rows: np.ndarray) -> None:
    """Each output row's rotated latitude as (horizontal, pole, norm) weights: Mercator's and the
    equirectangular's as they always were, the other cylinders' from their inverse at x = 0."""
    from . import fills, kernels

    height = rows.shape[0]
    _, y_edge = spec.output.bounds(spec.options("to"))
    if spec.to in ("mercator", "equirectangular"):
        kernels._row_terms(height, spec.to == "mercator", y_edge, rows)
        return
    y = y_edge - (np.arange(height) + 0.5) / height * (2.0 * y_edge)
    vectors = np.empty((height, 3))
    fills.inverse_points(number(spec.to))(np.zeros(height), y, np.array(spec.output.params(spec.options("to"))),
                                           vectors)
    rows[:, 0], rows[:, 1], rows[:, 2] = vectors[:, 0], vectors[:, 2], 1.0


def _legacy_tables(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The original script's angles: Python's round to 2 decimals on Python floats, its own sampling."""
    s = np.array([round((float(c) / width * 2 * math.pi) - math.pi, 2) for c in range(width)])
    top = DEFAULT_MERCATOR_EXTENT
    t = np.array(
        [round(((r + 1) / height * (-35 * math.pi / 18)) + top, 2) for r in range(height)]
    )
    return np.stack([s, np.sin(s), np.cos(s)], axis=1), np.stack([t, np.sinh(t), np.cosh(t)], axis=1)


def build_lut(spec: GeometrySpec, backend: str = "auto", workers: int | None = None,
              rows_per_task: int | None = None, progress=None, planes=None) -> Lut:
    """Build the LUT for ``spec``.

    Parameters
    ----------
    spec : the geometry and sizes.
    backend : ``auto`` (default), ``processes``, ``threads``, ``prange`` or ``serial``.
    workers : processes or threads to use (default: the cores this process may use).
    rows_per_task : output rows per task (default: ``auto_rows_per_task``).
    progress : optional callable, given the number of rows finished each time a block is done.
    planes : a ``planes.PlaneCache`` holding the output's unit vectors for builds that differ in
        their rotation alone (the explorer's drags); the same LUT, faster.

    Returns a read-only :class:`Lut`.
    """
    from .backends import LutBuilder

    builder = LutBuilder(spec, backend, workers, planes=planes)
    with contextlib.closing(builder.start(ready=False)):
        array = builder.build(rows_per_task, progress, last=True)
    array.setflags(write=False)
    mask = None
    if graticule_layout(spec) is not None:  # same backend, same blocks; the progress counts the LUT
        with LutBuilder(spec, builder.backend, workers, graticule=True) as drawer:
            mask = drawer.build(rows_per_task, last=True)
        mask.setflags(write=False)
    workers = builder.workers
    origin = (f"built ({builder.backend}, {workers} worker{'s' * (workers > 1)}, "
              f"{builder.rows_per_task} rows/task)")
    return Lut(array, spec, origin, checked=True, graticule=mask)
