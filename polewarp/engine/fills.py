"""Kernels for any projection: each projection's formulas dispatched by number, its points
projected and unprojected in bulk, and the LUT row fills of every (output, input) pair.

Kernels here are made by factories, one per projection, stage or pair, so that a first run
compiles only what it uses; each keeps ``SOURCE_FINGERPRINT`` in its closure (the ``assert stamp`` line:
numba keys a cached closure by what it holds, see ``jit``).
"""

import functools
import importlib
import math

import numba
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import kernels, projections
from .jit import SOURCE_FINGERPRINT, named_after, ngjit_parallel, ngjit_vector, ngjit_vector_inline


def _formula(number: int, kind: str):
    """The ``forward`` or ``inverse`` numba function of projection ``number``."""
    entry = projections.PROJECTIONS[projections.NAMES[number]]
    module = importlib.import_module(f"{__package__}.formulas.{entry.module}")
    return getattr(module, f"{entry.identifier}_{kind}")


def forward(number, lam, phi, ux, uy, uz, p):
    """Projection ``number``'s forward (a compile-time constant): (x, y) of a point, NaN for none."""


def inverse(number, x, y, p):
    """Projection ``number``'s inverse: the unit vector of a point of its plane, NaN outside."""


def _literal(number):
    if not isinstance(number, types.IntegerLiteral):
        raise TypingError(f"the projection number must be a compile-time constant, not {number}")
    return number.literal_value


def _inline_closed_forms(kind: str):
    """numba's inlining choice for a formula call: a closed form is inlined into the row loop (so
    that the loop vectorises); an iterative one is called, as inlining its loops cost 2 to 15 s of
    compiling a pair (LLVM vectorising a loop body that large) for no gain in speed."""

    def decide(expr, caller, callee) -> bool:
        entry = _entry(caller.typemap[expr.args[0].name].literal_value)
        return not (entry.iterative_forward if kind == "forward" else entry.iterative_inverse)

    return decide


@overload(forward, inline=_inline_closed_forms("forward"))
def _forward_of(number, lam, phi, ux, uy, uz, p):
    formula = _formula(_literal(number), "forward")
    return lambda number, lam, phi, ux, uy, uz, p: formula(lam, phi, ux, uy, uz, p)


@overload(inverse, inline=_inline_closed_forms("inverse"))
def _inverse_of(number, x, y, p):
    formula = _formula(_literal(number), "inverse")
    return lambda number, x, y, p: formula(x, y, p)


@functools.cache
def forward_points(number: int):
    """The jitted ``(lam, phi, p, x, y)``: projection ``number``'s forward of 1-D arrays of
    longitudes and latitudes (radians) into ``x`` and ``y``."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    @named_after(number)
    def project(lam, phi, p, xs, ys):
        assert stamp
        for i in range(lam.shape[0]):
            cos_phi = math.cos(phi[i])
            xs[i], ys[i] = forward(number, lam[i], phi[i], cos_phi * math.cos(lam[i]),
                                   cos_phi * math.sin(lam[i]), math.sin(phi[i]), p)

    return project


@functools.cache
def inverse_points(number: int):
    """The jitted ``(x, y, p, vectors)``: projection ``number``'s inverse of 1-D arrays of plane
    coordinates into unit vectors (N, 3)."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    @named_after(number)
    def unproject(xs, ys, p, vectors):
        assert stamp
        for i in range(xs.shape[0]):
            vectors[i, 0], vectors[i, 1], vectors[i, 2] = inverse(number, xs[i], ys[i], p)

    return unproject


def project(name: str, lam, phi, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) on the unit sphere of longitudes and latitudes in radians (any shape), NaN where
    the projection ``name`` shows no point."""
    entry = projections.projection(name)
    lam, phi = np.broadcast_arrays(np.asarray(lam, np.float64), np.asarray(phi, np.float64))
    xs, ys = np.empty(lam.size), np.empty(lam.size)
    forward_points(projections.number(entry.name))(
        np.ascontiguousarray(lam).ravel(), np.ascontiguousarray(phi).ravel(),
        np.array(entry.params(options or {}), np.float64), xs, ys)
    return xs.reshape(lam.shape), ys.reshape(lam.shape)


def unproject(name: str, x, y, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes in radians of plane points (any shape), NaN outside the outline."""
    entry = projections.projection(name)
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    vectors = np.empty((x.size, 3))
    inverse_points(projections.number(entry.name))(
        np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel(),
        np.array(entry.params(options or {}), np.float64), vectors)
    lam = np.arctan2(vectors[:, 1], vectors[:, 0])
    phi = np.arctan2(vectors[:, 2], np.hypot(vectors[:, 0], vectors[:, 1]))  # no digits lost near the poles
    return lam.reshape(x.shape), phi.reshape(x.shape)


@functools.cache
def pair_fill(out_number: int, in_number: int, kind: int, wraps: bool):
    """The fill of LUT rows for one (output, input) projection pair: ``fill(lut, r0, r1, *args)``
    with ``RowFill.kernel_args()``. Per row, the output stage writes the unit vectors of the
    pixel centres in the input's coordinates into row buffers, the input stage their continuous
    input pixel coordinates, and the quantiser turns them into the LUT's row for ``kind``.
    ``wraps``: the input's columns go round the globe (a cylinder's do, unless it is a region
    spanning less than 360 degrees: Geometry.input_wraps)."""
    stamp = SOURCE_FINGERPRINT
    out_key = CYLINDER if _entry(out_number).cylindrical else out_number
    quantiser_key = 2 * (kind == kernels.BILINEAR) + wraps

    @ngjit_vector
    @named_after(out_number, in_number, kind, wraps)
    def fill(lut, r0, r1, columns, rows, frame, out_p, in_p, in_bounds, in_w, in_h, missing):
        assert stamp
        width = lut.shape[1]
        wx, wy, wz, norms = np.empty(width), np.empty(width), np.empty(width), np.empty(width)
        xs, ys = np.empty(width), np.empty(width)
        for r in range(r0, r1):
            _output_row(out_key, r, columns, rows, frame, out_p, wx, wy, wz, norms)
            _input_stage(in_number, wx, wy, wz, norms, in_p, in_bounds, in_w, in_h, xs, ys)
            _quantise(quantiser_key, lut, r, xs, ys, in_w, in_h, missing)

    return fill


@functools.cache
def turned_fill(in_number: int, kind: int, wraps: bool):
    """The fill of LUT rows from output unit vectors made before (``planes``: (H, W, 3), in the
    output's own axes, NaN outside its outline; see ``planes``): per row only the turn into the
    input's coordinates, the input stage and the quantiser, the same arithmetic as ``pair_fill``'s.
    A drag turns the globe and nothing else, so the explorer keeps its view's planes and skips
    the output's inverse (Winkel tripel's iterations) on every frame."""
    stamp = SOURCE_FINGERPRINT
    quantiser_key = 2 * (kind == kernels.BILINEAR) + wraps

    @ngjit_vector
    @named_after(in_number, kind, wraps)
    def fill(lut, r0, r1, planes, frame, in_p, in_bounds, in_w, in_h, missing):
        assert stamp
        width = lut.shape[1]
        wx, wy, wz, norms = np.empty(width), np.empty(width), np.empty(width), np.empty(width)
        xs, ys = np.empty(width), np.empty(width)
        for r in range(r0, r1):
            for c in range(width):
                wx[c], wy[c], wz[c], norms[c] = _turned(planes[r, c, 0], planes[r, c, 1], planes[r, c, 2], frame)
            _input_stage(in_number, wx, wy, wz, norms, in_p, in_bounds, in_w, in_h, xs, ys)
            _quantise(quantiser_key, lut, r, xs, ys, in_w, in_h, missing)

    return fill


def _pair(out_number, in_number, kind, wraps, lut, r0, r1, columns, rows, frame, out_p, in_p, in_bounds, in_w,
          in_h, missing):
    """``pair_fill(out_number, in_number, kind, wraps)`` called from numba (the four are constants)."""


@overload(_pair)
def _pair_of(out_number, in_number, kind, wraps, *args):
    fill = pair_fill(_literal(out_number), _literal(in_number), _literal(kind), bool(_literal(wraps)))
    return lambda out_number, in_number, kind, wraps, *args: fill(*args)


@functools.cache
def pair_fill_blocks(out_number: int, in_number: int, kind: int, wraps: bool):
    """numba's parallel loop over row blocks of ``pair_fill`` (the prange backend). The pair's
    fill is named by numbers, not captured: a captured dispatcher would make the cache key differ
    in every process."""
    stamp = SOURCE_FINGERPRINT
    wraps = int(wraps)  # a compile-time constant for _pair

    @ngjit_parallel
    @named_after(out_number, in_number, kind, wraps)
    def fill_blocks(lut, starts, stops, columns, rows, frame, out_p, in_p, in_bounds, in_w, in_h, missing):
        assert stamp
        for i in numba.prange(starts.shape[0]):
            _pair(out_number, in_number, kind, wraps, lut, starts[i], stops[i], columns, rows, frame, out_p,
                  in_p, in_bounds, in_w, in_h, missing)

    return fill_blocks


def _entry(number: int) -> projections.Projection:
    return projections.PROJECTIONS[projections.NAMES[number]]


CYLINDER = -1  # the output rows of every cylindrical projection are made alike


def _output_row(key, r, columns, rows, frame, p, wx, wy, wz, norms):
    """Output row ``r``'s unit vectors in the input's coordinates: ``_cylinder_row`` for key
    CYLINDER, else ``_plane_row`` of projection ``key`` (a constant: only one is compiled)."""


@overload(_output_row)
def _output_row_of(key, r, columns, rows, frame, p, wx, wy, wz, norms):
    if _literal(key) == CYLINDER:
        return lambda key, r, columns, rows, frame, p, wx, wy, wz, norms: _cylinder_row(
            rows[r, 0], rows[r, 1], rows[r, 2], columns, frame, wx, wy, wz, norms)
    plane_row = plane_row_kernel(_literal(key))
    return lambda key, r, columns, rows, frame, p, wx, wy, wz, norms: plane_row(
        rows[r, 0], columns, frame, p, wx, wy, wz, norms)


def _input_stage(number, wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys):
    """``input_row_kernel(number)`` called from numba (``number`` a constant)."""


@overload(_input_stage)
def _input_stage_of(number, wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys):
    input_row = input_row_kernel(_literal(number))
    return lambda number, wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys: input_row(
        wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys)


# The two stages below are compiled once per projection (and cached) and called from every pair's
# fill, not inlined into it: a new pair then compiles in about a second instead of 5 to 15 s, with
# no measured loss of speed (one call per row; see docs/performance.md).


@functools.cache
def plane_row_kernel(number: int):
    """The jitted output stage of projection ``number`` (not cylindrical): ``_plane_row``."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    @named_after(number)
    def plane_row(y, columns, frame, p, wx, wy, wz, norms):
        assert stamp
        _plane_row(number, y, columns, frame, p, wx, wy, wz, norms)

    return plane_row


@functools.cache
def input_row_kernel(number: int):
    """The jitted input stage of projection ``number``: ``_input_row``."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    @named_after(number)
    def input_row(wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys):
        assert stamp
        _input_row(number, wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys)

    return input_row


def _quantise(key, lut, r, xs, ys, in_w, in_h, missing):
    """Row ``r`` of the LUT from its continuous coordinates; key = 2 x bilinear + wraps (a constant)."""


@overload(_quantise)
def _quantise_of(key, lut, r, xs, ys, in_w, in_h, missing):
    bilinear, wraps = divmod(_literal(key), 2)
    quantise = _quantise_bilinear if bilinear else _quantise_nearest
    return lambda key, lut, r, xs, ys, in_w, in_h, missing: quantise(lut, r, xs, ys, wraps, in_w, in_h, missing)


@ngjit_vector_inline
def _cylinder_row(a, b, norm, columns, frame, wx, wy, wz, norms):
    """A cylindrical output's row: the columns' vectors at rotated latitude 0 weighted with the
    pole's by the row's latitude, as the Mercator/equirectangular kernels do (length ``norm``)."""
    for c in range(wx.shape[0]):
        wx[c] = a * columns[c, 0] + b * frame[2, 0]
        wy[c] = a * columns[c, 1] + b * frame[2, 1]
        wz[c] = min(1.0, max(-1.0, (a * columns[c, 2] + b * frame[2, 2]) / norm))
        norms[c] = norm


@ngjit_vector_inline
def _plane_row(number, y, columns, frame, p, wx, wy, wz, norms):
    """Any other output's row: the inverse of each pixel centre (x, y), turned into the input's
    coordinates; NaN where the centre lies outside the projection's outline."""
    for c in range(wx.shape[0]):
        vx, vy, vz = inverse(number, columns[c, 0], y, p)
        wx[c], wy[c], wz[c], norms[c] = _turned(vx, vy, vz, frame)


@ngjit_vector_inline
def _turned(vx, vy, vz, frame):
    """A unit vector in the output's axes turned into the input's coordinates, and its
    horizontal length (NaN for no point: a NaN vector, outside the outline)."""
    wx = vx * frame[0, 0] + vy * frame[1, 0] + vz * frame[2, 0]
    wy = vx * frame[0, 1] + vy * frame[1, 1] + vz * frame[2, 1]
    wz = min(1.0, max(-1.0, vx * frame[0, 2] + vy * frame[1, 2] + vz * frame[2, 2]))
    return wx, wy, wz, math.nan if math.isnan(vx) else 1.0


EDGE_SLACK = 1e-9  # pixels: a point this close outside the image's edge is rounding, clamped in


@ngjit_vector_inline
def _input_row(number, wx, wy, wz, norms, p, bounds, in_w, in_h, xs, ys):
    """Continuous input pixel coordinates of a row of unit vectors (x of length ``norms``): the
    input's forward, then its framing; NaN where it shows no such point or it lies off the image."""
    x_edge, y_edge, y_mid = bounds[0], bounds[1], bounds[2]  # see Geometry.input_bounds
    for c in range(xs.shape[0]):
        lam = kernels._longitude(wx[c], wy[c])
        phi = kernels._latitude(wz[c])
        x, y = forward(number, lam, phi, wx[c] / norms[c], wy[c] / norms[c], wz[c], p)
        px = (x + x_edge) / (2.0 * x_edge) * in_w
        py = (y_edge - (y - y_mid)) / (2.0 * y_edge) * in_h
        inside = (-EDGE_SLACK <= px <= in_w + EDGE_SLACK) and (-EDGE_SLACK <= py <= in_h + EDGE_SLACK)
        xs[c] = px if inside else math.nan
        ys[c] = py if inside else math.nan


@ngjit_vector_inline
def _quantise_nearest(lut, r, xs, ys, wraps, in_w, in_h, missing):
    """The pixel each coordinate falls in: columns wrap round a cylinder, else clamp, as rows do."""
    for c in range(xs.shape[0]):
        none = math.isnan(xs[c])
        col = np.int64(math.floor(0.0 if none else xs[c]))
        col = (col - in_w if col >= in_w else col) if wraps else col
        col = min(max(col, 0), in_w - 1)
        row = min(max(np.int64(math.floor(0.0 if none else ys[c])), 0), in_h - 1)
        lut[r, c, 0] = missing if none else row
        lut[r, c, 1] = missing if none else col


@ngjit_vector_inline
def _quantise_bilinear(lut, r, xs, ys, wraps, in_w, in_h, missing):
    """Positions in 1/FRACTION_ONE pixel from the first pixel's centre: a cylinder's columns wrap
    (the gather's padded column blends the seam), other columns and every row clamp."""
    one = kernels.FRACTION_ONE
    turn = in_w * one
    for c in range(xs.shape[0]):
        none = math.isnan(xs[c])
        col = np.int64(math.floor(((0.0 if none else xs[c]) - 0.5) * one + 0.5))
        if wraps:
            col = col + turn if col < 0 else (col - turn if col >= turn else col)
        else:
            col = min(max(col, 0), (in_w - 1) * one)
        row = min(max(np.int64(math.floor(((0.0 if none else ys[c]) - 0.5) * one + 0.5)), 0), (in_h - 1) * one)
        lut[r, c, 0] = missing if none else row
        lut[r, c, 1] = missing if none else col
