"""Damaged and odd image files, crafted byte by byte, on which Pillow raises more than OSError."""

import io
import struct
import zlib

import numpy as np
from PIL import Image


def palette_png_with_alpha(path):
    """A palette PNG whose tRNS chunk gives each entry its own alpha: Pillow reads it, but its GIF
    encoder raises TypeError on such a transparency."""
    image = Image.fromarray((np.arange(64 * 32, dtype=np.uint8) % 16).reshape(32, 64), "L").convert("P")
    image.putpalette(bytes(range(48)))
    image.save(path, transparency=bytes([0, 128, 255, 64]))
    return path


def two_page_tiff_without_second_width(path):
    """A two-page little-endian TIFF whose second page's ImageWidth tag is renamed: counting the
    pages parses it and Pillow raises TypeError ("Missing dimensions")."""
    pages = [Image.fromarray(np.full((32, 64, 3), value, np.uint8)) for value in (10, 200)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:])
    data = bytearray(buffer.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from("<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0])[0]
    for entry in range(struct.unpack_from("<H", data, second)[0]):
        at = second + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 256:  # ImageWidth
            struct.pack_into("<H", data, at, 0x7FFF)  # a private tag Pillow ignores
            path.write_bytes(bytes(data))
            return path
    raise AssertionError("the second page has no ImageWidth tag to rename")


def png_claiming_size(path, width, height):
    """An 8x4 PNG whose header claims another size (its checksum fixed): the header reads, the
    pixels do not."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 4)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    struct.pack_into(">II", data, 16, width, height)  # IHDR's width and height
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path
