"""GeometrySpec: what a LUT depends on, validated and normalised once.

Two specs that compare equal build identical LUTs and share a cache key, so every angle is
rounded to 1e-9 degree and -0.0 folded into 0.0 here, and the kernels see only the derived
plain floats. Pure Python on purpose: importing it must not import numba.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

from .errors import SpecError
from .projections import DEFAULT_MERCATOR_EXTENT, WEB_MERCATOR_LIMIT

PROJECTIONS = ("mercator", "equirectangular")
RESAMPLING = ("nearest", "bilinear", "average")
MAX_SIDE = 2**32 - 2  # uint32 LUT: the top value means "no source pixel"
FRACTION_BITS = 8  # bilinear LUTs hold positions in 1/256 pixel
MAX_BILINEAR_SIDE = (2**32 - 1) >> FRACTION_BITS
MAX_SUPERSAMPLE = 16
ANGLE_DECIMALS = 9


class KernelParams(NamedTuple):
    """The plain floats and flags the numba kernels take, derived from a spec."""

    centre: tuple[float, float, float]  # unit vector of the output's centre (c)
    east: tuple[float, float, float]  # p x c: where rotated longitude +90 deg points
    pole: tuple[float, float, float]  # the rotated north pole (p)
    out_mercator: bool
    out_extent: float  # Mercator ordinate or latitude (radians) of the top edge
    in_mercator: bool
    in_extent: float  # Mercator ordinate of a Mercator input's top edge; pi/2 otherwise


def canonical_angle(value: float, name: str) -> float:
    """Round an angle to 1e-9 degree and fold -0.0, refusing NaN and infinities."""
    value = float(value)
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


def _tidy(vector):
    """Fold -0.0 into 0.0 so that sums of exact zeros keep their sign."""
    return tuple(component + 0.0 for component in vector)


def _check_size(size, name: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in size)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be two whole numbers (width, height), not {size!r}") from None
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SpecError(f"{name} {width}x{height}: each side must be from 1 to {MAX_SIDE} pixels")
    return width, height


def _check_limit(value: float | None, name: str, mercator: bool) -> float | None:
    if value is None:
        return None
    value = canonical_angle(value, name)
    top = "below 90" if mercator else "at most 90"
    if not (0.0 < value < 90.0 or (value == 90.0 and not mercator)):
        raise SpecError(f"{name} must be above 0 and {top} degrees, not {value}", param=name.replace(" ", "_"))
    return value


@dataclasses.dataclass(frozen=True)
class GeometrySpec:
    """Everything a LUT depends on: sizes, projections, the rotation, limits and mode.

    ``center`` is the (lat, lon) in degrees shown at the middle of the output, ``heading`` the
    compass direction there that points up the output. ``lat_limit`` is the rotated latitude
    of the output's top edge (None: the original script's Mercator extent, or 90 for
    equirectangular); ``input_lat_limit`` that of a Mercator input (None: the web-map limit).
    """

    input_size: tuple[int, int]
    output_size: tuple[int, int] | None = None
    center: tuple[float, float] = (0.0, 0.0)
    heading: float = 90.0
    to: str = "mercator"
    source: str = "equirectangular"
    lat_limit: float | None = None
    input_lat_limit: float | None = None
    legacy: bool = False
    resample: str = "nearest"
    supersample: int | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        for name, value, choices in (
            ("to", self.to, PROJECTIONS),
            ("source", self.source, PROJECTIONS),
            ("resample", self.resample, RESAMPLING),
        ):
            if value not in choices:
                raise SpecError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        put("input_size", _check_size(self.input_size, "input size"))
        put("output_size", _check_size(self.output_size or self.input_size, "output size"))
        try:
            lat, lon = self.center
        except (TypeError, ValueError):
            raise SpecError(f"center must be (lat, lon), not {self.center!r}") from None
        lat = canonical_angle(lat, "center latitude")
        if not -90.0 <= lat <= 90.0:
            raise SpecError(f"center latitude must be within -90..90 degrees, not {lat}")
        lon = canonical_angle(lon, "center longitude")
        lon = canonical_angle(180.0 - (180.0 - lon) % 360.0, "center longitude")
        put("center", (lat, lon))
        put("heading", canonical_angle(canonical_angle(self.heading, "heading") % 360.0, "heading"))
        put("lat_limit", _check_limit(self.lat_limit, "lat limit", self.to == "mercator"))
        if self.source == "mercator":
            limit = WEB_MERCATOR_LIMIT if self.input_lat_limit is None else self.input_lat_limit
            put("input_lat_limit", _check_limit(limit, "input lat limit", True))
        elif self.input_lat_limit is not None:
            raise SpecError("input lat limit applies only to a Mercator input (source='mercator')",
                            param="input_lat_limit")
        put("legacy", bool(self.legacy))
        put("supersample", self._check_supersample())
        if self.resample == "bilinear" and max(self.input_size) > MAX_BILINEAR_SIDE:
            raise SpecError(f"bilinear resampling takes inputs up to {MAX_BILINEAR_SIDE} pixels a side")
        if self.legacy and self.resample != "nearest":
            raise SpecError("legacy mode reproduces the original script's nearest-neighbour output only")
        if self.legacy and not self.is_default_aspect():
            raise SpecError(
                "legacy mode reproduces the original script only: default centre and heading, "
                "Mercator output with its default extent, equirectangular input"
            )

    def _check_supersample(self) -> int | None:
        """average: k x k samples a pixel, k = ceil(2 x the size ratio) from 2 to 8 unless given."""
        if self.resample != "average":
            if self.supersample is not None:
                raise SpecError("supersample applies only to average resampling", param="supersample")
            return None
        if self.supersample is None:
            ratio = max(self.input_size[0] / self.output_size[0], self.input_size[1] / self.output_size[1])
            return min(8, max(2, math.ceil(2 * ratio - 1e-9)))
        k = int(self.supersample)
        if not 1 <= k <= MAX_SUPERSAMPLE:
            raise SpecError(f"supersample must be from 1 to {MAX_SUPERSAMPLE}, not {self.supersample}")
        return k

    def sampling_spec(self) -> GeometrySpec:
        """The nearest-neighbour spec whose LUT an average LUT regroups: k times finer."""
        k = self.supersample
        width, height = self.output_size
        return dataclasses.replace(self, output_size=(width * k, height * k), resample="nearest",
                                   supersample=None)

    def is_default_aspect(self) -> bool:
        """True for the original script's transverse aspect from an equirectangular input."""
        return (
            self.center == (0.0, 0.0)
            and self.heading == 90.0
            and self.to == "mercator"
            and self.lat_limit is None
            and self.source == "equirectangular"
        )

    @property
    def input_shape(self) -> tuple[int, int]:
        """(rows, columns) of the input."""
        return self.input_size[1], self.input_size[0]

    @property
    def output_shape(self) -> tuple[int, int]:
        """(rows, columns) of the output and of the LUT."""
        return self.output_size[1], self.output_size[0]

    def kernel_params(self) -> KernelParams:
        """The rotation as three unit vectors and the projections' extents, for the kernels."""
        sin_lat, cos_lat = _sincos_deg(self.center[0])
        sin_lon, cos_lon = _sincos_deg(self.center[1])
        sin_h, cos_h = _sincos_deg(self.heading)
        centre = (cos_lat * cos_lon, cos_lat * sin_lon, sin_lat)
        north = (-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat)
        east = (-sin_lon, cos_lon, 0.0)
        pole = tuple(cos_h * n + sin_h * e for n, e in zip(north, east, strict=True))
        if self.to == "mercator":
            out_extent = (
                DEFAULT_MERCATOR_EXTENT
                if self.lat_limit is None
                else math.asinh(math.tan(math.radians(self.lat_limit)))
            )
        else:
            out_extent = math.radians(90.0 if self.lat_limit is None else self.lat_limit)
        in_extent = (
            math.asinh(math.tan(math.radians(self.input_lat_limit)))
            if self.source == "mercator"
            else math.pi / 2
        )
        return KernelParams(
            centre=_tidy(centre),
            east=_tidy(_cross(pole, centre)),
            pole=_tidy(pole),
            out_mercator=self.to == "mercator",
            out_extent=out_extent,
            in_mercator=self.source == "mercator",
            in_extent=in_extent,
        )

    def to_dict(self) -> dict:
        """The canonical, JSON-ready form: the cache key and the LUT sidecar are made from it."""
        return {
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            "center": list(self.center),
            "heading": self.heading,
            "to": self.to,
            "source": self.source,
            "lat_limit": self.lat_limit,
            "input_lat_limit": self.input_lat_limit,
            "legacy": self.legacy,
            "resample": self.resample,
            "supersample": self.supersample,
        }

    @classmethod
    def from_dict(cls, data: dict) -> GeometrySpec:
        """Rebuild a spec from ``to_dict``'s output (a sidecar or a cache header)."""
        try:
            fields = {f.name for f in dataclasses.fields(cls)} - {"supersample"}
            values = {key: data[key] for key in fields}
            values["center"] = tuple(values["center"])
            values["supersample"] = data.get("supersample")
        except (KeyError, TypeError) as err:
            raise SpecError(f"not a polewarp geometry: missing {err}") from None
        return cls(**values)

    def describe(self) -> str:
        """The geometry in words, for listings and messages."""
        words = (
            f"{self.source} {self.input_size[0]}x{self.input_size[1]} -> {self.to} "
            f"{self.output_size[0]}x{self.output_size[1]}, centre {self.center[0]:g},"
            f"{self.center[1]:g}, heading {self.heading:g}"
        )
        if self.lat_limit is not None:
            words += f", lat limit {self.lat_limit:g}"
        if self.source == "mercator":
            words += f", input lat limit {self.input_lat_limit:g}"
        if self.resample == "average":
            words += f", average of {self.supersample}x{self.supersample}"
        elif self.resample != "nearest":
            words += f", {self.resample}"
        return words + (", legacy" if self.legacy else "")
