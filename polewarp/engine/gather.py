"""Apply a LUT to an image array of any channel count and dtype (the memory-bound step)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .errors import CacheError, SpecError
from .geometry import FRACTION_BITS

GATHERS = ("auto", "numba", "numpy")
PACKABLE_BYTES = (1, 2, 4, 8)  # pixels of these sizes move as one unsigned integer
LITTLE_ENDIAN = sys.byteorder == "little"  # the 8-bit kernels read bytes out of 8-byte words
WORD_SPARE = 8  # bytes after the padded source, so that a word load at its last pixel stays inside
LUT_DTYPES = (np.dtype(np.uint16), np.dtype(np.uint32))
# From this many output pixels, an "auto" nearest gather loads numba (~0.3 s once) rather than
# taking numpy's path: measured in perf/RESULTS.md (bench_check.py), where a cache hit's
# read + check + gather through numba overtakes numpy's.
NUMBA_MIN_PIXELS = 8_000_000


def _as_channels(image: np.ndarray) -> np.ndarray:
    """View an (H, W) or (H, W, C) image as (H, W, C)."""
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim == 3:
        return image
    raise SpecError(f"an image must be (H, W) or (H, W, C), not of shape {image.shape}")


def _packed(pixels: np.ndarray) -> np.ndarray:
    """View (H, W, C) pixels of 1, 2, 4 or 8 bytes as (H, W) unsigned integers."""
    unit = np.dtype(f"u{pixels.shape[2] * pixels.dtype.itemsize}")
    return pixels.reshape(pixels.shape[0], -1).view(unit)


def _fill_values(fill, channels: int, dtype) -> np.ndarray:
    values = np.zeros(channels, dtype) if fill is None else np.asarray(fill, dtype).reshape(-1)
    if values.size == 1 and channels > 1:
        values = np.repeat(values, channels)
    if values.size != channels:
        raise SpecError(f"fill has {values.size} values for an image of {channels} channels")
    return values


def apply_lut(lut, image: np.ndarray, fill=None, gather: str = "auto", alpha: bool = False) -> np.ndarray:
    """Gather ``image`` through ``lut`` into a new array of the LUT's size, same dtype and layout.

    Parameters
    ----------
    lut : a :class:`polewarp.Lut` built for this image's size (or a bare nearest LUT array,
        (H, W, 2) uint16 or uint32). A LUT not built by this process is checked: one whose shape
        does not fit its method is a ``SpecError``, one that points outside the image a ``CacheError``.
    image : (H, W) or (H, W, C) array of any dtype.
    fill : value or per-channel values for output pixels with no source (default zeros).
    gather : ``numba`` (fastest once loaded), ``numpy`` (no numba start-up) or ``auto``
        (numba when it is loaded already or the output has NUMBA_MIN_PIXELS or more, numpy
        otherwise). Bilinear and average LUTs always gather with numba.
    alpha : the last channel is alpha: bilinear and average blend colours premultiplied by it.
    """
    table = getattr(lut, "array", lut)
    spec = getattr(lut, "spec", None)
    src = _as_channels(np.ascontiguousarray(image))
    check_input(spec, src)
    if gather not in GATHERS:
        raise SpecError(f"gather must be one of {', '.join(GATHERS)}, not {gather!r}")
    checked = getattr(lut, "checked", False)
    if not checked:
        check_layout(table, spec)
    rows = RowGather(spec, src, fill, choose_gather(gather, table.shape[0] * table.shape[1]), alpha, checked)
    out = np.empty(table.shape[:2] + src.shape[2:], src.dtype)
    rows(table, out)
    return out if image.ndim == 3 else out[:, :, 0]


def check_input(spec, src: np.ndarray) -> None:
    """Refuse an (H, W, C) image of another size than the LUT's input."""
    if spec is not None and src.shape[:2] != tuple(spec.input_shape):
        raise SpecError(
            f"the LUT was built for a {spec.input_shape[1]}x{spec.input_shape[0]} input, "
            f"not {src.shape[1]}x{src.shape[0]}"
        )


class RowGather:
    """The gather of one (H, W, C) image through any rows of one LUT: ``rows(table, out)`` fills
    ``out`` from ``table``, a run of the LUT's rows (a view: the banded pipeline passes one band
    at a time). What depends on the image alone (the padded source of the blends) is made once.

    ``checked``: the LUT's pairs are known to lie within the input; else each run of rows is
    checked as it is gathered (its layout must have been checked by the caller). ``threads``
    (an executor of ``workers`` threads): the rows are gathered in blocks on it, the kernels
    running without the GIL.
    """

    def __init__(self, spec, src: np.ndarray, fill, gather: str, alpha: bool, checked: bool,
                 threads=None, workers: int = 1):
        check_input(spec, src)
        self.threads, self.workers = threads, workers
        self.resample = spec.resample if spec is not None else "nearest"
        self.input_shape = src.shape[:2]
        self.checked = checked
        self.values = _fill_values(fill, src.shape[2], src.dtype)
        self.alpha = bool(alpha and src.shape[2] > 1)
        self.kernel = _gather_kernel(self.resample, gather, src)
        self.source = self.kernel.prepare(src)

    def __call__(self, table: np.ndarray, out: np.ndarray) -> None:
        if not (self.checked or self.kernel.counts_outside):
            check_lut(table, self.input_shape, self.resample, self.kernel.pre_pass)
        outside = sum(count or 0 for count in self._runs(table, out))  # the blends count nothing
        if outside and not self.checked:  # the pre-pass names what is wrong
            check_lut(table, self.input_shape, self.resample, "numpy")

    def _runs(self, table: np.ndarray, out: np.ndarray) -> list:
        """The kernel over the rows, in TASKS_PER_WORKER blocks a thread when there are threads
        (rows differ in cost: a transverse map's middle rows read the input a column at a time)."""
        def run(block):
            return self.kernel.run(self.source, table[block[0]:block[1]], self.values, self.alpha,
                                   out[block[0]:block[1]])

        rows = table.shape[0]
        if self.threads is None or self.workers < 2 or rows < 2:
            return [run((0, rows))]
        from .backends import TASKS_PER_WORKER, row_blocks

        return list(self.threads.map(run, row_blocks(rows, math.ceil(rows / (TASKS_PER_WORKER * self.workers)))))


def choose_gather(gather: str, pixels: int) -> str:
    """``auto`` -> numba when numba is loaded already or the output is big enough for it to pay
    for loading it (NUMBA_MIN_PIXELS), numpy otherwise."""
    if gather != "auto":
        return gather
    return "numba" if "numba" in sys.modules or pixels >= NUMBA_MIN_PIXELS else "numpy"


def check_layout(table: np.ndarray, spec=None) -> None:
    """Raise SpecError unless ``table`` has the shape and dtype of ``spec``'s LUT (a bare array:
    of a nearest LUT, (H, W, 2) uint16 or uint32)."""
    if spec is not None:
        from .lut import lut_layout

        shape, dtype = lut_layout(spec)
        if table.shape != shape or table.dtype != dtype:
            raise SpecError(f"a {spec.resample} LUT for this geometry is {shape} {dtype}, "
                            f"not {table.shape} {table.dtype}")
    elif table.ndim != 3 or table.shape[2] != 2 or table.dtype not in LUT_DTYPES:
        raise SpecError(f"a bare LUT array is (H, W, 2) of uint16 or uint32 (row, column), "
                        f"not {table.shape} {table.dtype}")


def check_lut(table: np.ndarray, input_shape: tuple[int, int], resample: str = "nearest",
              gather: str = "auto") -> None:
    """Raise CacheError unless every (row, column) pair of ``table`` can be read safely from an
    input of ``input_shape`` (H, W) or is the marker pair (both the dtype's maximum: no source).

    Nearest and average pairs are pixels: row < H and column < W. Bilinear pairs are positions
    in 1/256 pixel read with their right and lower neighbours from the padded source (a wrapped
    column, a repeated row): row < 256 H and column < 256 W. A pair with one marker and one
    other value is invalid: it comes from no build. Which pass (numpy or numba) by ``gather``."""
    marker = np.iinfo(table.dtype).max
    scale = 1 << FRACTION_BITS if resample == "bilinear" else 1
    last_row, last_col = (min(side * scale - 1, marker) for side in input_shape)
    pairs = np.ascontiguousarray(table).reshape(-1)
    if choose_gather(gather, pairs.size // 2) == "numba":
        from . import kernels

        top_row, top_col = kernels._reach(pairs, table.dtype.type(marker))
    else:
        rows, cols = pairs[0::2], pairs[1::2]
        inside = (rows != marker) | (cols != marker)
        top_row, top_col = (int(np.max(part, where=inside, initial=0)) for part in (rows, cols))
    if top_row > last_row or top_col > last_col:
        unit = " (in 1/256 px)" if scale > 1 else ""
        raise CacheError(f"the LUT points outside the {input_shape[1]}x{input_shape[0]} input: "
                         f"rows up to {top_row}, columns up to {top_col}{unit}")


def check_graticule(mask: np.ndarray | None, spec) -> None:
    """Raise CacheError unless ``mask`` is what ``spec`` draws: None without a graticule, else
    its (H, W) uint8 layout holding only 0 and 1 (for masks from outside the process)."""
    from .lut import graticule_layout

    layout = graticule_layout(spec)
    if layout is None or mask is None:
        if (layout is None) != (mask is None):
            raise CacheError("a graticule mask is missing" if mask is None else "a graticule mask it does not draw")
        return
    if mask.shape != layout[0] or mask.dtype != layout[1]:
        raise CacheError(f"its graticule mask is {mask.shape} {mask.dtype}, not {layout[0]} {layout[1]}")
    if mask.size and int(mask.max()) > 1:
        raise CacheError(f"its graticule mask holds {int(mask.max())}: only 0 and 1 are")


def draw_graticule(pixels: np.ndarray, mask: np.ndarray, color) -> np.ndarray:
    """``pixels`` (H, W[, C]) with ``color`` (a value or per-channel values) where ``mask`` is 1, in place."""
    pixels[mask.view(bool)] = color
    return pixels


def padded_source(src: np.ndarray, spare_bytes: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The source with its first column repeated after the last (the seam wraps) and its last
    row repeated (the pole clamps), so that every pixel has four neighbours; returned with the
    flat bytes that hold it and ``spare_bytes`` more (room for word loads at the last pixel)."""
    height, width = src.shape[:2]
    shape = (height + 1, width + 1) + src.shape[2:]
    size = math.prod(shape) * src.dtype.itemsize
    data = np.empty(size + spare_bytes, np.uint8)
    padded = data[:size].view(src.dtype).reshape(shape)
    padded[:height, :width] = src
    padded[:height, width] = src[:, 0]
    padded[height] = padded[height - 1]
    return padded, data


def _gather_numpy(src: np.ndarray, table: np.ndarray, fill: np.ndarray, alpha: bool, out: np.ndarray) -> None:
    """The nearest gather through one flat index and ``np.take`` over whole pixels, for a checked
    LUT (``alpha`` unused: the signature of every gather). "No source" is found before the cast
    to int32, which would make a uint32 marker -1."""
    in_h, in_w, channels = src.shape
    missing = table[:, :, 0] >= in_h
    any_missing = missing.any()
    flat = table[:, :, 0].astype(np.int32 if in_h * in_w < 2**31 else np.intp)
    flat *= in_w
    flat += table[:, :, 1]
    if any_missing:
        flat[missing] = 0
    if channels * src.dtype.itemsize in PACKABLE_BYTES:
        np.take(_packed(src).reshape(-1), flat, out=_packed(out))
    else:  # whole pixels as opaque items of their size
        unit = np.dtype(f"V{channels * src.dtype.itemsize}")
        np.take(src.reshape(-1).view(unit), flat.reshape(-1), out=out.reshape(-1).view(unit))
    if any_missing:
        out[missing] = fill


def _nearest_packed(src, table, fill, alpha, out) -> int:
    """numba's nearest gather of pixels of 1, 2, 4 or 8 bytes, each moved as one integer; returns
    how many pairs point outside the input and are not the marker pair (their pixels get
    ``fill``: nothing outside is read)."""
    from . import kernels

    marker = table.dtype.type(np.iinfo(table.dtype).max)
    return kernels.nearest_kernel(1)(_packed(src), table, _packed(fill[None, None])[0], marker, _packed(out))


def _nearest_items(src, table, fill, alpha, out) -> int:
    """The same for pixels of any other size, channel by channel."""
    from . import kernels

    marker = table.dtype.type(np.iinfo(table.dtype).max)
    return kernels.nearest_kernel(src.shape[2])(src, table, fill, marker, out)


def _word_source(src):
    """The padded source of the word-load kernels, with the spare bytes their last load reads."""
    return padded_source(src, spare_bytes=WORD_SPARE)


def _bilinear_words(source, table, fill, alpha, out) -> None:
    """The bilinear blend of 8-bit pixels of one to four channels by 8-byte word loads."""
    from . import kernels

    padded, data = source
    kernels.bilinear_bytes_kernel(padded.shape[2])(data, padded.shape[0], padded.shape[1], table, fill, alpha, out)


def _bilinear_items(padded, table, fill, alpha, out) -> None:
    """The bilinear blend of any other pixels, one at a time."""
    from . import kernels

    kernels._gather_bilinear(padded, table, fill, padded.dtype.kind != "f", alpha, out)


def _average_words(source, table, fill, alpha, out) -> None:
    """The average of 8-bit pixels of one to four channels by 8-byte word loads."""
    from . import kernels

    padded, data = source
    kernels.average_bytes_kernel(padded.shape[2], alpha)(data, padded.shape[1], padded.shape[0] - 1, table, fill,
                                                          out)


def _average_items(src, table, fill, alpha, out) -> None:
    """The average of any other pixels, one at a time."""
    from . import kernels

    kernels._gather_average(src, table, fill, alpha, src.dtype.kind != "f", out)


def _unchanged(src):
    return src


class _Kernel(NamedTuple):
    """A gather: ``run(prepare(src), table, fill, alpha, out)``; whether it counts the pairs
    outside the input as it reads them (returning how many) or needs ``check_lut``'s pre-pass,
    and which; ``prepare`` makes what it reads of the image (once per image, not per band)."""

    run: Callable
    counts_outside: bool
    pre_pass: str = "numba"
    prepare: Callable = _unchanged


# The pixel layouts a gather can take, in order of preference: one integer a pixel, 8-bit
# pixels read as 8-byte words (little-endian machines only: the kernels pick bytes out of a
# word), and any pixel item by item.
LAYOUTS = {
    "packed": lambda src: src.shape[2] * src.dtype.itemsize in PACKABLE_BYTES,
    "words": lambda src: src.dtype == np.uint8 and src.shape[2] <= 4 and LITTLE_ENDIAN,
    "items": lambda src: True,
}
# Nearest gathers with numba check each pair as they read it; numpy's and the blends do not (the
# blends read neighbours too), and for nearest the pre-pass stays in numpy, as numba may not be loaded.
KERNELS = {
    ("nearest", "packed"): _Kernel(_nearest_packed, True),
    ("nearest", "items"): _Kernel(_nearest_items, True),
    ("nearest-numpy", "items"): _Kernel(_gather_numpy, False, "numpy"),
    ("bilinear", "words"): _Kernel(_bilinear_words, False, prepare=_word_source),
    ("bilinear", "items"): _Kernel(_bilinear_items, False, prepare=lambda src: padded_source(src)[0]),
    ("average", "words"): _Kernel(_average_words, False, prepare=_word_source),
    ("average", "items"): _Kernel(_average_items, False),
}


def _gather_kernel(resample: str, gather: str, src: np.ndarray) -> _Kernel:
    """The gather of ``resample`` for ``src``'s pixels: the first layout of LAYOUTS that it has
    a kernel for and that fits (a nearest gather by ``gather``: numba or numpy)."""
    method = "nearest-numpy" if resample == "nearest" and gather == "numpy" else resample
    return next(KERNELS[method, layout] for layout, fits in LAYOUTS.items()
                if (method, layout) in KERNELS and fits(src))
