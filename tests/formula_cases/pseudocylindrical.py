"""References of the pseudocylindrical projections: plain numpy (bisection where the engine uses
Newton), PROJ's spherical gie points, mpmath where PROJ's own forward is off (Mollweide, Eckert IV).

Robinson's inverse is not judged where the plane has no preimage: PROJ's table leaves gaps (up to
2.3e-7 in y / FYC) between one 5-degree cubic's end and the next node, and a y in such a gap is
the image of no latitude (the nearest one, at the node, is off by the gap).
"""

import functools
import math

import mpmath
import numpy as np

from polewarp.engine.formulas.pseudocylindrical import ROBINSON_X, ROBINSON_Y

from . import Case

R_GIE = 6400000.0  # the radius (+R or +a) of PROJ's spherical gie cases
MM = 1e-3 / R_GIE  # gie's default tolerance unit, on the unit sphere


def _quadrants(lon, lat, x, y, tolerance):
    """A gie point and its three mirror images, scaled to the unit sphere."""
    return tuple(((sx * lon, sy * lat), (sx * x / R_GIE, sy * y / R_GIE), tolerance)
                 for sx in (1, -1) for sy in (1, -1))


def _bisect(f, target, lo, hi, steps=80):
    """Where the increasing f reaches target, elementwise, by bisection of [lo, hi] (NaN target: NaN)."""
    target = np.asarray(target, float)
    lo, hi = np.full(target.shape, lo, float), np.full(target.shape, hi, float)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        above = f(mid) > target
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    return np.where(np.isnan(target), np.nan, 0.5 * (lo + hi))


def _outline(lam, phi):
    """(lam, phi), both NaN where the longitude falls outside [-pi, pi] (beyond the outline)."""
    outside = ~(np.abs(lam) <= np.pi)
    return np.where(outside, np.nan, lam), np.where(outside, np.nan, phi)


def _pole_distance(phi):
    """1 - |sin(phi)|, as cos^2 / (1 + |sin|) so that it keeps its digits near the poles."""
    return np.cos(phi) ** 2 / (1.0 + np.abs(np.sin(phi)))


# --- sinusoidal: x = lam cos(phi), y = phi

def sinusoidal_forward(lam, phi, options):
    return lam * np.cos(phi), phi + 0.0 * lam


def sinusoidal_inverse(x, y, options):
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = np.where(x == 0.0, 0.0, x / np.cos(y))
    return _outline(np.where(np.abs(y) <= np.pi / 2, lam, np.nan), np.where(np.abs(y) <= np.pi / 2, y, np.nan))


# --- Mollweide: 2t + sin(2t) = pi sin(phi); x = 2 sqrt2/pi lam cos(t), y = sqrt2 sin(t)

def _mollweide_gap(d):
    """d - sin(d), by its two-term series where the subtraction would cancel."""
    return np.where(d < 1e-3, d ** 3 / 6.0 - d ** 5 / 120.0, d - np.sin(d))


def mollweide_forward(lam, phi, options):
    lam, phi = np.broadcast_arrays(lam, phi)
    d = _bisect(_mollweide_gap, np.pi * _pole_distance(phi), 0.0, np.pi)  # d = pi - 2t
    return 2.0 * math.sqrt(2.0) / np.pi * lam * np.sin(d / 2), np.sign(phi + 0.0) * math.sqrt(2.0) * np.cos(d / 2)


def mollweide_inverse(x, y, options):
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.arcsin(y / math.sqrt(2.0))
        lam = np.where(x == 0.0, 0.0, np.pi * x / (2.0 * math.sqrt(2.0) * np.cos(t)))
        phi = np.arcsin(np.clip((2 * t + np.sin(2 * t)) / np.pi, -1, 1))
    return _outline(lam, phi)


def mollweide_precise(lam, phi, options):
    x_per_lam, y = _mollweide_latitude(phi)
    return x_per_lam * lam, y


def _mp_bisect(f, target, lo, hi, steps=150):
    """The root of the increasing f - target in [lo, hi], in mpmath."""
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if f(mid) > target else (mid, hi)
    return (lo + hi) / 2


@functools.cache
def _mollweide_latitude(phi):
    """(x / lam, y) of a latitude, solved in mpmath for d = pi - 2t: d - sin(d) = pi (1 - |sin phi|)."""
    with mpmath.workdps(50):
        d = _mp_bisect(lambda d: d - mpmath.sin(d), mpmath.pi * (1 - abs(mpmath.sin(phi))), 0, mpmath.pi)
        return (float(2 * mpmath.sqrt(2) / mpmath.pi * mpmath.sin(d / 2)),
                float(math.copysign(1.0, phi) * mpmath.sqrt(2) * mpmath.cos(d / 2)))


# --- Eckert IV: t + sin(t) cos(t) + 2 sin(t) = (2 + pi/2) sin(phi); x = cx lam (1 + cos t), y = cy sin t

ECKERT4_CX, ECKERT4_CY = 2.0 / math.sqrt(math.pi * (4.0 + math.pi)), 2.0 * math.sqrt(math.pi / (4.0 + math.pi))


def _eckert4_gap(e):
    """(2 + pi/2) - (t + sin t cos t + 2 sin t) at t = pi/2 - e, its 1 - cos(e) as 2 sin^2(e/2)."""
    return e - np.sin(e) * np.cos(e) + 4.0 * np.sin(e / 2) ** 2


def eckert4_forward(lam, phi, options):
    lam, phi = np.broadcast_arrays(lam, phi)
    e = _bisect(_eckert4_gap, (2.0 + np.pi / 2) * _pole_distance(phi), 0.0, np.pi / 2)  # e = pi/2 - |t|
    return ECKERT4_CX * lam * (1.0 + np.sin(e)), np.sign(phi + 0.0) * ECKERT4_CY * np.cos(e)


def eckert4_inverse(x, y, options):
    with np.errstate(invalid="ignore"):
        t = np.arcsin(y / ECKERT4_CY)
        phi = np.arcsin(np.clip((t + np.sin(t) * (np.cos(t) + 2.0)) / (2.0 + np.pi / 2), -1, 1))
    return _outline(x / (ECKERT4_CX * (1.0 + np.cos(t))), phi)


def eckert4_precise(lam, phi, options):
    x_per_lam, y = _eckert4_latitude(phi)
    return x_per_lam * lam, y


@functools.cache
def _eckert4_latitude(phi):
    """(x / lam, y) of a latitude, solved in mpmath for e = pi/2 - |t|."""
    with mpmath.workdps(50):
        target = (2 + mpmath.pi / 2) * (1 - abs(mpmath.sin(phi)))
        gap = lambda e: e - mpmath.sin(e) * mpmath.cos(e) + 2 * (1 - mpmath.cos(e))  # noqa: E731
        e = _mp_bisect(gap, target, 0, mpmath.pi / 2)
        cx, cy = 2 / mpmath.sqrt(mpmath.pi * (4 + mpmath.pi)), 2 * mpmath.sqrt(mpmath.pi / (4 + mpmath.pi))
        return float(cx * (1 + mpmath.sin(e))), float(math.copysign(1.0, phi) * cy * mpmath.cos(e))


# --- Robinson: PROJ's table, a cubic in degrees every 5 degrees; x = 0.8487 X(phi) lam, y = 1.3523 Y(phi)

ROBINSON_FXC, ROBINSON_FYC = 0.8487, 1.3523


def _robinson_piece(a):
    """The table row (PROJ's rounding: + 1e-15, the pole in row 18) and degrees into it of |phi| = a."""
    i = np.minimum(np.floor(a * (36.0 / np.pi) + 1e-15), 18).astype(int)
    return i, np.degrees(a) - 5.0 * i


def _table(table, i, t):
    c = table[i]
    return ((c[..., 3] * t + c[..., 2]) * t + c[..., 1]) * t + c[..., 0]


def robinson_forward(lam, phi, options):
    lam, phi = np.broadcast_arrays(lam, phi)
    none = np.isnan(lam) | np.isnan(phi)  # no point: no table row either
    i, t = _robinson_piece(np.abs(np.where(none, 0.0, phi)))
    x = ROBINSON_FXC * lam * _table(ROBINSON_X, i, t)
    y = np.sign(phi) * ROBINSON_FYC * _table(ROBINSON_Y, i, t)
    return np.where(none, np.nan, x), np.where(none, np.nan, y)


def robinson_inverse(x, y, options):
    v = np.abs(y) / ROBINSON_FYC
    inside = v <= _table(ROBINSON_Y, 17, 5.0)  # the last cubic ends a little above the pole's node
    v = np.where(inside, v, 0.0)
    i = np.searchsorted(ROBINSON_Y[:, 0], v, side="right") - 1  # the last node at or below v
    i = np.minimum(i, 17)
    t = _bisect(lambda s: _table(ROBINSON_Y, i, s), v, 0.0, 5.5)  # past 5 in a gap, like the engine
    a = np.where(v == 1.0, np.pi / 2, np.minimum(np.radians(5.0 * i + t), np.pi / 2))
    j, s = _robinson_piece(a)
    lam = x / (ROBINSON_FXC * _table(ROBINSON_X, j, s))
    return _outline(np.where(inside, lam, np.nan), np.where(inside, np.sign(y) * a, np.nan))


def robinson_gaps(x, y, options):
    """The y of no latitude: between the end of row i's cubic and node i + 1 where that end falls short."""
    ends = _table(ROBINSON_Y, np.arange(18), 5.0)
    starts = ROBINSON_Y[1:, 0]
    v = np.abs(np.asarray(y))[..., None] / ROBINSON_FYC
    return np.any((v >= ends) & (v < starts), axis=-1)


# --- Equal Earth: psi = asin(M sin phi); y = psi (A1 + A2 psi^2 + psi^6 (A3 + A4 psi^2)), x = lam cos(psi) / (M y')

EQEARTH_A = np.array([1.340264, -0.081106, 0.000893, 0.003796])
EQEARTH_M = math.sqrt(3.0) / 2.0


def _eqearth_y(psi):
    a1, a2, a3, a4 = EQEARTH_A
    return a1 * psi + a2 * psi ** 3 + a3 * psi ** 7 + a4 * psi ** 9


def _eqearth_slope(psi):
    a1, a2, a3, a4 = EQEARTH_A
    return a1 + 3 * a2 * psi ** 2 + 7 * a3 * psi ** 6 + 9 * a4 * psi ** 8


def equal_earth_forward(lam, phi, options):
    psi = np.arcsin(EQEARTH_M * np.sin(phi))
    return lam * np.cos(psi) / (EQEARTH_M * _eqearth_slope(psi)), _eqearth_y(psi) + 0.0 * lam


def equal_earth_inverse(x, y, options):
    top = np.pi / 3
    inside = np.abs(y) <= _eqearth_y(top)
    psi = _bisect(_eqearth_y, np.where(inside, y, np.nan), -top, top)
    with np.errstate(invalid="ignore"):
        phi = np.arcsin(np.clip(np.sin(psi) / EQEARTH_M, -1, 1))
    return _outline(EQEARTH_M * x * _eqearth_slope(psi) / np.cos(psi), phi)


# --- Natural Earth: x and y polynomials in phi

NATEARTH_X = np.polynomial.Polynomial([0.8707, 0, -0.131979, 0, -0.013791, 0, 0, 0, 0, 0, 0.003971, 0, -0.001529])
NATEARTH_Y = np.polynomial.Polynomial([0, 1.007226, 0, 0.015085, 0, 0, 0, -0.044475, 0, 0.028874, 0, -0.005916])


def natural_earth_forward(lam, phi, options):
    return lam * NATEARTH_X(phi), NATEARTH_Y(phi) + 0.0 * lam


def natural_earth_inverse(x, y, options):
    inside = np.abs(y) <= NATEARTH_Y(np.pi / 2)
    phi = _bisect(NATEARTH_Y, np.where(inside, y, np.nan), -np.pi / 2, np.pi / 2)
    return _outline(x / NATEARTH_X(phi), phi)


CASES = {
    "sinusoidal": Case(
        sinusoidal_forward, sinusoidal_inverse,
        gie=_quadrants(2, 1, 223368.119026632, 111701.072127637, 0.1 * MM)),
    "mollweide": Case(
        mollweide_forward, mollweide_inverse, precise_forward=mollweide_precise,
        gie=_quadrants(2, 1, 201113.698641813, 124066.283433860, 0.1 * MM)
        + _quadrants(0, 89.99, 0.0, 9050917.562466157600, 0.1 * MM)[:2]
        + _quadrants(0, 89.999, 0.0, 9050964.513822982088, 0.1 * MM)[:2]),
    "robinson": Case(
        robinson_forward, robinson_inverse, inverse_excluded=robinson_gaps,
        gie=_quadrants(2, 1, 189588.423282508, 107318.530350703, 0.1 * MM)
        + _quadrants(0, 89.5, 0.0, 8639799.718722090125, 0.1 * MM)[:2]
        + _quadrants(0, 90, 0.0, 8654720.0, 0.1 * MM)[:2]),
    "equal-earth": Case(
        equal_earth_forward, equal_earth_inverse,
        # +R=6378137, tolerance 1 cm, in more_builtins.gie
        gie=tuple(((lon, lat), (x / 6378137.0, y / 6378137.0), 0.01 / 6378137.0) for (lon, lat), (x, y) in (
            ((0, 0), (0, 0)), ((-180, 90), (-10227908.09, 8402320.16)), ((0, 90), (0.0, 8402320.16)),
            ((180, 90), (10227908.09, 8402320.16)), ((180, 45), (14795421.79, 5486671.72)),
            ((180, 0), (17263256.84, 0.0)), ((-70, -31.2), (-6244707.88, -3924893.29))))),
    "natural-earth": Case(
        natural_earth_forward, natural_earth_inverse,
        gie=_quadrants(2, 1, 194507.265257889, 112508.737358295, 0.1 * MM)),
    "eckert4": Case(
        eckert4_forward, eckert4_inverse, precise_forward=eckert4_precise,
        gie=_quadrants(2, 1, 188646.389356416, 132268.540174065, 0.1 * MM)
        + _quadrants(180, 90, 8489602.7403, 8489602.7403, 0.1 * MM)
        + _quadrants(180, 0, 16979205.4807, 0.0, 0.1 * MM)[::2]),
}
