"""GIS georeferencing: what GDAL (through rasterio) reads back from polewarp's files places every
pixel where polewarp's own forward formulas put it; the form chosen per geometry; the sidecars."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from polewarp.engine import georef
from polewarp.engine.errors import FormatError, PolewarpError
from polewarp.engine.geometry import Geometry
from polewarp.engine.imageio import EncoderOptions, Picture
from polewarp.engine.pipeline import ConvertRequest, convert_file
from polewarp.engine.plan import plan
from polewarp.engine.projections import NAMES, projection
from tests.conftest import make_map

rasterio = pytest.importorskip("rasterio")
pyproj = pytest.importorskip("pyproj")

SIZE = (160, 96)
STEP = 97  # every 97th pixel centre, row-major
ON = EncoderOptions(georef=True)


def _expected_form(geometry: Geometry) -> str:
    normal = geometry.center[0] == 0.0 and geometry.heading in (0.0, 180.0)
    if geometry.to == "mercator":
        return "geotiff" if normal else "hotine"
    coded = geometry.to in georef._CODES and (geometry.output.azimuthal or normal)
    return "geotiff" if coded else "pam"


def _aspects():
    """Every projection in a random aspect and in its normal aspect (north or south up), and
    Mercator centred at both poles."""
    rng = np.random.default_rng(20)
    cases = []
    for name in NAMES:
        lat, lon, heading = rng.uniform(-89, 89), rng.uniform(-180, 180), rng.uniform(0, 360)
        cases.append(Geometry.of(to=name, center=(round(lat, 3), round(lon, 3)), heading=round(heading, 3)))
        cases.append(Geometry.of(to=name, center=(0.0, round(lon, 3)), heading=float(rng.choice([0.0, 180.0]))))
    cases += [Geometry.of(to="mercator", center=(90.0, 30.0), heading=12.0),
              Geometry.of(to="mercator", center=(-90.0, -100.0), heading=250.0),
              Geometry.of(to="cylindrical-equal-area", center=(0.0, 10.0), heading=0.0, lat_ts=30.0),
              Geometry.of(to="stereographic", center=(90.0, 45.0), heading=0.0, radius=60.0)]
    return cases


def _written(tmp_path, geometry: Geometry, suffix=".tif", size=SIZE) -> tuple:
    """A georeferenced file of ``geometry`` (its pixels do not matter here) and its Georef."""
    path = tmp_path / f"map{suffix}"
    picture = Picture(np.zeros((size[1], size[0], 3), np.uint8), "RGB")
    spec = geometry.spec((64, 32), size)
    georef.write_map(path, picture, ON, spec)
    return path, georef.georef_for(geometry, size)


def _pixels_back(path, geometry: Geometry):
    """Every STEP-th pixel centre through the file's transform and CRS (as GDAL reads them) to
    longitude and latitude with PROJ, then through polewarp's forward back to output pixels:
    (column, row) started from, (column, row) come back to, where PROJ shows a point."""
    from polewarp.engine import fills

    with rasterio.open(path) as dataset:
        assert dataset.crs is not None, f"GDAL reads no CRS from {path.name}"
        crs = pyproj.CRS.from_wkt(dataset.crs.to_wkt())
        transform, (height, width) = dataset.transform, dataset.shape
    index = np.arange(0, width * height, STEP)
    col, row = index % width + 0.5, index // width + 0.5
    x = transform.c + transform.a * col + transform.b * row
    y = transform.f + transform.d * col + transform.e * row
    to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = to_lonlat.transform(x, y)
    # a point off the outline (the corners of a Mollweide map) has no place: PROJ's inverse may
    # still answer, so keep the points whose lon/lat PROJ takes back to where they were
    x2, y2 = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True).transform(lon, lat)
    scale = abs(transform.a) + abs(transform.b)
    shown = np.isfinite(lon) & (np.hypot(x2 - x, y2 - y) < 1e-6 * scale)
    lam, phi = np.radians(lon[shown]), np.radians(lat[shown])
    v = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
    c, q, p = (np.array(axis) for axis in geometry.frames()[0])
    lam_r, phi_r = np.arctan2(v @ q, v @ c), np.arcsin(np.clip(v @ p, -1.0, 1.0))
    xs, ys = fills.project(geometry.to, lam_r, phi_r, geometry.options("to"))
    x_edge, y_edge = geometry.output.bounds(geometry.options("to"))
    back = ((xs + x_edge) / (2 * x_edge) * width, (y_edge - ys) / (2 * y_edge) * height)
    return (col[shown], row[shown]), back, shown


@pytest.mark.slow
@pytest.mark.parametrize("geometry", _aspects(), ids=lambda g: f"{g.to}@{g.center[0]:g},{g.center[1]:g},{g.heading:g}")
def test_gdal_places_every_pixel_where_polewarp_does(tmp_path, geometry):
    path, ref = _written(tmp_path, geometry)
    assert ref.form == _expected_form(geometry)
    assert (tmp_path / "map.tif.aux.xml").exists() == (ref.form == "pam")
    (col, row), (col2, row2), shown = _pixels_back(path, geometry)
    assert shown.mean() > 0.5
    entry = projection(geometry.to)
    tolerance = 1e-3 if entry.iterative_forward or entry.iterative_inverse else 1e-6
    assert np.nanmax(np.hypot(col2 - col, row2 - row)) < tolerance
    assert np.isfinite(col2).all()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("geometry", [Geometry(), Geometry.of(to="stereographic", center=(-60.0, 20.0), heading=200.0),
                                      Geometry.of(to="hammer", center=(10.0, -40.0), heading=300.0)],
                         ids=lambda g: g.to)
def test_gdal_places_png_and_jpeg_through_their_sidecars(tmp_path, geometry, suffix):
    path, _ = _written(tmp_path, geometry, suffix)
    (col, row), (col2, row2), _ = _pixels_back(path, geometry)
    assert np.nanmax(np.hypot(col2 - col, row2 - row)) < 1e-6


def test_the_geotiff_keys(tmp_path):
    """Hotine variant B as GeoTIFF's code 9815 with PixelIsArea, the sphere's radius, metres;
    an azimuthal map's heading as ModelTransformation."""
    path, ref = _written(tmp_path, Geometry.of(to="mercator", center=(30.0, 10.0), heading=20.0))
    with Image.open(path) as image:
        keys = image.tag_v2[34735]
        doubles = image.tag_v2[34736]
        assert 33550 in image.tag_v2 and 33922 in image.tag_v2 and 34264 not in image.tag_v2
    entries = {keys[i]: keys[i + 1:i + 4] for i in range(4, len(keys), 4)}
    assert entries[1025] == (0, 1, 1)  # GTRasterTypeGeoKey: PixelIsArea
    assert entries[3075] == (0, 1, georef.HOTINE_B)
    assert entries[3076] == (0, 1, 9001)  # metres
    assert doubles[entries[2057][2]] == doubles[entries[2058][2]] == georef.EARTH_RADIUS
    path, ref = _written(tmp_path, Geometry.of(to="orthographic", center=(40.0, 10.0), heading=30.0))
    with Image.open(path) as image:
        assert 34264 in image.tag_v2 and 33550 not in image.tag_v2


def test_earth_radius_is_the_crs_sphere(tmp_path):
    geometry = Geometry.of(to="mercator", center=(0.0, 0.0), heading=0.0)
    path = tmp_path / "r.tif"
    georef.write_map(path, Picture(np.zeros((8, 16, 1), np.uint8), "L"), EncoderOptions(earth_radius=1000.0),
                     geometry.spec((64, 32), (16, 8)))
    with rasterio.open(path) as dataset:
        assert pyproj.CRS.from_wkt(dataset.crs.to_wkt()).ellipsoid.semi_major_metre == 1000.0
        assert dataset.bounds.right == pytest.approx(1000.0 * np.pi)


def test_png_sidecars_and_gdal_ignores_the_prj(tmp_path):
    geometry = Geometry.of(to="mollweide", center=(20.0, 30.0), heading=40.0)
    path, ref = _written(tmp_path, geometry, ".png")
    world = [float(line) for line in (tmp_path / "map.pgw").read_text().splitlines()]
    x0, a, b, y0, d, e = ref.transform
    assert world == [a, d, b, e, x0 + a / 2 + b / 2, y0 + d / 2 + e / 2]  # the upper-left pixel's centre
    assert (tmp_path / "map.prj").read_text().startswith("PROJCS")
    (tmp_path / "map.png.aux.xml").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            assert dataset.crs is None  # the .prj beside a PNG is not read: the aux.xml is what counts
            assert dataset.transform.a == pytest.approx(a)  # the world file is


def test_jpeg_gets_a_jgw(tmp_path):
    path, ref = _written(tmp_path, Geometry.of(to="mercator", center=(0.0, 0.0), heading=0.0), ".jpg")
    assert {p.name for p in tmp_path.iterdir()} == {"map.jpg", "map.jgw", "map.jpg.aux.xml", "map.prj"}
    with rasterio.open(path) as dataset:
        assert dataset.crs is not None and dataset.transform.c == pytest.approx(ref.transform[0])


def test_without_pyproj_the_geokey_forms_still_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyproj", None)
    path, ref = _written(tmp_path, Geometry.of(to="mercator", center=(10.0, 20.0), heading=30.0))
    assert path.exists() and ref.form == "hotine"
    with pytest.raises(PolewarpError, match=r"pip install 'polewarp\[gis\]'"):
        _written(tmp_path, Geometry.of(to="mollweide", center=(10.0, 20.0), heading=30.0))
    assert not (tmp_path / "map.tif.aux.xml").exists()


def test_sidecars_come_first_and_a_stale_pam_goes(tmp_path, monkeypatch):
    geometry = Geometry.of(to="mollweide", center=(10.0, 20.0), heading=30.0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(georef, "write_image", broken)
    with pytest.raises(OSError):
        _written(tmp_path, geometry, ".png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.pgw", "map.png.aux.xml", "map.prj"]
    monkeypatch.undo()
    _written(tmp_path, geometry)
    assert (tmp_path / "map.tif.aux.xml").exists()
    _written(tmp_path, Geometry.of(to="mercator", center=(0.0, 0.0), heading=0.0))
    assert not (tmp_path / "map.tif.aux.xml").exists()  # GDAL would read its CRS over the GeoKeys


def test_georef_refused_where_there_is_no_place(tmp_path):
    with pytest.raises(FormatError, match="BMP has no place") as caught:
        georef.wanted(ON, tmp_path / "x.bmp")
    assert caught.value.param == "georef"
    assert not georef.wanted(EncoderOptions(), tmp_path / "x.png")
    assert georef.wanted(EncoderOptions(), tmp_path / "x.tif")
    assert not georef.wanted(EncoderOptions(georef=False), tmp_path / "x.tif")


def test_batch_plan_counts_the_sidecars(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (8, 4)).save(source / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    geometry = Geometry.of(to="mollweide")
    sidecars = lambda output: georef.sidecar_paths(output, ON, geometry)  # noqa: E731
    (out / "a.png.aux.xml").write_text("stale")
    with pytest.raises(PolewarpError, match=r"a\.png\.aux\.xml exists"):
        plan([source], out, sidecars=sidecars)
    assert plan([source], out, overwrite=True, sidecars=sidecars)
    assert plan([source], out)  # without --georef a PNG has no sidecars


def test_cli(tmp_path, runner):
    from polewarp.cli import cli

    result = runner.invoke(cli, ["convert", "-o", str(tmp_path / "x.gif"), "--georef"])
    assert result.exit_code == 2 and "GIF has no place for georeferencing" in result.output
    result = runner.invoke(cli, ["convert", "-o", str(tmp_path / "x.tif"), "--earth-radius", "-1"])
    assert result.exit_code == 2 and "--earth-radius" in result.output
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (8, 4)).save(source / "a.png")
    result = runner.invoke(cli, ["batch", str(source), "-o", str(tmp_path / "out"), "--georef", "--to",
                                 "mollweide", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "a.png + a.png.aux.xml + a.pgw + a.prj" in result.output


@pytest.mark.slow
def test_a_real_run_writes_a_geotiff(tmp_path):
    out = tmp_path / "map.tif"
    subprocess.run([sys.executable, "-m", "polewarp", "convert", "-o", str(out), "--size", "64", "--no-cache"],
                   check=True, capture_output=True)
    with rasterio.open(out) as dataset:
        assert dataset.crs.to_dict()["proj"] == "omerc"  # the default, transverse Mercator, as Hotine


def test_embedded_geometry_wins_and_a_disagreeing_georef_is_named(tmp_path, caplog):
    """A file with both polewarp's embedded geometry and GIS georeferencing is read by the
    former; they agree when polewarp wrote both, and a world file moved since is warned about."""
    made = Geometry.of(to="equirectangular", center=(0.0, 0.0), heading=0.0)
    picture = Picture(make_map(64, 32), "RGB", geometry=made)
    georef.write_map(tmp_path / "made.png", picture, ON, made.spec((64, 32), (64, 32)))
    assert georef.embedded_disagreement(made, tmp_path / "made.png", (64, 32)) is None
    # a GIS radius of its own is not a difference: the transform is the same, scaled
    georef.write_map(tmp_path / "r.png", picture, EncoderOptions(georef=True, earth_radius=1.0),
                     made.spec((64, 32), (64, 32)))
    assert georef.embedded_disagreement(made, tmp_path / "r.png", (64, 32)) is None
    world = tmp_path / "made.pgw"
    lines = world.read_text().splitlines()
    world.write_text("\n".join([*lines[:4], str(float(lines[4]) + 1e5), lines[5]]) + "\n")
    assert "made.pgw places the pixels at" in georef.embedded_disagreement(made, tmp_path / "made.png", (64, 32))
    out = tmp_path / "back.png"
    with caplog.at_level("WARNING", logger="polewarp"):
        convert_file(ConvertRequest(tmp_path / "made.png", out, Geometry.of(to="mercator", heading=0.0),
                                    input_options={}))
    assert "disagrees with its embedded geometry, which is used: made.pgw" in caplog.text


def test_a_geotiff_with_its_embedded_geometry_agrees_and_a_different_code_is_named(tmp_path):
    made = Geometry.of(to="equirectangular", center=(0.0, 0.0), heading=0.0)
    georef.write_map(tmp_path / "made.tif", Picture(make_map(64, 32), "RGB", geometry=made), ON,
                     made.spec((64, 32), (64, 32)))
    assert georef.embedded_disagreement(made, tmp_path / "made.tif", (64, 32)) is None
    other = Geometry.of(to="mercator", center=(0.0, 0.0), heading=0.0)
    difference = georef.embedded_disagreement(other, tmp_path / "made.tif", (64, 32))
    assert difference == "made.tif's GeoTIFF tags: GeoTIFF projection code 17, the geometry's 7"
