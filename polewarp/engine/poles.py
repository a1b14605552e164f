"""Poles placed where you say: the centre and heading that put a map's rotated north pole at a
geographic point (``--pole LAT,LON``, ``--pole-turn``), so that a pole is only another way to
write an aspect: one canonical Geometry, one cache key. Pure Python, like geometry.py.

The rule (docs/geometry.md, section 1): the centre is the point of the new equator nearest to
0N 0E (nearest to 0N 90E when the pole is at 0N 0E or 0N 180E, whose whole equator is 90 degrees
from 0N 0E), moved ``turn`` degrees along the new equator towards the map's rotated east.
"""

from __future__ import annotations

import math

from .errors import SpecError
from .geometry import Vector, _check_center, _cross, _sincos_deg, _tidy, aspect_frame, canonical_angle


def _dot(a: Vector, b: Vector) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _unit(vector: Vector) -> Vector | None:
    norm = math.sqrt(_dot(vector, vector))
    return tuple(component / norm for component in vector) if norm else None


def pole_aspect(pole: tuple[float, float], turn: float = 0.0, name: str = "pole") -> tuple[tuple[float, float], float]:
    """The (centre, heading) in degrees of the aspect whose rotated north pole is ``pole``
    (lat, lon), its centre moved ``turn`` degrees east along the new equator from the point
    nearest to 0N 0E (see the module's docstring)."""
    p = aspect_frame(_check_center(pole, _words(name)), 0.0)[0]
    # The turn-0 centre c0 = q0 x p is 0N 0E less its component along p, made a unit vector (the
    # new equator's nearest point), so its rotated east q0 = p x c0 is p x (0N 0E) made one.
    east = _unit(_cross(p, (1.0, 0.0, 0.0))) or _unit(_cross(p, (0.0, 1.0, 0.0)))
    start = _cross(east, p)
    sin_t, cos_t = _sincos_deg(canonical_angle(turn, _words(name) + " turn"))
    centre = _tidy(cos_t * c + sin_t * e for c, e in zip(start, east, strict=True))
    # atan2 rather than asin: a centre near a geographic pole keeps its precision.
    lat = math.degrees(math.atan2(centre[2], math.hypot(centre[0], centre[1])))
    lon = math.degrees(math.atan2(centre[1], centre[0]))
    _, geo_east, north = aspect_frame((lat, lon), 0.0)
    return (lat, lon), math.degrees(math.atan2(_dot(p, geo_east), _dot(p, north)))


def placed(fields: dict) -> dict:
    """Geometry keywords with each side's ``pole`` (and ``pole_turn``) replaced by the centre and
    heading they mean; a side given both, a turn without a pole or a pole with legacy is refused."""
    fields = dict(fields)
    for side in ("", "from_"):  # the names of geometry.POLE_KEYWORDS
        pole_name, turn_name = side + "pole", side + "pole_turn"
        center_name, heading_name = side + "center", side + "heading"
        pole, turn = fields.pop(pole_name, None), fields.pop(turn_name, None)
        if pole is None:
            if turn is not None:
                raise SpecError(f"{_words(turn_name)} turns the map about {_words(pole_name)}: give that too",
                                param=turn_name)
            continue
        clash = [name for name in (center_name, heading_name) if name in fields]
        if clash:
            raise SpecError(f"give {_words(pole_name)} or {' and '.join(map(_words, clash))}, not both",
                            param=pole_name)
        if fields.get("legacy"):
            raise SpecError("legacy mode reproduces the original script's own geometry: no pole",
                            param=pole_name)
        fields[center_name], fields[heading_name] = pole_aspect(pole, 0.0 if turn is None else turn, pole_name)
    return fields


def _words(name: str) -> str:
    return name.replace("_", " ")
