"""What the page sends and is told: views (a Geometry from JSON), sizes, the zoom each projection
allows, and the `polewarp convert` command line of a view.

Every value from the page goes through the same validation as the command line's (Geometry's),
after a check of its JSON type; a bad one is a SpecError naming the field, which the server
answers with a 400.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from ..engine.errors import SpecError
from ..engine.geometry import GRATICULES, RESAMPLING, Geometry
from ..engine.projections import DEFAULT_MERCATOR_EXTENT, NAMES, projection

MAX_PREVIEW_SIDE = 2048  # the preview's cap: one frame at most 2048 x 2048 pixels
MIN_PREVIEW_SIDE = 16
MAX_SAVE_SIDE = 16384  # a page may ask for a large map, not for one that exhausts memory
MIN_ZOOM = 1.0  # degrees: the smallest extent the zoom offers (the ranges are open at 0)
# the geometry's names, as the command line spells them (the graticules' are written only when set)
FIELDS = tuple(Geometry().to_dict()) + GRATICULES
GRATICULE_STEPS = (10, 15, 30)  # degrees: the page's menu (the command line takes any divisor of 360)
_TEXT = {"to", "from", "resample"}
_FLAGS = {"legacy"}
_WHOLE = {"supersample"}
_POINTS = {"center", "from_center"}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked_value(name: str, value):
    """A field's JSON value if its type is right; else a SpecError naming it."""
    if name in _TEXT:
        ok = isinstance(value, str)
    elif name in _FLAGS:
        ok = isinstance(value, bool)
    elif name in _WHOLE:
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
    elif name in _POINTS:
        ok = isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
    else:
        ok = value is None or _is_number(value)
    if not ok:
        raise SpecError(f"{name}: {value!r} is not a valid value", param=name)
    return value


def geometry_of(data, base: Geometry) -> Geometry:
    """The view ``data`` (a JSON object of geometry fields, named as ``Geometry.to_dict``) over
    ``base``: the fields it leaves out keep ``base``'s values."""
    if not isinstance(data, dict):
        raise SpecError("geometry must be a JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise SpecError(f"unknown geometry field {unknown[0]!r}; known: {', '.join(FIELDS)}")
    fields = {**base.to_dict(), **{name: _checked_value(name, value) for name, value in data.items()}}
    return Geometry.from_dict(fields)


def pixel_pair(data, name: str, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """Two finite numbers within [low, high] (a pixel position or a size)."""
    if not (isinstance(data, list) and len(data) == 2 and all(_is_number(v) and math.isfinite(v) for v in data)):
        raise SpecError(f"{name} must be two finite numbers, not {data!r}", param=name)
    if not all(low <= v <= high for v in data):
        raise SpecError(f"{name} {data}: each must be within {low:g}..{high:g}", param=name)
    return float(data[0]), float(data[1])


def position(data, name: str) -> tuple[float, float]:
    """A pixel position in a frame (a pointer may leave it, by less than a frame's side)."""
    return pixel_pair(data, name, -MAX_PREVIEW_SIDE, 2 * MAX_PREVIEW_SIDE)


def preview_size(geometry: Geometry, box) -> tuple[int, int]:
    """The largest size of the projection's own proportions within the page's ``box`` (W, H),
    the box capped at MAX_PREVIEW_SIDE a side."""
    width, height = (int(side) for side in pixel_pair(box, "box", MIN_PREVIEW_SIDE, 1e9))
    width, height = min(width, MAX_PREVIEW_SIDE), min(height, MAX_PREVIEW_SIDE)
    x_edge, y_edge = geometry.output.bounds(geometry.options("to"))
    width = max(1, min(width, math.floor(height * x_edge / y_edge)))
    return width, geometry.output.natural_height(width, geometry.options("to"))


def save_size(data, default: tuple[int, ...]) -> tuple[int, ...]:
    """The size a Save asks for: [W] (the natural height), [W, H], or null (``default``)."""
    if data is None:
        return tuple(default)
    if not (isinstance(data, list) and len(data) in (1, 2)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in data)):
        raise SpecError(f"size must be [WIDTH] or [WIDTH, HEIGHT] in whole pixels, not {data!r}", param="size")
    if not all(1 <= v <= MAX_SAVE_SIDE for v in data):
        raise SpecError(f"size {data}: each side must be from 1 to {MAX_SAVE_SIDE} pixels", param="size")
    return tuple(data)


def zoom_of(name: str) -> dict | None:
    """The extent option the zoom changes for a projection, its default and range in degrees;
    None for the projections of the whole sphere (the zoom is off)."""
    entry = projection(name)
    if entry.radius is not None:
        default, low, high, closed = entry.radius
        return {"option": "radius", "default": default, "min": max(low, MIN_ZOOM),
                "max": high if closed else high - MIN_ZOOM / 10}
    if "lat_limit" in entry.options:
        mercator = entry.name == "mercator"
        default = math.degrees(math.atan(math.sinh(DEFAULT_MERCATOR_EXTENT))) if mercator else 90.0
        return {"option": "lat_limit", "default": default, "min": MIN_ZOOM, "max": 89.9 if mercator else 90.0}
    return None


def catalogue() -> list[dict]:
    """Every projection the page's menu offers, with its zoom."""
    return [{"name": name, "short": projection(name).short, "family": projection(name).family,
             "zoom": zoom_of(name)} for name in NAMES]


def choices() -> dict:
    return {"projections": catalogue(), "resample": list(RESAMPLING), "graticule": list(GRATICULE_STEPS)}


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _option_words(name: str, value) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, (list, tuple)):
        return [f"{flag}={_number(value[0])},{_number(value[1])}"]
    return [f"{flag}={value if isinstance(value, (str, int)) else _number(value)}"]


def command_line(geometry: Geometry, input_path: Path | None, size=None, output: str | None = None,
                 graticule_color: str | None = None) -> str:
    """The `polewarp convert` command that renders ``geometry`` from ``input_path`` (None: the
    embedded map) at ``size``: every field that differs from a plain view of its projections."""
    default = Geometry().to_dict()  # the command line's defaults
    plain = Geometry.of(to=geometry.to, from_=geometry.from_).to_dict()  # what --to and --from alone give
    words = ["polewarp", "convert"] + ([str(input_path)] if input_path is not None else [])
    for name, value in geometry.to_dict().items():
        if value != (default if name in ("to", "from") else plain).get(name):
            words += _option_words(name, value)
    if graticule_color is not None and (geometry.graticule or geometry.graticule_rotated):
        words.append(f"--graticule-color={graticule_color}")
    if size is not None:
        words.append("--size=" + "x".join(str(side) for side in size))
    if output is not None:
        words += ["-o", output]
    return shlex.join(words)
