"""The registry of projections: names, family, options, bounds, parameters, PROJ strings.

One entry a projection drives the CLI choices, the geometry's validation, the cache key, the LUT
sidecar, ``polewarp projections`` and the docs; its formulas live in ``formulas/<module>.py``.
Pure Python on purpose: importing it must not import numba.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable

from .errors import SpecError

# The Mercator ordinate of the top edge unless --lat-limit says otherwise (the original script's extent)
DEFAULT_MERCATOR_EXTENT = 17.5 * math.pi / 18
WEB_MERCATOR_LIMIT = 85.0511287798
WINKEL_COS_PHI1 = 2.0 / math.pi  # PROJ's default standard parallel of the Winkel tripel
SQRT2 = math.sqrt(2.0)

# The projection options, each with its meaning (the CLI's --NAME and --from-NAME).
OPTIONS = {
    "lat_limit": "latitude of the top edge, degrees",
    "lat_ts": "standard parallel, degrees",
    "radius": "angular radius from the centre to the middle of an edge, degrees",
}


@dataclasses.dataclass(frozen=True)
class Projection:
    """One projection: how it is named, what it takes and how big its map is on the unit sphere.

    ``bounds(options)`` gives (X, Y): an image covers [-X, X] x [-Y, Y]. ``params(options)`` the
    floats its formulas take (never empty: numba wants one array type). ``radius`` is the default
    and the open/closed range of an azimuthal projection's --radius, in degrees.
    """

    name: str
    short: str
    family: str
    module: str
    bounds: Callable[[dict], tuple[float, float]]
    proj: Callable[[dict], str]
    options: tuple[str, ...] = ()
    params: Callable[[dict], tuple[float, ...]] = lambda options: (0.0,)
    iterative_forward: bool = False
    iterative_inverse: bool = False
    radius: tuple[float, float, float, bool] | None = None  # default, low (open), high, high included

    @property
    def identifier(self) -> str:
        """The name as a Python identifier: the prefix of its formulas' names."""
        return self.name.replace("-", "_")

    @property
    def cylindrical(self) -> bool:
        """Longitude along the columns, latitude along the rows: the fills hoist both."""
        return self.family == "cylindrical"

    @property
    def azimuthal(self) -> bool:
        return self.family == "azimuthal"

    def describe(self, options: dict) -> dict:
        """The projection as the LUT sidecar and ``polewarp projections --json`` give it."""
        x_edge, y_edge = self.bounds(options)
        return {"name": self.name, "short": self.short, "family": self.family, "proj": self.proj(options),
                "bounds": [x_edge, y_edge]}

    def natural_height(self, width: int, options: dict) -> int:
        """The height that keeps the map's own proportions at ``width`` pixels."""
        x, y = self.bounds(options)
        return max(1, math.floor(width * y / x + 0.5))


def _top(options: dict, default: float = 90.0) -> float:
    """The top latitude in radians."""
    limit = options.get("lat_limit")
    return math.radians(default if limit is None else limit)


def _mercator_bounds(options):
    limit = options.get("lat_limit")
    return math.pi, DEFAULT_MERCATOR_EXTENT if limit is None else math.asinh(math.tan(math.radians(limit)))


def _cea_k(options) -> float:
    return math.cos(math.radians(options.get("lat_ts") or 0.0))


def _azimuthal(name, short, scale, radius, proj_name=None):
    """An azimuthal projection whose image is the square of half-side scale(radius) around the centre."""
    return Projection(
        name, short, "azimuthal", "azimuthal",
        bounds=lambda o: (scale(math.radians(o.get("radius") or radius[0])),) * 2,
        proj=lambda o: f"+proj={proj_name or short} +lat_0=0 +lon_0=0 +R=1",
        options=("radius",), radius=radius,
    )


def _world(name, short, family, module, x, y, **more):
    """A projection of the whole sphere onto a fixed outline: no extent option."""
    return Projection(name, short, family, module, bounds=lambda o: (x, y),
                      proj=more.pop("proj", lambda o: f"+proj={short} +R=1"), **more)


ROBINSON_X, ROBINSON_Y = 0.8487 * math.pi, 1.3523  # PROJ's FXC and FYC times the tables' ends
NATEARTH_A0 = 0.8707
NATEARTH_B = (1.007226, 0.015085, -0.044475, 0.028874, -0.005916)
EQEARTH_A = (1.340264, -0.081106, 0.000893, 0.003796)
EQEARTH_M = math.sqrt(3.0) / 2.0
ECKERT4_CX, ECKERT4_CY = 0.42223820031577120149, 1.32650042817700232218


def _natearth_y(phi):
    b0, b1, b2, b3, b4 = NATEARTH_B
    phi2 = phi * phi
    return phi * (b0 + phi2 * (b1 + phi2 * phi2 * (b2 + b3 * phi2 + b4 * phi2 * phi2)))


def _eqearth_y(theta):
    a1, a2, a3, a4 = EQEARTH_A
    t2 = theta * theta
    return theta * (a1 + a2 * t2 + t2 * t2 * t2 * (a3 + a4 * t2))


_ENTRIES = (
    Projection("mercator", "merc", "cylindrical", "cylindrical", _mercator_bounds,
               proj=lambda o: "+proj=merc +R=1", options=("lat_limit",)),
    Projection("equirectangular", "eqc", "cylindrical", "cylindrical",
               lambda o: (math.pi, _top(o)), proj=lambda o: "+proj=eqc +R=1", options=("lat_limit",)),
    Projection("cylindrical-equal-area", "cea", "cylindrical", "cylindrical",
               lambda o: (math.pi * _cea_k(o), math.sin(_top(o)) / _cea_k(o)),
               proj=lambda o: f"+proj=cea +lat_ts={o.get('lat_ts') or 0.0:.17g} +R=1",
               options=("lat_limit", "lat_ts"), params=lambda o: (_cea_k(o),)),
    Projection("miller", "mill", "cylindrical", "cylindrical",
               lambda o: (math.pi, 1.25 * math.asinh(math.tan(0.8 * _top(o)))),
               proj=lambda o: "+proj=mill +R=1", options=("lat_limit",)),
    Projection("gall-stereographic", "gall", "cylindrical", "cylindrical",
               lambda o: (math.pi / SQRT2, (1.0 + SQRT2 / 2.0) * math.tan(_top(o) / 2.0)),
               proj=lambda o: "+proj=gall +R=1", options=("lat_limit",)),
    _world("sinusoidal", "sinu", "pseudocylindrical", "pseudocylindrical", math.pi, math.pi / 2),
    _world("mollweide", "moll", "pseudocylindrical", "pseudocylindrical", 2 * SQRT2, SQRT2,
           iterative_forward=True),
    _world("robinson", "robin", "pseudocylindrical", "pseudocylindrical", ROBINSON_X, ROBINSON_Y,
           iterative_inverse=True),
    _world("equal-earth", "eqearth", "pseudocylindrical", "pseudocylindrical",
           math.pi / (EQEARTH_M * EQEARTH_A[0]), _eqearth_y(math.pi / 3), iterative_inverse=True),
    _world("natural-earth", "natearth", "pseudocylindrical", "pseudocylindrical",
           NATEARTH_A0 * math.pi, _natearth_y(math.pi / 2), iterative_inverse=True),
    _world("eckert4", "eck4", "pseudocylindrical", "pseudocylindrical",
           2 * ECKERT4_CX * math.pi, ECKERT4_CY, iterative_forward=True),
    _world("hammer", "hammer", "modified-azimuthal", "modified_azimuthal", 2 * SQRT2, SQRT2),
    _world("aitoff", "aitoff", "modified-azimuthal", "modified_azimuthal", math.pi, math.pi / 2),
    _world("winkel-tripel", "wintri", "modified-azimuthal", "modified_azimuthal",
           (math.pi + 2.0) / 2.0, math.pi / 2, iterative_inverse=True,
           params=lambda o: (WINKEL_COS_PHI1,),
           proj=lambda o: f"+proj=wintri +lat_1={math.degrees(math.acos(WINKEL_COS_PHI1)):.17g} +R=1"),
    _azimuthal("orthographic", "ortho", math.sin, (90.0, 0.0, 90.0, True)),
    _azimuthal("stereographic", "stere", lambda rho: 2.0 * math.tan(rho / 2.0), (90.0, 0.0, 180.0, False)),
    _azimuthal("gnomonic", "gnom", math.tan, (60.0, 0.0, 90.0, False)),
    _azimuthal("azimuthal-equidistant", "aeqd", lambda rho: rho, (180.0, 0.0, 180.0, True)),
    _azimuthal("lambert-azimuthal-equal-area", "laea", lambda rho: 2.0 * math.sin(rho / 2.0),
               (180.0, 0.0, 180.0, True)),
)

PROJECTIONS: dict[str, Projection] = {entry.name: entry for entry in _ENTRIES}
NAMES = tuple(PROJECTIONS)  # the long names, in the registry's order (their numbers in the kernels)
_BY_ANY_NAME = {**{p.short: p for p in _ENTRIES}, **PROJECTIONS}


def projection(name: str) -> Projection:
    """The projection of a long or PROJ short name; an unknown one is a SpecError that lists the
    names and suggests the nearest."""
    try:
        return _BY_ANY_NAME[str(name).lower()]
    except KeyError:
        close = difflib.get_close_matches(str(name).lower(), list(_BY_ANY_NAME), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SpecError(f"unknown projection {name!r}{hint}; known: {', '.join(NAMES)}") from None


def number(name: str) -> int:
    """The projection's number, the kernels' handle for it."""
    return NAMES.index(projection(name).name)
