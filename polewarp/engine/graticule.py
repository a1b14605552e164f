"""The graticule mask: which output pixels a meridian or a parallel crosses, built beside the LUT.

A pixel is on a line when a multiple of the step lies between the latitudes (or the longitudes)
of its four corners: exactly, kD in (lowest, highest]; longitudes are compared as arcs of the
circle, so a pixel across the 180 meridian spans a few degrees, not 360. A pixel whose corners
wind round a pole is on a parallel only (the pole's, if the step divides 90; a lower one if the
pixel is that large), never on every meridian. Corners outside the projection's outline take no
part; a pixel with fewer than two inside is not drawn. The same test runs on the geographic grid
(``graticule``) and on the output's own (``graticule_rotated``: the new equator and poles).

The kernels are made per output projection on first use, like ``fills``' (``SOURCE_FINGERPRINT``
in the closure, see ``jit``), and fill rows [r0, r1) of a caller-owned (H, W) uint8 mask, so that
every backend of ``backends`` runs them over the same row blocks as the LUT.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numba
import numpy as np
from numba.extending import overload

from . import kernels
from .fills import _literal, inverse, unproject
from .geometry import GeometrySpec, aspect_frame
from .jit import SOURCE_FINGERPRINT, ngjit_parallel, ngjit_vector, ngjit_vector_inline
from .projections import number

MASK_DTYPE = np.dtype(np.uint8)  # 1: on a line, 0: not
CYLINDER = -1  # every cylindrical output: corners from a column and a row table


@dataclasses.dataclass(frozen=True)
class GraticuleFill:
    """The mask kernel with its per-geometry tables: ``fill(mask, r0, r1)`` writes rows [r0, r1).

    Picklable and small, like ``lut.RowFill``. ``columns`` and ``rows`` are the pixel corners'
    terms (W + 1 and H + 1 of them): for a cylindrical output each corner column's own longitude
    (radians) and each corner row's own latitude; for any other the plane x and y. ``frame``
    holds the output's axes in geographic coordinates; ``steps`` the geographic and the rotated
    steps in degrees (0: that grid is not drawn).
    """

    key: int  # the output projection's number, or CYLINDER
    columns: np.ndarray
    rows: np.ndarray
    frame: np.ndarray
    params: np.ndarray
    steps: np.ndarray

    @classmethod
    def for_spec(cls, spec: GeometrySpec) -> GraticuleFill:
        out_h, out_w = spec.output_shape
        options = spec.options("to")
        x_edge, y_edge = spec.output.bounds(options)
        x = np.arange(out_w + 1) / out_w * (2.0 * x_edge) - x_edge
        y = y_edge - np.arange(out_h + 1) / out_h * (2.0 * y_edge)
        key = number(spec.to)
        if spec.output.cylindrical:
            # A cylinder's longitude depends on x alone and its latitude on y alone.
            x, _ = unproject(spec.to, x, np.zeros_like(x), options)
            _, y = unproject(spec.to, np.zeros_like(y), y, options)
            key = CYLINDER
        steps = [spec.graticule or 0.0, spec.graticule_rotated or 0.0]
        return cls(key, x, y, np.array(aspect_frame(spec.center, spec.heading)),
                   np.array(spec.output.params(options), np.float64), np.array(steps, np.float64))

    def kernel_args(self) -> tuple:
        return (self.columns, self.rows, self.frame, self.params, self.steps)

    def __call__(self, mask: np.ndarray, r0: int, r1: int) -> None:
        graticule_fill(self.key)(mask, r0, r1, *self.kernel_args())

    def fill_blocks(self, mask: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> None:
        """The row blocks in numba's parallel loop (the prange backend)."""
        graticule_fill_blocks(self.key)(mask, starts, stops, *self.kernel_args())


DEGREES = 180.0 / math.pi


def _corner_row(key, r, columns, rows, frame, p, lat, lon, own_lat, own_lon):
    """Corner row ``r``'s geographic and own latitudes and longitudes (degrees, NaN outside the
    outline): ``_cylinder_row`` for key CYLINDER, else ``_plane_row`` of projection ``key``."""


@overload(_corner_row)
def _corner_row_of(key, r, columns, rows, frame, p, lat, lon, own_lat, own_lon):
    if _literal(key) == CYLINDER:
        return lambda key, r, columns, rows, frame, p, lat, lon, own_lat, own_lon: _cylinder_row(
            rows[r], columns, frame, lat, lon, own_lat, own_lon)
    return lambda key, r, columns, rows, frame, p, lat, lon, own_lat, own_lon: _plane_row(
        key, rows[r], columns, frame, p, lat, lon, own_lat, own_lon)


@ngjit_vector_inline
def _cylinder_row(phi, columns, frame, lat, lon, own_lat, own_lon):
    """A cylinder's corner row at own latitude ``phi``: its columns' own longitudes turned by the frame."""
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    for c in range(lat.shape[0]):
        cos_l, sin_l = math.cos(columns[c]), math.sin(columns[c])
        wx = cos_phi * (cos_l * frame[0, 0] + sin_l * frame[1, 0]) + sin_phi * frame[2, 0]
        wy = cos_phi * (cos_l * frame[0, 1] + sin_l * frame[1, 1]) + sin_phi * frame[2, 1]
        wz = cos_phi * (cos_l * frame[0, 2] + sin_l * frame[1, 2]) + sin_phi * frame[2, 2]
        lat[c] = kernels._latitude(min(1.0, max(-1.0, wz))) * DEGREES
        lon[c] = kernels._longitude(wx, wy) * DEGREES
        own_lat[c] = phi * DEGREES
        own_lon[c] = columns[c] * DEGREES


@ngjit_vector_inline
def _plane_row(number, y, columns, frame, p, lat, lon, own_lat, own_lon):
    """Any other output's corner row: the inverse of each corner, and the same turned by the frame."""
    for c in range(lat.shape[0]):
        vx, vy, vz = inverse(number, columns[c], y, p)
        wx = vx * frame[0, 0] + vy * frame[1, 0] + vz * frame[2, 0]
        wy = vx * frame[0, 1] + vy * frame[1, 1] + vz * frame[2, 1]
        wz = min(1.0, max(-1.0, vx * frame[0, 2] + vy * frame[1, 2] + vz * frame[2, 2]))
        outside = math.isnan(vx)
        lat[c] = math.nan if outside else kernels._latitude(wz) * DEGREES
        lon[c] = math.nan if outside else kernels._longitude(wx, wy) * DEGREES
        own_lat[c] = math.nan if outside else kernels._latitude(min(1.0, max(-1.0, vz))) * DEGREES
        own_lon[c] = math.nan if outside else kernels._longitude(vx, vy) * DEGREES


@ngjit_vector_inline
def _wrap(d):
    """A longitude difference in degrees, into [-180, 180)."""
    return d - 360.0 * math.floor(d / 360.0 + 0.5)


@ngjit_vector_inline
def _mask_row(mask, r, step, top_lat, top_lon, bottom_lat, bottom_lon):
    """OR one grid's lines (every ``step`` degrees) into mask row ``r``, from its corner rows."""
    turns = float(round(360.0 / step))  # meridians round the circle: the step divides 360
    pole_band = math.floor(90.0 / step)
    for c in range(mask.shape[1]):
        la = (top_lat[c], top_lat[c + 1], bottom_lat[c + 1], bottom_lat[c])  # round the pixel
        lo = (top_lon[c], top_lon[c + 1], bottom_lon[c + 1], bottom_lon[c])
        inside = 0
        lat_low, lat_high = math.inf, -math.inf
        band_low, band_high = math.inf, -math.inf
        turn_low, turn_high = math.inf, -math.inf
        for k in range(4):
            if not math.isnan(la[k]):
                inside += 1
                lat_low, lat_high = min(lat_low, la[k]), max(lat_high, la[k])
                band = math.floor(la[k] / step)
                band_low, band_high = min(band_low, band), max(band_high, band)
                meridian = math.floor(lo[k] / step)
                meridian -= turns * math.floor(meridian / turns)
                turn_low, turn_high = min(turn_low, meridian), max(turn_high, meridian)
        winding = _wrap(lo[1] - lo[0]) + _wrap(lo[2] - lo[1]) + _wrap(lo[3] - lo[2]) + _wrap(lo[0] - lo[3])
        if inside == 4 and abs(winding) > 180.0:  # round a pole: (lowest, 90] or [-90, highest]
            on = (math.floor(lat_low / step) < pole_band if lat_high > 0.0
                  else math.floor(lat_high / step) >= -pole_band)
        else:
            on = inside >= 2 and (band_low != band_high or turn_low != turn_high)
        mask[r, c] |= np.uint8(on)


@functools.cache
def graticule_fill(key: int):
    """The mask fill of output projection ``key`` (or CYLINDER): ``fill(mask, r0, r1, *args)``
    with ``GraticuleFill.kernel_args()``. Each corner row's latitudes and longitudes go once
    into row buffers; each mask row is made from its two corner rows."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    def fill(mask, r0, r1, columns, rows, frame, p, steps):
        assert stamp
        above = np.empty((4, mask.shape[1] + 1))  # geographic lat, lon; own lat, lon
        below = np.empty((4, mask.shape[1] + 1))
        if r1 > r0:
            _corner_row(key, r0, columns, rows, frame, p, above[0], above[1], above[2], above[3])
        for r in range(r0, r1):
            _corner_row(key, r + 1, columns, rows, frame, p, below[0], below[1], below[2], below[3])
            mask[r, :] = 0
            for grid in range(2):
                if steps[grid] > 0.0:
                    _mask_row(mask, r, steps[grid], above[2 * grid], above[2 * grid + 1],
                              below[2 * grid], below[2 * grid + 1])
            above, below = below, above

    return fill


def _fill(key, mask, r0, r1, columns, rows, frame, p, steps):
    """``graticule_fill(key)`` called from numba (``key`` a constant)."""


@overload(_fill)
def _fill_of(key, *args):
    fill = graticule_fill(_literal(key))
    return lambda key, *args: fill(*args)


@functools.cache
def graticule_fill_blocks(key: int):
    """numba's parallel loop over row blocks of ``graticule_fill(key)`` (the prange backend); the
    fill is named by its key, not captured (see ``fills.pair_fill_blocks``)."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_parallel
    def fill_blocks(mask, starts, stops, columns, rows, frame, p, steps):
        assert stamp
        for i in numba.prange(starts.shape[0]):
            _fill(key, mask, starts[i], stops[i], columns, rows, frame, p, steps)

    return fill_blocks
