"""A streaming PNG writer that filters and deflates strips of rows in parallel threads.

Why: Pillow's PNG encoder filters and deflates on one core, and for a cached convert that is
most of the run. Here each strip of rows is filtered (None, Sub or Up per row, whichever has the
least sum of absolute values, libpng's and Pillow's heuristic) and deflated on its own in a
thread (numpy and the deflaters release the GIL). Every strip but the last ends with a sync
flush, so that the raw deflate pieces concatenate into one standard zlib stream (pigz's
technique); the stream's adler32 is combined from the strips'. At levels 1 and 2 ISA-L's deflate
(the optional ``isal`` package) is used when installed: as small as zlib's at level 1 and 3-5x
faster (perf/RESULTS.md); zlib otherwise.

Rows arrive in blocks (``write_rows``), so that a banded pipeline streams through the writer;
a strip holds ``strip_bytes`` of scanlines whatever the blocks' sizes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import struct
import zlib

import numpy as np

try:  # optional: faster deflate at levels 1-2 (the [fast] extra)
    from isal import isal_zlib
except ImportError:  # pragma: no cover - depends on the environment
    isal_zlib = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# mode: (colour type, bit depth, channels) as Pillow writes each mode polewarp stores in PNG
LAYOUTS = {
    "1": (0, 1, 1), "L": (0, 8, 1), "LA": (4, 8, 2), "P": (3, 8, 1),
    "RGB": (2, 8, 3), "RGBA": (6, 8, 4), "I;16": (0, 16, 1),
}
# zlib's levels mapped onto ISA-L's (0-3) where ISA-L is as small or smaller at the same level
ISAL_LEVELS = {1: 1, 2: 2}
REDO_RATIO = 32  # a strip ISA-L shrinks more than this is deflated again by zlib (_deflate_strip)
# 512 KiB of scanlines a strip: a dozen for a 2048x1024 RGB map, for the threads to share; that
# strips start with no history costs 0.02 % of its size (perf/RESULTS.md)
STRIP_BYTES = 1 << 19
ADLER_BASE = 65521
# Pillow save() keywords this writer honours; with any other, imageio lets Pillow write.
ARGUMENTS = {"compress_level", "icc_profile", "dpi", "transparency", "pnginfo"}
TEXT_CHUNKS = {b"tEXt", b"iTXt", b"zTXt"}
FILTER_TYPES = np.array([0, 1, 2, 4], np.uint8)  # None, Sub, Up, Paeth: filter_rows' candidates
PAETH_FROM_LEVEL = 3  # from here zlib deflates, slowly enough that Paeth's numpy time is small


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The adler32 of two buffers joined, from each one's (zlib's adler32_combine)."""
    low = ((first & 0xFFFF) + (second & 0xFFFF) - 1) % ADLER_BASE
    high = ((first >> 16) + (second >> 16) + second_length * ((first & 0xFFFF) - 1)) % ADLER_BASE
    return high << 16 | low


def zlib_header(level: int) -> bytes:
    """The two bytes opening a zlib stream with a 32 KiB window, its FLEVEL hinting ``level``."""
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    head = 0x7800 | flevel << 6
    return struct.pack(">H", head + (31 - head % 31) % 31)


def takes(arguments: dict) -> bool:
    """Whether this writer stores everything these Pillow save() keywords ask for (else Pillow
    writes the file): text chunks, but no other chunk a PngInfo can carry."""
    if not set(arguments) <= ARGUMENTS:
        return False
    info = arguments.get("pnginfo")
    return info is None or all(c[0] in TEXT_CHUNKS and not (len(c) > 2 and c[2]) for c in info.chunks)


def _paeth(rows: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """The Paeth filter of each row: the byte less whichever of left, up and up-left is nearest
    left + up - up-left."""
    wide = rows.astype(np.int16)
    up = np.empty_like(wide)
    up[0] = above
    up[1:] = wide[:-1]
    left = np.zeros_like(wide)
    left[:, bpp:] = wide[:, :-bpp]
    corner = np.zeros_like(wide)
    corner[:, bpp:] = up[:, :-bpp]
    to_left, to_up = up - corner, left - corner  # |p - left|, |p - up| before abs
    near_left, near_up, near_corner = np.abs(to_left), np.abs(to_up), np.abs(to_left + to_up)
    predictor = np.where((near_left <= near_up) & (near_left <= near_corner), left,
                         np.where(near_up <= near_corner, up, corner))
    return (wide - predictor).astype(np.uint8)


def filter_rows(rows: np.ndarray, above: np.ndarray, bpp: int, paeth: bool = False) -> np.ndarray:
    """Scanlines (h, n) filtered per row, each with its filter-type byte first: (h, 1 + n).

    ``above`` is the unfiltered row before the first (zeros at the image's top). Each row takes
    None (0), Sub (1), Up (2) or, with ``paeth``, Paeth (4), whichever has the least sum of bytes
    read as signed (libpng's and Pillow's rule). Average is left out, and Paeth is only worth its
    time beside zlib's slower levels: on maps it saves ~1 % (perf/RESULTS.md), on smooth
    gradients a sixth.
    """
    height, width = rows.shape
    up = np.empty_like(rows)
    np.subtract(rows[0], above, out=up[0])
    np.subtract(rows[1:], rows[:-1], out=up[1:])
    sub = np.empty_like(rows)
    sub[:, :bpp] = rows[:, :bpp]
    np.subtract(rows[:, bpp:], rows[:, :-bpp], out=sub[:, bpp:])
    candidates = (rows, sub, up, _paeth(rows, above, bpp)) if paeth else (rows, sub, up)
    # |v| of a byte read as signed, as unsigned: abs(int8 -128) wraps back to 128, as it should;
    # one buffer for all, as fresh arrays cost page faults
    magnitude = np.empty((height, width), np.int8)
    scores = np.empty((len(candidates), height), np.uint32)
    for kind, candidate in enumerate(candidates):
        np.abs(candidate.view(np.int8), out=magnitude)
        magnitude.view(np.uint8).sum(axis=1, dtype=np.uint32, out=scores[kind])
    choice = np.argmin(scores, axis=0)
    out = np.empty((height, width + 1), np.uint8)
    out[:, 0] = FILTER_TYPES[choice]
    # the filter most rows take is copied whole, the others row by row over it
    counts = np.bincount(choice, minlength=len(candidates))
    most = int(np.argmax(counts))
    out[:, 1:] = candidates[most]
    for kind in np.flatnonzero(counts):
        if kind != most:
            picked = choice == kind
            out[picked, 1:] = candidates[kind][picked]
    return out


def _deflate(module, level: int, data, final: bool) -> bytes:
    """Raw deflate (no zlib header or trailer) by zlib or isal_zlib; a sync flush ends all but the last."""
    compressor = module.compressobj(level, module.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(module.Z_FINISH if final else module.Z_SYNC_FLUSH)


def _deflate_strip(rows: np.ndarray, above: np.ndarray, bpp: int, level: int, final: bool):
    """(raw deflate bytes, adler32, length) of one filtered strip.

    ISA-L's level 1 is as small as zlib's on maps, but up to twice as large on near-uniform rows
    (gradients, flat fills), where zlib is fast too: a strip ISA-L shrinks over REDO_RATIO:1 is
    deflated again by zlib, so that no file is much larger than Pillow's.
    """
    data = filter_rows(rows, above, bpp, level >= PAETH_FROM_LEVEL) if len(rows) else np.empty(0, np.uint8)
    if isal_zlib is not None and level in ISAL_LEVELS:
        deflated = _deflate(isal_zlib, ISAL_LEVELS[level], data, final)
        if len(deflated) * REDO_RATIO < data.nbytes:
            deflated = _deflate(zlib, level, data, final)
    else:
        deflated = _deflate(zlib, level, data, final)
    return deflated, (isal_zlib or zlib).adler32(data), data.nbytes


def _bit_depth(mode: str, palette: bytes | None) -> int:
    """Pillow's choice: a palette of at most 2, 4 or 16 colours packs 1, 2 or 4 bits a pixel."""
    if mode != "P":
        return LAYOUTS[mode][1]
    colors = len(palette) // 3
    return 1 if colors <= 2 else 2 if colors <= 4 else 4 if colors <= 16 else 8


class PngWriter:
    """Write a PNG to a binary stream: the header at once, rows as they come, IEND at close().

    ``palette`` (P only) is RGB triples; ``transparency`` is what Pillow takes (an int for P, L,
    1 and I;16, an (r, g, b) for RGB, bytes of palette alphas for P); ``chunks`` are (type, data)
    text chunks (tEXt, iTXt, zTXt) written before the pixels. Use it as a context manager: on an
    error the threads stop and nothing more is written (the caller's atomic output removes the
    file).
    """

    def __init__(self, stream, width: int, height: int, mode: str, *, palette: bytes | None = None,
                 transparency=None, icc_profile: bytes | None = None, dpi=None, chunks=(),
                 level: int = 6, threads: int | None = None, strip_bytes: int | None = None):
        if mode not in LAYOUTS:
            raise ValueError(f"PNG cannot store mode {mode}; one of {' '.join(LAYOUTS)}")
        if not (0 < width < 2**31 and 0 < height < 2**31):
            raise ValueError(f"a PNG is 1 to 2**31-1 pixels a side, not {width}x{height}")
        if not 0 <= level <= 9:
            raise ValueError(f"compression level {level} is not within 0-9")
        if mode == "P":
            palette = bytes(palette or b"")[:768]
            palette = palette[:len(palette) // 3 * 3] or b"\0\0\0"
        self.stream, self.width, self.height, self.mode, self.level = stream, width, height, mode, level
        color_type, _, self.channels = LAYOUTS[mode]
        self.depth = _bit_depth(mode, palette)
        self.bpp = max(1, self.depth * self.channels // 8)
        self.row_bytes = (width * self.channels * self.depth + 7) // 8
        self.strip_rows = max(1, (strip_bytes or STRIP_BYTES) // self.row_bytes)
        # (process_cpu_count, from Python 3.13, counts only the CPUs this process may use)
        self.threads = threads or getattr(os, "process_cpu_count", os.cpu_count)() or 1
        self._pool = concurrent.futures.ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._queued = collections.deque()
        self._pending, self._pending_rows, self._rows = [], 0, 0
        self._above = np.zeros(self.row_bytes, np.uint8)
        self._adler, self._started = 1, False
        header = [SIGNATURE, chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, self.depth, color_type, 0, 0, 0))]
        if icc_profile:
            header.append(chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
        header += [chunk(kind, data) for kind, data in chunks]
        if mode == "P":
            header.append(chunk(b"PLTE", palette))
        if transparency is not None:
            header.append(chunk(b"tRNS", self._transparency(transparency, len(palette or b"") // 3)))
        if dpi:
            header.append(chunk(b"pHYs", struct.pack(">IIB", *(int(v / 0.0254 + 0.5) for v in dpi[:2]), 1)))
        stream.write(b"".join(header))

    def _transparency(self, value, colors: int) -> bytes:
        """The tRNS data for Pillow's ``transparency`` value, as Pillow writes it."""
        if self.mode == "P":
            if isinstance(value, int):
                value = b"\xff" * max(0, min(255, value)) + b"\0"
            return bytes(value)[:colors]
        if self.mode == "RGB":
            return struct.pack(">HHH", *value)
        if self.mode in ("1", "L", "I;16"):
            return struct.pack(">H", max(0, min(65535, int(value))))
        raise ValueError(f"transparency for {self.mode}: the alpha channel holds it")

    def _scanlines(self, block: np.ndarray) -> np.ndarray:
        """A block of rows as a fresh (h, row_bytes) uint8 array of PNG scanlines (packed bits,
        big-endian samples): fresh, because threads read it after write_rows returns."""
        block = np.asarray(block)
        if block.ndim == 2:
            block = block[:, :, None]
        if block.ndim != 3 or block.shape[1:] != (self.width, self.channels):
            raise ValueError(f"rows of shape {block.shape[1:]}, not ({self.width}, {self.channels})")
        if self.depth == 16:
            return block.astype(">u2").view(np.uint8).reshape(len(block), self.row_bytes)
        if self.depth == 8:
            return block.reshape(len(block), self.row_bytes).astype(np.uint8, copy=True)
        samples = (block[:, :, 0] != 0) if self.mode == "1" else block[:, :, 0]
        if samples.max(initial=0) >> self.depth:
            raise ValueError(f"a palette index beyond the palette's {1 << self.depth} colours")
        per_byte = 8 // self.depth
        padded = np.zeros((len(block), self.row_bytes * per_byte), np.uint8)
        padded[:, :self.width] = samples
        padded = padded.reshape(len(block), self.row_bytes, per_byte)
        shifts = np.arange(8 - self.depth, -1, -self.depth, dtype=np.uint8)
        return np.bitwise_or.reduce(padded << shifts, axis=2)

    def write_rows(self, block: np.ndarray) -> None:
        """Append rows: an (h, W, C) or (h, W) array in the mode's dtype (bool or uint8 for 1,
        uint16 for I;16, uint8 otherwise)."""
        rows = self._scanlines(block)
        if self._rows + len(rows) > self.height:
            raise ValueError(f"{self._rows + len(rows)} rows written to a PNG {self.height} rows high")
        self._rows += len(rows)
        self._pending.append(rows)
        self._pending_rows += len(rows)
        if self._pending_rows < self.strip_rows:
            return
        rows = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        full = len(rows) - len(rows) % self.strip_rows
        for start in range(0, full, self.strip_rows):
            self._submit(rows[start:start + self.strip_rows], final=False)
        self._pending = [rows[full:]] if full < len(rows) else []
        self._pending_rows = len(rows) - full

    def _submit(self, rows: np.ndarray, final: bool) -> None:
        """Queue a strip for deflating; write the oldest ones once enough are under way."""
        arguments = (rows, self._above, self.bpp, self.level, final)
        if len(rows):
            self._above = rows[-1]
        if self._pool is None:
            self._emit(_deflate_strip(*arguments), final)
            return
        self._queued.append((self._pool.submit(_deflate_strip, *arguments), final))
        while len(self._queued) > 2 * self.threads or (final and self._queued):
            future, last = self._queued.popleft()
            self._emit(future.result(), last)

    def _emit(self, result, final: bool) -> None:
        """Write one strip's deflate bytes as an IDAT chunk (the zlib header before the first,
        the combined adler32 after the last)."""
        deflated, adler, length = result
        self._adler = adler32_combine(self._adler, adler, length)
        if not self._started:
            deflated, self._started = zlib_header(self.level) + deflated, True
        if final:
            deflated += struct.pack(">I", self._adler)
        self.stream.write(chunk(b"IDAT", deflated))

    def close(self) -> None:
        """Deflate the last rows, write the end of the stream and IEND; every row must be in."""
        if self._rows != self.height:
            raise ValueError(f"{self._rows} rows written to a PNG {self.height} rows high")
        rows = np.concatenate(self._pending) if self._pending else np.empty((0, self.row_bytes), np.uint8)
        self._pending, self._pending_rows = [], 0
        self._submit(rows, final=True)
        self.stream.write(chunk(b"IEND", b""))
        self._shutdown()

    def _shutdown(self) -> None:
        """Stop the threads; a strip being deflated finishes (milliseconds), queued ones are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._queued.clear()

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._shutdown()


def save(stream, pixels: np.ndarray, mode: str, palette, arguments: dict, threads: int | None = None) -> None:
    """Write a whole image from Pillow's save() keywords (see ``takes``) and its ImagePalette."""
    info = arguments.get("pnginfo")
    colors = palette_bytes(palette) if mode == "P" else None
    height, width = pixels.shape[:2]
    with PngWriter(stream, width, height, mode, palette=colors, transparency=arguments.get("transparency"),
                   icc_profile=arguments.get("icc_profile"), dpi=arguments.get("dpi"),
                   chunks=[c[:2] for c in info.chunks] if info else (),
                   level=arguments.get("compress_level", 6), threads=threads) as writer:
        writer.write_rows(pixels)
        writer.close()


def palette_bytes(palette) -> bytes:
    """A Pillow ImagePalette's RGB triples as Pillow writes them after imageio.to_image's putpalette."""
    from PIL import Image  # only a P image needs Pillow's view of its palette

    image = Image.new("P", (1, 1))
    if palette is not None:
        image.putpalette(palette)
    return bytes(image.getpalette() or b"")
