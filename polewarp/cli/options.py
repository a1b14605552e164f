"""Options shared by several commands, as module-level decorators, and their parameter types.

geometry_options: convert, lut build, batch (aspect_options, without --size: profile);
build_options: convert, lut build (build_options_with: batch, whose -c sizes its image pool);
cache_options: convert, lut build, batch (cache_dir_opt alone: the cache commands);
encoder_options: convert, batch. The take_* helpers pop each group out of a command's keywords.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import click

from ..engine.choices import BACKENDS, ENV_CACHE_DIR, ENV_CACHE_MAX
from ..engine.geometry import MAX_SUPERSAMPLE, RESAMPLING


class SizeType(click.ParamType):
    """WIDTHxHEIGHT in pixels, e.g. 2048x1024; with ``width_alone``, WIDTH too (a 1-tuple)."""

    name = "WxH"

    def __init__(self, width_alone: bool = False):
        self.width_alone = width_alone
        if width_alone:
            self.name = "W[xH]"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        example = "2048 or 2048x1024" if self.width_alone else "2048x1024"
        try:
            sides = tuple(int(part) for part in str(value).lower().split("x"))
        except ValueError:
            sides = ()
        if len(sides) != 2 and not (self.width_alone and len(sides) == 1):
            self.fail(f"{value!r} is not {self.name}, e.g. {example}", param, ctx)
        if min(sides) < 1:
            self.fail(f"{value!r}: every side must be at least 1 pixel", param, ctx)
        return sides


class ProjectionType(click.ParamType):
    """A projection's long or PROJ short name; an unknown one is refused with the nearest name."""

    name = "PROJECTION"

    def convert(self, value, param, ctx):
        from ..engine.errors import SpecError
        from ..engine.projections import projection

        try:
            return projection(value).name
        except SpecError as err:
            self.fail(str(err), param, ctx)

    def get_metavar(self, param, ctx=None):
        return "PROJECTION"


class LatLonType(click.ParamType):
    """LAT,LON in degrees, e.g. 45,-30."""

    name = "LAT,LON"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            lat, lon = (float(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not LAT,LON in degrees, e.g. 45,-30", param, ctx)
        if not (math.isfinite(lat) and math.isfinite(lon)):
            self.fail(f"{value!r}: latitude and longitude must be finite numbers", param, ctx)
        if not -90 <= lat <= 90:
            self.fail(f"{value!r}: latitude must be within -90..90", param, ctx)
        return lat, lon


class BoundsType(click.ParamType):
    """WEST,SOUTH,EAST,NORTH in degrees (the geometry checks their ranges)."""

    name = "W,S,E,N"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        try:
            bounds = tuple(float(part) for part in parts)
        except ValueError:
            bounds = ()
        if len(bounds) != 4 or not all(math.isfinite(v) for v in bounds):
            self.fail(f"{value!r} is not four numbers WEST,SOUTH,EAST,NORTH in degrees", param, ctx)
        return bounds


class FiniteFloat(click.ParamType):
    """A finite number (click's FLOAT lets nan and inf through)."""

    name = "DEGREES"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def fill_handler(ctx, param, value):
    """--fill and --graticule-color: checked as colours before any work; their conversion to the
    image's mode is per image."""
    if value is None:
        return None
    from ..engine.errors import SpecError
    from ..engine.imageio import check_fill

    try:
        check_fill(value)
    except SpecError as err:
        raise click.BadParameter(str(err), ctx, param) from None
    return value


SIZE = SizeType()
LATLON = LatLonType()
PROJECTION = ProjectionType()
DEGREES = FiniteFloat()
log = logging.getLogger("polewarp")


def _apply(decorators):
    def decorate(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return decorate


def _side_options(side: str, default_projection: str, default_heading: float) -> list:
    """One side's projection, aspect and projection options: the output's (--to, --center ...)
    or the input's, each named as its output twin with --from- in front."""
    prefix, whose = ("", "output") if side == "to" else ("from-", "input")
    dest = lambda name: (prefix + name).replace("-", "_")  # noqa: E731
    return [
        click.option(f"--{side}", "to" if side == "to" else "from_", type=PROJECTION,
                     default=default_projection, show_default=True,
                     help=f"Projection of the {whose} (a name or PROJ's short name; see 'polewarp projections')"
                     + ("." if side == "to" else "; given, an input's embedded geometry is not used.")),
        click.option(f"--{prefix}center", dest("center"), type=LATLON, default="0,0", show_default=True,
                     help=f"Geographic LAT,LON at the centre of the {whose}."),
        click.option(f"--{prefix}heading", dest("heading"), type=DEGREES, default=default_heading,
                     show_default=True, help=f"Compass direction at that centre that points up the {whose}"
                     + (" (90: the original script's transverse aspect; 0: north up)." if side == "to" else ".")),
        click.option(f"--{prefix}pole", dest("pole"), type=LATLON, default=None,
                     help=f"Put the {whose}'s north pole at LAT,LON, instead of --{prefix}center and "
                          f"--{prefix}heading: centred on the new equator's point nearest to 0,0 "
                          "(docs/geometry.md; -v prints the equivalent)."),
        click.option(f"--{prefix}pole-turn", dest("pole_turn"), type=DEGREES, default=0.0, show_default=True,
                     help=f"With --{prefix}pole: move the {whose}'s centre this far east along the new equator."),
        click.option(f"--{prefix}lat-limit", *(["--input-lat-limit"] if side == "from" else []), dest("lat_limit"),
                     type=DEGREES, default=None,
                     help=f"Cylindrical {whose}s: rotated latitude of the top edge [mercator: "
                     + ("the original script's extent, ~84.6" if side == "to" else "85.0511287798")
                     + "; the others: 90]."),
        click.option(f"--{prefix}lat-ts", dest("lat_ts"), type=DEGREES, default=None,
                     help=f"cylindrical-equal-area {whose}: the standard parallel [0]."),
        click.option(f"--{prefix}radius", dest("radius"), type=DEGREES, default=None,
                     help=f"Azimuthal {whose}s: angular radius from the centre to the middle of an edge "
                          "[orthographic 90, stereographic 90, gnomonic 60, the others 180]."),
    ]


aspect_options = _apply(_side_options("to", "mercator", 90.0) + _side_options("from", "equirectangular", 0.0) + [
    click.option("--from-bounds", "from_bounds", type=BoundsType(), default=None,
                 help="A regional equirectangular input's extent, degrees (EAST < WEST crosses 180) "
                      "[its GeoTIFF tags or world file, else the whole world]."),
    click.option("--legacy", is_flag=True,
                 help="Reproduce the original script's output pixel for pixel (its rounding included)."),
    click.option("--resample", type=click.Choice(RESAMPLING), default="nearest", show_default=True,
                 help="nearest copies one pixel; bilinear blends four; average blends k x k samples "
                      "(for shrinking)."),
    click.option("--supersample", type=click.IntRange(1, MAX_SUPERSAMPLE), default=None, metavar="K",
                 help="average: K x K samples a pixel [ceil(2 x the size ratio), 2 to 8]."),
])

GRATICULE = FiniteFloat()
GRATICULE.name = "DEG"

geometry_options = _apply([
    aspect_options,
    click.option("--size", type=SizeType(width_alone=True), default=None,
                 help="Output size: WIDTH (the projection's own height) or WIDTHxHEIGHT "
                      "[between mercator and equirectangular: the input's; else the input's width]."),
    click.option("--graticule", type=GRATICULE, default=None,
                 help="Draw the meridians and parallels every DEG degrees (DEG divides 360), one pixel wide."),
    click.option("--graticule-rotated", type=GRATICULE, default=None,
                 help="Draw the output's own grid (its new equator and poles) every DEG degrees."),
])

# The geometry's option names as the CLI spells them (the keywords Geometry.of takes).
GEOMETRY_PARAMS = ("to", "center", "heading", "lat_limit", "lat_ts", "radius", "from_", "from_center",
                   "from_heading", "from_lat_limit", "from_lat_ts", "from_radius", "from_bounds", "legacy", "resample",
                   "supersample", "pole", "pole_turn", "from_pole", "from_pole_turn")
GRATICULE_PARAMS = ("graticule", "graticule_rotated")  # geometry_options' only (not profile's)


def build_options_with(workers_help: str):
    """The build options, with -c/--workers described as the command uses it (batch's workers
    convert images; the LUT build takes the default)."""
    return _apply([
        click.option("-c", "--workers", type=click.IntRange(min=1), default=None, help=workers_help),
        click.option("-n", "--rows-per-task", type=click.IntRange(min=1), default=None,
                     help="Output rows per task [auto: >= 64K pixels a task, ~4 tasks a worker]."),
        click.option("--backend", type=click.Choice(("auto",) + BACKENDS),
                     default="auto", show_default=True,
                     help="How to build: auto uses the process pool for large LUTs, else one process."),
    ])


build_options = build_options_with("Worker processes (or threads) for the LUT build [the cores available].")


def _check_cache_size(ctx, param, value):
    """Refuse a bad --max-cache-size (or its environment variable) while parsing, before any work."""
    from ..engine.cache import cache_cap

    cache_cap(value)
    return value


cache_dir_opt = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                             help=f"LUT cache folder [${ENV_CACHE_DIR}, else ~/.cache/polewarp].")

cache_options = _apply([
    cache_dir_opt,
    click.option("--no-cache", is_flag=True, help="Neither read nor write the LUT cache."),
    click.option("--max-cache-size", default=None, metavar="SIZE", callback=_check_cache_size,
                 help="Evict least recently used entries above this size, e.g. 500M; none: no cap "
                      f"[${ENV_CACHE_MAX}, else 4G]."),
])

def _check_memory(ctx, param, value):
    """Refuse a bad --max-memory while parsing, before any work."""
    from ..engine.cache import parse_size

    if value is not None:
        parse_size(value, "--max-memory")
    return value


memory_opt = click.option(
    "--max-memory", default=None, metavar="SIZE", callback=_check_memory,
    help="Above this, outputs are made in bands of rows and streamed to disk (TIFF, PNG), e.g. 4G; "
         "none: never [half the memory available].")


def take_memory(options: dict):
    """Pop --max-memory as the budget in bytes (None: no budget)."""
    from ..engine.bands import memory_budget

    return memory_budget(options.pop("max_memory"))


encoder_options = _apply([
    click.option("--compress-level", type=click.IntRange(0, 9), default=None,
                 help="PNG compression level, 0-9 [1: fast, ~10% larger than 6]."),
    click.option("--quality", type=click.IntRange(1, 100), default=None,
                 help="JPEG and WebP quality, 1-100 [90]."),
    click.option("--fill", default=None, metavar="COLOR", callback=fill_handler,
                 help="Colour of pixels with no source: a name or #RRGGBB[AA] "
                      "[black, or transparent with alpha]."),
    click.option("--georef/--no-georef", default=None,
                 help="GIS georeferencing: GeoTIFF keys, and for PNG/JPEG a world file, .aux.xml and "
                      ".prj beside the image [on for TIFF]."),
    click.option("--earth-radius", type=click.FloatRange(min=0.0, min_open=True, max=1e12), default=None,
                 metavar="METRES", help="The sphere's radius in the georeferencing [6371007.181, WGS84's "
                                        "authalic radius]."),
    click.option("--graticule-color", default=None, metavar="COLOR", callback=fill_handler,
                 help="Colour of the graticule's lines, as --fill [light grey, #d3d3d3, opaque]."),
])


def take_geometry(options: dict, given=None):
    """Pop the geometry options out of a command's keywords: (Geometry, the requested --size).
    ``given(name)``: whether an option was given (default: its source in the current context)."""
    from ..engine.geometry import Geometry

    fields = _one_aspect_a_side({name: options.pop(name) for name in GEOMETRY_PARAMS}, given or _given)
    fields.update((name, options.pop(name, None)) for name in GRATICULE_PARAMS)
    geometry = Geometry.of(**fields)
    for side in ("", "from_"):
        if side + "pole" in fields:
            (lat, lon), heading = getattr(geometry, side + "center"), getattr(geometry, side + "heading")
            log.debug("%s: the same as %s %.12g,%.12g %s %.12g", _flag(side + "pole"), _flag(side + "center"),
                      lat, lon, _flag(side + "heading"), heading)
    return geometry, options.pop("size", None)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(name: str) -> bool:
    """Whether the option ``name`` of the running command was given (not left at its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def _one_aspect_a_side(fields: dict, given) -> dict:
    """Each side's aspect as given: --pole (and --pole-turn) or --center and --heading, the other
    pair left out; a side given both is a usage error naming them (the engine makes a pole a
    centre and a heading)."""
    ctx = click.get_current_context()
    for side in ("", "from_"):
        pole, turn, center, heading = (side + name for name in ("pole", "pole_turn", "center", "heading"))
        if fields[pole] is None and given(turn):
            raise click.UsageError(f"{_flag(turn)} turns the map about {_flag(pole)}: give that too", ctx)
        clash = [_flag(name) for name in (pole, center, heading) if fields[pole] is not None and given(name)]
        if clash[1:]:
            raise click.UsageError(f"{', '.join(clash[:-1])} and {clash[-1]}: give one or the other "
                                   "(a pole fixes the centre and the heading)", ctx)
        for name in (turn, pole) if fields[pole] is None else (center, heading):
            del fields[name]
    return fields


def take_read_geometry(ctx: click.Context, options: dict):
    """take_geometry for the commands that read maps: (Geometry, --size, the --from* values to
    put on top of an input's embedded geometry, or None when --from or --legacy is given and the
    file's is not used). Those values are left out of the Geometry: they may not apply to the
    default input projection, only to the file's."""
    from ..engine.geometry import Geometry
    from ..engine.poles import placed

    given = [name for name in GEOMETRY_PARAMS if name.startswith("from_") and _given(name)]
    if "from_" in given or options["legacy"]:
        return (*take_geometry(options), None)
    _one_aspect_a_side({name: options[name] for name in GEOMETRY_PARAMS}, _given)  # its usage errors
    # A --from-pole becomes the centre and heading it means; the input side left at its defaults.
    overrides = placed({name: options[name] for name in given})
    defaults = {field.name: field.default for field in dataclasses.fields(Geometry)}
    options.update({name: defaults.get(name) for name in given})
    options["from_pole_turn"] = 0.0
    return (*take_geometry(options, lambda name: _given(name) and not name.startswith("from_")), overrides)


def take_build(options: dict):
    """Pop --workers, --rows-per-task and --backend as BuildOptions."""
    from ..engine.pipeline import BuildOptions

    return BuildOptions(options.pop("backend"), options.pop("workers"), options.pop("rows_per_task"))


def take_encoder(options: dict):
    """Pop --compress-level, --quality, --georef and --earth-radius as EncoderOptions."""
    from ..engine.imageio import EncoderOptions

    return EncoderOptions(*(options.pop(name) for name in ("compress_level", "quality", "georef", "earth_radius")))


def take_cache(options: dict):
    """Pop the cache options: the LutCache they ask for, or None with --no-cache."""
    from ..engine.cache import LutCache, cache_cap, default_cache_dir

    cache_dir, no_cache, max_size = (options.pop(n) for n in ("cache_dir", "no_cache", "max_cache_size"))
    if no_cache:
        return None
    return LutCache(default_cache_dir(cache_dir), cache_cap(max_size))
