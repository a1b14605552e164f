"""Geometry (what a LUT depends on but the sizes) and GeometrySpec (a Geometry with sizes).

Two specs that compare equal build identical LUTs and share a cache key, so every angle is
rounded to 1e-9 degree and -0.0 folded into 0.0 here, projection names are made long, and
options a projection takes get their defaults written in. Pure Python on purpose: importing it
must not import numba.
"""

from __future__ import annotations

import dataclasses
import math

from .errors import SpecError
from .projections import OPTIONS, WEB_MERCATOR_LIMIT, Projection, projection

RESAMPLING = ("nearest", "bilinear", "average")
MAX_SIDE = 2**32 - 2  # uint32 LUT: the top value means "no source pixel"
FRACTION_BITS = 8  # bilinear LUTs hold positions in 1/256 pixel
MAX_BILINEAR_SIDE = (2**32 - 1) >> FRACTION_BITS
MAX_SUPERSAMPLE = 16
ANGLE_DECIMALS = 9
# The Python API's older names, still taken as keywords (and read from older sidecars).
ALIASES = {"source": "from_", "input_lat_limit": "from_lat_limit"}
# Another way to give a side's centre and heading, taken as keywords (poles.py turns them into those).
POLE_KEYWORDS = ("pole", "pole_turn", "from_pole", "from_pole_turn")

Vector = tuple[float, float, float]


def canonical_angle(value: float, name: str) -> float:
    """Round an angle to 1e-9 degree and fold -0.0, refusing NaN and infinities."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number of degrees, not {value!r}") from None
    if not math.isfinite(value):
        raise SpecError(f"{name} must be a finite number of degrees, not {value}")
    return round(value, ANGLE_DECIMALS) + 0.0


def _sincos_deg(degrees: float) -> tuple[float, float]:
    """sin and cos of an angle in degrees, exact at multiples of 90 so the default LUT stays exact."""
    quarter, rest = divmod(degrees, 90.0)
    if rest == 0.0:
        return ((0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0))[int(quarter) % 4]
    radians = math.radians(degrees)
    return math.sin(radians), math.cos(radians)


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _tidy(vector) -> Vector:
    """Fold -0.0 into 0.0 so that sums of exact zeros keep their sign."""
    return tuple(component + 0.0 for component in vector)


def aspect_frame(center: tuple[float, float], heading: float) -> tuple[Vector, Vector, Vector]:
    """A map's own axes on the globe: its centre c, the rotated east p x c and the rotated pole p
    (the direction ``heading`` at the centre, which points up the map)."""
    sin_lat, cos_lat = _sincos_deg(center[0])
    sin_lon, cos_lon = _sincos_deg(center[1])
    sin_h, cos_h = _sincos_deg(heading)
    centre = (cos_lat * cos_lon, cos_lat * sin_lon, sin_lat)
    north = (-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat)
    east = (-sin_lon, cos_lon, 0.0)
    pole = tuple(cos_h * n + sin_h * e for n, e in zip(north, east, strict=True))
    return _tidy(centre), _tidy(_cross(pole, centre)), _tidy(pole)


def _check_size(size, name: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in size)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be two whole numbers (width, height), not {size!r}") from None
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SpecError(f"{name} {width}x{height}: each side must be from 1 to {MAX_SIDE} pixels")
    return width, height


def _check_center(center, name: str) -> tuple[float, float]:
    try:
        lat, lon = center
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be (lat, lon), not {center!r}") from None
    lat = canonical_angle(lat, f"{name} latitude")
    if not -90.0 <= lat <= 90.0:
        raise SpecError(f"{name} latitude must be within -90..90 degrees, not {lat}")
    lon = canonical_angle(lon, f"{name} longitude")
    return lat, canonical_angle(180.0 - (180.0 - lon) % 360.0, f"{name} longitude")


GRATICULES = ("graticule", "graticule_rotated")  # the steps in degrees of the graticule drawn


def _check_graticule(step, name: str) -> float | None:
    """A graticule step: a whole number of steps round the circle, so that meridians meet at 180."""
    if step is None:
        return None
    step = canonical_angle(step, name.replace("_", " "))
    turns = round(360.0 / step) if step > 0 else 0
    if not (0.0 < step <= 180.0 and abs(turns * step - 360.0) <= 1e-6):
        raise SpecError(f"{name.replace('_', ' ')} must divide 360 degrees (10, 15, 7.5 ...), not {step:g}",
                        param=name)
    return step


def option_name(option: str, side: str) -> str:
    """The Python name of a projection option on one side: lat_limit, or from_lat_limit."""
    return option if side == "to" else f"from_{option}"


def _check_options(entry: Projection, values: dict, side: str) -> dict:
    """The side's options, validated for its projection, with the defaults of numbers written in."""
    checked = {}
    for option, value in values.items():
        name = option_name(option, side)
        words = name.replace("_", " ")
        if option not in entry.options:
            if value is not None:
                raise SpecError(f"{words} does not apply to {entry.name}", param=name)
            checked[option] = None
            continue
        checked[option] = None if value is None else canonical_angle(value, words)
    limit = checked["lat_limit"]
    if limit == 90.0 and entry.name != "mercator":
        checked["lat_limit"] = None  # 90 is these cylinders' default: one canonical form, one cache key
    if limit is not None and not (0.0 < limit < 90.0 or (limit == 90.0 and entry.name != "mercator")):
        top = "below 90" if entry.name == "mercator" else "at most 90"
        raise SpecError(f"{option_name('lat_limit', side).replace('_', ' ')} must be above 0 and {top} "
                        f"degrees, not {limit}", param=option_name("lat_limit", side))
    if "lat_ts" in entry.options:
        lat_ts = checked["lat_ts"] = checked["lat_ts"] or 0.0
        if not -90.0 < lat_ts < 90.0:
            raise SpecError(f"standard parallel must be between -90 and 90 degrees, not {lat_ts}",
                            param=option_name("lat_ts", side))
    if entry.radius is not None:
        default, low, high, closed = entry.radius
        radius = checked["radius"] = default if checked["radius"] is None else checked["radius"]
        if not (low < radius < high or (closed and radius == high)):
            raise SpecError(f"{entry.name} radius must be above {low:g} and {'at most' if closed else 'below'} "
                            f"{high:g} degrees, not {radius:g}", param=option_name("radius", side))
    return checked


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Everything a LUT depends on but the sizes: both projections, their options and aspects,
    the resampling. Field names follow the CLI: ``--from-center`` is ``from_center``.

    ``center`` is the (lat, lon) in degrees shown at the middle of the output, ``heading`` the
    compass direction there that points up the output; ``from_center`` and ``from_heading`` say
    the same of the input (0,0 and 0: a normal map). ``lat_limit`` is the top latitude of a
    cylindrical output (None: the original script's Mercator extent, or 90); ``from_lat_limit``
    that of a cylindrical input (None: the web-map limit for Mercator, 90 for the others).
    """

    to: str = "mercator"
    center: tuple[float, float] = (0.0, 0.0)
    heading: float = 90.0
    lat_limit: float | None = None
    lat_ts: float | None = None
    radius: float | None = None
    from_: str = "equirectangular"
    from_center: tuple[float, float] = (0.0, 0.0)
    from_heading: float = 0.0
    from_lat_limit: float | None = None
    from_lat_ts: float | None = None
    from_radius: float | None = None
    resample: str = "nearest"
    supersample: int | None = None
    legacy: bool = False
    from_bounds: tuple[float, float, float, float] | None = None  # a regional equirectangular input: W, S, E, N
    graticule: float | None = None
    graticule_rotated: float | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("to", projection(self.to).name)
        put("from_", projection(self.from_).name)
        if self.resample not in RESAMPLING:
            raise SpecError(f"resample must be one of {', '.join(RESAMPLING)}, not {self.resample!r}")
        put("center", _check_center(self.center, "center"))
        put("from_center", _check_center(self.from_center, "from center"))
        put("heading", canonical_angle(canonical_angle(self.heading, "heading") % 360.0, "heading"))
        put("from_heading", canonical_angle(canonical_angle(self.from_heading, "from heading") % 360.0,
                                            "from heading"))
        if self.from_ == "mercator" and self.from_lat_limit is None:
            put("from_lat_limit", WEB_MERCATOR_LIMIT)
        for side, entry in (("to", self.output), ("from", self.input)):
            values = {option: getattr(self, option_name(option, side)) for option in OPTIONS}
            for option, value in _check_options(entry, values, side).items():
                put(option_name(option, side), value)
        put("legacy", bool(self.legacy))
        put("from_bounds", _check_region(self.from_bounds, self))
        for name in GRATICULES:
            put(name, _check_graticule(getattr(self, name), name))
        if self.supersample is not None:
            if self.resample != "average":
                raise SpecError("supersample applies only to average resampling", param="supersample")
            if not 1 <= int(self.supersample) <= MAX_SUPERSAMPLE:
                raise SpecError(f"supersample must be from 1 to {MAX_SUPERSAMPLE}, not {self.supersample}")
            put("supersample", int(self.supersample))
        if self.legacy and self.resample != "nearest":
            raise SpecError("legacy mode reproduces the original script's nearest-neighbour output only")
        if self.legacy and not self.is_default_aspect():
            raise SpecError(
                "legacy mode reproduces the original script only: default centre and heading, "
                "Mercator output with its default extent, a normal equirectangular input"
            )

    @classmethod
    def of(cls, **fields) -> Geometry:
        """A Geometry from keywords, the older names (``source``, ``input_lat_limit``) and the poles
        (``pole``, ``pole_turn``, ``from_pole``, ``from_pole_turn``: poles.py) included."""
        try:
            return cls(**_renamed(fields))
        except TypeError as err:
            raise SpecError(f"not a geometry field: {err}") from None

    @property
    def output(self) -> Projection:
        return projection(self.to)

    @property
    def input(self) -> Projection:
        return projection(self.from_)

    @property
    def source(self) -> str:
        """The input projection's name, under the Python API's older name."""
        return self.from_

    @property
    def input_lat_limit(self) -> float | None:
        return self.from_lat_limit

    def options(self, side: str) -> dict:
        """The projection options of one side ("to" or "from"), as the registry takes them."""
        return {option: getattr(self, option_name(option, side)) for option in OPTIONS}

    def is_default_aspect(self) -> bool:
        """True for the original script's transverse aspect from a normal equirectangular input."""
        return (
            self.center == (0.0, 0.0)
            and self.heading == 90.0
            and self.to == "mercator"
            and self.lat_limit is None
            and self.from_ == "equirectangular"
            and self.from_lat_limit is None
            and self.from_bounds is None
            and self.input_is_normal()
        )

    def input_is_normal(self) -> bool:
        """The input is a normal map of the whole globe in latitude: centre 0,0, north up."""
        return self.from_center == (0.0, 0.0) and self.from_heading == 0.0 and self.region_middle() == 0.0

    def region_middle(self) -> float:
        """The middle longitude, degrees, of a regional input's bounds (0 for a whole map)."""
        if self.from_bounds is None:
            return 0.0
        west, _, east, _ = self.from_bounds
        return canonical_angle(west + _span(west, east) / 2.0, "from bounds")

    def input_bounds(self) -> tuple[float, float, float]:
        """The input's framing on the unit sphere: half-width X, half-height Y and the middle y
        (an image covers [-X, X] x [mid - Y, mid + Y]). A regional input is framed about its
        middle longitude, which its frame is turned to (``frames``), so that a region across
        180 degrees needs no wrapping: its columns and rows stay affine in lon/lat."""
        if self.from_bounds is None:
            return (*self.input.bounds(self.options("from")), 0.0)
        west, south, east, north = self.from_bounds
        return (math.radians(_span(west, east)) / 2.0, math.radians(north - south) / 2.0,
                math.radians(north + south) / 2.0)

    def input_wraps(self) -> bool:
        """The input's columns go round the globe: a cylinder, unless a region spans less than 360."""
        return self.input.cylindrical and (self.from_bounds is None or _span(*self.from_bounds[::2]) == 360.0)

    def frames(self) -> tuple[tuple[Vector, Vector, Vector], tuple[Vector, Vector, Vector]]:
        """The output's and the input's axes on the globe (centre, rotated east, rotated pole);
        a regional input's centre is its middle longitude."""
        centre = self.from_center if self.from_bounds is None else (0.0, self.region_middle())
        return aspect_frame(self.center, self.heading), aspect_frame(centre, self.from_heading)

    def output_axes_in_input(self) -> tuple[Vector, Vector, Vector]:
        """The output's axes in the input's own coordinates: the one rotation a LUT applies
        (the output aspect composed with the inverse of the input aspect)."""
        output, input_ = self.frames()
        if self.input_is_normal():
            return output
        return tuple(_tidy(tuple(sum(a * b for a, b in zip(axis, own, strict=True)) for own in input_))
                     for axis in output)

    def spec(self, input_size, output_size=None) -> GeometrySpec:
        """This geometry for an input of ``input_size``; ``output_size`` (W, H), a width alone
        (the projection's own height), or None (see ``GeometrySpec``)."""
        return GeometrySpec(input_size, output_size, geometry=self)

    def to_dict(self) -> dict:
        """The canonical, JSON-ready form (the cache key and the LUT sidecar hold it). The
        graticule steps appear only when set, so that a geometry without one keeps its key."""
        data = {field.name.rstrip("_"): getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name not in GRATICULES or getattr(self, field.name) is not None}
        data["center"], data["from_center"] = list(self.center), list(self.from_center)
        if self.from_bounds is None:
            del data["from_bounds"]  # a whole map keeps the key it had before regions existed
        else:
            data["from_bounds"] = list(self.from_bounds)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        """Rebuild a Geometry from ``to_dict``'s output."""
        if not isinstance(data, dict):
            raise SpecError("not a polewarp geometry: not a mapping")
        fields = {field.name: field.name.rstrip("_") for field in dataclasses.fields(cls)}
        unknown = set(data) - set(fields.values())
        if unknown:
            raise SpecError(f"not a polewarp geometry: unknown field {sorted(unknown)[0]!r}")
        try:
            values = {name: data[key] for name, key in fields.items()
                      if key != "from_bounds" and (name not in GRATICULES or key in data)}
            values["center"], values["from_center"] = tuple(values["center"]), tuple(values["from_center"])
            if data.get("from_bounds") is not None:
                values["from_bounds"] = tuple(data["from_bounds"])
        except (KeyError, TypeError) as err:
            raise SpecError(f"not a polewarp geometry: missing {err}") from None
        return cls(**values)

    def describe(self, input_size=None, output_size=None, supersample=None) -> str:
        """The geometry in words, for listings and messages (with the sizes when given)."""
        words = f"{self.from_}{_size_words(input_size)}"
        if self.from_bounds is not None:
            words += " of {:g},{:g},{:g},{:g}".format(*self.from_bounds)
        words += _aspect_words(self.from_center, self.from_heading, (0.0, 0.0), 0.0) + _option_words(self, "from")
        words += f" -> {self.to}{_size_words(output_size)}, centre {self.center[0]:g},{self.center[1]:g}, "
        words += f"heading {self.heading:g}" + _option_words(self, "to")
        supersample = supersample or self.supersample
        if self.resample == "average":
            words += f", average of {supersample}x{supersample}" if supersample else ", average"
        elif self.resample != "nearest":
            words += f", {self.resample}"
        words += "".join(f", {name.replace('_', ' ')} {getattr(self, name):g}" for name in GRATICULES
                         if getattr(self, name) is not None)
        return words + (", legacy" if self.legacy else "")


def _span(west: float, east: float) -> float:
    """Degrees of longitude from west to east (east < west crosses 180; equal: all 360)."""
    return (east - west) % 360.0 or 360.0


def _check_region(bounds, geometry: Geometry):
    """--from-bounds WEST,SOUTH,EAST,NORTH: an equirectangular input's extent in degrees,
    validated and normalised (the whole world is None: one cache key). West equal to east is a
    band all round (0,S,360,N read from a file comes here so)."""
    if bounds is None:
        return None
    try:
        values = tuple(bounds)
    except TypeError:
        values = ()
    if len(values) != 4:
        raise SpecError(f"from bounds must be four numbers WEST,SOUTH,EAST,NORTH, not {bounds!r}",
                        param="from_bounds")
    try:
        west, south, east, north = (canonical_angle(value, "from bounds") for value in values)
    except SpecError as err:
        raise SpecError(str(err), param="from_bounds") from None
    if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0):
        raise SpecError(f"from bounds: longitudes must be within -180..180, not {west:g} and {east:g}",
                        param="from_bounds")
    if not -90.0 <= south < north <= 90.0:
        raise SpecError(f"from bounds: need -90 <= south < north <= 90, not south {south:g}, north {north:g}",
                        param="from_bounds")
    if _span(west, east) == 360.0 and (south, north) == (-90.0, 90.0):
        return None
    if geometry.from_ != "equirectangular":
        raise SpecError(f"from bounds apply to an equirectangular input, not {geometry.from_}", param="from_bounds")
    if geometry.from_lat_limit is not None or geometry.from_center != (0.0, 0.0) or geometry.from_heading != 0.0:
        raise SpecError("from bounds place a normal map: give no --from-lat-limit, --from-center or "
                        "--from-heading beside them", param="from_bounds")
    return west, south, east, north


def _size_words(size) -> str:
    return f" {size[0]}x{size[1]}" if size else ""


def _aspect_words(center, heading, default_center, default_heading) -> str:
    if center == default_center and heading == default_heading:
        return ""
    return f" (centre {center[0]:g},{center[1]:g}, heading {heading:g})"


def _option_words(geometry: Geometry, side: str) -> str:
    return "".join(f", {option_name(option, side).replace('_', ' ')} {value:g}"
                   for option, value in geometry.options(side).items() if value is not None)


_GEOMETRY_FIELDS = frozenset(field.name for field in dataclasses.fields(Geometry)) | frozenset(ALIASES) \
    | frozenset(POLE_KEYWORDS)


@dataclasses.dataclass(frozen=True, init=False)
class GeometrySpec:
    """A Geometry with the input's size and the output's: everything a LUT depends on.

    ``GeometrySpec(input_size, output_size=None, geometry=None, **fields)``: the geometry given
    whole or by its fields (``to="mollweide"``, ``source="mercator"`` ...). ``output_size``: (W, H);
    a width alone (an int or a 1-tuple) takes the output projection's natural height; None keeps
    the input's size between Mercator and equirectangular maps and takes the input's width with
    the natural height otherwise. The geometry's fields read through: ``spec.to``.
    """

    input_size: tuple[int, int]
    output_size: tuple[int, int]
    geometry: Geometry
    supersample: int | None

    def __init__(self, input_size, output_size=None, geometry: Geometry | None = None, **fields):
        unknown = set(fields) - _GEOMETRY_FIELDS
        if unknown:
            raise SpecError(f"not a geometry field: {sorted(unknown)[0]!r}")
        if geometry is None:
            geometry = Geometry.of(**fields)
        elif fields:
            geometry = _changed(geometry, fields)
        input_size = _check_size(input_size, "input size")
        output_size = _check_size(_output_size(geometry, input_size, output_size), "output size")
        put = object.__setattr__
        put(self, "input_size", input_size)
        put(self, "output_size", output_size)
        put(self, "geometry", geometry)
        put(self, "supersample", self._resolve_supersample())
        if self.resample == "bilinear" and max(input_size) > MAX_BILINEAR_SIDE:
            raise SpecError(f"bilinear resampling takes inputs up to {MAX_BILINEAR_SIDE} pixels a side")

    def __getattr__(self, name):
        if name in _GEOMETRY_FIELDS or name in ("output", "input"):
            return getattr(self.__dict__["geometry"], name)
        raise AttributeError(name)

    def _resolve_supersample(self) -> int | None:
        """average: k x k samples a pixel, k = ceil(2 x the size ratio) from 2 to 8 unless given."""
        if self.resample != "average":
            return None
        if self.geometry.supersample is not None:
            return self.geometry.supersample
        ratio = max(self.input_size[0] / self.output_size[0], self.input_size[1] / self.output_size[1])
        return min(8, max(2, math.ceil(2 * ratio - 1e-9)))

    def sampling_spec(self) -> GeometrySpec:
        """The nearest-neighbour spec whose LUT an average LUT regroups: k times finer."""
        k = self.supersample
        width, height = self.output_size
        geometry = Geometry.of(**{**_fields_of(self.geometry), "resample": "nearest", "supersample": None})
        return GeometrySpec(self.input_size, (width * k, height * k), geometry=geometry)

    def is_default_aspect(self) -> bool:
        return self.geometry.is_default_aspect()

    def options(self, side: str) -> dict:
        return self.geometry.options(side)

    @property
    def input_shape(self) -> tuple[int, int]:
        """(rows, columns) of the input."""
        return self.input_size[1], self.input_size[0]

    @property
    def output_shape(self) -> tuple[int, int]:
        """(rows, columns) of the output and of the LUT."""
        return self.output_size[1], self.output_size[0]

    def to_dict(self) -> dict:
        """The canonical, JSON-ready form: the cache key and the LUT sidecar are made from it."""
        data = {"input_size": list(self.input_size), "output_size": list(self.output_size)}
        data.update(self.geometry.to_dict())
        data["supersample"] = self.supersample
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GeometrySpec:
        """Rebuild a spec from ``to_dict``'s output (a sidecar or a cache header)."""
        if not isinstance(data, dict):
            raise SpecError("not a polewarp geometry: not a mapping")
        rest = {key: value for key, value in data.items() if key not in ("input_size", "output_size")}
        try:
            sizes = data["input_size"], data["output_size"]
        except KeyError as err:
            raise SpecError(f"not a polewarp geometry: missing {err}") from None
        return cls(*sizes, geometry=Geometry.from_dict(rest))

    def describe(self) -> str:
        """The geometry and sizes in words, for listings and messages."""
        return self.geometry.describe(self.input_size, self.output_size, self.supersample)


def _renamed(fields: dict) -> dict:
    """Keywords in Geometry's own terms: the older names (``source``, ``input_lat_limit``) given
    their new ones, and a side's ``pole`` (``pole_turn``) made its centre and heading."""
    from .poles import placed  # poles.py builds on this module

    renamed = {ALIASES.get(name, name): value for name, value in fields.items()}
    clash = [old for old, new in ALIASES.items() if old in fields and new in fields]
    if clash:
        raise SpecError(f"give {ALIASES[clash[0]]} or its older name {clash[0]}, not both")
    return placed(renamed)


def _changed(geometry: Geometry, fields: dict) -> Geometry:
    """``geometry`` with some fields changed (older names taken): a side whose projection changes
    drops the options of the old one it was not given again."""
    fields = _renamed(fields)
    merged = _fields_of(geometry)
    for side, name in (("to", "to"), ("from", "from_")):
        if name in fields and projection(fields[name]).name != merged[name]:
            for option in OPTIONS:
                merged[option_name(option, side)] = None
    return Geometry.of(**{**merged, **fields})


def _fields_of(geometry: Geometry) -> dict:
    return {field.name: getattr(geometry, field.name) for field in dataclasses.fields(geometry)}


def _output_size(geometry: Geometry, input_size: tuple[int, int], requested) -> tuple[int, int]:
    """The output size the request means: (W, H) as given; a width alone takes the natural height;
    none keeps the input's size between Mercator and equirectangular maps (as the original script
    did), the input's width with the natural height otherwise (a globe read back is not square)."""
    if requested is None:
        if {geometry.to, geometry.from_} <= {"mercator", "equirectangular"}:
            return input_size
        requested = input_size[0]
    if isinstance(requested, int) or (isinstance(requested, (tuple, list)) and len(requested) == 1):
        width = int(requested if isinstance(requested, int) else requested[0])
        if not 1 <= width <= MAX_SIDE:
            raise SpecError(f"output width {width}: must be from 1 to {MAX_SIDE} pixels")
        return width, geometry.output.natural_height(width, geometry.options("to"))
    return requested
