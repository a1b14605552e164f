"""Streaming writers: an image written band by band of rows, never whole (TIFF strips, PNG rows).

TIFF goes through tifffile (uncompressed strips, BigTIFF beyond 4 GB); PNG through zlib, one
deflate stream fed a band at a time (filter type 0: the banded pipeline's outputs are huge and
written once; speed over a few per cent of size). Both carry what the in-memory path writes:
the ICC profile, the DPI and (PNG) the transparency. Written atomically: a failure at any band
(a full disk, a signal) leaves no file.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .errors import FormatError, ImageError
from .imageio import EncoderOptions, Picture

STREAMING = ("TIFF", "PNG")
DEFAULT_ENCODER = EncoderOptions()
# The modes each streaming writer stores: all the in-memory path does, but TIFF's 1-bit.
STREAM_MODES = {"TIFF": {"L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"},
                "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}}
TIFF_LIMIT = 2**32 - 2**26  # beyond (with room for the header and strip tables): BigTIFF
STRIP_BYTES = 2**20  # TIFF strips of about this size (readers read a strip at a time)
PNG_TYPES = {"1": (0, 1), "L": (0, 8), "LA": (4, 8), "P": (3, 8), "RGB": (2, 8), "RGBA": (6, 8), "I;16": (0, 16)}
TIFF_PHOTOMETRIC = {"L": "minisblack", "LA": "minisblack", "I;16": "minisblack", "I": "minisblack",
                    "F": "minisblack", "RGB": "rgb", "RGBA": "rgb", "CMYK": "separated", "P": "palette"}


def check_streamable(mode: str, fmt: str) -> None:
    """Refuse a mode the format's streaming writer does not store."""
    if mode not in STREAM_MODES[fmt]:
        others = [f.lower() for f in STREAMING if mode in STREAM_MODES[f]]
        raise FormatError(f"a huge {mode} image does not stream as {fmt}"
                          + (f": write {' or '.join(others)} instead" if others else "")
                          + f", or convert the input to {'L' if mode == '1' else 'RGB'} first")


def strip_rows(row_bytes: int, band_rows: int) -> int:
    """Rows per TIFF strip: the largest divisor of the band height giving strips of at most
    STRIP_BYTES, so that every band holds whole strips."""
    target = max(1, min(band_rows, STRIP_BYTES // max(1, row_bytes)))
    return next(rows for rows in range(target, 0, -1) if band_rows % rows == 0)


def write_bands(path, fmt: str, picture: Picture, size: tuple[int, int], bands: Iterable[np.ndarray],
                band_rows: int, encoder: EncoderOptions = DEFAULT_ENCODER) -> int:
    """Write the (rows, W, C) arrays ``bands`` yields, top to bottom, as one image of ``size``
    (W, H) with ``picture``'s mode, palette and metadata (its pixels unused); returns bytes.
    Every band but the last has ``band_rows`` rows."""
    path = Path(path)
    check_streamable(picture.mode, fmt)
    write = _write_tiff if fmt == "TIFF" else _write_png
    try:
        with atomic_output(path) as stream:
            write(stream, picture, size, bands, band_rows, encoder)
    except MemoryError:
        raise
    except OSError as err:
        raise ImageError(f"{path}: cannot write: {err.strerror or err}") from None
    return path.stat().st_size


def _tiff_strips(bands, rows: int):
    for band in bands:
        for r0 in range(0, band.shape[0], rows):
            yield band[r0:r0 + rows].tobytes()


def _write_tiff(stream, picture: Picture, size, bands, band_rows: int, encoder) -> None:
    import tifffile

    width, height = size
    channels = {"L": 1, "I;16": 1, "I": 1, "F": 1, "P": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[picture.mode]
    dtype = picture.pixels.dtype
    shape = (height, width) if channels == 1 else (height, width, channels)
    rows = strip_rows(width * channels * dtype.itemsize, band_rows)
    options = {"photometric": TIFF_PHOTOMETRIC[picture.mode], "rowsperstrip": rows, "metadata": None,
               "software": False}
    if picture.mode in ("LA", "RGBA"):
        options["extrasamples"] = ["unassalpha"]  # as Pillow writes them
    if picture.mode == "P":
        palette = np.zeros(768, np.uint16)
        values = _palette_bytes(picture)
        palette[:len(values)] = np.frombuffer(values, np.uint8)
        options["colormap"] = palette.reshape(256, 3).T * 257
    if "icc_profile" in picture.info:
        options["iccprofile"] = picture.info["icc_profile"]
    if "dpi" in picture.info:
        options["resolution"] = tuple(float(v) for v in picture.info["dpi"])
        options["resolutionunit"] = "INCH"
    big = height * width * channels * dtype.itemsize > TIFF_LIMIT
    with tifffile.TiffWriter(stream, bigtiff=big) as tif:
        tif.write(_tiff_strips(bands, rows), shape=shape, dtype=dtype, **options)


def _palette_bytes(picture: Picture) -> bytes:
    """The palette as RGB triples, at most 256."""
    from PIL import Image

    image = Image.new("P", (1, 1))
    image.putpalette(picture.palette)
    return bytes(image.getpalette("RGB"))[:768]


def _chunk(stream, kind: bytes, data: bytes) -> None:
    stream.write(struct.pack(">I", len(data)) + kind + data)
    stream.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def _png_transparency(picture: Picture) -> bytes | None:
    """The tRNS chunk's data for the picture's ``transparency``, as Pillow writes it."""
    value = picture.info.get("transparency")
    if value is None or picture.mode not in ("P", "L", "RGB", "I;16"):
        return None
    if picture.mode == "P":
        return value if isinstance(value, bytes) else b"\xff" * value + b"\x00"
    if picture.mode == "RGB":
        return struct.pack(">HHH", *value)
    return struct.pack(">H", value)


def _png_rows(band: np.ndarray, mode: str) -> np.ndarray:
    """A band as PNG scanlines: (rows, bytes) big-endian samples, 1-bit pixels packed."""
    if mode == "1":
        return np.packbits(band[:, :, 0] != 0, axis=1)
    if mode == "I;16":
        band = band.astype(">u2")
    return np.ascontiguousarray(band).reshape(band.shape[0], -1).view(np.uint8)


def _write_png(stream, picture: Picture, size, bands, band_rows: int, encoder: EncoderOptions) -> None:
    width, height = size
    colour, depth = PNG_TYPES[picture.mode]
    stream.write(b"\x89PNG\r\n\x1a\n")
    _chunk(stream, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    if "icc_profile" in picture.info:
        _chunk(stream, b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(picture.info["icc_profile"]))
    if "dpi" in picture.info:
        per_metre = (int(float(v) / 0.0254 + 0.5) for v in picture.info["dpi"])
        _chunk(stream, b"pHYs", struct.pack(">IIB", *per_metre, 1))
    if picture.mode == "P":
        _chunk(stream, b"PLTE", _palette_bytes(picture))
    transparency = _png_transparency(picture)
    if transparency is not None:
        _chunk(stream, b"tRNS", transparency)
    level = encoder.DEFAULT_COMPRESS_LEVEL if encoder.compress_level is None else encoder.compress_level
    deflate = zlib.compressobj(level)
    for band in bands:
        rows = _png_rows(band, picture.mode)
        lines = np.zeros((rows.shape[0], rows.shape[1] + 1), np.uint8)  # column 0: filter type 0
        lines[:, 1:] = rows
        data = deflate.compress(lines)
        if data:
            _chunk(stream, b"IDAT", data)
    _chunk(stream, b"IDAT", deflate.flush())
    _chunk(stream, b"IEND", b"")
