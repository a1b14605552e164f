"""GeometrySpec: validation and normalisation, and the rotation checked against PROJ."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polewarp import GeometrySpec, build_lut, reproject
from polewarp.engine.cache import cache_key
from polewarp.engine.errors import SpecError

from . import reference
from .conftest import make_map

angles = st.floats(-1e4, 1e4, allow_nan=False)
latitudes = st.floats(-90, 90, allow_nan=False)


def test_defaults_are_the_old_scripts_aspect():
    spec = GeometrySpec((720, 360))
    assert spec.is_default_aspect()
    assert spec.output_size == (720, 360)
    centre, east, pole = spec.geometry.frames()[0]
    assert centre == (1.0, 0.0, 0.0) and pole == (0.0, 1.0, 0.0)
    assert east == (0.0, 0.0, -1.0)


def test_equal_geometries_share_a_key():
    a = GeometrySpec((100, 50), center=(0.1 + 0.2, -0.0), heading=-0.0)
    b = GeometrySpec((100, 50), center=(0.3, 0.0), heading=360.0)
    assert a == b and cache_key(a) == cache_key(b)
    assert cache_key(a) != cache_key(GeometrySpec((100, 50), center=(0.3, 0.0), heading=1e-6))


@given(lat=latitudes, lon=angles, heading=angles)
def test_turns_of_360_degrees_change_nothing(lat, lon, heading):
    a = GeometrySpec((10, 5), center=(lat, lon), heading=heading)
    b = GeometrySpec((10, 5), center=(lat, lon + 360.0), heading=heading - 720.0)
    assert -180 < a.center[1] <= 180 and 0 <= a.heading < 360
    for u, v in zip(a.geometry.frames()[0], b.geometry.frames()[0], strict=True):
        np.testing.assert_allclose(u, v, atol=1e-9)


@given(lat=latitudes, lon=angles, heading=angles)
def test_rotation_is_orthonormal(lat, lon, heading):
    c, e, p = (np.array(v) for v in GeometrySpec((10, 5), center=(lat, lon), heading=heading).geometry.frames()[0])
    np.testing.assert_allclose(np.array([c, e, p]) @ np.array([c, e, p]).T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.cross(p, c), e, atol=1e-15)


@pytest.mark.parametrize("kwargs,message", [
    (dict(center=(91, 0)), "latitude"),
    (dict(center=(math.nan, 0)), "finite"),
    (dict(heading=math.inf), "finite"),
    (dict(lat_limit=90), "below 90"),
    (dict(to="equirectangular", lat_limit=0), "above 0"),
    (dict(source="mercator", input_lat_limit=90), "below 90"),
    (dict(source="mollweide", input_lat_limit=80), "does not apply to mollweide"),
    (dict(to="stereographc"), "unknown projection .stereographc. .did you mean stereographic"),
    (dict(output_size=(0, 5)), "from 1"),
    (dict(legacy=True, heading=0), "legacy"),
    (dict(legacy=True, source="mercator"), "legacy"),
])
def test_nonsense_is_refused(kwargs, message):
    with pytest.raises(SpecError, match=message):
        GeometrySpec((10, 5), **kwargs)


def test_round_trip_through_dict():
    spec = GeometrySpec((10, 5), center=(12.5, -40), heading=33, to="equirectangular",
                        source="mercator", lat_limit=70)
    assert GeometrySpec.from_dict(spec.to_dict()) == spec


def test_equirectangular_identity_returns_the_input():
    pixels = make_map(91, 45)
    out = reproject(pixels, heading=0, to="equirectangular")
    np.testing.assert_array_equal(out, pixels)


def test_mercator_identity_returns_the_input():
    pixels = make_map(90, 91, seed=3)
    out = reproject(pixels, heading=0, to="mercator", source="mercator", lat_limit=85.0511287798)
    np.testing.assert_array_equal(out, pixels)


def _random_geometries(count, seed=20261125):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        lat = float(rng.choice([rng.uniform(-90, 90), rng.choice([-90.0, 0.0, 45.0, 90.0])]))
        yield dict(
            center=(lat, float(rng.uniform(-180, 180))),
            heading=float(rng.uniform(0, 360)),
            to=str(rng.choice(["mercator", "equirectangular"])),
            source=str(rng.choice(["mercator", "equirectangular"])),
            output_size=(int(rng.integers(8, 60)) | 1, int(rng.integers(6, 40)) | 1),
            input_size=(int(rng.integers(16, 400)) | 1, int(rng.integers(8, 200)) | 1),
            lat_limit=None if rng.random() < 0.5 else float(rng.uniform(30, 89)),
        )


def _proj_lut(spec: GeometrySpec, proj_string: str):
    """The LUT PROJ's ob_tran implies, and which pixels are trustworthy (not on an edge or pole)."""
    from pyproj import Proj

    width, height = spec.output_size
    extent = spec.output.bounds(spec.options("to"))[1]
    s, t = reference.pixel_centres(width, height, extent)
    lon, lat = Proj(proj_string)(s, t, inverse=True, radians=True)
    in_w, in_h = spec.input_size
    if spec.source == "mercator":
        x, y = reference.mercator_coords(lat, lon, in_w, in_h, spec.input_lat_limit)
    else:
        x, y = reference.equirect_coords(lat, lon, in_w, in_h)
    expected = reference.lut_from_coords(x, y, in_w, in_h, spec.source == "mercator")
    with np.errstate(invalid="ignore"):
        trusted = (np.abs(x - np.round(x)) > 1e-9) & ~(np.abs(y - np.round(y)) <= 1e-9)
    trusted &= np.abs(lat) < math.pi / 2 - 1e-7
    return expected, trusted


@pytest.mark.parametrize("index,geometry", list(enumerate(_random_geometries(240))))
def test_lut_agrees_with_proj(index, geometry):
    spec = GeometrySpec(**geometry)
    expected, trusted = _proj_lut(spec, reference.proj_string(*spec.center, spec.heading, spec.to))
    lut = build_lut(spec, backend="serial").array
    assert trusted.mean() > 0.9
    np.testing.assert_array_equal(lut[trusted], expected[trusted])


def test_reference_rotation_agrees_with_proj():
    """The vector formula of docs/geometry.md and PROJ's ob_tran string are the same rotation."""
    from pyproj import Proj

    rng = np.random.default_rng(7)
    for _ in range(20):
        lat0, lon0, heading = rng.uniform(-89, 89), rng.uniform(-180, 180), rng.uniform(0, 360)
        lat_r, lon_r = rng.uniform(-1.5, 1.5, 50), rng.uniform(-3.1, 3.1, 50)
        lat, lon = reference.rotated_to_geographic(lat_r, lon_r, lat0, lon0, heading)
        plon, plat = Proj(reference.proj_string(lat0, lon0, heading, "equirectangular"))(
            lon_r, lat_r, inverse=True, radians=True)
        np.testing.assert_allclose(plat, lat, atol=1e-12)
        np.testing.assert_allclose(np.angle(np.exp(1j * (plon - lon))), 0, atol=1e-11)


def _ulps(value, exact):
    return abs(value - exact) / math.ulp(exact) if exact else abs(value)


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=True))
def test_polynomial_atan_is_within_two_ulp_of_libm(x):
    """The vectorisable atan of the LUT fill, against libm (itself within an ulp of exact)."""
    from polewarp.engine.kernels import _atan

    assert _ulps(_atan(x), math.atan(x)) <= 2


def test_polynomial_atan_on_a_dense_sweep_and_at_its_seams():
    from polewarp.engine.kernels import TAN_3PI_8, TAN_PI_8, _atan

    seams = [v * k for v in (TAN_PI_8, TAN_3PI_8, 1.0) for k in (1 - 2**-52, 1.0, 1 + 2**-52)]
    values = np.concatenate([np.geomspace(1e-12, 1e12, 20000), seams, [0.0, math.inf]])
    for x in np.concatenate([values, -values]):
        assert _ulps(_atan(float(x)), math.atan(x)) <= 2, x
    assert _atan(1.0) == math.pi / 4 and _atan(math.inf) == math.pi / 2 and _atan(0.0) == 0.0


@pytest.mark.parametrize(("to", "source", "size", "expected"), [
    ("mercator", "equirectangular", None, (720, 360)),
    ("equirectangular", "mercator", None, (720, 360)),
    ("mollweide", "equirectangular", None, (720, 360)),
    ("orthographic", "equirectangular", None, (720, 720)),
    ("equirectangular", "orthographic", None, (720, 360)),
    ("winkel-tripel", "equirectangular", 500, (500, 306)),
    ("mercator", "equirectangular", (500,), (500, 486)),
    ("orthographic", "equirectangular", (300, 200), (300, 200)),
])
def test_output_size_follows_the_projection(to, source, size, expected):
    assert GeometrySpec((720, 360), size, to=to, source=source).output_size == expected


def test_changing_a_projection_drops_the_old_ones_options():
    from polewarp.engine.geometry import Geometry

    assert GeometrySpec((64, 32), geometry=Geometry(to="orthographic"), to="aeqd").radius == 180.0
    assert GeometrySpec((64, 32), geometry=Geometry(to="cea", lat_ts=20), to="merc").to == "mercator"
    assert GeometrySpec((64, 32), geometry=Geometry(from_="mercator"), source="mollweide").from_ == "mollweide"


def test_a_cylinders_default_top_written_out_shares_the_key():
    assert cache_key(GeometrySpec((64, 32), to="eqc", lat_limit=90, from_lat_limit=90.0)) == \
        cache_key(GeometrySpec((64, 32), to="eqc"))


def test_legacy_takes_a_whole_globe_input_only():
    with pytest.raises(SpecError, match="legacy"):
        GeometrySpec((64, 32), legacy=True, from_lat_limit=30)


def test_reproject_takes_a_spec_or_keywords_not_both():
    from polewarp import reproject

    with pytest.raises(SpecError, match="not both"):
        reproject(np.zeros((32, 64, 3), np.uint8), GeometrySpec((64, 32)), to="orthographic")
