"""The graticule mask: which output pixels a meridian or a parallel crosses, built beside the LUT.

A pixel is on a line when a multiple of the step lies between the latitudes (or the longitudes)
of its four corners: exactly, kD in (lowest, highest]; longitudes are compared round the circle
(the step divides 360), so a pixel across the 180 meridian spans a few degrees, not 360. A pixel
round a pole (the pole's axis passes between its corners) is on a parallel only: one in (lowest,
90] (or [-90, highest]), the pole's own when the step divides 90; never on every meridian. Corners
outside the projection's outline take no part: a pixel with fewer than two inside is not drawn.
The same test runs on the geographic grid (``graticule``) and on the output's own
(``graticule_rotated``: the new equator and poles).

No trigonometry per corner beyond the output's inverse: a corner's band of latitude is found
by comparing its unit vector's z with the sines of the parallels, its band of longitude by the
signs of cross products with the meridians' directions, each walking on from the previous
corner's band (neighbours mostly share one); that keeps the mask to a fraction of the LUT's time.

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

from .fills import _literal, inverse, unproject
from .geometry import GeometrySpec, aspect_frame
from .jit import SOURCE_FINGERPRINT, named_after, ngjit_parallel, ngjit_vector, ngjit_vector_inline
from .projections import number

CYLINDER = -1  # every cylindrical output: corners from a column and a row table
# A corner row's terms, per grid: its unit vectors, its bands of latitude and of longitude, and
# the cell of the graticule that holds it (a number from 0; -1 outside the outline),
# which settles most pixels.
WX, WY, WZ, BAND, MERIDIAN, CELL = range(6)
TERMS = 6


def grid_tables(step: float | None) -> tuple[np.ndarray, np.ndarray]:
    """One grid's tables: the sines of its parallels kD, k from -K-1 to K+1 (K = floor(90/D); the
    ends -inf and +inf, so that every z has a band), and (cos, sin) of its meridians kD, k from 0
    to 360/D - 1. Empty for a grid not drawn."""
    if step is None:
        return np.empty(0), np.empty((0, 2))
    top = math.floor(90.0 / step)
    sines = np.concatenate([[-np.inf], np.sin(np.radians(np.arange(-top, top + 1) * step)), [np.inf]])
    angles = np.radians(np.arange(round(360.0 / step)) * step)
    return sines, np.column_stack([np.cos(angles), np.sin(angles)])


@dataclasses.dataclass(frozen=True)
class GraticuleFill:
    """The mask kernel with its per-geometry tables: ``fill(mask, r0, r1)`` writes rows [r0, r1).

    Picklable and small, like ``lut.RowFill``. ``columns`` and ``rows`` are the pixel corners'
    terms (W + 1 and H + 1 of them): for a cylindrical output each corner column's geographic
    vector at own latitude 0 and (cos, sin) of its own longitude, each corner row's (cos, sin) of
    its own latitude; for any other the plane x and y. ``frame`` holds the output's axes in
    geographic coordinates; ``grids`` the tables of the geographic and the own grid (``grid_tables``).
    """

    key: int  # the output projection's number, or CYLINDER
    columns: np.ndarray
    rows: np.ndarray
    frame: np.ndarray
    params: np.ndarray
    grids: tuple

    @classmethod
    def for_spec(cls, spec: GeometrySpec) -> GraticuleFill:
        out_h, out_w = spec.output_shape
        options = spec.options("to")
        x_edge, y_edge = spec.output.bounds(options)
        x = np.arange(out_w + 1) / out_w * (2.0 * x_edge) - x_edge
        y = y_edge - np.arange(out_h + 1) / out_h * (2.0 * y_edge)
        frame = np.array(aspect_frame(spec.center, spec.heading))
        key, columns, rows = number(spec.to), x.reshape(-1, 1), y.reshape(-1, 1)
        if spec.output.cylindrical:
            # A cylinder's longitude depends on x alone and its latitude on y alone.
            lam, _ = unproject(spec.to, x, np.zeros_like(x), options)
            _, phi = unproject(spec.to, np.zeros_like(y), y, options)
            key = CYLINDER
            cos_lam, sin_lam = np.cos(lam), np.sin(lam)
            columns = np.column_stack([cos_lam[:, None] * frame[0] + sin_lam[:, None] * frame[1], cos_lam, sin_lam])
            rows = np.column_stack([np.cos(phi), np.sin(phi)])
        grids = grid_tables(spec.graticule) + grid_tables(spec.graticule_rotated)
        return cls(key, columns, rows, frame, np.array(spec.output.params(options), np.float64), grids)

    def kernel_args(self) -> tuple:
        return (self.columns, self.rows, self.frame, self.params, *self.grids)

    def __call__(self, mask: np.ndarray, r0: int, r1: int) -> None:
        graticule_fill(self.key)(mask, r0, r1, *self.kernel_args())

    def fill_blocks(self, mask: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> None:
        """The row blocks in numba's parallel loop (the prange backend)."""
        graticule_fill_blocks(self.key)(mask, starts, stops, *self.kernel_args())


def _corner_vectors(key, r, columns, rows, frame, p, own, terms):
    """Corner row ``r``'s geographic unit vectors into ``terms[0]`` (NaN outside the outline),
    and with ``own`` the output's own into ``terms[1]``: ``_cylinder_vectors`` for key
    CYLINDER, else ``_plane_vectors`` of projection ``key`` (a constant)."""


@overload(_corner_vectors)
def _corner_vectors_of(key, r, columns, rows, frame, p, own, terms):
    if _literal(key) == CYLINDER:
        return lambda key, r, columns, rows, frame, p, own, terms: _cylinder_vectors(
            rows[r, 0], rows[r, 1], columns, frame, own, terms)
    return lambda key, r, columns, rows, frame, p, own, terms: _plane_vectors(
        key, rows[r, 0], columns, frame, p, own, terms)


@ngjit_vector_inline
def _cylinder_vectors(cos_phi, sin_phi, columns, frame, own, terms):
    """A cylinder's corner row: the columns' vectors at own latitude 0 weighted with the pole's."""
    px, py, pz = sin_phi * frame[2, 0], sin_phi * frame[2, 1], sin_phi * frame[2, 2]
    for c in range(terms.shape[2]):
        terms[0, WX, c] = cos_phi * columns[c, 0] + px
        terms[0, WY, c] = cos_phi * columns[c, 1] + py
        terms[0, WZ, c] = cos_phi * columns[c, 2] + pz
    if own:
        for c in range(terms.shape[2]):
            terms[1, WX, c] = cos_phi * columns[c, 3]
            terms[1, WY, c] = cos_phi * columns[c, 4]
            terms[1, WZ, c] = sin_phi


@ngjit_vector_inline
def _plane_vectors(number, y, columns, frame, p, own, terms):
    """Any other output's corner row: the inverse of each corner, and the same turned by the frame."""
    for c in range(terms.shape[2]):
        vx, vy, vz = inverse(number, columns[c, 0], y, p)
        terms[0, WX, c] = vx * frame[0, 0] + vy * frame[1, 0] + vz * frame[2, 0]
        terms[0, WY, c] = vx * frame[0, 1] + vy * frame[1, 1] + vz * frame[2, 1]
        terms[0, WZ, c] = vx * frame[0, 2] + vy * frame[1, 2] + vz * frame[2, 2]
        terms[1, WX, c], terms[1, WY, c], terms[1, WZ, c] = vx, vy, vz


@ngjit_vector
def _bands(sines, meridians, terms):
    """Each corner's band of latitude (k with sin kD <= z < sin (k+1)D, so floor(latitude / D))
    and of longitude (k with kD <= longitude < (k+1)D round the circle: the corner lies at or
    past meridian k and short of meridian k+1 by the signs of their cross products), and its
    cell. Each is walked to from the previous corner's, whose bounds are kept at hand: most
    corners share their neighbour's cell."""
    top = (sines.shape[0] - 3) // 2
    turns = meridians.shape[0]
    band, meridian = 0, 0
    low, high = sines[top + 1], sines[top + 2]
    east_x, east_y, west_x, west_y = meridians[0, 0], meridians[0, 1], meridians[1 % turns, 0], meridians[1 % turns, 1]
    xs, ys, zs, bands, meridians_of, cells = terms[WX], terms[WY], terms[WZ], terms[BAND], terms[MERIDIAN], terms[CELL]
    for c in range(cells.shape[0]):
        wx, wy, wz = xs[c], ys[c], zs[c]
        if math.isnan(wz):
            cells[c] = -1.0
            continue
        same = (low <= wz) & (wz < high) & (east_x * wy - east_y * wx >= 0.0) & (west_x * wy - west_y * wx < 0.0)
        if not same:
            while wz >= sines[band + top + 2]:
                band += 1
            while wz < sines[band + top + 1]:
                band -= 1
            for _ in range(turns):  # each meridian at most once (a pole's corner: round, and back)
                ahead = 0 if meridian == turns - 1 else meridian + 1
                if meridians[ahead, 0] * wy - meridians[ahead, 1] * wx >= 0.0:
                    meridian = ahead
                elif meridians[meridian, 0] * wy - meridians[meridian, 1] * wx < 0.0:
                    meridian = turns - 1 if meridian == 0 else meridian - 1
                else:
                    break
            low, high = sines[band + top + 1], sines[band + top + 2]
            ahead = 0 if meridian == turns - 1 else meridian + 1
            east_x, east_y = meridians[meridian, 0], meridians[meridian, 1]
            west_x, west_y = meridians[ahead, 0], meridians[ahead, 1]
        bands[c] = band
        meridians_of[c] = meridian
        cells[c] = (band + top + 1) * turns + meridian  # from 0 up


@ngjit_vector_inline
def _low(top, bottom, k, c):
    """The least of term ``k`` over the pixel's inside corners (+inf if none)."""
    return min(min(_inside(top, k, c, math.inf), _inside(top, k, c + 1, math.inf)),
               min(_inside(bottom, k, c, math.inf), _inside(bottom, k, c + 1, math.inf)))


@ngjit_vector_inline
def _high(top, bottom, k, c):
    """The greatest of term ``k`` over the pixel's inside corners (-inf if none)."""
    return max(max(_inside(top, k, c, -math.inf), _inside(top, k, c + 1, -math.inf)),
               max(_inside(bottom, k, c, -math.inf), _inside(bottom, k, c + 1, -math.inf)))


@ngjit_vector_inline
def _inside(terms, k, c, otherwise):
    return otherwise if terms[CELL, c] < 0.0 else terms[k, c]


@ngjit_vector
def _mask_row(mask, r, top_band, top, bottom):
    """OR one grid's lines into mask row ``r``, from its corner rows. A pixel whose four corners
    lie in one cell of the graticule is on no line (most are: one vectorised pass finds them);
    the others go to ``_on_line``."""
    above, below, row = top[CELL], bottom[CELL], mask[r]
    split = np.empty(row.shape[0], np.uint8)
    for c in range(row.shape[0]):
        split[c] = (above[c + 1] != above[c]) | (below[c] != above[c]) | (below[c + 1] != above[c])
    for c in range(row.shape[0]):
        if split[c]:
            row[c] |= np.uint8(_on_line(c, top_band, top, bottom))


@ngjit_vector
def _on_line(c, top_band, top, bottom):
    """Pixel ``c``, whose corners lie in more than one cell: on a line where its inside corners'
    bands differ (always, with the four inside); round a pole (the pole's axis meets the pixel:
    its corners turn the same way about it), on a parallel in (lowest, 90] or [-90, highest] only."""
    if min(min(top[CELL, c], top[CELL, c + 1]), min(bottom[CELL, c], bottom[CELL, c + 1])) < 0.0:
        return (_low(top, bottom, BAND, c) < _high(top, bottom, BAND, c)
                or _low(top, bottom, MERIDIAN, c) < _high(top, bottom, MERIDIAN, c))
    t1 = top[WX, c] * top[WY, c + 1] - top[WY, c] * top[WX, c + 1]  # round the pixel, clockwise
    t2 = top[WX, c + 1] * bottom[WY, c + 1] - top[WY, c + 1] * bottom[WX, c + 1]
    t3 = bottom[WX, c + 1] * bottom[WY, c] - bottom[WY, c + 1] * bottom[WX, c]
    t4 = bottom[WX, c] * top[WY, c] - bottom[WY, c] * top[WX, c]
    if not (min(min(t1, t2), min(t3, t4)) > 0.0 or max(max(t1, t2), max(t3, t4)) < 0.0):
        return True
    if top[WZ, c] > 0.0:
        return _low(top, bottom, BAND, c) < top_band
    return _high(top, bottom, BAND, c) >= -top_band


@functools.cache
def graticule_fill(key: int):
    """The mask fill of output projection ``key`` (or CYLINDER): ``fill(mask, r0, r1, *args)``
    with ``GraticuleFill.kernel_args()``. Each corner row's terms go once into a row buffer (the
    row above a mask row and the row below); each mask row is made from its two corner rows."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    @named_after(key)
    def fill(mask, r0, r1, columns, rows, frame, p, sines, meridians, own_sines, own_meridians):
        assert stamp
        above = np.empty((2, TERMS, mask.shape[1] + 1))  # the terms of each grid (geographic, own)
        below = np.empty((2, TERMS, mask.shape[1] + 1))
        drawn, own = sines.shape[0] > 0, own_sines.shape[0] > 0
        for r in range(r0, r1 + 1):
            _corner_vectors(key, r, columns, rows, frame, p, own, below)
            if drawn:
                _bands(sines, meridians, below[0])
            if own:
                _bands(own_sines, own_meridians, below[1])
            if r > r0:
                mask[r - 1, :] = 0
                if drawn:
                    _mask_row(mask, r - 1, (sines.shape[0] - 3) // 2, above[0], below[0])
                if own:
                    _mask_row(mask, r - 1, (own_sines.shape[0] - 3) // 2, above[1], below[1])
            above, below = below, above

    return fill


def _fill(key, mask, r0, r1, columns, rows, frame, p, sines, meridians, own_sines, own_meridians):
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
    @named_after(key)
    def fill_blocks(mask, starts, stops, columns, rows, frame, p, sines, meridians, own_sines, own_meridians):
        assert stamp
        for i in numba.prange(starts.shape[0]):
            _fill(key, mask, starts[i], stops[i], columns, rows, frame, p, sines, meridians, own_sines,
                  own_meridians)

    return fill_blocks
