"""Modified azimuthal projections (PROJ's hammer, aitoff, wintri): an equatorial azimuthal projection of the
hemisphere of half the longitude, its x doubled; Winkel tripel averages Aitoff with an equirectangular.

Halving and doubling the longitude work on unit vectors, so Hammer needs no trigonometry at all and
Aitoff one atan2 forward, one sin and cos inverse (PROJ iterates for Aitoff; its closed form is exact).
"""

import math

from ..jit import ngjit_inline

NAN = math.nan
HALF_PI = math.pi / 2.0
OUTLINE_SLACK = 1e-12  # a point this far outside the outline is on it: the forward's rounding of +-180 degrees
NEWTON_MAX = 10  # Winkel's Newton takes 3 steps at most inside the outline; 10 bounds it elsewhere
TURN_MAX = 0.25  # Newton steps up to this long turn the sines and cosines by Taylor series, not libm
NEWTON_LAST = 1e-7  # residual after which one more Newton step leaves < 1e-13 (its convergence is quadratic)
# The Winkel outline's phi / y and cos(phi) as polynomials in (y / (pi/2))^2, a least-squares fit to
# 4001 points of the outline (phi from 0 to 90 degrees), off by < 1.6e-3; and the margin (> pi/2 * 1.6e-3)
# past the fitted half-width beyond which a point is surely outside, whatever cos_phi1.
WINKEL_EDGE_PHI = (0.778158, 0.10944, 0.109064, -0.126588, 0.128954)
WINKEL_EDGE_COS = (0.999689, -0.732027, -0.24025, 0.196908, -0.222757)
WINKEL_EDGE_MARGIN = 0.01


@ngjit_inline
def _half_longitude(ux, uy):
    """cos(phi) cos(lam / 2) and cos(phi) sin(lam / 2) of a unit vector: whichever half-angle formula
    has no cancellation (cosine near lam = 0, sine near +-180), the other from their product."""
    rho = math.sqrt(ux * ux + uy * uy)
    if ux >= 0.0:
        c = math.sqrt(0.5 * rho * (rho + ux))
        return c, 0.5 * rho * uy / c if c > 0.0 else 0.0  # c is 0 only at the poles
    s = math.copysign(math.sqrt(0.5 * rho * (rho - ux)), uy)
    return 0.5 * rho * uy / s, s


@ngjit_inline
def _double_longitude(qx, qy, qz):
    """The unit vector of a point of longitude within +-90 degrees moved to twice its longitude; qx below 0
    (the slack of the outline) counts as 0, so that its point stays on its own side of +-180."""
    qx = max(qx, 0.0)
    h = math.sqrt(qx * qx + qy * qy)  # cos(phi)
    inv = 1.0 / h if h > 0.0 else 0.0  # at the poles both products below are 0 too
    return (qx - qy) * (qx + qy) * inv, 2.0 * qx * qy * inv, qz


@ngjit_inline
def _arc(s, c):
    """The angle in [0, pi] of sine and cosine proportional to s >= 0 and c: atan of the ratio below 1
    (libm's atan costs a third of its atan2)."""
    return math.atan(s / c) if c > s else HALF_PI - math.atan(c / s)


@ngjit_inline
def _aitoff(ux, uy, uz):
    """Aitoff's (x, y): the azimuthal equidistant of the half-longitude point, x doubled."""
    c, s = _half_longitude(ux, uy)
    sin_d = math.sqrt(s * s + uz * uz)  # without the cancellation of sqrt(1 - c^2) near the centre
    k = 1.0 if sin_d == 0.0 else _arc(sin_d, c) / sin_d  # NaN stays NaN
    return 2.0 * k * s, k * uz


@ngjit_inline
def hammer_forward(lam, phi, ux, uy, uz, p):
    c, s = _half_longitude(ux, uy)
    k = math.sqrt(2.0 / (1.0 + c))
    return 2.0 * k * s, k * uz


@ngjit_inline
def hammer_inverse(x, y, p):
    r2 = 0.25 * x * x + y * y  # the half-x point's squared distance from the centre, 2 on the outline
    if not r2 <= 2.0 + OUTLINE_SLACK:
        return NAN, NAN, NAN
    z = math.sqrt(1.0 - 0.25 * r2)
    return _double_longitude(1.0 - 0.5 * r2, 0.5 * z * x, z * y)


@ngjit_inline
def aitoff_forward(lam, phi, ux, uy, uz, p):
    return _aitoff(ux, uy, uz)


@ngjit_inline
def aitoff_inverse(x, y, p):
    u = 0.5 * x
    r = math.sqrt(u * u + y * y)  # the angular distance of the half-longitude point, 90 degrees on the outline
    if not r <= HALF_PI + OUTLINE_SLACK:
        return NAN, NAN, NAN
    k = math.sin(r) / r if r > 0.0 else 1.0
    return _double_longitude(math.cos(r), k * u, k * y)


@ngjit_inline
def winkel_tripel_forward(lam, phi, ux, uy, uz, p):
    x, y = _aitoff(ux, uy, uz)
    return 0.5 * (x + lam * p[0]), 0.5 * (y + phi)


@ngjit_inline
def _turn(s, c, delta):
    """The sine and cosine of an angle less delta from the angle's own, for |delta| <= TURN_MAX: delta's
    Taylor series (to delta^12, off by < 3e-18) cost less than libm's sin and cos."""
    d2 = delta * delta
    sin_d = delta * (1.0 - d2 * (1.0 / 6.0) * (1.0 - d2 * (1.0 / 20.0) * (1.0 - d2 * (1.0 / 42.0) * (
        1.0 - d2 * (1.0 / 72.0) * (1.0 - d2 * (1.0 / 110.0))))))
    cos_d = 1.0 - d2 * 0.5 * (1.0 - d2 * (1.0 / 12.0) * (1.0 - d2 * (1.0 / 30.0) * (1.0 - d2 * (1.0 / 56.0) * (
        1.0 - d2 * (1.0 / 90.0) * (1.0 - d2 * (1.0 / 132.0))))))
    return s * cos_d - c * sin_d, c * cos_d + s * sin_d


@ngjit_inline
def _horner(coefficients, z):
    """The polynomial of coefficients (lowest power first) at z."""
    value = 0.0
    for c in coefficients[::-1]:
        value = value * z + c
    return value


@ngjit_inline
def _winkel_start(x, y, cos_phi1):
    """Newton's first guess and the outline's half-width at height y: the outline is the meridian 180,
    (x, y) = (pi/2 (cos(phi) + cos_phi1), (pi/2 sin(phi) + phi) / 2); guess lam / 2 proportional to x
    along the row and phi between y (its value on the central meridian) and the outline's phi."""
    z = (y / HALF_PI) ** 2
    phi_edge = y * _horner(WINKEL_EDGE_PHI, z)
    half_width = HALF_PI * (max(_horner(WINKEL_EDGE_COS, z), 0.0) + cos_phi1)
    t = x / half_width
    return HALF_PI * t, y + (phi_edge - y) * t * t, half_width


@ngjit_inline
def _winkel_newton_step(a, sa, ca, phi, sp, cp, x, y, cos_phi1):
    """Winkel's residual at (lam / 2, phi) = (a, phi) and the Newton step that cancels it, from
    X = k cp sa + a cos_phi1, Y = (k sp + phi) / 2 with k = d / sin(d), cos(d) = cp ca."""
    cos_d = cp * ca
    sin2_d = sp * sp + cp * cp * sa * sa  # 1 - cos_d^2 without its cancellation
    sin_d = math.sqrt(sin2_d)
    inv_sin_d = 1.0 / sin_d  # beside atan, not after it: the iterations are bound by latency, not throughput
    # dk/dcos_d = (cos_d k - 1) / sin_d^2, its rounding harmless (the terms it multiplies vanish like
    # sin_d^2); k and dk's limits 1 and -1/3 at the centre, where sin_d^2 would underflow
    tiny = sin_d < 1e-150
    k = 1.0 if tiny else _arc(sin_d, cos_d) * inv_sin_d
    dk = -1.0 / 3.0 if tiny else (cos_d * k - 1.0) * inv_sin_d * inv_sin_d
    rx = k * cp * sa + a * cos_phi1 - x
    ry = 0.5 * (k * sp + phi) - y
    xa = k * cp * ca - dk * cp * cp * sa * sa + cos_phi1
    xp = -sa * sp * (k + dk * cp * ca)
    ya = -0.5 * dk * cp * sa * sp
    yp = 0.5 * (k * cp - dk * sp * sp * ca + 1.0)
    det = xa * yp - xp * ya
    return abs(rx) + abs(ry), (rx * yp - ry * xp) / det, (ry * xa - rx * ya) / det


@ngjit_inline
def winkel_tripel_inverse(x, y, p):
    """Newton's method on (lam / 2, phi), whose Jacobian's determinant stays above 0.32 inside the
    outline, from _winkel_start's guess (3 evaluations at most inside); NaN where it does not converge
    or converges beyond +-180 or +-90 degrees (outside), and at once well outside the outline."""
    cos_phi1 = p[0]
    if not abs(y) <= HALF_PI:
        return NAN, NAN, NAN
    a, phi, half_width = _winkel_start(x, y, cos_phi1)
    if not abs(x) <= half_width + WINKEL_EDGE_MARGIN:
        return NAN, NAN, NAN  # surely outside (or NaN): no iterations
    sa, ca, sp, cp = math.sin(a), math.cos(a), math.sin(phi), math.cos(phi)
    for _ in range(NEWTON_MAX):
        residual, da, dp = _winkel_newton_step(a, sa, ca, phi, sp, cp, x, y, cos_phi1)
        a, phi = a - da, phi - dp
        if abs(da) <= TURN_MAX and abs(dp) <= TURN_MAX:  # every step inside the outline, from this start
            sa, ca = _turn(sa, ca, da)
            sp, cp = _turn(sp, cp, dp)
        else:
            sa, ca, sp, cp = math.sin(a), math.cos(a), math.sin(phi), math.cos(phi)
        if residual <= NEWTON_LAST:
            break
    else:
        return NAN, NAN, NAN
    if not (abs(a) <= HALF_PI + OUTLINE_SLACK and abs(phi) <= HALF_PI + OUTLINE_SLACK):
        return NAN, NAN, NAN
    ca, cp = max(ca, 0.0), max(cp, 0.0)  # in the slack past +-180 or a pole: stay on this side of it
    return cp * (ca - sa) * (ca + sa), 2.0 * cp * sa * ca, sp
