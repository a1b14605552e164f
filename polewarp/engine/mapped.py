"""Inputs read without decoding: .npy files and uncompressed TIFFs, memory-mapped read-only.

A huge input (an 86400x43200 RGB map is 11 GB) is read from the page cache instead of being
copied into the process. Everything in the file's header is checked before the mapping: the
dtype and shape polewarp takes, and that the pixels it promises lie inside the file.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import os
from pathlib import Path

import numpy as np

from .cache import open_regular
from .errors import CacheError, ImageError
from .imageio import Picture, check_regular_file, read_header, read_image

NPY_MAGIC = b"\x93NUMPY"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
MAX_NPY_HEADER = 4096  # numpy writes ~128 bytes; more is not a plain array's header
# (dtype, channels) -> mode: what both readers take, anything else is refused (.npy) or decoded (TIFF).
NPY_MODES = {("u1", 1): "L", ("u2", 1): "I;16", ("f4", 1): "F", ("u1", 3): "RGB", ("u1", 4): "RGBA"}
TIFF_MODES = {("u1", 1, "MINISBLACK"): "L", ("u1", 2, "MINISBLACK"): "LA", ("u1", 3, "RGB"): "RGB",
              ("u1", 4, "RGB"): "RGBA", ("u2", 1, "MINISBLACK"): "I;16", ("f4", 1, "MINISBLACK"): "F"}


def is_npy(path) -> bool:
    """Whether the file starts as a .npy file does."""
    with open_regular(path) as stream:
        return stream.read(len(NPY_MAGIC)) == NPY_MAGIC


def _npy_header(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, data offset) from a .npy header, parsed as a literal, never evaluated."""
    with open_regular(path) as stream:
        head = stream.read(len(NPY_MAGIC) + 4)
        if len(head) < 10 or head[:6] != NPY_MAGIC or head[6] not in (1, 2, 3):
            raise ImageError(f"{path}: not a .npy file numpy writes")
        if head[6] == 1:
            length, start = int.from_bytes(head[8:10], "little"), 10
        else:
            length, start = int.from_bytes((head + stream.read(2))[8:12], "little"), 12
        if length > MAX_NPY_HEADER:
            raise ImageError(f"{path}: its .npy header is {length} bytes, over {MAX_NPY_HEADER}")
        stream.seek(start)
        raw = stream.read(length)
    try:
        header = ast.literal_eval(raw.decode("latin1"))
        dtype = np.dtype(header["descr"])
        shape, fortran = tuple(header["shape"]), header["fortran_order"]
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError):
        raise ImageError(f"{path}: its .npy header is damaged") from None
    if fortran is not False or not all(isinstance(side, int) and side > 0 for side in shape):
        raise ImageError(f"{path}: a .npy map is a C-ordered (H, W) or (H, W, C) array, not {header}")
    return dtype, shape, start + length


def _npy(path: Path) -> Picture:
    dtype, shape, offset = _npy_header(path)
    channels = shape[2] if len(shape) == 3 else 1
    key = (dtype.newbyteorder("=").str.lstrip("<>|="), channels)
    if len(shape) not in (2, 3) or key not in NPY_MODES or (dtype.byteorder == ">" and dtype.itemsize > 1):
        raise ImageError(f"{path}: a .npy map is (H, W) uint8, uint16 or float32, or (H, W, 3|4) uint8 "
                         f"(little-endian), not {shape} {dtype}")
    return _mapped(path, dtype, shape[:2] + (channels,), offset, NPY_MODES[key])


def _mapped(path: Path, dtype: np.dtype, shape: tuple[int, ...], offset: int, mode: str) -> Picture:
    """The pixels at ``offset``, memory-mapped read-only, once they are known to lie in the file."""
    needed = offset + math.prod(shape) * dtype.itemsize
    size = os.stat(path).st_size
    if needed > size:
        raise ImageError(f"{path}: truncated: its header promises {needed:,} bytes, the file has {size:,}")
    return Picture(np.memmap(path, dtype, "r", offset, shape), mode)


def _tiff(path: Path) -> Picture | None:
    """An uncompressed, contiguous, chunky TIFF of a mode polewarp takes, mapped; else None
    (Pillow decodes it). tifffile reads the header; a damaged one is an ImageError."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            offset = _contiguous_offset(page)
            channels = page.samplesperpixel
            key = (page.dtype.newbyteorder("=").str.lstrip("<>|=") if page.dtype is not None else None, channels,
                   page.photometric.name)
            usable = (offset is not None and page.compression == 1 and page.planarconfig == 1
                      and key in TIFF_MODES and (tif.byteorder == "<" or page.dtype.itemsize == 1)
                      and page.imagewidth > 0 and page.imagelength > 0)
            if not usable:
                return None
            shape = (page.imagelength, page.imagewidth, channels)
            dtype = page.dtype.newbyteorder(tif.byteorder)
            info = _tiff_info(page)
    except (tifffile.TiffFileError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            OverflowError) as err:
        raise ImageError(f"{path}: cannot read its TIFF header ({err})") from None
    return dataclasses.replace(_mapped(path, dtype, shape, offset, TIFF_MODES[key]), info=info)


# ResolutionUnit -> inches a unit, as Pillow reads a TIFF's DPI (none for unit 1: no unit)
RESOLUTION_UNITS = {2: 1.0, 3: 2.54}


def _tiff_info(page) -> dict:
    """What Pillow's reader would keep of a TIFF's metadata: its ICC profile and DPI."""
    info, tags = {}, page.tags
    if "InterColorProfile" in tags:
        info["icc_profile"] = bytes(tags["InterColorProfile"].value)
    unit = RESOLUTION_UNITS.get(int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2)
    if unit and "XResolution" in tags and "YResolution" in tags:
        info["dpi"] = tuple(_rational(tags[name].value) * unit for name in ("XResolution", "YResolution"))
    return info


def _rational(value) -> float:
    numerator, denominator = value if isinstance(value, tuple) else (value, 1)
    return float(numerator) / denominator if denominator else 0.0


def _contiguous_offset(page) -> int | None:
    """Where the page's strips or tiles start, if they follow each other and hold exactly its
    pixels (then the pixels are one array in the file); else None."""
    offsets = np.asarray(page.dataoffsets, np.int64)
    counts = np.asarray(page.databytecounts, np.int64)
    if offsets.size == 0 or offsets.size != counts.size or page.is_tiled or int(counts.sum()) != page.nbytes:
        return None
    if offsets.size > 1 and np.any(offsets[1:] != offsets[:-1] + counts[:-1]):
        return None
    return int(offsets[0])


def is_tiff(path) -> bool:
    with open_regular(path) as stream:
        return stream.read(4) in TIFF_MAGICS


def map_input(path) -> Picture | None:
    """The input's pixels memory-mapped, for a .npy file (which only this reads) or an
    uncompressed TIFF; None for anything else (Pillow decodes it)."""
    path = Path(path)
    check_regular_file(path)
    try:
        if is_npy(path):
            return _npy(path)
        return _tiff(path) if is_tiff(path) else None
    except CacheError as err:  # open_regular's refusal
        raise ImageError(f"{path}: {err}") from None
    except OSError as err:
        raise ImageError(f"{path}: {err.strerror or err}") from None


READ_CHUNK = 256 * 2**20  # bytes a read: a Ctrl-C between two is seen at once


def load(picture: Picture) -> Picture:
    """A mapped picture with its pixels read into memory by plain reads of the file: a copy
    through the mapping faults each 4 KiB page in turn, ten times slower (8.5 s against 0.6 s
    for 2.6 GB from the page cache, perf/RESULTS.md)."""
    mapping = picture.pixels
    pixels = np.empty(mapping.shape, mapping.dtype)
    target = memoryview(pixels.reshape(-1).view(np.uint8))
    path = Path(mapping.filename)
    try:
        with open_regular(path) as stream:
            stream.seek(mapping.offset)
            done = 0
            while done < len(target):
                count = stream.readinto(target[done:done + READ_CHUNK])
                if not count:
                    raise ImageError(f"{path}: truncated while it was read: {done:,} of {len(target):,} bytes")
                done += count
    except CacheError as err:
        raise ImageError(f"{path}: {err}") from None
    except OSError as err:
        raise ImageError(f"{path}: {err.strerror or err}") from None
    return picture.with_pixels(pixels, picture.geometry)


def read_input(path, max_pixels: int, mapped: Picture | None = None) -> Picture:
    """An input for the in-memory path: a .npy file or an uncompressed TIFF read as its pixels
    lie in the file (Pillow cannot read the one and decodes the other 50 times slower: 34 s
    against 0.6 s for 2.6 GB), a TIFF with the embedded geometry of its header; anything else
    decoded by Pillow, which also reports a TIFF whose header tifffile cannot read. ``mapped``:
    the file as ``map_input`` mapped it already (the banded plan's look at it)."""
    path = Path(path)
    check_regular_file(path)
    if mapped is None:
        try:
            npy, tiff = is_npy(path), is_tiff(path)
        except (CacheError, OSError):
            npy = tiff = False  # Pillow's reader says what is wrong
        if npy:
            return load(_npy(path))
        try:
            mapped = _tiff(path) if tiff else None
        except ImageError:
            mapped = None
    if mapped is None:
        return read_image(path, max_pixels)
    try:
        geometry = read_header(path).geometry
    except ImageError:  # a .npy file, or a TIFF Pillow cannot open (BigTIFF): no geometry it can read
        geometry = None
    return dataclasses.replace(load(mapped), geometry=geometry)
