"""Streaming writers: an image written band by band of rows, never whole (TIFF strips, PNG rows).

TIFF goes through tifffile (uncompressed strips, BigTIFF beyond 4 GB); PNG through
``pngwrite.PngWriter``, the in-memory path's encoder, fed a band at a time. Both carry what the
in-memory path writes: the ICC profile, the DPI, (PNG) the transparency, the embedded geometry
and (TIFF) the GeoTIFF tags. Written atomically: a failure at any band
(a full disk, a signal) leaves no file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import pngwrite
from .atomic import atomic_output
from .embedded import save_arguments
from .errors import FormatError, ImageError
from .geometry import Geometry
from .imageio import EncoderOptions, Picture

STREAMING = ("TIFF", "PNG")
DEFAULT_ENCODER = EncoderOptions()
# The modes each streaming writer stores: all the in-memory path does, but TIFF's 1-bit.
STREAM_MODES = {"TIFF": {"L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"},
                "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}}
TIFF_LIMIT = 2**32 - 2**26  # beyond (with room for the header and strip tables): BigTIFF
STRIP_BYTES = 2**20  # TIFF strips of about this size (readers read a strip at a time)
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
                band_rows: int, encoder: EncoderOptions = DEFAULT_ENCODER, geometry: Geometry | None = None,
                tiff_tags=None) -> int:
    """Write the (rows, W, C) arrays ``bands`` yields, top to bottom, as one image of ``size``
    (W, H) with ``picture``'s mode, palette and metadata (its pixels unused); returns bytes.
    Every band but the last has ``band_rows`` rows. ``geometry`` is embedded as ``write_image``
    embeds it; ``tiff_tags`` ({tag: (TIFF type, values)}: the GeoTIFF tags) go in a TIFF."""
    path = Path(path)
    check_streamable(picture.mode, fmt)
    write = _write_tiff if fmt == "TIFF" else _write_png
    embed = save_arguments(fmt, geometry, path) if geometry is not None else {}
    try:
        with atomic_output(path) as stream:
            write(stream, picture, size, bands, band_rows, encoder, embed, tiff_tags)
    except MemoryError:
        raise
    except OSError as err:
        raise ImageError(f"{path}: cannot write: {err.strerror or err}") from None
    return path.stat().st_size


def _tiff_strips(bands, rows: int):
    for band in bands:
        for r0 in range(0, band.shape[0], rows):
            yield band[r0:r0 + rows].tobytes()


def _write_tiff(stream, picture: Picture, size, bands, band_rows: int, encoder, embed: dict, tiff_tags) -> None:
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
        values = pngwrite.palette_bytes(picture.palette)
        palette[:len(values)] = np.frombuffer(values[:768], np.uint8)
        options["colormap"] = palette.reshape(256, 3).T * 257
    if "description" in embed:  # the embedded geometry, in ImageDescription as Pillow writes it
        options["description"] = embed["description"]
    if tiff_tags:
        options["extratags"] = [(tag, kind, len(values), values, True) for tag, (kind, values) in tiff_tags.items()]
    if "icc_profile" in picture.info:
        options["iccprofile"] = picture.info["icc_profile"]
    if "dpi" in picture.info:
        options["resolution"] = tuple(float(v) for v in picture.info["dpi"])
        options["resolutionunit"] = "INCH"
    big = height * width * channels * dtype.itemsize > TIFF_LIMIT
    with tifffile.TiffWriter(stream, bigtiff=big) as tif:
        tif.write(_tiff_strips(bands, rows), shape=shape, dtype=dtype, **options)


def _write_png(stream, picture: Picture, size, bands, band_rows: int, encoder: EncoderOptions, embed: dict,
               tiff_tags) -> None:
    width, height = size
    palette = pngwrite.palette_bytes(picture.palette) if picture.mode == "P" else None
    info = embed.get("pnginfo")
    level = encoder.DEFAULT_COMPRESS_LEVEL if encoder.compress_level is None else encoder.compress_level
    dpi = tuple(float(v) for v in picture.info["dpi"]) if "dpi" in picture.info else None
    with pngwrite.PngWriter(stream, width, height, picture.mode, palette=palette,
                            transparency=picture.info.get("transparency"),
                            icc_profile=picture.info.get("icc_profile"), dpi=dpi,
                            chunks=[c[:2] for c in info.chunks] if info else (), level=level) as writer:
        for band in bands:
            writer.write_rows(band)
        writer.close()
