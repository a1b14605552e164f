"""Azimuthal projections, equatorial aspect centred on (0, 0): PROJ's ortho, stere, gnom, aeqd, laea.

Each maps the point at angular distance c from the centre, the unit vector (1, 0, 0), to the plane
point at distance rho(c) in the same direction, so on the unit vector a forward is (uy, uz) times
rho(c) / sin(c) and an inverse is (cos c, x, y) with x and y times sin(c) / rho: mostly no trig.
"""

import math

from ..jit import ngjit_inline

NAN = math.nan
EPS10 = 1e-10  # PROJ's edge of ortho's far hemisphere and of gnom's and stere's no-image zones
TINY = 1e-300  # below this 1 + ux is the antipode itself (or underflow): the direction is lost
INF = math.inf


@ngjit_inline
def _one_plus_ux(ux, uy, uz):
    """1 + ux = 2 cos^2(c / 2), as (uy^2 + uz^2) / (1 - ux) on the far hemisphere, where 1 + ux cancels."""
    if ux >= 0.0:
        return 1.0 + ux
    return (uy * uy + uz * uz) / (1.0 - ux)


@ngjit_inline
def orthographic_forward(lam, phi, ux, uy, uz, p):
    if not ux >= -EPS10:  # the far hemisphere (PROJ's tolerance: the limb's own points stay in)
        return NAN, NAN
    return uy, uz


@ngjit_inline
def orthographic_inverse(x, y, p):
    r2 = x * x + y * y
    if not r2 <= 1.0:
        return NAN, NAN, NAN
    return math.sqrt(1.0 - r2), x, y


@ngjit_inline
def stereographic_forward(lam, phi, ux, uy, uz, p):
    d = _one_plus_ux(ux, uy, uz)
    if not d > EPS10:  # the antipode and, as PROJ, its 1.4e-5 rad neighbourhood (beyond 2.8e5 units)
        return NAN, NAN
    k = 2.0 / d
    return k * uy, k * uz


@ngjit_inline
def stereographic_inverse(x, y, p):
    r2 = x * x + y * y
    if not r2 < INF:  # NaN, infinite or overflowing: no direction left
        return NAN, NAN, NAN
    q = 1.0 / (1.0 + 0.25 * r2)  # cos^2(c / 2), as rho = 2 tan(c / 2)
    return 2.0 * q - 1.0, q * x, q * y


@ngjit_inline
def gnomonic_forward(lam, phi, ux, uy, uz, p):
    if not ux > EPS10:  # the far hemisphere and the horizon (PROJ's tolerance)
        return NAN, NAN
    return uy / ux, uz / ux


@ngjit_inline
def gnomonic_inverse(x, y, p):
    r2 = x * x + y * y
    if not r2 < INF:  # as the stereographic's
        return NAN, NAN, NAN
    q = 1.0 / math.sqrt(1.0 + r2)  # cos c, as rho = tan c
    return q, q * x, q * y


@ngjit_inline
def azimuthal_equidistant_forward(lam, phi, ux, uy, uz, p):
    d = _one_plus_ux(ux, uy, uz)
    if d < TINY:  # the antipode: the rim's point on the +x axis
        return math.pi, 0.0
    s = math.sqrt(uy * uy + uz * uz)  # sin c
    # c = 2 atan(tan(c / 2)): accurate at both ends, as atan2(s, ux), and 4 times faster here
    k = 2.0 * math.atan(s / d) / s if s > 0.0 else 1.0
    return k * uy, k * uz


@ngjit_inline
def azimuthal_equidistant_inverse(x, y, p):
    rho = math.sqrt(x * x + y * y)
    if not rho <= math.pi:
        return NAN, NAN, NAN
    k = math.sin(rho) / rho if rho > 0.0 else 1.0
    return math.cos(rho), k * x, k * y


@ngjit_inline
def lambert_azimuthal_equal_area_forward(lam, phi, ux, uy, uz, p):
    d = _one_plus_ux(ux, uy, uz)
    if d < TINY:  # the antipode: the rim's point on the +x axis, as the equidistant's
        return 2.0, 0.0
    k = math.sqrt(2.0 / d)
    return k * uy, k * uz


@ngjit_inline
def lambert_azimuthal_equal_area_inverse(x, y, p):
    r2 = x * x + y * y  # rho = 2 sin(c / 2)
    if not r2 <= 4.0:
        return NAN, NAN, NAN
    k = math.sqrt(1.0 - 0.25 * r2)  # cos(c / 2)
    return 1.0 - 0.5 * r2, k * x, k * y
