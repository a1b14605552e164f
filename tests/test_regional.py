"""Regional equirectangular inputs: a region equals the same region cut out of a whole-world map,
pixel for pixel; its extent from --from-bounds, a GeoTIFF's tags or a world file; bad bounds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from polewarp.engine.errors import FormatError, SpecError
from polewarp.engine.geometry import Geometry
from polewarp.engine.georef import input_extent
from polewarp.engine.lut import build_lut
from polewarp.engine.pipeline import ConvertRequest, convert_file
from tests.conftest import make_map

WIDTH, HEIGHT = 128, 64  # the whole map: 2.8125 degrees a pixel
OUT = (96, 96)


def _bounds(columns, r0, r1):
    west = -180.0 + columns[0] * 360.0 / WIDTH
    east = -180.0 + (columns[-1] + 1) * 360.0 / WIDTH
    return west, 90.0 - r1 * 180.0 / HEIGHT, east - 360.0 * (east > 180.0), 90.0 - r0 * 180.0 / HEIGHT


@pytest.mark.slow
@pytest.mark.parametrize("columns, r0, r1, center", [
    (range(40, 90), 10, 40, (20.0, -20.0)),
    ([*range(120, 128), *range(0, 8)], 5, 30, (30.0, 170.0)),  # across 180: east < west
    (range(0, 128), 5, 30, (60.0, 0.0)),  # all 360 degrees: the columns wrap
])
def test_a_region_is_the_same_region_of_the_whole_map(columns, r0, r1, center):
    columns = list(columns)
    geometry = Geometry.of(to="orthographic", center=center, heading=10.0)
    whole = build_lut(geometry.spec((WIDTH, HEIGHT), OUT), "serial")
    region = Geometry.of(to="orthographic", center=center, heading=10.0, from_bounds=_bounds(columns, r0, r1))
    cut = build_lut(region.spec((len(columns), r1 - r0), OUT), "serial")
    rows, cols = whole.array[..., 0].astype(np.int64), whole.array[..., 1].astype(np.int64)
    place = np.full(WIDTH, -1)
    place[columns] = np.arange(len(columns))
    shown = (rows != whole.missing) & (rows >= r0) & (rows < r1)
    shown &= place[np.where(shown, cols, 0)] >= 0
    expected = np.full(whole.array.shape, cut.missing, np.int64)
    expected[shown, 0], expected[shown, 1] = rows[shown] - r0, place[cols[shown]]
    assert shown.sum() > 1000
    np.testing.assert_array_equal(cut.array, expected)
    source = make_map(WIDTH, HEIGHT)
    from polewarp.engine.gather import apply_lut

    np.testing.assert_array_equal(apply_lut(cut, np.ascontiguousarray(source[r0:r1][:, columns])),
                                  apply_lut(whole, source) * shown[..., None])


def _convert(tmp_path, source, name, **geometry):
    out = tmp_path / name
    convert_file(ConvertRequest(source, out, Geometry.of(to="orthographic", center=(40.0, 15.0), heading=0.0,
                                                         **geometry), size=(48,)))
    return np.asarray(Image.open(out))


@pytest.mark.slow
def test_extent_from_a_geotiff_and_a_world_file(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    pixels = make_map(60, 40)
    with rasterio.open(tmp_path / "region.tif", "w", driver="GTiff", width=60, height=40, count=3, dtype="uint8",
                       crs="EPSG:4326", transform=Affine(1.5, 0, -30, 0, -1.5, 70)) as dataset:
        dataset.write(np.moveaxis(pixels, -1, 0))
    assert input_extent(tmp_path / "region.tif", (60, 40)) == (-30.0, 10.0, 60.0, 70.0)
    Image.fromarray(pixels).save(tmp_path / "region.png")
    (tmp_path / "region.pgw").write_text("1.5\n0\n0\n-1.5\n-29.25\n69.25\n")  # the upper-left pixel's centre
    assert input_extent(tmp_path / "region.png", (60, 40)) == (-30.0, 10.0, 60.0, 70.0)
    given = _convert(tmp_path, tmp_path / "region.png", "given.png", from_bounds=(-30, 10, 60, 70))
    np.testing.assert_array_equal(_convert(tmp_path, tmp_path / "region.tif", "tif.png"), given)
    np.testing.assert_array_equal(_convert(tmp_path, tmp_path / "region.png", "pgw.png"), given)


def test_a_projected_geotiff_is_refused_by_name(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    with rasterio.open(tmp_path / "utm.tif", "w", driver="GTiff", width=6, height=4, count=1, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(1000, 0, 0, 0, -1000, 4000)) as dataset:
        dataset.write(np.zeros((1, 4, 6), np.uint8))
    with pytest.raises(FormatError, match=r"projected CRS \(EPSG:32633\)"):
        input_extent(tmp_path / "utm.tif", (6, 4))


def test_a_world_file_in_metres_is_refused(tmp_path):
    Image.new("RGB", (6, 4)).save(tmp_path / "m.png")
    (tmp_path / "m.pgw").write_text("1000\n0\n0\n-1000\n500000\n4000000\n")
    with pytest.raises(FormatError, match="not in degrees"):
        input_extent(tmp_path / "m.png", (6, 4))
    assert input_extent(tmp_path / "none.png", (6, 4)) is None


@pytest.mark.parametrize("bounds, message", [
    ((-200, 0, 10, 20), "within -180..180"),
    ((0, -95, 10, 20), "south < north"),
    ((0, 30, 10, 20), "south < north"),
    ((0, 20, 10, 20), "south < north"),
    ((0, 0, 10), "four numbers"),
    ((0, float("nan"), 10, 20), "finite"),
])
def test_bad_bounds(bounds, message):
    with pytest.raises(SpecError, match=message) as caught:
        Geometry.of(from_bounds=bounds)
    assert caught.value.param in ("from_bounds", None)


def test_bounds_need_a_normal_equirectangular_input():
    with pytest.raises(SpecError, match="equirectangular input, not mercator"):
        Geometry.of(from_="mercator", from_bounds=(0, 0, 10, 20))
    with pytest.raises(SpecError, match="give no --from-lat-limit, --from-center"):
        Geometry.of(from_center=(10.0, 0.0), from_bounds=(0, 0, 10, 20))


def test_the_whole_world_is_no_region_and_keeps_the_key():
    whole = Geometry.of(from_bounds=(-180, -90, 180, 90))
    assert whole == Geometry() and "from_bounds" not in whole.to_dict()
    assert Geometry.of(from_bounds=(0, -90, 0, 90)) == Geometry()
    region = Geometry.of(from_bounds=(170, -10, -170, 10))
    assert region.region_middle() == 180.0 and not region.input_wraps()
    assert Geometry.from_dict(region.to_dict()) == region
    assert Geometry.of(from_bounds=(0, -10, 0, 10)).input_wraps()  # a band all round


def test_cli_from_bounds(runner, tmp_path):
    from polewarp.cli import cli

    result = runner.invoke(cli, ["convert", "-o", str(tmp_path / "x.png"), "--from-bounds", "0,0,10"])
    assert result.exit_code == 2 and "--from-bounds" in result.output
    result = runner.invoke(cli, ["convert", "-o", str(tmp_path / "x.png"), "--from-bounds", "0,10,20,10"])
    assert result.exit_code == 2 and "south < north" in result.output
