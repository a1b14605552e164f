"""Each projection's formulas: the forward against PROJ (or mpmath where PROJ is off), at dense
grids over the whole outline and at PROJ's own test points; the inverse by its residual; the
numpy references against the kernels; the registry's bounds against the forward."""

import math

import numpy as np
import pytest

from polewarp.engine import projections
from polewarp.engine.fills import project, unproject

from .formula_cases import all_cases

CASES = all_cases()
PARAMS = [(name, i) for name, case in sorted(CASES.items()) for i in range(len(case.options))]


def _option_id(value):
    name, i = value if isinstance(value, tuple) else (value, None)
    return f"{name}-{i}" if i else name


def dense_grid(n_lon=361, n_lat=181):
    """Longitudes and latitudes (radians) over the whole sphere, the edges and poles included."""
    lam = np.linspace(-math.pi, math.pi, n_lon)
    phi = np.linspace(-math.pi / 2, math.pi / 2, n_lat)
    return np.meshgrid(lam, phi)


def proj_forward(name, options, lam, phi):
    from pyproj import Proj

    x, y = Proj(projections.projection(name).proj(options))(lam, phi, radians=True, errcheck=False)
    x, y = np.asarray(x, float), np.asarray(y, float)
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (np.abs(x) > 1e30)
    return np.where(bad, np.nan, x), np.where(bad, np.nan, y)


def assert_close(actual, expected, tolerance, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    both = np.isfinite(actual) & np.isfinite(expected)
    assert np.array_equal(np.isfinite(actual), np.isfinite(expected)), f"{what}: NaN in different places"
    if both.any():
        error = np.abs(actual[both] - expected[both]).max()
        assert error <= tolerance, f"{what}: off by {error:.3g} (tolerance {tolerance:.3g})"


@pytest.mark.parametrize("case", PARAMS, ids=_option_id)
def test_forward_agrees_with_its_reference(case):
    name, i = case
    spec, options = CASES[name], CASES[name].options[i]
    lam, phi = dense_grid()
    x, y = project(name, lam, phi, options)
    if spec.precise_forward is None:
        ex, ey = proj_forward(name, options, lam, phi)
    else:
        points = [spec.precise_forward(a, b, options) for a, b in zip(lam.ravel(), phi.ravel(), strict=True)]
        ex, ey = (np.array(v, float).reshape(lam.shape) for v in zip(*points, strict=True))
    assert_close(x, ex, spec.tolerance, f"{name} x")
    assert_close(y, ey, spec.tolerance, f"{name} y")


@pytest.mark.parametrize("case", PARAMS, ids=_option_id)
def test_numpy_reference_agrees_with_the_kernels(case):
    name, i = case
    spec, options = CASES[name], CASES[name].options[i]
    lam, phi = dense_grid(97, 49)
    x, y = project(name, lam, phi, options)
    nx, ny = spec.numpy_forward(lam, phi, options)
    assert_close(x, nx, 1e-12, f"{name} numpy forward x")
    assert_close(y, ny, 1e-12, f"{name} numpy forward y")
    px, py = plane_grid(name, options)
    lam, phi = unproject(name, px, py, options)
    nlam, nphi = spec.numpy_inverse(px, py, options)
    assert_close(np.cos(phi) * np.cos(lam), np.cos(nphi) * np.cos(nlam), 1e-9, f"{name} numpy inverse")
    assert_close(np.cos(phi) * np.sin(lam), np.cos(nphi) * np.sin(nlam), 1e-9, f"{name} numpy inverse")
    assert_close(np.sin(phi), np.sin(nphi), 1e-9, f"{name} numpy inverse")


@pytest.mark.parametrize("name", sorted(CASES))
def test_proj_test_points(name):
    spec = CASES[name]
    for (lon, lat), (ex, ey), tolerance in spec.gie:
        x, y = project(name, math.radians(lon), math.radians(lat), spec.options[0])
        assert abs(x - ex) <= tolerance and abs(y - ey) <= tolerance, (lon, lat, x, y, ex, ey)


def plane_grid(name, options, n=201):
    """Plane points over the projection's whole image [-X, X] x [-Y, Y] and a little beyond."""
    x_edge, y_edge = projections.projection(name).bounds(options)
    x = np.linspace(-1.02 * x_edge, 1.02 * x_edge, n)
    y = np.linspace(-1.02 * y_edge, 1.02 * y_edge, n)
    return np.meshgrid(x, y)


@pytest.mark.parametrize("case", PARAMS, ids=_option_id)
def test_inverse_residual(case):
    name, i = case
    spec, options = CASES[name], CASES[name].options[i]
    x, y = plane_grid(name, options)
    lam, phi = unproject(name, x, y, options)
    inside = np.isfinite(lam)
    assert inside.mean() > 0.3, "the inverse finds almost nothing inside the image"
    fx, fy = project(name, lam[inside], phi[inside], options)
    judged = ~spec.inverse_excluded(x[inside], y[inside], options)
    residual = np.hypot(fx - x[inside], fy - y[inside])[judged]
    assert np.isfinite(residual).all(), f"{name}: the forward loses points its inverse found"
    assert residual.max() <= 1e-9, f"{name}: residual {residual.max():.3g}"


@pytest.mark.parametrize("case", PARAMS, ids=_option_id)
def test_registry_bounds_are_the_forwards_edges(case):
    """X is the x of (180, 0); Y the y of (0, the top latitude) or, azimuthal, of the radius."""
    name, i = case
    entry, options = projections.projection(name), CASES[name].options[i]
    x_edge, y_edge = entry.bounds(options)
    if entry.azimuthal:  # the point at the radius due east of the centre (just short of the antipode)
        rho = math.radians(options.get("radius") or entry.radius[0])
        x, _ = project(name, min(rho, math.pi * (1 - 1e-15)), 0.0, options)
        assert x == pytest.approx(x_edge, rel=1e-12) and x_edge == y_edge
        return
    x, _ = project(name, math.pi, 0.0, options)
    top = options.get("lat_limit") or 90.0
    if name == "mercator" and options.get("lat_limit") is None:
        top = math.degrees(math.atan(math.sinh(projections.DEFAULT_MERCATOR_EXTENT)))
    _, y = project(name, 0.0, math.radians(top), options)
    assert x == pytest.approx(x_edge, rel=1e-12)
    assert y == pytest.approx(y_edge, rel=1e-12)
