"""The banded pipeline for huge maps: the output made and written a band of rows at a time.

Memory: the input (read into memory, or memory-mapped) plus O(band), never the whole LUT or
the whole output. Per band the LUT's rows are filled (the workers fill the band's rows of one
shared segment, reused for every band) or read from a memory-mapped cache entry, the gather
writes the band's pixels, and a streaming writer (``streams``) puts them on disk. The band
height follows from a memory budget; an output is huge when the in-memory path would pass it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import signals
from .backends import available_cpus
from .errors import CacheError, ImageError, PolewarpError, SpecError
from .gather import RowGather, choose_gather
from .geometry import Geometry, GeometrySpec
from .imageio import ALPHA_MODES, CODEC_ERRORS, EXTENSIONS, fill_color, read_image
from .lut import Lut, lut_layout
from .mapped import map_input
from .streams import STREAMING, check_streamable, strip_rows, write_bands

log = logging.getLogger("polewarp")
STREAMED = " or ".join(EXTENSIONS[fmt] for fmt in STREAMING)  # for messages

# Bigger bands gain nothing (a band costs a pool dispatch and a gather call: milliseconds) and
# cost memory; smaller ones than the floor would make a huge map in tens of thousands of bands.
MAX_BAND_BYTES = 256 * 2**20
MIN_BAND_BYTES = 64 * 2**20
# From this many output pixels a TIFF or PNG is made in bands even within the budget: no whole
# LUT and output to allocate and fault in, the band's gather on every core. Measured by
# perf/bench_banded.py (perf/RESULTS.md): as fast at 8 Mpx, 0.80-0.97x the time at 33 Mpx.
BANDED_MIN_PIXELS = 8192 * 4096
SIZE_UNITS = {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10, "B": 1}
# Pillow encodes these whole, within these sides; they cannot stream.
SIDE_LIMITS = {"JPEG": 65535, "WEBP": 16383}
# Bytes a pixel takes in each mode, to size an input from its header before decoding it.
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "I;16": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I": 4, "F": 4}


def available_memory() -> int:
    """The memory the system can give without swapping: MemAvailable on Linux, else free pages."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_budget(option: str | None = None) -> int | None:
    """--max-memory in bytes (None: no budget, never banded); by default half the memory
    available now."""
    if option is None:
        return available_memory() // 2
    from .cache import parse_size

    return parse_size(option, "--max-memory")


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one conversion runs: the bytes the in-memory path would take against the budget,
    and for a huge output the band height."""

    spec: GeometrySpec
    in_memory: int
    budget: int | None
    band_rows: int
    embedded: Geometry | None = None  # the input's embedded geometry, as its header gave it

    @property
    def huge(self) -> bool:
        """The in-memory path would pass the budget: bands or nothing."""
        return self.budget is not None and self.in_memory > self.budget

    def banded(self, fmt: str) -> bool:
        """Made in bands: a huge output, or one big enough for bands to be faster where they
        can be made (a format that streams, no graticule: see BANDED_MIN_PIXELS); never
        without a budget (``--max-memory none``)."""
        geometry = self.spec.geometry
        big = math.prod(self.spec.output_size) >= BANDED_MIN_PIXELS
        return self.huge or (self.budget is not None and fmt in STREAMING and big
                             and geometry.graticule is None and geometry.graticule_rotated is None)


def _pixel_bytes(mode: str, resample: str) -> int:
    """An input pixel's bytes once prepared: the blends take palette and 1-bit images as RGB(A) or L."""
    if resample != "nearest" and mode == "P":
        return 4
    return MODE_BYTES.get(mode, 4)


def lut_row_bytes(spec: GeometrySpec) -> int:
    """The bytes of one output row of the LUT while it is made: an average LUT's rows are
    filled on the finer grid, then regrouped (twice its bytes)."""
    shape, dtype = lut_layout(spec)
    return math.prod(shape[1:]) * dtype.itemsize * (2 if spec.resample == "average" else 1)


def make_plan(spec: GeometrySpec, input_bytes: int, pixel_bytes: int, budget: int | None,
              band_rows: int | None = None, mapped: bool = False, embedded: Geometry | None = None) -> Plan:
    """The in-memory path holds the input (and the blends' padded copy of it), the whole LUT and
    the output twice (the gather's and the encoder's copy); the banded one the input (unless it
    stays ``mapped``: the page cache's then) and, per output row of a band, its LUT row and its
    pixels."""
    height, width = spec.output_shape
    padded = input_bytes if spec.resample != "nearest" else 0
    out_row = width * pixel_bytes
    per_row = lut_row_bytes(spec) + out_row
    in_memory = input_bytes + padded + height * (lut_row_bytes(spec) + 2 * out_row)
    if band_rows is None:
        resident = padded + (0 if mapped else input_bytes)
        spare = min(MAX_BAND_BYTES, max(MIN_BAND_BYTES, (budget or 0) - resident))
        band_rows = spare // per_row
    band_rows = max(1, min(height, int(band_rows)))
    return Plan(spec, in_memory, budget, band_rows, embedded)


def check_sides(spec: GeometrySpec, fmt: str) -> None:
    """A side beyond what JPEG or WebP can hold is a usage error naming the formats that stream."""
    limit = SIDE_LIMITS.get(fmt)
    if limit is not None and max(spec.output_size) > limit:
        raise SpecError(f"{fmt} holds sides of at most {limit} px, not {spec.output_size[0]}x{spec.output_size[1]}: "
                        f"write {STREAMED}, which stream")


def _probe(path, resample: str):
    """(mapped picture or None, (width, height), bytes a pixel, embedded geometry or None) from
    the header alone: a .npy file mapped (only polewarp reads it), any other through Pillow's
    header, and a TIFF Pillow cannot open mapped if it can be. Nothing known: (None, None, 0,
    None); the reader reports the file (and a damaged embedded geometry: no warning here)."""
    from PIL import Image

    from .embedded import read_embedded
    from .imageio import check_regular_file, own_bomb_check
    from .mapped import is_npy

    check_regular_file(path)  # a FIFO would block; ImageError says what it is
    try:
        npy = is_npy(path)
    except (CacheError, OSError):  # unreadable: the reader says so in its words
        return None, None, 0, None
    if npy:
        mapped = map_input(path)
        return mapped, mapped.size, mapped.pixels.shape[2] * mapped.pixels.dtype.itemsize, None
    try:
        with own_bomb_check(), Image.open(path) as image:  # the reader applies --max-pixels
            return None, image.size, _pixel_bytes(image.mode, resample), read_embedded(image, path, warn=False)
    except (Image.UnidentifiedImageError, *CODEC_ERRORS):
        mapped = map_input(path)
        if mapped is None:
            return None, None, 0, None
        return mapped, mapped.size, mapped.pixels.shape[2] * mapped.pixels.dtype.itemsize, None


def plan_convert(request, fmt: str, budget: int | None, band_rows: int | None = None):
    """The plan of one conversion and its mapped input (or None), from the input's header (and
    its embedded geometry, as the in-memory path reads it); None when the header says nothing
    (the in-memory path reports the file)."""
    from .pipeline import read_geometry

    mapped, size, pixel_bytes, embedded = _probe(request.input_path, request.geometry.resample)
    if size is None:
        return None, None
    spec = read_geometry(request, embedded, size, say=False).spec(size, request.size)
    check_sides(spec, fmt)
    input_bytes = size[0] * size[1] * pixel_bytes
    if mapped is None:
        try:
            mapped = map_input(request.input_path)  # an uncompressed TIFF, read from the page cache
        except ImageError:  # Pillow reads it
            mapped = None
    plan = make_plan(spec, input_bytes, pixel_bytes, budget, band_rows, mapped is not None, embedded)
    reason = "; banded" if plan.huge else "; banded (faster at this size)" if plan.banded(fmt) else ""
    log.debug("memory budget %s: the in-memory path takes about %s%s", _bytes(budget), _bytes(plan.in_memory),
              f"{reason}, {plan.band_rows} rows a band" if reason else "")
    return plan, mapped


def _bytes(count: int | None) -> str:
    """Bytes in words: 3.7 GiB, 512.0 MiB, 12.0 KiB."""
    if count is None:
        return "none"
    unit = next(u for u in ("GiB", "MiB", "KiB", "B") if count >= SIZE_UNITS[u] or u == "B")
    return f"{count / SIZE_UNITS[unit]:.1f} {unit}"


class LutRows:
    """A LUT a band at a time: read from a cache entry (memory-mapped, each band's rows paged in
    as they are read) or filled by a band builder, and then stored in the cache as it comes,
    when the entry fits under the cache's cap."""

    def __init__(self, spec: GeometrySpec, build, cache, band_rows: int):
        self.spec, self.build, self.cache, self.band_rows = spec, build, cache, band_rows
        self._resources = contextlib.ExitStack()
        self.array = self.builder = self.entry = None
        self.origin = ""

    def __enter__(self) -> LutRows:
        hit = self.cache.load(self.spec) if self.cache is not None else None
        if hit is not None:
            self.array, self.origin = hit.array, hit.origin
            return self
        from .backends import LutBuilder

        with contextlib.ExitStack() as stack:
            self.builder = stack.enter_context(
                LutBuilder(self.spec, self.build.backend, self.build.workers, band_rows=self.band_rows))
            if self.cache is not None:
                self.entry = self.cache.writer(self.spec)
                if self.entry is not None:
                    stack.callback(self._abort_entry)
            self._resources = stack.pop_all()
        self.origin = f"built by bands ({self.builder.backend}, {self.builder.workers} workers)"
        return self

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """The LUT's rows [r0, r1): a view of the entry, or of the builder's band."""
        if self.array is not None:
            return self.array[r0:r1]
        table = self.builder.fill_band(r0, r1, self.build.rows_per_task)
        if self.entry is not None:
            self.entry.write(table)
        return table

    def finish(self) -> None:
        """Every band is done: seal the cache entry being written."""
        if self.entry is not None:
            entry, self.entry = self.entry, None
            with signals.deferred():
                entry.commit()

    def _abort_entry(self) -> None:
        if self.entry is not None:
            self.entry.abort()

    def __exit__(self, *exc):
        self._resources.close()


def convert_banded(request, fmt: str, plan: Plan, mapped, build, cache, watch, progress=None):
    """Convert one huge map band by band; returns (a Lut of no rows: the LUT was never whole,
    bytes written). ``progress(rows done, rows)`` after each band."""
    from .georef import write_map
    from .pipeline import prepare, read_geometry

    width, height = plan.spec.output_size
    if fmt not in STREAMING:
        raise SpecError(f"a {width}x{height} output takes about {_bytes(plan.in_memory)} in memory as {fmt}, "
                        f"over --max-memory {_bytes(plan.budget)}: write "
                        f"{STREAMED}, which stream")
    if plan.spec.geometry.graticule is not None or plan.spec.geometry.graticule_rotated is not None:
        # the mask is built whole (H x W bytes) and cached after the whole LUT: not in bands
        raise SpecError(f"a {width}x{height} output is made in bands (over --max-memory "
                        f"{_bytes(plan.budget)}), which draw no graticule: leave out --graticule "
                        "and --graticule-rotated, or raise --max-memory", param="graticule")
    read_geometry(request, plan.embedded, plan.spec.input_size)  # what the in-memory path says of it
    with watch.phase("read"):
        picture = _read(request, mapped)
    picture = prepare(picture, plan.spec.resample)
    check_streamable(picture.mode, fmt)
    height, width = plan.spec.output_shape
    channels = picture.pixels.shape[2]
    row_bytes = width * channels * picture.pixels.dtype.itemsize
    band_rows = plan.band_rows
    if fmt == "TIFF" and band_rows > 1:  # whole strips a band (strip_rows divides it)
        band_rows -= band_rows % strip_rows(row_bytes, band_rows)
    with contextlib.ExitStack() as stack:
        with watch.phase("lut"):
            lut = stack.enter_context(LutRows(plan.spec, build, cache, band_rows))
        with watch.phase("gather"):
            workers = lut.builder.workers if lut.builder is not None else build.workers or available_cpus()
            threads = stack.enter_context(ThreadPoolExecutor(workers)) if workers > 1 else None
            gather = RowGather(plan.spec, picture.pixels, fill_color(request.fill, picture),
                               choose_gather("auto", height * width), picture.mode in ALPHA_MODES, checked=True,
                               threads=threads, workers=workers)
        buffer = np.empty((band_rows, width, channels), picture.pixels.dtype)

        def bands():
            for r0 in range(0, height, band_rows):
                r1 = min(r0 + band_rows, height)
                with watch.phase("lut"):
                    table = lut.rows(r0, r1)
                with watch.phase("gather"):
                    gather(table, buffer[:r1 - r0])
                yield buffer[:r1 - r0]
                if progress is not None:
                    progress(r1, height)

        # The writer pulls the bands: its own time is the write phase's, less theirs.
        inner = watch.phases["lut"] + watch.phases["gather"]
        start = time.perf_counter()
        def stream(path, picture, encoder, tiff_tags):
            return write_bands(path, fmt, picture, plan.spec.output_size, bands(), band_rows, encoder,
                               plan.spec.geometry, tiff_tags)

        size = write_map(request.output_path, picture, request.encoder, plan.spec, stream)
        lut.finish()
        watch.phases["write"] = time.perf_counter() - start - (watch.phases["lut"] + watch.phases["gather"] - inner)
    shape, dtype = lut_layout(plan.spec)
    origin = f"{lut.origin}; {math.ceil(height / band_rows)} bands of {band_rows} rows"
    return Lut(np.empty((0,) + shape[1:], dtype), plan.spec, origin, checked=True), size


def _read(request, mapped):
    """The input: a mapped one (a .npy file, an uncompressed TIFF) left mapped, its pages the page
    cache's (a copy costs seconds of fresh memory and gathers no faster, perf/RESULTS.md); any
    other decoded by Pillow."""
    if mapped is None:
        return read_image(request.input_path, request.max_pixels)
    log.debug("%s: memory-mapped, not read (%s)", request.input_path, _bytes(mapped.pixels.nbytes))
    return mapped


def split_huge(items, settings, budget: int | None) -> tuple[list, list]:
    """A batch's items as (huge ones, the others): huge images are converted one at a time in
    bands, in this process, the others on the pool. An item whose header says nothing, or whose
    geometry fails, is left to the pool, which reports it."""
    from .imageio import output_format
    from .pipeline import ConvertRequest

    huge, rest = [], []
    for item in items:
        request = ConvertRequest(item.input, item.output, settings.geometry, settings.size,
                                 max_pixels=settings.max_pixels, input_options=settings.input_options)
        try:
            plan, _ = plan_convert(request, output_format(item.output), budget)
        except (PolewarpError, OSError):  # the pool reports the item
            plan = None
        (huge if plan is not None and plan.huge else rest).append(item)
    return huge, rest


def run_huge(items, settings, build, cache, budget: int | None, fail_fast: bool = False, progress=None) -> dict:
    """Convert a batch's huge items one by one, band by band; {item: ItemResult}, each reported
    to ``progress`` as it ends (a failure is that image's, as on the pool)."""
    from .batch import ItemResult, one_line
    from .errors import PolewarpError
    from .pipeline import ConvertRequest, Stopwatch, convert_file
    from .plan import make_folders

    make_folders(items)
    results = {}
    for item in items:
        start = time.perf_counter()
        result = ItemResult(str(item.input), str(item.output), "failed")
        request = ConvertRequest(item.input, item.output, settings.geometry, settings.size, settings.fill,
                                 settings.graticule_color, settings.encoder, max_pixels=settings.max_pixels,
                                 input_options=settings.input_options)
        try:
            lut, result.bytes = convert_file(request, build, cache, Stopwatch(), budget=budget)
            result.size, result.status = lut.spec.input_size, "converted"
        except (PolewarpError, OSError) as err:
            result.reason = one_line(err).removeprefix(f"{item.input}: ")
        result.seconds = time.perf_counter() - start
        results[item] = result
        if progress is not None:
            progress(result)
        if fail_fast and result.status == "failed":
            break
    return results
