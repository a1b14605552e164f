"""Pseudocylindrical projections: y from the latitude, x from the longitude scaled by the latitude
(PROJ's sinu, moll, robin, eqearth, natearth, eck4; spherical, R=1).

The iterative parts are solved more precisely than PROJ does: Mollweide's and Eckert IV's
forwards near the pole in the distance from the pole (where PROJ's Newton on the angle meets a
triple or double root), Robinson's inverse on the very piece of its table the forward uses.
"""

import math

import numpy as np

from ..jit import ngjit_inline
from .cylindrical import _vector

NAN = math.nan
PI = math.pi
HALF_PI = math.pi / 2.0
SQRT2 = math.sqrt(2.0)
NEWTON_STEPS = 3  # enough for the last bit from each start below (checked against mpmath)

# Mollweide: theta' + sin(theta') = pi sin(phi), x = (2 sqrt2 / pi) lam cos(theta' / 2), y = sqrt2 sin(theta' / 2)
MOLLWEIDE_CX = 2.0 * SQRT2 / math.pi
MOLLWEIDE_SERIES_BELOW = 0.5  # under this, d - sin(d) from its series (the difference cancels)

# Eckert IV: theta + sin(theta) cos(theta) + 2 sin(theta) = (2 + pi/2) sin(phi)
ECKERT4_CX = 0.42223820031577120149
ECKERT4_CY = 1.32650042817700232218
ECKERT4_CP = 3.57079632679489661922
ECKERT4_SERIES_BELOW = 0.5  # under this (sqrt of the distance term), the pole series starts Newton

# Robinson: PROJ's tables (float32 in robin.cpp, so rounded to float32 here too), a cubic every 5 degrees
ROBINSON_FXC = 0.8487
ROBINSON_FYC = 1.3523
ROBINSON_C1 = 11.45915590261646417544  # per radian, in 5-degree steps
ROBINSON_RC1 = 0.08726646259971647884  # 5 degrees in radians
RAD_TO_DEG = 57.295779513082321  # PROJ's
DEG_TO_RAD = 0.017453292519943296
ROBINSON_NODES = 18
ROBINSON_X = np.array([
    (1.0, 2.2199e-17, -7.15515e-05, 3.1103e-06), (0.9986, -0.000482243, -2.4897e-05, -1.3309e-06),
    (0.9954, -0.00083103, -4.48605e-05, -9.86701e-07), (0.99, -0.00135364, -5.9661e-05, 3.6777e-06),
    (0.9822, -0.00167442, -4.49547e-06, -5.72411e-06), (0.973, -0.00214868, -9.03571e-05, 1.8736e-08),
    (0.96, -0.00305085, -9.00761e-05, 1.64917e-06), (0.9427, -0.00382792, -6.53386e-05, -2.6154e-06),
    (0.9216, -0.00467746, -0.00010457, 4.81243e-06), (0.8962, -0.00536223, -3.23831e-05, -5.43432e-06),
    (0.8679, -0.00609363, -0.000113898, 3.32484e-06), (0.835, -0.00698325, -6.40253e-05, 9.34959e-07),
    (0.7986, -0.00755338, -5.00009e-05, 9.35324e-07), (0.7597, -0.00798324, -3.5971e-05, -2.27626e-06),
    (0.7186, -0.00851367, -7.01149e-05, -8.6303e-06), (0.6732, -0.00986209, -0.000199569, 1.91974e-05),
    (0.6213, -0.010418, 8.83923e-05, 6.24051e-06), (0.5722, -0.00906601, 0.000182, 6.24051e-06),
    (0.5322, -0.00677797, 0.000275608, 6.24051e-06),
], np.float32).astype(np.float64)
ROBINSON_Y = np.array([
    (-5.20417e-18, 0.0124, 1.21431e-18, -8.45284e-11), (0.062, 0.0124, -1.26793e-09, 4.22642e-10),
    (0.124, 0.0124, 5.07171e-09, -1.60604e-09), (0.186, 0.0123999, -1.90189e-08, 6.00152e-09),
    (0.248, 0.0124002, 7.10039e-08, -2.24e-08), (0.31, 0.0123992, -2.64997e-07, 8.35986e-08),
    (0.372, 0.0124029, 9.88983e-07, -3.11994e-07), (0.434, 0.0123893, -3.69093e-06, -4.35621e-07),
    (0.4958, 0.0123198, -1.02252e-05, -3.45523e-07), (0.5571, 0.0121916, -1.54081e-05, -5.82288e-07),
    (0.6176, 0.0119938, -2.41424e-05, -5.25327e-07), (0.6769, 0.011713, -3.20223e-05, -5.16405e-07),
    (0.7346, 0.0113541, -3.97684e-05, -6.09052e-07), (0.7903, 0.0109107, -4.89042e-05, -1.04739e-06),
    (0.8435, 0.0103431, -6.4615e-05, -1.40374e-09), (0.8936, 0.00969686, -6.4636e-05, -8.547e-06),
    (0.9394, 0.00840947, -0.000192841, -4.2106e-06), (0.9761, 0.00616527, -0.000256, -4.2106e-06),
    (1.0, 0.00328947, -0.000319159, -4.2106e-06),
], np.float32).astype(np.float64)


def _cubic_of(table, i, t):
    """PROJ's V(C, z): the cubic of table row i at t degrees into its interval (plain and jitted)."""
    return table[i, 0] + t * (table[i, 1] + t * (table[i, 2] + t * table[i, 3]))


_cubic = ngjit_inline(_cubic_of)
# The table's top: the last cubic ends above the pole's node (1 + 5.4e-8), so y peaks just short of the pole
ROBINSON_V_TOP = float(_cubic_of(ROBINSON_Y, ROBINSON_NODES - 1, 5.0))

# Equal Earth: y a polynomial in psi = asin(M sin(phi))
EQEARTH_A1, EQEARTH_A2, EQEARTH_A3, EQEARTH_A4 = 1.340264, -0.081106, 0.000893, 0.003796
EQEARTH_M = math.sqrt(3.0) / 2.0

# Natural Earth: x and y polynomials in phi
NATEARTH_A0, NATEARTH_A1, NATEARTH_A2, NATEARTH_A3, NATEARTH_A4 = 0.8707, -0.131979, -0.013791, 0.003971, -0.001529
NATEARTH_B0, NATEARTH_B1, NATEARTH_B2, NATEARTH_B3, NATEARTH_B4 = 1.007226, 0.015085, -0.044475, 0.028874, -0.005916


def _natearth_y_of(phi):
    """Natural Earth's y (PROJ's polynomial); plain Python for the constant below, jitted for the kernels."""
    phi2 = phi * phi
    phi4 = phi2 * phi2
    return phi * (NATEARTH_B0 + phi2 * (NATEARTH_B1 + phi4 * (NATEARTH_B2 + NATEARTH_B3 * phi2 + NATEARTH_B4 * phi4)))


def _eqearth_y_of(psi2):
    """Equal Earth's y / psi (plain and jitted)."""
    return EQEARTH_A1 + EQEARTH_A2 * psi2 + psi2 * psi2 * psi2 * (EQEARTH_A3 + EQEARTH_A4 * psi2)


NATEARTH_Y = _natearth_y_of(HALF_PI)  # the top edge; PROJ clamps to 0.8707 * 0.52 * pi, 7.6e-6 short of it
NATEARTH_START_BEND = HALF_PI - NATEARTH_Y / NATEARTH_B0
EQEARTH_Y = math.pi / 3.0 * _eqearth_y_of((math.pi / 3.0) ** 2)  # psi = asin(M) = pi/3 at the pole
_natearth_y = ngjit_inline(_natearth_y_of)
_eqearth_y = ngjit_inline(_eqearth_y_of)


@ngjit_inline
def _polar(ux, uy, uz):
    """1 - |sin(phi)| without its cancellation near the poles: cos^2 / (1 + |sin|), from the vector."""
    return (ux * ux + uy * uy) / (1.0 + abs(uz))


@ngjit_inline
def _ratio(x, w):
    """x / w, but 0 for x = 0 so that a point pole (w = 0) maps back to the pole."""
    return 0.0 if x == 0.0 else x / w


@ngjit_inline
def sinusoidal_forward(lam, phi, ux, uy, uz, p):
    return lam * math.sqrt(ux * ux + uy * uy), phi


@ngjit_inline
def sinusoidal_inverse(x, y, p):
    if not abs(y) <= HALF_PI:
        return NAN, NAN, NAN
    cos_phi = math.cos(y)  # never 0: cos of the double nearest pi/2 is 6e-17, so x = 0 gives lam = 0
    return _vector(x / cos_phi, cos_phi, math.sin(y))


@ngjit_inline
def _turn(sin_t, cos_t, a):
    """sin and cos of t + a from those of t, for a small turn (|a| < 0.04 here: its series to a^9
    is exact to the last bit), so that a Newton step costs no trigonometry."""
    a2 = a * a
    sin_a = a * (1.0 - a2 / 6.0 * (1.0 - a2 / 20.0 * (1.0 - a2 / 42.0 * (1.0 - a2 / 72.0))))
    cos_a = 1.0 - a2 / 2.0 * (1.0 - a2 / 12.0 * (1.0 - a2 / 30.0 * (1.0 - a2 / 56.0)))
    return sin_t * cos_a + cos_t * sin_a, cos_t * cos_a - sin_t * sin_a


@ngjit_inline
def _d_minus_sin(d, sin_d):
    """d - sin(d) for d in [0, pi]; from its series below MOLLWEIDE_SERIES_BELOW, where the difference cancels."""
    if d >= MOLLWEIDE_SERIES_BELOW:
        return d - sin_d
    d2 = d * d  # truncation after d^15: 6 d^14 / 17! < 1e-18 relative
    return d * d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0 * (1.0 - d2 / 72.0 * (
        1.0 - d2 / 110.0 * (1.0 - d2 / 156.0 * (1.0 - d2 / 210.0))))))


@ngjit_inline
def _mollweide_half(r):
    """sin and cos of delta / 2, delta = pi - theta' from delta - sin(delta) = r (r = pi (1 - |sin phi|)).

    Newton from the pole series delta = s (1 + s^2/60 + s^4/1400), s = (6 r)^(1/3): exact to the
    last bit for s < 0.03, within 0.071 everywhere (at the equator); the equation is convex, so the
    steps converge from above after the first, the first under 0.072, the next under 1.4e-4."""
    s = (6.0 * r) ** (1.0 / 3.0)
    s2 = s * s
    d = min(s * (1.0 + s2 * (1.0 / 60.0 + s2 / 1400.0)), PI)
    half_sin, half_cos = math.sin(0.5 * d), math.cos(0.5 * d)
    for _ in range(NEWTON_STEPS):
        slope = 2.0 * half_sin * half_sin  # 1 - cos(delta)
        if slope > 0.0:
            step = (_d_minus_sin(d, 2.0 * half_sin * half_cos) - r) / slope
            d -= step
            half_sin, half_cos = _turn(half_sin, half_cos, -0.5 * step)
    return half_sin, half_cos


@ngjit_inline
def mollweide_forward(lam, phi, ux, uy, uz, p):
    half_sin, half_cos = _mollweide_half(PI * _polar(ux, uy, uz))
    return MOLLWEIDE_CX * lam * half_sin, math.copysign(SQRT2 * half_cos, phi)  # cos(theta' / 2) = sin(delta / 2)


@ngjit_inline
def mollweide_inverse(x, y, p):
    sin_theta = y / SQRT2
    if not abs(sin_theta) <= 1.0:
        return NAN, NAN, NAN
    cos_theta = math.sqrt((1.0 - sin_theta) * (1.0 + sin_theta))
    sin_phi = min(max((2.0 * math.asin(sin_theta) + 2.0 * sin_theta * cos_theta) / PI, -1.0), 1.0)
    cos_phi = math.sqrt((1.0 - sin_phi) * (1.0 + sin_phi))
    return _vector(_ratio(x, MOLLWEIDE_CX * cos_theta), cos_phi, sin_phi)


@ngjit_inline
def _eckert4_half(phi, r):
    """sin and cos of eps / 2, eps = pi/2 - |theta| from eps - sin(eps) cos(eps) + 2 (1 - cos(eps)) = r
    (r = C_p (1 - |sin phi|)).

    The left side is eps^2 + 2/3 eps^3 - ...: Newton starts from its inverse series near the pole
    and from PROJ's polynomial in phi elsewhere (within 0.012 either way, the steps then under
    0.013, 2e-4, 5e-8); in eps nothing cancels that matters, 1 - cos(eps) being 2 sin^2(eps / 2)."""
    q = math.sqrt(r)
    if q < ECKERT4_SERIES_BELOW:
        e = q * (1.0 + q * (-1.0 / 3.0 + q * (23.0 / 72.0)))
    else:
        v = phi * phi
        e = HALF_PI - abs(phi) * (0.895168 + v * (0.0218849 + v * 0.00826809))
    half_sin, half_cos = math.sin(0.5 * e), math.cos(0.5 * e)
    for _ in range(NEWTON_STEPS):
        sin_e = 2.0 * half_sin * half_cos
        cos_e = 1.0 - 2.0 * half_sin * half_sin
        slope = 2.0 * sin_e * (1.0 + sin_e)
        if slope > 0.0:
            step = (e - sin_e * cos_e + 4.0 * half_sin * half_sin - r) / slope
            e -= step
            half_sin, half_cos = _turn(half_sin, half_cos, -0.5 * step)
    return half_sin, half_cos


@ngjit_inline
def eckert4_forward(lam, phi, ux, uy, uz, p):
    if not abs(phi) <= HALF_PI:  # the start is PROJ's polynomial in phi: no latitude, no point
        return NAN, NAN
    half_sin, half_cos = _eckert4_half(phi, ECKERT4_CP * _polar(ux, uy, uz))
    x = ECKERT4_CX * lam * (1.0 + 2.0 * half_sin * half_cos)  # cos(theta) = sin(eps)
    return x, math.copysign(ECKERT4_CY * (half_cos - half_sin) * (half_cos + half_sin), phi)


@ngjit_inline
def eckert4_inverse(x, y, p):
    sin_theta = y / ECKERT4_CY
    if not abs(sin_theta) <= 1.0:
        return NAN, NAN, NAN
    cos_theta = math.sqrt((1.0 - sin_theta) * (1.0 + sin_theta))
    sin_phi = (math.asin(sin_theta) + sin_theta * (cos_theta + 2.0)) / ECKERT4_CP
    sin_phi = min(max(sin_phi, -1.0), 1.0)
    cos_phi = math.sqrt((1.0 - sin_phi) * (1.0 + sin_phi))
    return _vector(x / (ECKERT4_CX * (1.0 + cos_theta)), cos_phi, sin_phi)


@ngjit_inline
def _robinson_interval(a):
    """PROJ's interval and offset (degrees) of |phi| = a in [0, pi/2], its rounding included."""
    i = min(int(math.floor(a * ROBINSON_C1 + 1e-15)), ROBINSON_NODES)
    return i, RAD_TO_DEG * (a - ROBINSON_RC1 * i)


@ngjit_inline
def robinson_forward(lam, phi, ux, uy, uz, p):
    a = abs(phi)
    if not a <= HALF_PI:  # NaN too: it must not index the tables
        return NAN, NAN
    i, t = _robinson_interval(a)
    y = _cubic(ROBINSON_Y, i, t) * ROBINSON_FYC
    return _cubic(ROBINSON_X, i, t) * ROBINSON_FXC * lam, -y if phi < 0.0 else y


@ngjit_inline
def _robinson_latitude(v):
    """|phi| whose table y is v in [0, ROBINSON_V_TOP]: Newton on the cubic of the interval PROJ
    picks (the last node at or below v; the last cubic above the pole's node). Each cubic is nearly
    linear (y' within 0.3% of its chord), so three steps from the chord reach the last bit. Where v
    lies in a gap the table leaves between one cubic's end and the next node (up to 2.3e-7), t
    passes 5 and the latitude falls at the start of the next interval, the nearest point."""
    i = min(int(v * ROBINSON_NODES), ROBINSON_NODES - 1)
    while ROBINSON_Y[i, 0] > v:  # the nodes lie at or above i / 18, so only down; Y[0] < 0 <= v ends it
        i -= 1
    c0 = ROBINSON_Y[i, 0]
    t = 5.0 * (v - c0) / (ROBINSON_Y[i + 1, 0] - c0)
    for _ in range(NEWTON_STEPS):
        slope = ROBINSON_Y[i, 1] + t * (2.0 * ROBINSON_Y[i, 2] + t * 3.0 * ROBINSON_Y[i, 3])
        t -= (_cubic(ROBINSON_Y, i, t) - v) / slope
    return min((5.0 * i + t) * DEG_TO_RAD, HALF_PI)


@ngjit_inline
def robinson_inverse(x, y, p):
    v = abs(y) / ROBINSON_FYC
    if not v <= ROBINSON_V_TOP:
        return NAN, NAN, NAN
    a = HALF_PI if v == 1.0 else _robinson_latitude(v)  # the pole's y, shared with 89.99998 degrees
    i, t = _robinson_interval(a)  # the forward's own interval, so that x comes back exactly
    phi = -a if y < 0.0 else a
    return _vector(x / (_cubic(ROBINSON_X, i, t) * ROBINSON_FXC), math.cos(phi), math.sin(phi))


@ngjit_inline
def _eqearth_slope(psi2):
    """d y / d psi."""
    return EQEARTH_A1 + 3.0 * EQEARTH_A2 * psi2 + psi2 * psi2 * psi2 * (7.0 * EQEARTH_A3 + 9.0 * EQEARTH_A4 * psi2)


@ngjit_inline
def equal_earth_forward(lam, phi, ux, uy, uz, p):
    sin_psi = EQEARTH_M * uz
    psi = math.asin(sin_psi)
    psi2 = psi * psi
    cos_psi = math.sqrt((1.0 - sin_psi) * (1.0 + sin_psi))
    return lam * cos_psi / (EQEARTH_M * _eqearth_slope(psi2)), psi * _eqearth_y(psi2)


@ngjit_inline
def equal_earth_inverse(x, y, p):
    if not abs(y) <= EQEARTH_Y:
        return NAN, NAN, NAN
    psi = y / EQEARTH_A1
    for _ in range(NEWTON_STEPS + 1):  # y' falls from 1.34 to 1.09: four steps from y / A1
        psi2 = psi * psi
        psi -= (psi * _eqearth_y(psi2) - y) / _eqearth_slope(psi2)
    psi2 = psi * psi
    sin_phi = min(max(math.sin(psi) / EQEARTH_M, -1.0), 1.0)
    cos_phi = math.sqrt((1.0 - sin_phi) * (1.0 + sin_phi))
    return _vector(EQEARTH_M * x * _eqearth_slope(psi2) / math.cos(psi), cos_phi, sin_phi)


@ngjit_inline
def natural_earth_forward(lam, phi, ux, uy, uz, p):
    return lam * _natearth_x(phi * phi), _natearth_y(phi)


@ngjit_inline
def _natearth_x(phi2):
    """Natural Earth's x / lam."""
    return NATEARTH_A0 + phi2 * (NATEARTH_A1 + phi2 * (NATEARTH_A2 + phi2 * phi2 * phi2 * (
        NATEARTH_A3 + phi2 * NATEARTH_A4)))


@ngjit_inline
def natural_earth_inverse(x, y, p):
    if not abs(y) <= NATEARTH_Y:
        return NAN, NAN, NAN
    # y' falls from 1.007 to 0.12 at the pole: the start bends from y / B0 up to reach pi/2 at the top
    v = y / NATEARTH_Y
    v2 = v * v
    v4 = v2 * v2
    phi = y / NATEARTH_B0 + math.copysign(NATEARTH_START_BEND * v4 * v4, y)
    for _ in range(NEWTON_STEPS + 1):  # off by 6e-3 at worst, then 2e-4, 3e-7, 5e-13, the last bit
        phi2 = phi * phi
        phi4 = phi2 * phi2
        slope = NATEARTH_B0 + phi2 * (3.0 * NATEARTH_B1 + phi4 * (
            7.0 * NATEARTH_B2 + 9.0 * NATEARTH_B3 * phi2 + 11.0 * NATEARTH_B4 * phi4))
        phi -= (_natearth_y(phi) - y) / slope
    phi = min(max(phi, -HALF_PI), HALF_PI)
    return _vector(x / _natearth_x(phi * phi), math.cos(phi), math.sin(phi))
