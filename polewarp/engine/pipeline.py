"""read -> LUT (file, cache or build) -> gather -> write: what convert and batch share."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path

from .embedded import input_geometry
from .errors import CacheError, SpecError
from .gather import apply_lut, draw_graticule
from .geometry import Geometry, GeometrySpec
from .georef import embedded_disagreement, wanted, with_input_extent, write_map
from .imageio import (
    ALPHA_MODES,
    DEFAULT_MAX_PIXELS,
    GRATICULE_COLOR,
    EncoderOptions,
    check_storable,
    fill_color,
    for_blending,
    output_format,
)

log = logging.getLogger("polewarp")


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """How to build a LUT on a cache miss."""

    backend: str = "auto"
    workers: int | None = None
    rows_per_task: int | None = None


class Stopwatch:
    """Seconds spent in each named phase, in order."""

    def __init__(self):
        self.phases: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start


DEFAULT_BUILD = BuildOptions()


def obtain_lut(spec: GeometrySpec, build: BuildOptions = DEFAULT_BUILD, cache=None, progress=None,
               check_hit: bool = True):
    """The LUT for ``spec``: from the cache when it holds a valid entry, else built (and stored).
    ``check_hit=False`` leaves a cache hit unchecked, for a caller whose gather checks it."""
    if cache is not None:
        lut = cache.load(spec, check_hit)
        if lut is not None:
            return lut
    from .lut import build_lut

    lut = build_lut(spec, build.backend, build.workers, build.rows_per_task, progress)
    if cache is not None:
        cache.store(lut)
    return lut


@dataclasses.dataclass(frozen=True)
class ConvertRequest:
    """One conversion: the files, the geometry (all but the input size) and the output's knobs."""

    input_path: Path
    output_path: Path
    geometry: Geometry = Geometry()
    size: tuple[int, ...] | None = None  # the output size asked for (see GeometrySpec)
    fill: str | None = None
    graticule_color: str | None = None
    encoder: EncoderOptions = EncoderOptions()
    lut_file: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    # None: the geometry's input side as given. A dict: the input's embedded geometry gives the
    # input side, these values (the --from-center, --from-heading ... given) on top.
    input_options: dict | None = None


def check_paths(input_path: Path, output_path: Path) -> None:
    """Never write over the input."""
    if input_path.resolve() == output_path.resolve():
        raise SpecError(f"{output_path}: the output would write over the input")


def convert_file(request: ConvertRequest, build: BuildOptions = DEFAULT_BUILD, cache=None,
                 watch: Stopwatch | None = None, progress=None, budget: int | None | str = "default",
                 bands_progress=None, band_rows: int | None = None):
    """Convert one file; returns (the LUT used, bytes written).

    ``budget``: bytes of memory (None: no limit; by default half the memory available); an
    output the in-memory path would take more for is made in bands (``bands``) of ``band_rows``
    rows (default: from the budget), ``bands_progress(rows done, rows)`` after each."""
    from . import bands
    from .mapped import read_input

    watch = watch or Stopwatch()
    check_paths(request.input_path, request.output_path)
    fmt = output_format(request.output_path)
    wanted(request.encoder, request.output_path)  # --georef for a format with no place for it: before any work
    mapped = None
    if request.lut_file is None:
        budget = bands.memory_budget() if budget == "default" else budget
        plan, mapped = bands.plan_convert(request, fmt, budget, band_rows)
        if plan is not None and (plan.banded(fmt) or band_rows is not None):
            return bands.convert_banded(request, fmt, plan, mapped, build, cache, watch, bands_progress)
    with watch.phase("read"):
        picture = read_input(request.input_path, request.max_pixels, mapped)
    with watch.phase("lut"):
        if request.lut_file is not None:
            from .lutfile import load_lut

            lut, spec = load_lut(request.lut_file, picture.size, check=False), None  # see below
        else:
            lut, spec = None, _input_read(request, picture).spec(picture.size, request.size)
        picture = prepare(picture, (spec or lut.spec).resample)
        check_storable(picture.mode, fmt)
        # The gather checks a LUT file or a cache hit as it reads it: free in the numba gather,
        # where a pass of its own would add a tenth (perf/RESULTS.md).
        lut = lut or obtain_lut(spec, build, cache, progress, check_hit=False)
    with watch.phase("gather"):
        try:
            result = render(picture, lut, request.fill, request.graticule_color)
        except CacheError as err:  # a LUT from outside the process points outside the input
            lut = _replacement(err, lut, request, build, cache, progress)
            result = render(picture, lut, request.fill, request.graticule_color)
    with watch.phase("write"):
        size = write_map(request.output_path, result, request.encoder, lut.spec)
    return lut, size


def _input_read(request: ConvertRequest, picture):
    """The request's geometry, its input side as the picture's embedded geometry says (the
    request's input options on top)."""
    return read_geometry(request, picture.geometry, picture.size)


def read_geometry(request: ConvertRequest, embedded, size, say: bool = True):
    """The request's geometry for an input of ``size`` carrying ``embedded`` (a Geometry or
    None): by it, the request's input options on top, else with the input's GIS extent.
    ``say``: log that it is read so (the banded plan's look at the header says nothing)."""
    geometry = input_geometry(request.geometry, embedded, request.input_options)
    if geometry is not request.geometry and embedded is not None:
        if say:
            log.info("%s: read by its embedded geometry (made as %s)", request.input_path, embedded.describe())
            if difference := embedded_disagreement(embedded, request.input_path, size):
                log.warning("%s: its GIS georeferencing disagrees with its embedded geometry, which is used: %s",
                            request.input_path, difference)
        return geometry
    return with_input_extent(geometry, request.input_path, size)


def _replacement(err: CacheError, lut, request: ConvertRequest, build: BuildOptions, cache, progress):
    """A LUT that failed its check while gathering: a --lut file is an error naming it; a cache
    entry is damaged (reported, removed) and built again."""
    if request.lut_file is not None or cache is None:
        raise CacheError(f"{request.lut_file or lut.origin}: {err}") from None
    cache.discard_damaged(lut.spec, err)
    return obtain_lut(lut.spec, build, cache, progress)


def prepare(picture, resample: str):
    """The picture as the gather needs it: blending methods take no palette or 1-bit images."""
    return picture if resample == "nearest" else for_blending(picture)


def render(picture, lut, fill: str | None, graticule_color: str | None = None):
    """The picture gathered through the LUT; "no source" pixels get ``fill`` (default zeros:
    black, and transparent where the image has alpha); then the LUT's graticule, if it has one,
    is drawn over it in ``graticule_color`` (default GRATICULE_COLOR)."""
    alpha = picture.mode in ALPHA_MODES
    pixels = apply_lut(lut, picture.pixels, fill_color(fill, picture), alpha=alpha)
    if getattr(lut, "graticule", None) is not None:
        draw_graticule(pixels, lut.graticule, fill_color(graticule_color or GRATICULE_COLOR, picture))
    return picture.with_pixels(pixels, lut.spec.geometry)
