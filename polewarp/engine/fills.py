"""Kernels for any projection: each projection's formulas dispatched by number, its points
projected and unprojected in bulk, and the LUT row fills of every (output, input) pair.

Kernels here are made by factories, one per projection or pair, so that a first run compiles
only what it uses; each keeps ``SOURCE_FINGERPRINT`` in its closure (see ``jit``).
"""

import functools
import importlib
import math

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import projections
from .jit import SOURCE_FINGERPRINT, ngjit_vector


def _formula(number: int, kind: str):
    """The ``forward`` or ``inverse`` numba function of projection ``number``."""
    entry = projections.PROJECTIONS[projections.NAMES[number]]
    module = importlib.import_module(f"{__package__}.formulas.{entry.module}")
    return getattr(module, f"{entry.identifier}_{kind}")


def forward(number, lam, phi, ux, uy, uz, p):
    """Projection ``number``'s forward (a compile-time constant): (x, y) of a point, NaN for none."""


def inverse(number, x, y, p):
    """Projection ``number``'s inverse: the unit vector of a point of its plane, NaN outside."""


def _literal(number):
    if not isinstance(number, types.IntegerLiteral):
        raise TypingError(f"the projection number must be a compile-time constant, not {number}")
    return number.literal_value


@overload(forward, inline="always")
def _forward_of(number, lam, phi, ux, uy, uz, p):
    formula = _formula(_literal(number), "forward")
    return lambda number, lam, phi, ux, uy, uz, p: formula(lam, phi, ux, uy, uz, p)


@overload(inverse, inline="always")
def _inverse_of(number, x, y, p):
    formula = _formula(_literal(number), "inverse")
    return lambda number, x, y, p: formula(x, y, p)


@functools.cache
def forward_points(number: int):
    """The jitted ``(lam, phi, p, x, y)``: projection ``number``'s forward of 1-D arrays of
    longitudes and latitudes (radians) into ``x`` and ``y``."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    def project(lam, phi, p, xs, ys):
        assert stamp
        for i in range(lam.shape[0]):
            cos_phi = math.cos(phi[i])
            xs[i], ys[i] = forward(number, lam[i], phi[i], cos_phi * math.cos(lam[i]),
                                   cos_phi * math.sin(lam[i]), math.sin(phi[i]), p)

    return project


@functools.cache
def inverse_points(number: int):
    """The jitted ``(x, y, p, vectors)``: projection ``number``'s inverse of 1-D arrays of plane
    coordinates into unit vectors (N, 3)."""
    stamp = SOURCE_FINGERPRINT

    @ngjit_vector
    def unproject(xs, ys, p, vectors):
        assert stamp
        for i in range(xs.shape[0]):
            vectors[i, 0], vectors[i, 1], vectors[i, 2] = inverse(number, xs[i], ys[i], p)

    return unproject


def project(name: str, lam, phi, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) on the unit sphere of longitudes and latitudes in radians (any shape), NaN where
    the projection ``name`` shows no point."""
    entry = projections.projection(name)
    lam, phi = np.broadcast_arrays(np.asarray(lam, np.float64), np.asarray(phi, np.float64))
    xs, ys = np.empty(lam.size), np.empty(lam.size)
    forward_points(projections.number(entry.name))(
        np.ascontiguousarray(lam).ravel(), np.ascontiguousarray(phi).ravel(),
        np.array(entry.params(options or {}), np.float64), xs, ys)
    return xs.reshape(lam.shape), ys.reshape(lam.shape)


def unproject(name: str, x, y, options: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes in radians of plane points (any shape), NaN outside the outline."""
    entry = projections.projection(name)
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    vectors = np.empty((x.size, 3))
    inverse_points(projections.number(entry.name))(
        np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel(),
        np.array(entry.params(options or {}), np.float64), vectors)
    lam = np.arctan2(vectors[:, 1], vectors[:, 0])
    phi = np.arcsin(np.clip(vectors[:, 2], -1.0, 1.0))
    return lam.reshape(x.shape), phi.reshape(x.shape)
