"""Every numba function of polewarp: the projection math, the row-block LUT fills, the gather.

One file on purpose: numba's on-disk cache is invalidated only by the defining file, so a
jitted helper kept elsewhere could leave stale compiled code behind. Kernels are private,
take arrays and plain numbers only, and fill a slice the caller owns.
"""

import functools
import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .geometry import FRACTION_BITS
from .jit import named_after, ngjit, ngjit_inline, ngjit_parallel, ngjit_vector

PI = math.pi
TWO_PI = 2.0 * math.pi
HALF_PI = math.pi / 2.0

# Bilinear fixed point: LUT positions in 1/FRACTION_ONE pixel, the four weights (products of two
# fractions) in 1/WEIGHT_ONE, rounded half up by adding WEIGHT_HALF. numba freezes these when
# it compiles, and its cache follows this file only: a change to geometry.FRACTION_BITS needs
# a fresh cache (tests/test_resample.py ties the compiled kernels to it).
FRACTION_ONE = 1 << FRACTION_BITS
FRACTION_MASK = FRACTION_ONE - 1
WEIGHT_BITS = 2 * FRACTION_BITS
WEIGHT_ONE = 1 << WEIGHT_BITS
WEIGHT_HALF = WEIGHT_ONE >> 1


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


# atan(r) = r + r z P(z), z = r², for |r| <= tan(pi/8): P fitted by Chebyshev interpolation in
# 60-digit arithmetic (degree 11; 3e-18 relative before rounding); `python -m tests.atan_fit`
# reruns the fit and prints the coefficients. With the range reduction below it stays within
# 2 ulp of libm's atan and, unlike a libm call, vectorises.
ATAN_P = (-0.3333333333333333, 0.19999999999999804, -0.14285714285659828, 0.11111111105155447,
          -0.09090908753500877, 0.07692296375032143, -0.06666424885738255, 0.05878928997834775,
          -0.05230454270650244, 0.04551593220626549, -0.034570561981427744, 0.016285756855221028)
TAN_PI_8, TAN_3PI_8 = 0.41421356237309503, 2.414213562373095
HALF_PI_LO, QUARTER_PI_LO = 6.123233995736766e-17, 3.061616997868383e-17  # pi/2, pi/4 minus their doubles


@ngjit_inline
def _atan(x):
    """atan(x) without branches: |x| is reduced below tan(pi/8) by atan(x) = pi/4 + atan((x-1)/(x+1))
    or pi/2 - atan(1/x), and the constant is added in two parts."""
    ax = abs(x)
    big = ax > TAN_3PI_8
    mid = ax > TAN_PI_8
    r = -1.0 / max(ax, 1.0) if big else ((ax - 1.0) / (ax + 1.0) if mid else ax)  # no division by 0
    base = HALF_PI if big else (0.25 * PI if mid else 0.0)
    base_lo = HALF_PI_LO if big else (QUARTER_PI_LO if mid else 0.0)
    z = r * r
    p = ATAN_P[11]
    for k in range(10, -1, -1):
        p = p * z + ATAN_P[k]
    return math.copysign(base + (r + (r * z * p + base_lo)), x)


@ngjit_inline
def _longitude(wx, wy):
    """atan2(wy, wx) by the branch-free atan, so that loops of it vectorise."""
    turn = PI if wy >= 0.0 else -PI
    lon = _atan(wy / (1.0 if wx == 0.0 else wx)) + (turn if wx < 0.0 else 0.0)
    on_axis = HALF_PI if wy > 0.0 else (-HALF_PI if wy < 0.0 else 0.0)
    return on_axis if wx == 0.0 else lon


@ngjit_inline
def _latitude(z):
    """asin(z) as atan(z / sqrt(1 - z²)), finite at the poles, by the branch-free atan."""
    return _atan(z / max(math.sqrt((1.0 - z) * (1.0 + z)), 1e-300))


@ngjit_vector
def _row_xy(a, b, norm, columns, pole, in_mercator, in_extent, in_w, in_h, xs, ys):
    """Continuous input coordinates (xs, ys) of one output row, whose rotated latitude has the
    weights (a, b, norm), from the column terms as (3, W); ys is NaN where a Mercator input has
    no source. An atan, an asin (as an atan) and three divisions a pixel, in loops the compiler
    vectorises; a Mercator input takes a logarithm a pixel instead of the asin, in a scalar loop."""
    bx, by, bz = b * pole[0], b * pole[1], b * pole[2]
    for c in range(xs.shape[0]):
        wx = a * columns[0, c] + bx
        wy = a * columns[1, c] + by
        z = min(1.0, max(-1.0, (a * columns[2, c] + bz) / norm))
        xs[c] = (_longitude(wx, wy) + PI) / TWO_PI * in_w
        ys[c] = z
    if in_mercator:
        for c in range(ys.shape[0]):
            z = ys[c]
            y = math.nan
            if -1.0 < z < 1.0:  # atanh as a logarithm; a pole lies beyond every Mercator limit
                y = (in_extent - 0.5 * math.log((1.0 + z) / (1.0 - z))) / (2.0 * in_extent) * in_h
            ys[c] = y if 0.0 <= y < in_h else math.nan
    else:
        for c in range(ys.shape[0]):
            z = ys[c]
            ys[c] = (HALF_PI - _latitude(z)) / PI * in_h


@ngjit_vector
def _fill_rows(lut, r0, r1, columns, rows, pole, in_mercator, in_extent, in_w, in_h, missing):
    """Fill nearest-neighbour LUT rows [r0, r1) with the (row, column) of each source pixel."""
    xs, ys = np.empty(lut.shape[1]), np.empty(lut.shape[1])
    components = np.ascontiguousarray(columns.T)
    for r in range(r0, r1):
        _row_xy(rows[r, 0], rows[r, 1], rows[r, 2], components, pole, in_mercator, in_extent, in_w, in_h, xs, ys)
        for c in range(xs.shape[0]):
            nan = math.isnan(ys[c])
            col = np.int64(math.floor(xs[c]))
            row = min(np.int64(math.floor(0.0 if nan else ys[c])), in_h - 1)
            lut[r, c, 0] = missing if nan else row
            lut[r, c, 1] = missing if nan else (col - in_w if col >= in_w else col)


@ngjit_vector
def _fill_rows_bilinear(lut, r0, r1, columns, rows, pole, in_mercator, in_extent, in_w, in_h, missing):
    """Fill bilinear LUT rows [r0, r1) with source positions rounded to 1/FRACTION_ONE pixel, measured
    from the first pixel's centre: columns wrap around the globe, rows clamp at the poles."""
    xs, ys = np.empty(lut.shape[1]), np.empty(lut.shape[1])
    components = np.ascontiguousarray(columns.T)
    turn = in_w * FRACTION_ONE
    for r in range(r0, r1):
        _row_xy(rows[r, 0], rows[r, 1], rows[r, 2], components, pole, in_mercator, in_extent, in_w, in_h, xs, ys)
        for c in range(xs.shape[0]):
            nan = math.isnan(ys[c])
            col = np.int64(math.floor((xs[c] - 0.5) * FRACTION_ONE + 0.5))  # to the nearest fraction
            col = col + turn if col < 0 else (col - turn if col >= turn else col)
            row = min(max(np.int64(math.floor(((0.0 if nan else ys[c]) - 0.5) * FRACTION_ONE + 0.5)), 0),
                      (in_h - 1) * FRACTION_ONE)
            lut[r, c, 0] = missing if nan else row
            lut[r, c, 1] = missing if nan else col


@ngjit
def _fill_rows_legacy(lut, r0, r1, columns, rows, pole, in_mercator, in_extent, in_w, in_h, missing):
    """Fill LUT rows [r0, r1) as the original script did: rounded angles, truncation, clamping.

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


NEAREST, LEGACY, BILINEAR = 0, 1, 2  # the fill kernels, by number, for the prange loop


@ngjit_parallel
def _fill_blocks_prange(lut, starts, stops, kind, columns, rows, pole, in_mercator, in_extent,
                        in_w, in_h, missing):
    """numba's own parallel loop over the same row blocks the process pool hands out."""
    for i in numba.prange(starts.shape[0]):
        if kind == LEGACY:
            _fill_rows_legacy(lut, starts[i], stops[i], columns, rows, pole, in_mercator,
                              in_extent, in_w, in_h, missing)
        elif kind == BILINEAR:
            _fill_rows_bilinear(lut, starts[i], stops[i], columns, rows, pole, in_mercator,
                                in_extent, in_w, in_h, missing)
        else:
            _fill_rows(lut, starts[i], stops[i], columns, rows, pole, in_mercator, in_extent,
                       in_w, in_h, missing)


FILLS = {NEAREST: _fill_rows, LEGACY: _fill_rows_legacy, BILINEAR: _fill_rows_bilinear}


@ngjit_vector
def _reach(pairs, marker):
    """The largest row and the largest column of a flat LUT's (row, column) pairs, leaving out
    the marker pair, compared in the LUT's own dtype: one sequential pass, for the LUTs from
    outside the process that are checked before their gather (not the numba nearest gathers:
    they check each pair as they read it)."""
    zero = pairs.dtype.type(0)
    top_row, top_col = zero, zero
    for j in range(pairs.shape[0] // 2):
        r = pairs[2 * j]
        c = pairs[2 * j + 1]
        none = (r == marker) & (c == marker)
        top_row = max(top_row, zero if none else r)
        top_col = max(top_col, zero if none else c)
    return top_row, top_col


# Primitives of the gathers. Flat offsets are unsigned, which spares numba's negative-index
# checks (a third of the time).
U1 = np.uint64(1)
U2 = np.uint64(2)
BYTE = np.uint64(255)


def _load_u64(data, offset):
    """The eight bytes of a uint8 array from ``offset`` as one little-endian integer (the plain
    Python meaning; compiled, it is the single unaligned load below)."""
    return np.uint64(int.from_bytes(data[offset:offset + np.uint64(8)].tobytes(), "little"))


@intrinsic
def _unaligned_u64(typingctx, data, offset):
    """Load eight bytes from a uint8 array at any byte offset as one uint64 (no bounds check)."""

    def codegen(context, builder, signature, args):
        base = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(base, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(address, align=1)

    return numba.types.uint64(data, numba.types.uint64), codegen


@overload(_load_u64, jit_options={"cache": True})
def _load_u64_compiled(data, offset):
    return lambda data, offset: _unaligned_u64(data, offset)


def _prefetch(array, index):
    """Hint the CPU to bring ``array[index]`` (1-D) into its caches (plain Python: nothing to do);
    the gathers know their scattered reads a hundred pixels ahead, so no load waits on memory."""


@intrinsic
def _prefetch_hint(typingctx, array, index):
    """llvm.prefetch of ``array[index]``: a read, kept in every cache level, for data."""

    def codegen(context, builder, signature, args):
        element = builder.gep(context.make_array(signature.args[0])(context, builder, args[0]).data, [args[1]])
        byte = ir.IntType(8).as_pointer()
        hint = ir.FunctionType(ir.VoidType(), [byte] + [ir.IntType(32)] * 3)
        call = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch." + byte.intrinsic_name)
        read, keep_in_all_levels, data_cache = (ir.Constant(ir.IntType(32), v) for v in (0, 3, 1))
        builder.call(call, [builder.bitcast(element, byte), read, keep_in_all_levels, data_cache])
        return context.get_dummy_value()

    return numba.types.none(array, numba.types.uint64), codegen


@overload(_prefetch, jit_options={"cache": True})
def _prefetch_compiled(array, index):
    return lambda array, index: _prefetch_hint(array, index)


@ngjit
def _put(flat_out, at, fill):
    """Write the fill pixel at flat offset ``at`` (an output pixel with no source)."""
    for k in range(fill.shape[0]):
        flat_out[at + np.uint64(k)] = fill[k]


PREFETCH_BLOCK = 128  # output pixels per block: a block's source pixels are prefetched during the one before


@ngjit
def _prefetch_sources(flat_src, table, first, stop, in_h, width, pixel):
    """Prefetch the source pixels of output pixels [first, stop) of a nearest LUT (flat); a
    prefetch never faults, so a column past the input (caught by the gather) does no harm."""
    for j in range(first, min(stop, table.shape[0] // 2)):
        sr = table[np.uint64(2 * j)]
        if sr < in_h:
            _prefetch(flat_src, (np.uint64(sr) * width + np.uint64(table[np.uint64(2 * j + 1)])) * pixel)


@ngjit_inline
def _outside(sr, sc, in_h, width, marker):
    """Output pixel with no pixel to read: 0 for a pixel inside the input, 1 for the marker pair
    ("no source"), 2 for anything else (a LUT that points outside the input: nothing is read)."""
    if sr < in_h and sc < width:
        return 0
    return 1 if sr == marker and sc == marker else 2


@functools.cache  # made on first use: importing the kernels stays cheap
def nearest_kernel(channels):
    """The nearest gather of pixels of ``channels`` items (a pixel packed as one integer is one
    item), its own compiled copy so that the channel loop has a constant bound: out[r, c] =
    src[lut[r, c]], "no source" gets ``fill``. Arguments: the source (H, W) or (H, W, channels),
    the LUT, the fill (``channels`` items), the marker, the output. Returns how many pairs point
    outside the input (those get ``fill`` too; see ``_outside``)."""

    @ngjit
    @named_after(channels)
    def gather(src, lut, fill, marker, out):
        return _gather_nearest(src, lut, fill, marker, out, channels)

    return gather


def _copy(flat_out, at, items, first, count):
    """flat_out[at:at + count] = items[first:first + count] (1-D, same dtype; compiled, one
    memcpy, which LLVM turns into a few loads and then stores for a constant ``count``: item by
    item, each store would have to wait for the next load, as the two arrays might overlap)."""
    flat_out[at:at + np.uint64(count)] = items[first:first + np.uint64(count)]


@intrinsic
def _copy_memcpy(typingctx, flat_out, at, items, first, count):
    """llvm.memcpy of ``count`` items from ``items[first]`` to ``flat_out[at]`` (no bounds check)."""

    def codegen(context, builder, signature, args):
        target, source = (builder.gep(context.make_array(signature.args[k])(context, builder, args[k]).data,
                                      [args[k + 1]]) for k in (0, 2))
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        count = context.cast(builder, args[4], signature.args[4], numba.types.intp)
        cgutils.raw_memcpy(builder, target, source, count, itemsize)
        return context.get_dummy_value()

    return numba.types.none(flat_out, numba.types.uint64, items, numba.types.uint64, count), codegen


@overload(_copy, jit_options={"cache": True})
def _copy_compiled(flat_out, at, items, first, count):
    return lambda flat_out, at, items, first, count: _copy_memcpy(flat_out, at, items, first, count)


@ngjit_inline
def _gather_nearest(src, lut, fill, marker, out, channels):
    """Per block of output pixels: prefetch the next block's sources, then copy each pixel's
    ``channels`` items, checking each pair as it is read."""
    in_h, width = src.shape[0], np.uint64(src.shape[1])
    stride = np.uint64(channels)
    s, table, o = src.reshape(-1), lut.reshape(-1), out.reshape(-1)
    pixels = lut.shape[0] * lut.shape[1]
    bad = 0
    for start in range(0, pixels, PREFETCH_BLOCK):
        _prefetch_sources(s, table, start + PREFETCH_BLOCK, start + 2 * PREFETCH_BLOCK, in_h, width, stride)
        for j in range(start, min(start + PREFETCH_BLOCK, pixels)):
            i = np.uint64(j)
            sr, sc = table[U2 * i], table[U2 * i + U1]
            where = _outside(sr, sc, in_h, width, marker)
            if where:
                _copy(o, stride * i, fill, np.uint64(0), channels)
                bad += where >> 1
            else:
                _copy(o, stride * i, s, (np.uint64(sr) * width + np.uint64(sc)) * stride, channels)
    return bad


# The bilinear gathers read a source padded with a wrapped column and a repeated last row
# (see gather.padded_source), so the four neighbours need no branches.


@ngjit
def _corner(lut, i, row_stride, pixel):
    """Flat offset of the top-left neighbour of output pixel ``i`` and the four weights in
    1/WEIGHT_ONE (int64), from its fixed-point (row, column) in 1/FRACTION_ONE pixel."""
    pr = lut[np.uint64(2) * i]
    pc = lut[np.uint64(2) * i + U1]
    fr, fc = _fractions(lut, i)
    base = np.uint64(pr >> FRACTION_BITS) * row_stride + np.uint64(pc >> FRACTION_BITS) * pixel
    w00, w01, w10, w11 = _weights(fr, fc)
    return base, w00, w01, w10, w11


@ngjit
def _gather_bilinear(src, lut, fill, is_int, alpha, out):
    """Bilinear blend of pixels one at a time, for what the word kernels below do not take (other
    dtypes than 8-bit, more than four channels, big-endian machines): weights in 1/WEIGHT_ONE, summed
    in float64, exact for every integer image Pillow reads (at most 2**47 a term, 2**50 a sum);
    with ``alpha`` the colours are weighted by the last channel (premultiplied), so that
    transparent pixels lend no colour; integers round half up."""
    channels = np.uint64(out.shape[2])
    last = channels - U1
    colours = out.shape[2] - 1 if alpha else out.shape[2]
    row_stride = np.uint64(src.shape[1]) * channels
    limit = (src.shape[0] - 1) * FRACTION_ONE
    s, o, table = src.reshape(-1), out.reshape(-1), lut.reshape(-1)
    for j in range(out.shape[0] * out.shape[1]):
        i = np.uint64(j)
        at = i * channels
        if table[np.uint64(2) * i] >= limit:
            _put(o, at, fill)
            continue
        b, w00, w01, w10, w11 = _corner(table, i, row_stride, channels)
        v00, v01, v10, v11 = np.float64(w00), np.float64(w01), np.float64(w10), np.float64(w11)
        weight = float(WEIGHT_ONE)
        if alpha:
            v00 *= np.float64(s[b + last])
            v01 *= np.float64(s[b + channels + last])
            v10 *= np.float64(s[b + row_stride + last])
            v11 *= np.float64(s[b + row_stride + channels + last])
            weight = v00 + v01 + v10 + v11
            o[at + last] = math.floor((weight + WEIGHT_HALF) / WEIGHT_ONE) if is_int else weight / WEIGHT_ONE
        for kk in range(colours):
            k = b + np.uint64(kk)
            total = (v00 * np.float64(s[k]) + v01 * np.float64(s[k + channels])
                     + v10 * np.float64(s[k + row_stride]) + v11 * np.float64(s[k + row_stride + channels]))
            if weight == 0.0:  # every neighbour transparent
                o[at + np.uint64(kk)] = 0
            elif is_int:
                o[at + np.uint64(kk)] = math.floor((total + math.floor(weight / 2.0)) / weight)
            else:
                o[at + np.uint64(kk)] = total / weight


BLEND_BLOCK = 256  # output pixels per pass of the 8-bit blend: its word buffers stay in L1


@functools.cache  # made on first use: importing the kernels stays cheap
def bilinear_bytes_kernel(channels):
    """The bilinear blend of 8-bit pixels of ``channels`` channels (same weights and rounding as
    the other integer blends), its own compiled copy so that the loops have constant bounds.
    Arguments: the padded source's bytes with at least seven more, its height and width, the
    LUT, the fill, alpha (premultiply by the last channel), the output."""

    @ngjit
    @named_after(channels)
    def gather(data, height, width, lut, fill, alpha, out):
        _bilinear_words(data, height, width, lut, fill, alpha, out, channels)

    return gather


@ngjit_inline
def _bilinear_words(data, height, width, lut, fill, alpha, out, channels):
    """Per block of output pixels: load each one's top and bottom neighbour pairs as two 8-byte
    words, or the fill's where there is no source (the scattered part, scalar), then blend the
    words (sequential, so LLVM vectorises it); a blend weighted by alpha puts the fill back
    afterwards, as its weights need not sum to one. The word shifts assume a little-endian machine."""
    stride = np.uint64(channels)
    row_stride = np.uint64(width) * stride
    limit = (height - 1) * FRACTION_ONE
    fill_pixel = np.uint64(0)
    for k in range(channels):
        fill_pixel |= np.uint64(fill[k]) << np.uint64(8 * k)
    fill_pair = fill_pixel | fill_pixel << np.uint64(8 * channels)  # weights summing to one blend it back
    top = np.empty(BLEND_BLOCK, np.uint64)
    bottom = np.empty(BLEND_BLOCK, np.uint64)
    table, o = lut.reshape(-1), out.reshape(-1)
    pixels = out.shape[0] * out.shape[1]
    for start in range(0, pixels, BLEND_BLOCK):
        first = np.uint64(start)
        count = np.uint64(min(BLEND_BLOCK, pixels - start))
        for j in range(count):
            i = first + np.uint64(j)
            pr = table[np.uint64(2) * i]
            if pr >= limit:
                top[j] = fill_pair
                bottom[j] = fill_pair
                continue
            b = (np.uint64(pr >> FRACTION_BITS) * row_stride
                 + np.uint64(table[np.uint64(2) * i + U1] >> FRACTION_BITS) * stride)
            top[j] = _load_u64(data, b)
            bottom[j] = _load_u64(data, b + row_stride)
        if not alpha:
            _blend_words(top, bottom, table, first, count, channels, o)
            continue
        _blend_words_premultiplied(top, bottom, table, first, count, channels, o)
        for j in range(count):
            i = first + np.uint64(j)
            if table[np.uint64(2) * i] >= limit:
                _put(o, i * stride, fill)



@ngjit_inline
def _fractions(table, i):
    """Output pixel ``i``'s (row, column) fractions in 1/FRACTION_ONE pixel."""
    mask = np.uint32(FRACTION_MASK)
    return np.int64(table[np.uint64(2) * i] & mask), np.int64(table[np.uint64(2) * i + U1] & mask)


@ngjit_inline
def _weights(fr, fc):
    """The four neighbours' weights in 1/WEIGHT_ONE (top-left, top-right, bottom-left, bottom-right)
    of the fractions ``fr``, ``fc``, in their integer type."""
    return (FRACTION_ONE - fr) * (FRACTION_ONE - fc), (FRACTION_ONE - fr) * fc, fr * (FRACTION_ONE - fc), fr * fc


@ngjit_inline
def _blend_words(top, bottom, table, first, count, channels, o):
    """Blend each channel of the word pairs with weights in 1/WEIGHT_ONE (int32: at most 255 * 65536)."""
    pair = np.uint64(8 * channels)  # bit offset of the right-hand neighbour in a word
    for jj in range(count):
        j = np.uint64(jj)
        i = first + j
        fr, fc = _fractions(table, i)
        fr, fc = np.int32(fr), np.int32(fc)
        w00, w01, w10, w11 = _weights(fr, fc)
        t, u = top[j], bottom[j]
        for k in range(channels):
            low = np.uint64(8 * k)
            total = (np.int32((t >> low) & BYTE) * w00 + np.int32((t >> (low + pair)) & BYTE) * w01
                     + np.int32((u >> low) & BYTE) * w10 + np.int32((u >> (low + pair)) & BYTE) * w11)
            o[np.uint64(channels) * i + np.uint64(k)] = np.uint8((total + WEIGHT_HALF) >> WEIGHT_BITS)


@ngjit_inline
def _blend_words_premultiplied(top, bottom, table, first, count, channels, o):
    """The same with colours weighted by alpha (the last channel). The quotient is taken in
    float64, which vectorises: exact here, as a non-integer quotient of these integers (below
    2**33 over below 2**25) stays further than 2**-25 from the next integer."""
    pair = np.uint64(8 * channels)
    alpha = np.uint64(8 * (channels - 1))
    for jj in range(count):
        j = np.uint64(jj)
        i = first + j
        fr, fc = _fractions(table, i)
        t, u = top[j], bottom[j]
        w00, w01, w10, w11 = _weights(fr, fc)
        w00 *= np.int64((t >> alpha) & BYTE)
        w01 *= np.int64((t >> (alpha + pair)) & BYTE)
        w10 *= np.int64((u >> alpha) & BYTE)
        w11 *= np.int64((u >> (alpha + pair)) & BYTE)
        weight = w00 + w01 + w10 + w11
        at = np.uint64(channels) * i
        o[at + np.uint64(channels - 1)] = np.uint8((weight + WEIGHT_HALF) >> WEIGHT_BITS)
        divisor = np.float64(max(weight, 1))  # no weight: every colour total is 0 as well
        for k in range(channels - 1):
            low = np.uint64(8 * k)
            total = (np.int64((t >> low) & BYTE) * w00 + np.int64((t >> (low + pair)) & BYTE) * w01
                     + np.int64((u >> low) & BYTE) * w10 + np.int64((u >> (low + pair)) & BYTE) * w11)
            o[at + np.uint64(k)] = np.uint8(math.floor((total + weight // 2) / divisor))


@ngjit
def _gather_average(src, lut, fill, alpha, is_int, out):
    """Average the k x k samples of each output pixel (the LUT's third axis), skipping samples
    with no source; colours premultiplied by alpha (the last channel) when ``alpha``, integer
    results rounded half up when ``is_int``."""
    height, width, channels = out.shape
    samples = lut.shape[2]
    in_h = src.shape[0]
    colours = channels - 1 if alpha else channels
    for r in range(height):
        for c in range(width):
            count = 0
            weight = 0.0
            for s in range(samples):
                sr = lut[r, c, s, 0]
                if sr < in_h:
                    count += 1
                    weight += src[sr, lut[r, c, s, 1], colours] if alpha else 1.0
            if count == 0:
                for k in range(channels):
                    out[r, c, k] = fill[k]
                continue
            if alpha:
                out[r, c, colours] = math.floor(weight / count + 0.5) if is_int else weight / count
            for k in range(colours):
                total = 0.0
                for s in range(samples):
                    sr = lut[r, c, s, 0]
                    if sr < in_h:
                        sc = lut[r, c, s, 1]
                        total += np.float64(src[sr, sc, k]) * (np.float64(src[sr, sc, colours]) if alpha else 1.0)
                value = total / weight if weight > 0 else 0.0
                out[r, c, k] = math.floor(value + 0.5) if is_int else value


@functools.cache
def average_bytes_kernel(channels, alpha):
    """The average of 8-bit pixels of ``channels`` channels, alpha premultiplied or not, same
    result as ``_gather_average``; its own compiled copy, so that the channel loops have constant
    bounds and the alpha choice is made once, at compile time. Arguments: the padded source's
    bytes with at least seven more (as for ``bilinear_bytes_kernel``), its width, the input's
    height, the LUT, the fill, the output."""

    @ngjit
    @named_after(channels, alpha)
    def gather(data, width, in_h, lut, fill, out):
        if alpha:
            _average_words_premultiplied(data, width, in_h, lut, fill, out, channels)
        else:
            _average_words(data, width, in_h, lut, fill, out, channels)

    return gather


@ngjit_inline
def _average_words(data, width, in_h, lut, fill, out, channels):
    """Each sample is one word load; two channels are summed at a time in 16-bit lanes (at most
    64 x 255) and the rounded mean floor((2 total + n) / 2n) is a multiply by ceil(2**32 / 2n),
    exact for these sums and far faster than dividing."""
    samples = lut.shape[2]
    reciprocal = np.empty(samples + 1, np.uint64)
    for n in range(1, samples + 1):
        reciprocal[n] = ((1 << 32) + 2 * n - 1) // (2 * n)
    stride = np.uint64(width) * np.uint64(channels)
    pair_lanes = np.uint64(0x00FF00FF)
    table, o = lut.reshape(-1), out.reshape(-1)
    for j in range(out.shape[0] * out.shape[1]):
        i = np.uint64(j)
        first = i * np.uint64(2 * samples)
        even, odd, count = np.uint64(0), np.uint64(0), 0  # lanes: channels 0 and 2, channels 1 and 3
        for s in range(samples):
            k = first + np.uint64(2 * s)
            sr = table[k]
            if sr >= in_h:
                continue
            word = _load_u64(data, np.uint64(sr) * stride + np.uint64(table[k + U1]) * np.uint64(channels))
            count += 1
            even += word & pair_lanes
            odd += (word >> np.uint64(8)) & pair_lanes
        at = i * np.uint64(channels)
        if count == 0:
            _put(o, at, fill)
            continue
        n, m = np.uint64(count), reciprocal[count]
        for kk in range(channels):
            lanes = odd if kk & 1 else even
            total = (lanes >> np.uint64(16 * (kk >> 1))) & np.uint64(0xFFFF)
            o[at + np.uint64(kk)] = np.uint8(((np.uint64(2) * total + n) * m) >> np.uint64(32))


@ngjit_inline
def _average_words_premultiplied(data, width, in_h, lut, fill, out, channels):
    """The same with the colours summed weighted by alpha (the last channel), in integers, and
    divided as ``_gather_average`` does."""
    samples = lut.shape[2]
    stride = np.uint64(width) * np.uint64(channels)
    last = np.uint64(channels - 1)
    table, o = lut.reshape(-1), out.reshape(-1)
    for j in range(out.shape[0] * out.shape[1]):
        i = np.uint64(j)
        first = i * np.uint64(2 * samples)
        weight, red, green, blue, count = 0, 0, 0, 0, 0  # alpha's sum, the colour sums weighted by it
        for s in range(samples):
            k = first + np.uint64(2 * s)
            sr = table[k]
            if sr >= in_h:
                continue
            word = _load_u64(data, np.uint64(sr) * stride + np.uint64(table[k + U1]) * np.uint64(channels))
            count += 1
            a = np.int64((word >> (np.uint64(8) * last)) & BYTE)
            weight += a
            red += np.int64(word & BYTE) * a
            green += np.int64((word >> np.uint64(8)) & BYTE) * a
            blue += np.int64((word >> np.uint64(16)) & BYTE) * a
        at = i * np.uint64(channels)
        if count == 0:
            _put(o, at, fill)
            continue
        o[at + last] = np.uint8(math.floor(weight / count + 0.5))
        for kk in range(channels - 1):
            total = red if kk == 0 else (green if kk == 1 else blue)
            o[at + np.uint64(kk)] = np.uint8(math.floor(total / weight + 0.5)) if weight > 0 else 0
