"""Cylindrical projections: x from the longitude, y from the latitude (PROJ's merc, eqc, cea, mill, gall)."""

import math

from ..jit import ngjit_inline

NAN = math.nan
HALF_PI = math.pi / 2.0
QUARTER_PI = math.pi / 4.0
GALL_XF = 0.70710678118654752440  # PROJ's gall constants: 1/sqrt(2) and 1 + 1/sqrt(2)
GALL_YF = 1.70710678118654752440


@ngjit_inline
def _vector(lam, cos_phi, sin_phi):
    """The unit vector of a longitude and a latitude given by its cosine and sine; NaN beyond +-pi."""
    if not -math.pi <= lam <= math.pi:
        return NAN, NAN, NAN
    return cos_phi * math.cos(lam), cos_phi * math.sin(lam), sin_phi


@ngjit_inline
def mercator_forward(lam, phi, ux, uy, uz, p):
    if not -HALF_PI < phi < HALF_PI:
        return NAN, NAN
    return lam, math.asinh(math.tan(phi))


@ngjit_inline
def mercator_inverse(x, y, p):
    return _vector(x, 1.0 / math.cosh(y), math.tanh(y))


@ngjit_inline
def equirectangular_forward(lam, phi, ux, uy, uz, p):
    return lam, phi


@ngjit_inline
def equirectangular_inverse(x, y, p):
    if not -HALF_PI <= y <= HALF_PI:
        return NAN, NAN, NAN
    return _vector(x, math.cos(y), math.sin(y))


@ngjit_inline
def cylindrical_equal_area_forward(lam, phi, ux, uy, uz, p):
    return lam * p[0], uz / p[0]


@ngjit_inline
def cylindrical_equal_area_inverse(x, y, p):
    sin_phi = y * p[0]
    if not -1.0 <= sin_phi <= 1.0:
        return NAN, NAN, NAN
    return _vector(x / p[0], math.sqrt((1.0 - sin_phi) * (1.0 + sin_phi)), sin_phi)


@ngjit_inline
def miller_forward(lam, phi, ux, uy, uz, p):
    return lam, math.log(math.tan(QUARTER_PI + 0.4 * phi)) * 1.25


@ngjit_inline
def miller_inverse(x, y, p):
    phi = 2.5 * (math.atan(math.exp(0.8 * y)) - QUARTER_PI)
    if not -HALF_PI <= phi <= HALF_PI:  # beyond the poles' y (phi reaches +-5 pi / 8)
        return NAN, NAN, NAN
    return _vector(x, math.cos(phi), math.sin(phi))


@ngjit_inline
def gall_stereographic_forward(lam, phi, ux, uy, uz, p):
    return GALL_XF * lam, GALL_YF * math.tan(0.5 * phi)


@ngjit_inline
def gall_stereographic_inverse(x, y, p):
    if not -GALL_YF <= y <= GALL_YF:  # beyond the poles' y (phi would reach +-pi)
        return NAN, NAN, NAN
    phi = 2.0 * math.atan(y / GALL_YF)
    return _vector(x / GALL_XF, math.cos(phi), math.sin(phi))
