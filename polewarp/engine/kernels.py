"""Every numba function of polewarp: the projection math, the row-block LUT fills, the gather.

One file on purpose: numba's on-disk cache is invalidated only by the defining file, so a
jitted helper kept elsewhere could leave stale compiled code behind. Kernels are private,
take arrays and plain numbers only, and fill a slice the caller owns.
"""

import math

import numba
import numpy as np

# Compile flags, decided once. No fastmath: the LUT must agree with PROJ and with the plain
# numpy reference to the last bit, and the "no source" checks must see NaN and infinities.
ngjit = numba.njit(nogil=True, cache=True)
ngjit_parallel = numba.njit(nogil=True, cache=True, parallel=True)

PI = math.pi
TWO_PI = 2.0 * math.pi
HALF_PI = math.pi / 2.0


@ngjit
def _column_terms(width, centre, east, out):
    """Per output column: the unit vector cos(s)*centre + sin(s)*east at rotated latitude 0."""
    for c in range(width):
        s = (c + 0.5) / width * TWO_PI - PI
        cos_s = math.cos(s)
        sin_s = math.sin(s)
        for k in range(3):
            out[c, k] = cos_s * centre[k] + sin_s * east[k]


@ngjit
def _row_terms(height, out_mercator, extent, out):
    """Per output row: weights (horizontal, pole, norm) of the rotated latitude of its centre."""
    for r in range(height):
        t = extent - (r + 0.5) / height * (2.0 * extent)
        if out_mercator:
            out[r, 0] = 1.0
            out[r, 1] = math.sinh(t)
            out[r, 2] = math.cosh(t)
        else:
            out[r, 0] = math.cos(t)
            out[r, 1] = math.sin(t)
            out[r, 2] = 1.0


@ngjit
def _longitude(y, x):
    """atan2(y, x) through atan(y / x): a third cheaper here, within an ulp of it."""
    if x > 0.0:
        return math.atan(y / x)
    if x < 0.0:
        return math.atan(y / x) + (PI if y >= 0.0 else -PI)
    return HALF_PI if y > 0.0 else (-HALF_PI if y < 0.0 else 0.0)


@ngjit
def _fill_rows(lut, r0, r1, columns, rows, pole, in_mercator, in_extent, in_w, in_h, missing):
    """Fill LUT rows [r0, r1): two divisions, one asin (or atanh) and one atan a pixel."""
    width = lut.shape[1]
    for r in range(r0, r1):
        a = rows[r, 0]
        b = rows[r, 1]
        norm = rows[r, 2]
        bx = b * pole[0]
        by = b * pole[1]
        bz = b * pole[2]
        for c in range(width):
            wx = a * columns[c, 0] + bx
            wy = a * columns[c, 1] + by
            z = (a * columns[c, 2] + bz) / norm
            z = min(1.0, max(-1.0, z))
            if in_mercator:
                y = (in_extent - math.atanh(z)) / (2.0 * in_extent) * in_h
                if not (0.0 <= y < in_h):
                    lut[r, c, 0] = missing
                    lut[r, c, 1] = missing
                    continue
                row = int(math.floor(y))
            else:
                row = min(int(math.floor((HALF_PI - math.asin(z)) / PI * in_h)), in_h - 1)
            col = int(math.floor((_longitude(wy, wx) + PI) / TWO_PI * in_w))
            if col >= in_w:
                col -= in_w
            lut[r, c, 0] = row
            lut[r, c, 1] = col


@ngjit
def _fill_rows_legacy(lut, r0, r1, columns, rows, pole, in_mercator, in_extent, in_w, in_h, missing):
    """Fill LUT rows [r0, r1) as the old script did: rounded angles, truncation, clamping.

    ``columns`` holds (s, sin s, cos s) of the rounded angle s, ``rows`` (t, sinh t, cosh t);
    the geometry arguments are unused (legacy has one geometry) but keep the fill signature.
    """
    width = lut.shape[1]
    for r in range(r0, r1):
        t = rows[r, 0]
        sinh_t = rows[r, 1]
        cosh_t = rows[r, 2]
        for c in range(width):
            s = columns[c, 0]
            lat = np.rint(-math.asin(columns[c, 1] / cosh_t) * 1000.0) / 1000.0
            lon = math.atan(sinh_t / columns[c, 2])
            if s > HALF_PI or s < -HALF_PI:
                lon = lon + PI if t >= 0 else lon - PI
            lon = np.rint(lon * 1000.0) / 1000.0
            col = int((lon + PI) / (2 * PI) * in_w)
            row = int((lat - PI / 2) / (-PI) * in_h)
            lut[r, c, 0] = min(max(row, 0), in_h - 1)
            lut[r, c, 1] = min(max(col, 0), in_w - 1)


@ngjit_parallel
def _fill_blocks_prange(lut, starts, stops, legacy, columns, rows, pole, in_mercator, in_extent,
                        in_w, in_h, missing):
    """numba's own parallel loop over the same row blocks the process pool hands out."""
    for i in numba.prange(starts.shape[0]):
        if legacy:
            _fill_rows_legacy(lut, starts[i], stops[i], columns, rows, pole, in_mercator,
                              in_extent, in_w, in_h, missing)
        else:
            _fill_rows(lut, starts[i], stops[i], columns, rows, pole, in_mercator, in_extent,
                       in_w, in_h, missing)


@ngjit
def _gather_pixels(src, lut, fill, out):
    """out[r, c] = src[lut[r, c]] for pixels packed as one integer; "no source" gets ``fill``."""
    height, width = out.shape
    in_h = src.shape[0]
    for r in range(height):
        for c in range(width):
            sr = lut[r, c, 0]
            if sr >= in_h:
                out[r, c] = fill
            else:
                out[r, c] = src[sr, lut[r, c, 1]]


@ngjit
def _gather_rgb(src, lut, fill, out):
    """The same for three channels, unrolled (RGB is the common case and cannot be packed)."""
    height, width = out.shape[:2]
    in_h = src.shape[0]
    for r in range(height):
        for c in range(width):
            sr = lut[r, c, 0]
            if sr >= in_h:
                out[r, c, 0] = fill[0]
                out[r, c, 1] = fill[1]
                out[r, c, 2] = fill[2]
            else:
                sc = lut[r, c, 1]
                out[r, c, 0] = src[sr, sc, 0]
                out[r, c, 1] = src[sr, sc, 1]
                out[r, c, 2] = src[sr, sc, 2]


@ngjit
def _gather_channels(src, lut, fill, out):
    """The same for any channel count (pixels that neither pack nor have three channels)."""
    height, width, channels = out.shape
    in_h = src.shape[0]
    for r in range(height):
        for c in range(width):
            sr = lut[r, c, 0]
            if sr >= in_h:
                for k in range(channels):
                    out[r, c, k] = fill[k]
            else:
                sc = lut[r, c, 1]
                for k in range(channels):
                    out[r, c, k] = src[sr, sc, k]
