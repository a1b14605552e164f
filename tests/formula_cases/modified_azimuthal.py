"""References of the modified azimuthal projections (PROJ's hammer, aitoff, wintri), from PROJ's source.

The gie points are PROJ's spherical ones (R = 6400000, tolerance 0.1 mm) from test/gie/builtins.gie;
each inverse point is checked here by the forward of its expected (lon, lat), whose 9 decimals of a
degree stay within the tolerance. builtins.gie tests wintri only with lat_1=0, not the registry's
acos(2/pi), so Winkel has no gie points. pyproj's forwards are exact to rounding: no precise_forward.
"""

import math

import numpy as np

from polewarp.engine import projections

from . import Case

R_GIE = 6400000.0
TOLERANCE_GIE = 1e-4 / R_GIE  # 0.1 mm
SLACK = 1e-12  # the engine's: points this far outside the outline are on it


def _gie(forward, inverse):
    """PROJ's points, metres to the unit sphere: forward ((lon, lat), (x, y)) and inverse ((x, y), (lon, lat))."""
    points = [((lon, lat), (x / R_GIE, y / R_GIE), TOLERANCE_GIE) for (lon, lat), (x, y) in forward]
    points += [((lon, lat), (x / R_GIE, y / R_GIE), TOLERANCE_GIE) for (x, y), (lon, lat) in inverse]
    return tuple(points)


def _signs(point, value):
    """The four sign combinations gie tests of one point."""
    (a, b), (c, d) = point, value
    return [((sa * a, sb * b), (sa * c, sb * d)) for sa in (1, -1) for sb in (1, -1)]


# the inverse points of both: (200 m, 100 m) -> (0.001790493, 0.000895247) degrees, all four signs
INVERSE_GIE = _signs((200.0, 100.0), (0.001790493, 0.000895247))


def hammer_numpy_forward(lam, phi, options):
    d = np.sqrt(2.0 / (1.0 + np.cos(phi) * np.cos(0.5 * lam)))
    return 2.0 * d * np.cos(phi) * np.sin(0.5 * lam), d * np.sin(phi)


def hammer_numpy_inverse(x, y, options):
    with np.errstate(invalid="ignore"):
        z = np.sqrt(1.0 - x * x / 16.0 - y * y / 4.0)
    outside = ~(x * x / 8.0 + y * y / 2.0 <= 1.0 + SLACK / 2.0)
    lam = 2.0 * np.arctan2(0.5 * x * z, 2.0 * z * z - 1.0)
    phi = np.arcsin(np.clip(z * y, -1.0, 1.0))
    return np.where(outside, np.nan, lam), np.where(outside, np.nan, phi)


def aitoff_numpy_forward(lam, phi, options):
    c = 0.5 * lam
    d = np.arccos(np.clip(np.cos(phi) * np.cos(c), -1.0, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(d == 0.0, 1.0, d / np.sin(d))
    return 2.0 * k * np.cos(phi) * np.sin(c), k * np.sin(phi)


def aitoff_numpy_inverse(x, y, options):
    """Aitoff is the azimuthal equidistant of (lam / 2, phi), x doubled: its inverse is closed."""
    u = 0.5 * x
    r = np.hypot(u, y)
    sinc = np.sinc(r / math.pi)  # sin(r) / r
    lam = 2.0 * np.arctan2(sinc * u, np.cos(r))
    phi = np.arcsin(np.clip(sinc * y, -1.0, 1.0))
    outside = ~(r <= math.pi / 2.0 + SLACK)
    return np.where(outside, np.nan, lam), np.where(outside, np.nan, phi)


def _cos_phi1(options):
    return projections.projection("winkel-tripel").params(options)[0]


def winkel_tripel_numpy_forward(lam, phi, options):
    x, y = aitoff_numpy_forward(lam, phi, options)
    return 0.5 * (x + lam * _cos_phi1(options)), 0.5 * (y + phi)


def _winkel_and_jacobian(lam, phi, cos_phi1):
    """PROJ's aitoff_s_inverse: Winkel's (x, y) and its partial derivatives in phi and lam."""
    sl, cl = np.sin(0.5 * lam), np.cos(0.5 * lam)
    sp, cp = np.sin(phi), np.cos(phi)
    d = cp * cl
    c = 1.0 - d * d
    d = np.arccos(d) / c**1.5
    f1 = 0.5 * (2.0 * d * c * cp * sl + lam * cos_phi1)
    f2 = 0.5 * (d * c * sp + phi)
    f1p = sl * cl * sp * cp / c - d * sp * sl
    f1l = 0.5 * (cp * cp * sl * sl / c + d * cp * cl * sp * sp + cos_phi1)
    f2p = 0.5 * (sp * sp * cl / c + d * sl * sl * cp + 1.0)
    f2l = 0.25 * (sp * cp * sl / c - d * sp * cp * cp * sl * cl)
    return f1, f2, f1p, f1l, f2p, f2l


def winkel_tripel_numpy_inverse(x, y, options):
    """PROJ's Newton iteration, vectorised: 12 steps from the equirectangular guess (it needs 5),
    then NaN where the residual is above 1e-9 or the solution lies beyond +-180 or +-90 degrees;
    like PROJ, (0, 0) at the centre, where its derivatives are 0 / 0."""
    cos_phi1 = _cos_phi1(options)
    lam, phi = 2.0 * x / (1.0 + cos_phi1), np.array(y, float)
    with np.errstate(all="ignore"):
        for _ in range(12):
            f1, f2, f1p, f1l, f2p, f2l = _winkel_and_jacobian(lam, phi, cos_phi1)
            f1, f2 = f1 - x, f2 - y
            det = f1p * f2l - f2p * f1l
            lam, phi = lam - (f2 * f1p - f1 * f2p) / det, phi - (f1 * f2l - f2 * f1l) / det
        f1, f2, *_ = _winkel_and_jacobian(lam, phi, cos_phi1)
        bad = ~((np.hypot(f1 - x, f2 - y) <= 1e-9) & (np.abs(lam) <= math.pi + SLACK)
                & (np.abs(phi) <= math.pi / 2.0 + SLACK))
    centre = (np.abs(x) < 1e-12) & (np.abs(y) < 1e-12)
    lam, phi, bad = np.where(centre, 0.0, lam), np.where(centre, 0.0, phi), bad & ~centre
    return np.where(bad, np.nan, lam), np.where(bad, np.nan, phi)


CASES = {
    "hammer": Case(
        hammer_numpy_forward, hammer_numpy_inverse,
        gie=_gie(_signs((2.0, 1.0), (223373.788703241, 111703.907397767)), INVERSE_GIE),
    ),
    "aitoff": Case(
        aitoff_numpy_forward, aitoff_numpy_inverse,
        gie=_gie(_signs((2.0, 1.0), (223379.458811696, 111706.742883853)), INVERSE_GIE),
    ),
    "winkel-tripel": Case(winkel_tripel_numpy_forward, winkel_tripel_numpy_inverse),
}
