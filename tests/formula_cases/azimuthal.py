"""References of the azimuthal projections (equatorial aspect, centre (0, 0), unit sphere).

The numpy versions work in angles, as Snyder does, rather than on the unit vector as the kernels:
the distance c from the centre from half-angle sums that never cancel, the azimuth from north,
then rho(c) in that direction; inverses the other way round.
"""

import functools
import math

import mpmath
import numpy as np

from polewarp.engine import projections

from . import Case

EPS10 = 1e-10  # PROJ's no-image tolerances (ortho, stere, gnom)


def _distance(lam, phi):
    """sin^2(c/2) and cos^2(c/2) of the distance c from the centre (sums of non-negative terms), the
    azimuth, and cos c as a product (accurate near 0, for the gnomonic's far field)."""
    lam, phi = np.asarray(lam, float), np.asarray(phi, float)
    half_phi2, cos_phi = np.sin(phi / 2) ** 2, np.cos(phi)
    s2 = half_phi2 + cos_phi * np.sin(lam / 2) ** 2
    c2 = half_phi2 + cos_phi * np.cos(lam / 2) ** 2
    return s2, c2, np.arctan2(cos_phi * np.sin(lam), np.sin(phi)), cos_phi * np.cos(lam)


def _numpy_forward(rho_of, no_image=None):
    """forward(lam, phi, options): rho_of(s2, c2, cos_c) along the azimuth; NaN where no_image(s2, c2, cos_c)."""

    def forward(lam, phi, options):
        s2, c2, azimuth, cos_c = _distance(lam, phi)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = rho_of(s2, c2, cos_c)
        if no_image is not None:
            rho = np.where(no_image(s2, c2, cos_c), np.nan, rho)
        return rho * np.sin(azimuth), rho * np.cos(azimuth)

    return forward


def _numpy_inverse(angles_of, rho_max=np.inf):
    """inverse(x, y, options): (sin c, cos c) = angles_of(rho) along the azimuth; NaN beyond rho_max."""

    def inverse(x, y, options):
        x, y = np.asarray(x, float), np.asarray(y, float)
        rho = np.where(np.hypot(x, y) <= rho_max, np.hypot(x, y), np.nan)
        sin_c, cos_c = angles_of(rho)
        azimuth = np.arctan2(x, y)
        east, north = sin_c * np.sin(azimuth), sin_c * np.cos(azimuth)
        return np.arctan2(east, cos_c), np.arctan2(north, np.hypot(cos_c, east))

    return inverse


def _of_c(c_of):
    """angles_of(rho) for a distance c = c_of(rho)."""
    return lambda rho: (np.sin(c_of(rho)), np.cos(c_of(rho)))


def gie(points, radius=1.0, tolerance_m=1e-4):
    """PROJ's test points ((lon, lat), (x, y) metres) of a sphere of that radius, onto the unit sphere
    (the tolerance likewise; builtins.gie's usual one is 0.1 mm)."""
    return tuple(((lon, lat), (x / radius, y / radius), tolerance_m / radius) for (lon, lat), (x, y) in points)


def quadrants(x, y):
    """PROJ's usual four test points, (+-2, +-1) degrees, of a projection symmetric about both axes."""
    return [((2, 1), (x, y)), ((2, -1), (x, -y)), ((-2, 1), (-x, y)), ((-2, -1), (-x, -y))]


def _precise_forward(rho_of_c, antipode):
    """An mpmath forward of rho(c) along the azimuth; the antipode (no azimuth) onto the rim's point ``antipode``."""

    def precise(lam, phi, options):
        with mpmath.workdps(40):
            lam, phi = mpmath.mpf(lam), mpmath.mpf(phi)
            east, north, ux = mpmath.cos(phi) * mpmath.sin(lam), mpmath.sin(phi), mpmath.cos(phi) * mpmath.cos(lam)
            s = mpmath.sqrt(east * east + north * north)
            if s == 0:
                return (0.0, 0.0) if ux > 0 else antipode
            rho = rho_of_c(mpmath.atan2(s, ux))
            return float(rho * east / s), float(rho * north / s)

    return precise


@functools.cache
def _proj(definition):
    from pyproj import Proj

    return Proj(definition)


def proj_point(name, lam, phi, options):
    """PROJ's forward of one point (radians), NaN where it refuses: for a precise_forward that is
    PROJ's except at a few points (per point, ~10 us: the driver's grid in under a second).
    Here, with gie and quadrants, for want of a shared place (the cylindrical cases use them too)."""
    x, y = _proj(projections.projection(name).proj(options))(lam, phi, radians=True, errcheck=False)
    return (x, y) if math.isfinite(x) and math.isfinite(y) else (math.nan, math.nan)


def _proj_else_precise(name, rho_of_c, antipode):
    """PROJ's forward where it answers; where it refuses (the antipode, whose image here is the rim's
    point ``antipode``) the mpmath one. Not mpmath throughout: at ~200 us a point it takes minutes."""
    precise = _precise_forward(rho_of_c, antipode)

    def reference(lam, phi, options):
        x, y = proj_point(name, lam, phi, options)
        return (x, y) if math.isfinite(x) else precise(lam, phi, options)

    return reference


# The residual goes through longitude and latitude (fills.unproject): within a few ulp of the
# antipode the longitude's rounding turns the azimuth, and the gnomonic's far field has latitudes
# near +-90 where unproject's arcsin(uz) loses digits. The bands: where 4M random points gave a
# residual > 1e-9, and a band just inside them gave at most 7e-10..9e-10. The orthographic limb
# needs none: its inverse on the unit vector is exact to 1e-12 up to rho = 1.


def _stereographic_far_field(x, y, options):
    """rho > 4000 (c > 179.94 degrees): residual about 5.6e-17 rho^2, from the longitude's rounding."""
    return np.hypot(x, y) > 4000.0


def _gnomonic_far_field(x, y, options):
    """rho > 150 (c > 89.6 degrees): unproject's arcsin of uz near 1 (with arctan2 the band would be rho > 3000)."""
    return np.hypot(x, y) > 150.0


def _equidistant_rim(x, y, options):
    """rho > pi - 1e-6: residual about 2e-16 pi / (pi - rho), from the longitude's rounding near the antipode."""
    return np.hypot(x, y) > math.pi - 1e-6


def _equal_area_rim(x, y, options):
    """rho > 2 - 1e-13: the same near the antipode, where 2 - rho is the square of the distance from it."""
    return np.hypot(x, y) > 2.0 - 1e-13


CASES = {
    "orthographic": Case(
        numpy_forward=_numpy_forward(lambda s2, c2, cos_c: 2 * np.sqrt(s2 * c2), lambda s2, c2, cos_c: cos_c < -EPS10),
        numpy_inverse=_numpy_inverse(lambda rho: (rho, np.sqrt(1 - rho * rho)), rho_max=1.0),
        gie=gie([((0, 0), (0, 0)), ((0, 90), (0, 1)), ((0, 30), (0, 0.5)), ((10, 50), (0.1116, 0.7660)),
                  ((20, 40), (0.2620, 0.6428)), ((30, 80), (0.0868, 0.9848)), ((40, 70), (0.2198, 0.9397)),
                  ((50, 60), (0.3830, 0.8660)), ((60, 50), (0.5567, 0.7660)), ((70, 20), (0.8830, 0.3420)),
                  ((80, 10), (0.9698, 0.1736)), ((90, 90), (0, 1))]),
        options=({}, {"radius": 30.0}),
    ),
    "stereographic": Case(
        numpy_forward=_numpy_forward(lambda s2, c2, cos_c: 2 * np.sqrt(s2 / c2), lambda s2, c2, cos_c: 2 * c2 <= EPS10),
        numpy_inverse=_numpy_inverse(_of_c(lambda rho: 2 * np.arctan(rho / 2))),
        gie=gie(quadrants(223407.810259507, 111737.938996443), radius=6400000.0),
        options=({}, {"radius": 30.0}, {"radius": 170.0}),
        inverse_excluded=_stereographic_far_field,
    ),
    "gnomonic": Case(
        numpy_forward=_numpy_forward(lambda s2, c2, cos_c: 2 * np.sqrt(s2 * c2) / cos_c,
                                     lambda s2, c2, cos_c: cos_c <= EPS10),
        numpy_inverse=_numpy_inverse(_of_c(np.arctan)),
        gie=gie([((0, 0), (0, 0)), ((10, 80), (0.1763, 5.7588)), ((20, 70), (0.3640, 2.9238)),
                  ((30, 60), (0.5774, 2.0000)), ((40, 50), (0.8391, 1.5557)), ((50, 40), (1.1918, 1.3054)),
                  ((60, 30), (1.7321, 1.1547)), ((70, 20), (2.7475, 1.0642)), ((80, 10), (5.6713, 1.0154)),
                  ((80, 80), (5.6713, 32.6596))]),
        options=({}, {"radius": 30.0}, {"radius": 85.0}),
        inverse_excluded=_gnomonic_far_field,
    ),
    # PROJ refuses the antipode (the grids' (+-180, 0)), which here is on the rim: see _proj_else_precise.
    "azimuthal-equidistant": Case(
        numpy_forward=_numpy_forward(lambda s2, c2, cos_c: 2 * np.arctan2(np.sqrt(s2), np.sqrt(c2))),
        numpy_inverse=_numpy_inverse(_of_c(lambda rho: rho), rho_max=math.pi),
        gie=gie([((0, 0), (0, 0)), ((0, 90), (0, 1.57080)), ((10, 80), (0.04281, 1.39829)),
                  ((40, 30), (0.62896, 0.56493)), ((90, 0), (1.57080, 0)), ((90, 90), (0, 1.57080))]),
        precise_forward=_proj_else_precise("azimuthal-equidistant", lambda c: c, (math.pi, 0.0)),
        options=({}, {"radius": 30.0}, {"radius": 90.0}),
        inverse_excluded=_equidistant_rim,
    ),
    # Likewise.
    "lambert-azimuthal-equal-area": Case(
        numpy_forward=_numpy_forward(lambda s2, c2, cos_c: 2 * np.sqrt(s2)),
        numpy_inverse=_numpy_inverse(_of_c(lambda rho: 2 * np.arcsin(rho / 2)), rho_max=2.0),
        gie=gie(quadrants(223365.281370125, 111716.668072916), radius=6400000.0),
        precise_forward=_proj_else_precise("lambert-azimuthal-equal-area", lambda c: 2 * mpmath.sin(c / 2),
                                          (2.0, 0.0)),
        options=({}, {"radius": 30.0}, {"radius": 90.0}),
        inverse_excluded=_equal_area_rim,
    ),
}
