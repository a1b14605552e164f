"""The LUT build: the original script's LUT bit for bit, the accurate one against numpy and PROJ,
and every backend equal to the serial build."""

import hashlib

import numpy as np
import pytest

from polewarp import GeometrySpec, build_lut
from polewarp.engine.backends import LutBuilder, auto_rows_per_task, row_blocks
from polewarp.engine.lut import lut_dtype

from . import reference

LEGACY_SHA256 = {
    (720, 360): "1c243e618a0b5243b662f04a27389f2d157619a5d6c65d3fbd15aa25e1d9d1b8",
    (2048, 1024): "79366da6e6cc0720d1a945dc49a7b29db5089774976c36538fc8daaf7941073c",
}


@pytest.mark.parametrize("size", sorted(LEGACY_SHA256))
def test_legacy_lut_matches_the_old_scripts_checksum(size):
    lut = build_lut(GeometrySpec(size, legacy=True), backend="serial")
    data = np.ascontiguousarray(lut.array).astype("<u2").tobytes()
    assert hashlib.sha256(data).hexdigest() == LEGACY_SHA256[size]


@pytest.mark.parametrize("size", [(333, 167), (720, 360), (1001, 500), (7, 3)])
def test_legacy_lut_equals_reference(size):
    lut = build_lut(GeometrySpec(size, legacy=True), backend="serial")
    np.testing.assert_array_equal(lut.array, reference.legacy_lut(*size))


@pytest.mark.parametrize("size", [(333, 167), (720, 360), (1001, 500), (2048, 1024), (5, 3)])
def test_accurate_lut_equals_reference(size):
    lut = build_lut(GeometrySpec(size), backend="serial")
    np.testing.assert_array_equal(lut.array, reference.accurate_lut(*size))


@pytest.mark.parametrize("size", [(333, 167), (1001, 500)])
def test_accurate_lut_agrees_with_proj(size):
    from pyproj import Proj

    width, height = size
    s, t = reference.pixel_centres(width, height, reference.T_LEGACY)
    proj = Proj("+proj=ob_tran +o_proj=merc +R=1 +o_lat_p=0 +o_lon_p=-90 +lon_0=-90")
    lon, lat = proj(s, t, inverse=True, radians=True)
    x, y = reference.equirect_coords(lat, lon, width, height)
    expected = reference.lut_from_coords(x, y, width, height)
    lut = build_lut(GeometrySpec(size), backend="serial").array
    # Within 1e-9 pixel of an edge (the seam, x = 0 or W, included) the last bit decides.
    trusted = (np.abs(x - np.round(x)) > 1e-9) & (np.abs(y - np.round(y)) > 1e-9)
    assert trusted.mean() > 0.99
    np.testing.assert_array_equal(lut[trusted], expected[trusted])


@pytest.mark.parametrize("backend", ["processes", "threads", "prange"])
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("rows_per_task", [1, 7, 64, None])
def test_backends_equal_serial(backend, workers, rows_per_task):
    spec = GeometrySpec((97, 61), legacy=False)
    serial = build_lut(spec, backend="serial").array
    built = build_lut(spec, backend=backend, workers=workers, rows_per_task=rows_per_task)
    np.testing.assert_array_equal(built.array, serial)


@pytest.mark.parametrize("backend", ["processes", "threads", "prange"])
def test_legacy_backends_equal_serial(backend):
    spec = GeometrySpec((101, 53), legacy=True)
    np.testing.assert_array_equal(
        build_lut(spec, backend=backend, workers=2, rows_per_task=5).array,
        build_lut(spec, backend="serial").array,
    )


@pytest.mark.parametrize("backend", ["processes", "threads", "prange", "serial"])
def test_repeated_fills_in_place_and_builds_agree(backend):
    """The profiler's steady state (refilling the builder's own array) and fresh builds, in any
    order, give the serial LUT; scribbling on the builder's array does not leak into results."""
    spec = GeometrySpec((97, 61), resample="bilinear")
    serial = build_lut(spec, backend="serial").array
    with LutBuilder(spec, backend, 2) as builder:
        first = builder.build(7)
        own = builder.fill_in_place(5)
        np.testing.assert_array_equal(own, serial)
        own[:] = 0
        np.testing.assert_array_equal(builder.fill_in_place(), serial)
        np.testing.assert_array_equal(builder.build(3), serial)
    np.testing.assert_array_equal(first, serial)


def test_pool_after_prange_build():
    """Forking after numba's threading layer has run must still work."""
    spec = GeometrySpec((128, 64))
    first = build_lut(spec, backend="prange", workers=2).array
    second = build_lut(spec, backend="processes", workers=2, rows_per_task=3).array
    np.testing.assert_array_equal(first, second)


def test_progress_counts_every_row():
    done = []
    build_lut(GeometrySpec((50, 37)), backend="processes", workers=2, rows_per_task=4, progress=done.append)
    assert sum(done) == 37


def test_lut_is_read_only():
    lut = build_lut(GeometrySpec((8, 4)))
    assert not lut.array.flags.writeable


def test_dtype_grows_past_uint16():
    assert lut_dtype((65535, 10)) == np.uint16
    assert lut_dtype((65536, 10)) == np.uint32


def test_wide_input_uses_uint32_and_indexes_past_65535():
    spec = GeometrySpec((70000, 4), output_size=(700, 4), heading=0)
    lut = build_lut(spec)
    assert lut.array.dtype == np.uint32
    assert lut.array[..., 1].max() > 65535


@pytest.mark.parametrize("width,height,workers", [(2048, 1024, 2), (100, 10000, 4), (100000, 3, 1)])
def test_auto_rows_per_task_is_within_bounds(width, height, workers):
    rows = auto_rows_per_task(width, height, workers)
    assert 1 <= rows <= height
    blocks = row_blocks(height, rows)
    assert blocks[0][0] == 0 and blocks[-1][1] == height
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))


def test_bad_parallelism_is_refused():
    spec = GeometrySpec((8, 4))
    with pytest.raises(ValueError, match="workers"):
        build_lut(spec, workers=0)
    with pytest.raises(ValueError, match="rows per task"):
        build_lut(spec, rows_per_task=0)
    with pytest.raises(ValueError, match="backend"):
        build_lut(spec, backend="gpu")


@pytest.mark.parametrize("resample", ["nearest", "bilinear", "average"])
def test_luts_built_from_kept_planes_are_the_luts_built_without(resample):
    from polewarp.engine.geometry import Geometry
    from polewarp.engine.planes import PlaneCache
    from polewarp.engine.projections import PROJECTIONS

    planes = PlaneCache()
    for name in PROJECTIONS:
        for center, heading in (((12.5, 30), 17), ((-40, 100), 200)):
            spec = Geometry.of(to=name, center=center, heading=heading, resample=resample).spec((96, 48), (40,))
            for backend in ("serial", "threads"):
                built = build_lut(spec, backend, 2, planes=planes)
                assert np.array_equal(built.array, build_lut(spec, "serial", 1).array), (name, center, backend)
    # one set for each projection that is not a cylinder (a cylinder's vectors come from its terms)
    assert len(planes._kept) == sum(not entry.cylindrical for entry in PROJECTIONS.values())


def test_the_plane_cache_drops_the_least_recently_used_past_its_cap():
    from polewarp.engine.geometry import Geometry
    from polewarp.engine.planes import PlaneCache

    planes = PlaneCache(max_bytes=2 * 40 * 20 * 24)  # room for two 40x20 sets
    for name in ("mollweide", "hammer", "mollweide", "aitoff"):
        build_lut(Geometry.of(to=name).spec((96, 48), (40, 20)), "serial", 1, planes=planes)
    assert [key[0] for key in planes._kept] == ["mollweide", "aitoff"]
    assert PlaneCache(max_bytes=100).get(Geometry.of(to="hammer").spec((96, 48), (40, 20)), None, None) is None
