"""Pillow read and write: modes as arrays, what each format can store, atomic saves."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, TiffImagePlugin

from . import pngwrite
from .atomic import atomic_output
from .embedded import read_embedded, save_arguments
from .errors import FormatError, ImageError, SpecError
from .geometry import Geometry

log = logging.getLogger("polewarp")

FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".gif": "GIF", ".ppm": "PPM", ".webp": "WEBP",
}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "TIFF": "tif", "BMP": "bmp", "GIF": "gif",
              "PPM": "ppm", "WEBP": "webp"}
# The modes the gather handles, and the modes each output format stores without loss of kind.
MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
STORABLE = {
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "JPEG": {"L", "RGB", "CMYK"},
    "TIFF": {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"},
    "BMP": {"1", "L", "P", "RGB"},
    "GIF": {"P"},
    "PPM": {"1", "L", "RGB"},
    "WEBP": {"RGB", "RGBA"},
}
ALPHA_MODES = {"LA", "RGBA"}
DEFAULT_MAX_PIXELS = 1_000_000_000  # refuse larger images before decoding (decompression bombs)


@dataclasses.dataclass
class Picture:
    """Pixels as an (H, W, C) array, plus what is needed to write them back the same way."""

    pixels: np.ndarray
    mode: str
    palette: object = None  # a P image's ImagePalette
    info: dict = dataclasses.field(default_factory=dict)  # icc_profile, dpi, transparency
    geometry: Geometry | None = None  # what made it: read from the file's metadata, or to embed in it

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def with_pixels(self, pixels: np.ndarray, geometry: Geometry | None = None) -> Picture:
        """The same mode, palette and metadata around other pixels, made by ``geometry``."""
        return dataclasses.replace(self, pixels=pixels, geometry=geometry)


def output_format(path) -> str:
    """The Pillow format for an output path's extension; an unknown one is a usage error."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = " ".join(sorted(FORMATS))
        raise SpecError(f"{path}: unknown output extension {suffix or '(none)'!r}; use one of {known}")
    return FORMATS[suffix]


# What to convert an input to so that a format takes it: the nearest mode the format stores.
NEAREST_MODES = {
    "1": ("L", "P"), "L": ("P", "RGB"), "LA": ("RGBA", "P"), "P": ("RGB", "L"), "RGB": ("P", "L"),
    "RGBA": ("RGB", "P"), "CMYK": ("RGB",), "I;16": ("L", "RGB"), "I": ("I;16", "L"), "F": ("I;16", "L"),
}


def check_storable(mode: str, fmt: str) -> None:
    """Refuse, with a way out, a mode the output format cannot store."""
    if mode not in STORABLE[fmt]:
        fits = sorted(f for f, modes in STORABLE.items() if mode in modes)
        target = next(m for m in (*NEAREST_MODES[mode], *sorted(STORABLE[fmt])) if m in STORABLE[fmt])
        raise FormatError(
            f"{fmt} cannot store a {mode} image: write {' or '.join(EXTENSIONS[f] for f in fits)} "
            f"instead, or convert the input to {target} first"
        )


def check_output_path(path) -> None:
    """Refuse an output path that cannot be written (missing folder, a folder, a name longer than
    the file system takes) before any work is done for it."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ImageError(f"{path}: the folder {str(folder)!r} does not exist")
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    length = len(os.fsencode(path.name))
    if length > limit:
        raise ImageError(f"{path.name[:40]}...: the name is {length} bytes, over the file system's {limit}")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as err:  # a symlink loop, say
        raise ImageError(f"{path}: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{path}: is a folder")


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Map Pillow's variants onto the modes the gather handles, or refuse the rest."""
    if image.mode.startswith("I;16"):
        return image if image.mode == "I;16" else image.convert("I").convert("I;16")
    if image.mode == "PA":
        return image.convert("RGBA")
    if image.mode not in MODES:
        raise ImageError(
            f"unsupported image mode {image.mode}: convert the image to RGB, RGBA or L first"
        )
    return image


def _picture(path: Path, image: Image.Image, max_pixels: int) -> Picture:
    """Check the declared size against ``max_pixels``, then decode the first frame."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: {width}x{height} is {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (a decompression bomb?); raise it with --max-pixels"
        )
    if getattr(image, "n_frames", 1) > 1:
        log.warning("%s: %d frames; using the first", path, image.n_frames)
    try:
        image.load()
        image = _normalise_mode(image)
        pixels = np.asarray(image)
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode its {width}x{height} {image.mode} pixels "
                         "(a damaged header? else lower --max-pixels to refuse such files)") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    info = {key: image.info[key] for key in ("icc_profile", "dpi", "transparency") if key in image.info}
    palette = image.palette.copy() if image.mode == "P" else None
    return Picture(np.ascontiguousarray(pixels), image.mode, palette, info, read_embedded(image, path))


# What damaged files make Pillow's decoders and encoders raise, besides OSError (fuzzing found each).
CODEC_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
                NotImplementedError, OverflowError, SyntaxError, EOFError, ZeroDivisionError, RecursionError)


def check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: a FIFO, socket or device would block
    or never end. /dev/stdin and other such paths are refused too (polewarp needs to seek)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except OSError as err:
        raise ImageError(f"{path}: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise ImageError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(mode):
        raise ImageError(f"{path}: not a regular file (a pipe, socket or device?): give an image file")


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read an image (by its content, whatever its extension) into a Picture.

    Pillow's own bomb check is replaced by ours (one limit, one message, an option to raise it).
    Whatever a damaged file makes Pillow raise becomes an ImageError naming the file.
    """
    path = Path(path)
    check_regular_file(path)
    try:
        with own_bomb_check(), Image.open(path) as image:
            return _picture(path, image, max_pixels)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except MemoryError:
        raise
    except CODEC_ERRORS as err:
        raise ImageError(f"{path}: cannot decode the image ({_reason(err)})") from None


@contextlib.contextmanager
def own_bomb_check():
    """Pillow's decompression-bomb check off: polewarp checks the size itself (--max-pixels)
    before decoding, and a header alone is no bomb."""
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _reason(err: BaseException) -> str:
    """An exception in a few words, its type included when its text alone says little."""
    text = getattr(err, "strerror", None) or str(err)
    if isinstance(err, (OSError, ValueError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@dataclasses.dataclass(frozen=True)
class Header:
    """What an image's header says, read without decoding its pixels."""

    size: tuple[int, int]
    mode: str
    format: str
    geometry: Geometry | None


def read_header(path, warn: bool = True) -> Header:
    """The image's header: size, mode, format and embedded geometry (a damaged one is a warning
    when ``warn``); what is not an image Pillow can open is an ImageError naming the file."""
    path = Path(path)
    check_regular_file(path)
    try:
        with own_bomb_check(), Image.open(path) as image:
            return Header(image.size, image.mode, image.format, read_embedded(image, path, warn))
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except CODEC_ERRORS as err:
        raise ImageError(f"{path}: cannot read the header ({_reason(err)})") from None


def probe_header(path) -> Header | None:
    """The header for planning (silent: the caller reports the file when it reads it); None when
    the path is not a regular file, Pillow cannot tell or the size is empty."""
    try:
        header = read_header(path, warn=False)
    except ImageError:
        return None
    return header if min(header.size) > 0 else None


def for_blending(picture: Picture) -> Picture:
    """Blending needs real colours: a palette image becomes RGB (RGBA with transparency) and a
    1-bit image L; other modes are returned as they are."""
    if picture.mode not in ("P", "1"):
        return picture
    target = "L" if picture.mode == "1" else ("RGBA" if "transparency" in picture.info else "RGB")
    converted = to_image(picture)
    if "transparency" in picture.info:
        converted.info["transparency"] = picture.info["transparency"]
    converted = converted.convert(target)
    log.info("%s image converted to %s for blending", picture.mode, target)
    info = {key: value for key, value in picture.info.items() if key != "transparency"}
    pixels = np.asarray(converted)
    return Picture(np.ascontiguousarray(pixels if pixels.ndim == 3 else pixels[:, :, None]), target, None, info,
                   picture.geometry)


def to_image(picture: Picture) -> Image.Image:
    """A Pillow image of the picture's pixels, in its mode, with its palette."""
    pixels = picture.pixels
    if picture.mode == "1":
        return Image.fromarray(pixels[:, :, 0].astype(bool))
    image = Image.frombytes(picture.mode, picture.size, np.ascontiguousarray(pixels).tobytes())
    if picture.palette is not None:
        image.putpalette(picture.palette)
    return image


def check_fill(color: str) -> None:
    """A fill colour must be one Pillow reads with every component within 0-255 (Pillow lets
    'rgb(300,0,0)' and 'hsv(0,200%,50%)' through unclamped): checked before any image."""
    try:
        components = ImageColor.getrgb(color)
    except ValueError:
        raise SpecError(f"{color!r} is not a colour: a name (red), #RRGGBB[AA] or rgb(R,G,B)") from None
    if any(not 0 <= c <= 255 for c in components):
        raise SpecError(f"{color!r}: every component must be within 0-255, not {components}")


GRATICULE_COLOR = "#d3d3d3"  # light grey (CSS lightgrey), opaque in every mode with alpha


def fill_color(color: str | None, picture: Picture):
    """Per-channel fill for "no source" pixels: ``color`` as Pillow reads it, else black
    (transparent where the image has alpha)."""
    if color is None:
        return None
    try:
        if picture.mode == "P":
            return picture.palette.getcolor(ImageColor.getrgb(color))
        return ImageColor.getcolor(color, picture.mode)
    except ValueError as err:
        raise SpecError(f"fill colour {color!r}: {err}") from None


@dataclasses.dataclass(frozen=True)
class EncoderOptions:
    """The encoder's knobs; None keeps polewarp's measured defaults."""

    compress_level: int | None = None
    quality: int | None = None
    georef: bool | None = None  # None: GIS georeferencing for TIFF alone (engine/georef.py)
    earth_radius: float | None = None  # metres; None: georef.EARTH_RADIUS

    # PNG level 1: ~4x faster than Pillow's 6 for ~10% larger files (perf/RESULTS.md).
    DEFAULT_COMPRESS_LEVEL = 1
    DEFAULT_QUALITY = 90

    def save_arguments(self, fmt: str, picture: Picture) -> dict:
        """Pillow save() keywords for this format, keeping ICC profile, DPI and transparency."""
        arguments = {key: value for key, value in picture.info.items() if key != "transparency"}
        if "transparency" in picture.info and fmt in ("PNG", "GIF"):
            arguments["transparency"] = picture.info["transparency"]
        if fmt == "PNG":
            arguments["compress_level"] = (
                self.DEFAULT_COMPRESS_LEVEL if self.compress_level is None else self.compress_level
            )
        if fmt in ("JPEG", "WEBP"):
            arguments["quality"] = self.DEFAULT_QUALITY if self.quality is None else self.quality
        if fmt == "TIFF" and "dpi" in arguments:
            arguments["dpi"] = tuple(float(v) for v in arguments["dpi"])
        return arguments


def _tiff_directory(tags) -> TiffImagePlugin.ImageFileDirectory_v2:
    directory = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, (kind, values) in tags.items():
        directory[tag] = values
        directory.tagtype[tag] = kind
    return directory


# PNGs are written by pngwrite (parallel deflate) unless this is "pillow": the way back to
# Pillow's encoder, and the baseline of perf/bench_codec.py.
PNG_ENCODER_VARIABLE = "POLEWARP_PNG_ENCODER"


def write_image(path, picture: Picture, encoder: EncoderOptions = EncoderOptions(), tiff_tags=None) -> int:
    """Write atomically (a temporary file in the same folder, then os.replace); returns bytes.
    ``tiff_tags``: {tag: (TIFF type, values)} added to a TIFF (the GeoTIFF tags).

    Whatever the encoder raises on an odd image becomes an ImageError naming the file.
    """
    path = Path(path)
    fmt = output_format(path)
    check_storable(picture.mode, fmt)
    arguments = encoder.save_arguments(fmt, picture)
    if picture.geometry is not None:
        arguments.update(save_arguments(fmt, picture.geometry, path))
    if tiff_tags:
        arguments["tiffinfo"] = _tiff_directory(tiff_tags)
    own_png = fmt == "PNG" and pngwrite.takes(arguments) and os.environ.get(PNG_ENCODER_VARIABLE) != "pillow"
    image = None if own_png else to_image(picture)
    check_output_path(path)
    try:
        with atomic_output(path) as stream:
            if own_png:
                pngwrite.save(stream, picture.pixels, picture.mode, picture.palette, arguments)
            else:
                image.save(stream, format=fmt, **arguments)
    except MemoryError:
        raise
    except OSError as err:
        raise ImageError(f"{path}: cannot write: {err.strerror or err}") from None
    except CODEC_ERRORS as err:
        raise ImageError(f"{path}: cannot encode the image as {fmt} ({_reason(err)})") from None
    return path.stat().st_size
