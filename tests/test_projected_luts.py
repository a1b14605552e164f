"""LUTs of every projection as output and as input, in random aspects on both sides: equal to the
plain-numpy reference, the identity where a projection meets itself, every backend alike."""

import random

import numpy as np
import pytest

from polewarp import GeometrySpec, build_lut
from polewarp.engine import projections

from . import projected_reference
from .formula_cases import all_cases

NAMES = sorted(all_cases())


def _odd(rng, low, high):
    return rng.randrange(low, high) | 1


def _aspect(rng, prefix=""):
    return {f"{prefix}center": (rng.uniform(-90, 90), rng.uniform(-180, 180)), f"{prefix}heading": rng.uniform(0, 360)}


def _options(rng, name, side):
    """Random values of the projection options a projection takes, named for one side."""
    entry = projections.projection(name)
    prefix = "" if side == "to" else "from_"
    chosen = {}
    if "lat_limit" in entry.options:
        chosen[prefix + "lat_limit"] = rng.uniform(60, 89)
    if "lat_ts" in entry.options:
        chosen[prefix + "lat_ts"] = rng.uniform(-60, 60)
    if entry.radius is not None:
        default, low, high, closed = entry.radius
        chosen[prefix + "radius"] = rng.uniform(low + (high - low) * 0.2, high - (0 if closed else 1))
    return chosen


def random_spec(seed: int, to: str, source: str) -> GeometrySpec:
    rng = random.Random(seed)
    input_size = (_odd(rng, 41, 161), _odd(rng, 31, 121))
    output_size = (_odd(rng, 41, 161), _odd(rng, 31, 121))
    return GeometrySpec(input_size, output_size, to=to, source=source, **_aspect(rng), **_aspect(rng, "from_"),
                        **_options(rng, to, "to"), **_options(rng, source, "from"))


def partner(name: str) -> str:
    """A fixed other projection for each, so that the pairs cover every one on both sides."""
    return NAMES[(NAMES.index(name) + 7) % len(NAMES)]


# Each projection with itself and with a partner: every one on both sides, once across.
PAIRS = [(name, name) for name in NAMES] + [(name, partner(name)) for name in NAMES]


def assert_lut_equals_reference(spec):
    lut = build_lut(spec, backend="serial").array
    expected, trusted = projected_reference.nearest_lut(spec)
    assert trusted.mean() > 0.9, f"only {trusted.mean():.1%} of the pixels are away from edges"
    wrong = np.argwhere((lut != expected).any(axis=-1) & trusted)
    assert len(wrong) == 0, (f"{len(wrong)} pixels differ, e.g. {wrong[:3].tolist()}: "
                             f"{lut[tuple(wrong[0])].tolist()} != {expected[tuple(wrong[0])].tolist()}")


@pytest.mark.parametrize(("to", "source"), PAIRS)
@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_lut_equals_the_numpy_reference(to, source, seed):
    assert_lut_equals_reference(random_spec(seed * 1000 + NAMES.index(to), to, source))


@pytest.mark.parametrize("name", NAMES)
def test_a_projection_to_itself_is_the_identity(name):
    """Same projection, aspect, options and size on both sides: every pixel inside the outline is its own source."""
    rng = random.Random(NAMES.index(name))
    aspect, options = _aspect(rng), _options(rng, name, "to")
    same_input = {"from_" + key: value for key, value in {**aspect, **options}.items()}
    entry = projections.projection(name)
    width = _odd(rng, 61, 161)
    size = (width, entry.natural_height(width, {k: v for k, v in options.items()}))
    spec = GeometrySpec(size, size, to=name, source=name, **aspect, **options, **same_input)
    lut = build_lut(spec, backend="serial").array
    rows, cols = np.mgrid[0:size[1], 0:size[0]]
    inside = lut[..., 0] != np.iinfo(lut.dtype).max
    assert inside.mean() > 0.5
    assert np.array_equal(lut[inside, 0], rows[inside]) and np.array_equal(lut[inside, 1], cols[inside])
    lon, _, near = projected_reference.output_directions(spec)
    assert np.array_equal(inside[~near], np.isfinite(lon)[~near]), "a source exactly where the outline holds one"


@pytest.mark.slow  # a pool per projection, and a prange kernel compiled per projection
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("backend", ["processes", "threads", "prange"])
def test_every_backend_builds_every_projection_alike(name, backend):
    spec = random_spec(7 + NAMES.index(name), name, name)
    serial = build_lut(spec, backend="serial").array
    assert np.array_equal(build_lut(spec, backend=backend, workers=2, rows_per_task=7).array, serial)


@pytest.mark.parametrize("name", ["mollweide", "orthographic", "cylindrical-equal-area"])
def test_bilinear_positions_follow_the_nearest_coordinates(name):
    """Bilinear LUTs hold the same coordinates in 1/256 pixel from the first pixel's centre: floor of
    the nearest LUT's coordinates agrees wherever both are away from an edge."""
    spec = random_spec(11, name, "equirectangular")
    bilinear = build_lut(GeometrySpec(spec.input_size, spec.output_size, geometry=spec.geometry,
                                      resample="bilinear"), backend="serial").array
    px, py, trusted = projected_reference.source_coordinates(spec)
    none = np.isnan(px)
    assert np.array_equal(bilinear[..., 0] == np.iinfo(np.uint32).max, none)
    in_h, in_w = spec.input_shape
    fixed = [(np.nan_to_num(v) - 0.5) * 256 + 0.5 for v in (py, px)]
    expected_row = np.clip(np.floor(fixed[0]), 0, (in_h - 1) * 256)
    expected_col = np.floor(fixed[1]) % (in_w * 256)  # an equirectangular input wraps
    ok = trusted & ~none & (np.abs(fixed[0] % 1 - 0.5) < 0.49) & (np.abs(fixed[1] % 1 - 0.5) < 0.49)
    assert ok.mean() > 0.5
    assert np.array_equal(bilinear[ok, 0], expected_row[ok].astype(np.uint32))
    assert np.array_equal(bilinear[ok, 1], expected_col[ok].astype(np.uint32))
