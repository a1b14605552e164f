"""References of the cylindrical projections (unit sphere): Snyder's forms, in longitude and latitude."""

import math

import numpy as np

from . import Case
from .azimuthal import gie, proj_point, quadrants

HALF_PI = math.pi / 2
GALL_X = 1 / math.sqrt(2)  # Gall's x of a radian of longitude, y of tan(phi / 2): PROJ's XF and YF
GALL_Y = 1 + 1 / math.sqrt(2)


def _cea_k(options):
    """The cylindrical equal-area's stretch of the parallels: cos of the standard parallel."""
    return math.cos(math.radians(options.get("lat_ts") or 0.0))


def _on_sphere(lam, phi, x_max=math.pi):
    """(lam, phi) as arrays, NaN where the plane point was beyond the outline (x of +-x_max, latitude +-90)."""
    lam, phi = np.broadcast_arrays(np.asarray(lam, float), np.asarray(phi, float))
    outside = ~(np.abs(lam) <= x_max) | ~(np.abs(phi) <= HALF_PI)
    return np.where(outside, np.nan, lam), np.where(outside, np.nan, phi)


def _mercator_forward(lam, phi, options):
    phi = np.asarray(phi, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.log(np.tan(math.pi / 4 + phi / 2))
    pole = ~(np.abs(phi) < HALF_PI)
    return np.where(pole, np.nan, lam), np.where(pole, np.nan, y)


def _mercator_reference(lam, phi, options):
    """PROJ's, but NaN at the poles: PROJ gives y = asinh(tan(pi / 2)) = 38.0 there, where the kernel shows none."""
    return proj_point("mercator", lam, phi, options) if abs(phi) < HALF_PI else (math.nan, math.nan)


def _mercator_inverse(x, y, options):
    return _on_sphere(x, np.arctan(np.sinh(y)))


def _equirectangular_forward(lam, phi, options):
    return np.asarray(lam, float), np.asarray(phi, float)


def _equirectangular_inverse(x, y, options):
    return _on_sphere(x, y)


def _cea_forward(lam, phi, options):
    k = _cea_k(options)
    return np.asarray(lam, float) * k, np.sin(phi) / k


def _cea_inverse(x, y, options):
    k = _cea_k(options)
    sin_phi = np.asarray(y, float) * k
    with np.errstate(invalid="ignore"):
        return _on_sphere(np.asarray(x, float) / k, np.where(np.abs(sin_phi) <= 1, np.arcsin(sin_phi), np.nan))


def _miller_forward(lam, phi, options):
    return np.asarray(lam, float), 1.25 * np.arcsinh(np.tan(0.8 * np.asarray(phi, float)))


def _miller_inverse(x, y, options):
    return _on_sphere(x, 1.25 * np.arctan(np.sinh(0.8 * np.asarray(y, float))))


def _gall_forward(lam, phi, options):
    return GALL_X * np.asarray(lam, float), GALL_Y * np.tan(np.asarray(phi, float) / 2)


def _gall_inverse(x, y, options):
    return _on_sphere(np.asarray(x, float) / GALL_X, 2 * np.arctan(np.asarray(y, float) / GALL_Y))


CASES = {
    "mercator": Case(
        numpy_forward=_mercator_forward,
        numpy_inverse=_mercator_inverse,
        gie=(((0, 0), (0, 0), 0.0),
             *gie(quadrants(223402.144255274, 111706.743574944), 6400000.0, tolerance_m=50e-9),
             ((0, 57.295779513e-15), (0, 1e-15), 1e-17)),  # the small-latitude case of +proj=merc +R=1
        precise_forward=_mercator_reference,
        options=({}, {"lat_limit": 80.0}),
    ),
    "equirectangular": Case(
        numpy_forward=_equirectangular_forward,
        numpy_inverse=_equirectangular_inverse,
        gie=gie(quadrants(223402.144255274, 111701.072127637), 6400000.0),
        options=({}, {"lat_limit": 60.0}),
    ),
    "cylindrical-equal-area": Case(
        numpy_forward=_cea_forward,
        numpy_inverse=_cea_inverse,
        gie=gie(quadrants(223402.144255274, 111695.401198614), 6400000.0),
        options=({}, {"lat_ts": 30.0}, {"lat_ts": -45.0, "lat_limit": 70.0}),
    ),
    "miller": Case(
        numpy_forward=_miller_forward,
        numpy_inverse=_miller_inverse,
        gie=gie([((2, 1), (223402.144255274, 111704.701754394)), ((2, -1), (223402.144255274, -111704.701754396)),
                  ((-2, 1), (-223402.144255274, 111704.701754394)),
                  ((-2, -1), (-223402.144255274, -111704.701754396))], 6400000.0),
    ),
    "gall-stereographic": Case(
        numpy_forward=_gall_forward,
        numpy_inverse=_gall_inverse,
        gie=gie(quadrants(157969.171134520, 95345.249178386), 6400000.0),
    ),
}
