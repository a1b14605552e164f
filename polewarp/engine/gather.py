"""Apply a LUT to an image array of any channel count and dtype (the memory-bound step)."""

from __future__ import annotations

import math
import sys

import numpy as np

from .errors import SpecError

GATHERS = ("auto", "numba", "numpy")
PACKABLE_BYTES = (1, 2, 4, 8)  # pixels of these sizes move as one unsigned integer
LITTLE_ENDIAN = sys.byteorder == "little"  # the 8-bit kernels read bytes out of 8-byte words
WORD_SPARE = 8  # bytes after the padded source, so that a word load at its last pixel stays inside


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
    lut : a :class:`polewarp.Lut` built for this image's size (or a bare LUT array).
    image : (H, W) or (H, W, C) array of any dtype.
    fill : value or per-channel values for output pixels with no source (default zeros).
    gather : ``numba`` (fastest once loaded), ``numpy`` (no numba start-up) or ``auto``
        (numba when it is already loaded in this process, numpy otherwise). Bilinear and
        average LUTs always gather with numba.
    alpha : the last channel is alpha: bilinear and average blend colours premultiplied by it.
    """
    table = getattr(lut, "array", lut)
    src = _as_channels(np.ascontiguousarray(image))
    expected = getattr(getattr(lut, "spec", None), "input_shape", None)
    if expected is not None and src.shape[:2] != tuple(expected):
        raise SpecError(
            f"the LUT was built for a {expected[1]}x{expected[0]} input, "
            f"not {src.shape[1]}x{src.shape[0]}"
        )
    if gather not in GATHERS:
        raise SpecError(f"gather must be one of {', '.join(GATHERS)}, not {gather!r}")
    if gather == "auto":
        gather = "numba" if "numba" in sys.modules else "numpy"
    values = _fill_values(fill, src.shape[2], src.dtype)
    out = np.empty(table.shape[:2] + src.shape[2:], src.dtype)
    resample = getattr(getattr(lut, "spec", None), "resample", "nearest")
    if resample == "nearest":
        (_gather_numba if gather == "numba" else _gather_numpy)(src, table, values, out)
    else:
        _gather_blended(resample, src, table, values, bool(alpha and src.shape[2] > 1), out)
    return out if image.ndim == 3 else out[:, :, 0]


def _gather_blended(resample: str, src: np.ndarray, table: np.ndarray, fill: np.ndarray, alpha: bool,
                    out: np.ndarray) -> None:
    """Pick the numba kernel of a bilinear or average LUT: 8-bit pixels of one to four channels
    by 8-byte word loads (on little-endian machines), any other pixels one at a time."""
    from . import kernels

    is_int = src.dtype.kind != "f"
    by_words = src.dtype == np.uint8 and src.shape[2] <= 4 and LITTLE_ENDIAN
    if resample == "average" and by_words:
        padded, data = padded_source(src, spare_bytes=WORD_SPARE)
        average = kernels.average_bytes_kernel(src.shape[2], alpha)
        average(data, padded.shape[1], src.shape[0], table, fill, out)
    elif resample == "average":
        kernels._gather_average(src, table, fill, alpha, is_int, out)
    elif by_words:
        padded, data = padded_source(src, spare_bytes=WORD_SPARE)
        blend = kernels.bilinear_bytes_kernel(src.shape[2])
        blend(data, padded.shape[0], padded.shape[1], table, fill, alpha, out)
    else:
        kernels._gather_bilinear(padded_source(src)[0], table, fill, is_int, alpha, out)


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


def _gather_numba(src: np.ndarray, table: np.ndarray, fill: np.ndarray, out: np.ndarray) -> None:
    """Pick the numba kernel for the pixel layout."""
    from . import kernels

    if src.shape[2] * src.dtype.itemsize in PACKABLE_BYTES:
        kernels._gather_pixels(_packed(src), table, _packed(fill[None, None])[0, 0], _packed(out))
    elif src.shape[2] == 3:
        kernels._gather_rgb(src, table, fill, out)
    else:
        kernels._gather_channels(src, table, fill, out)


def _gather_numpy(src: np.ndarray, table: np.ndarray, fill: np.ndarray, out: np.ndarray) -> None:
    """The same gather through one flat index and ``np.take`` over whole pixels."""
    in_h, in_w, channels = src.shape
    flat = table[:, :, 0].astype(np.int32 if in_h * in_w < 2**31 else np.intp)
    missing = flat >= in_h
    any_missing = missing.any()
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
