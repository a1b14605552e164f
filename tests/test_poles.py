"""--pole and --from-pole: the aspect a pole means, against PROJ's ob_tran and the rule of
docs/geometry.md, and the CLI's refusals (CliRunner and a real subprocess)."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from polewarp import GeometrySpec, build_lut, reproject
from polewarp.engine.errors import SpecError
from polewarp.engine.geometry import Geometry

from .conftest import make_map
from .test_bad_input import invoke, run_cli
from .test_geometry import _proj_lut

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-360, 360, allow_nan=False)
turns = st.floats(-720, 720, allow_nan=False)
SIDES = {"to": ("", 0), "from": ("from_", 1)}  # keyword prefix, index in Geometry.frames()


def unit(lat, lon):
    lat, lon = math.radians(lat), math.radians(lon)
    return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])


def frame(side, pole, turn=None):
    prefix, index = SIDES[side]
    turned = {} if turn is None else {prefix + "pole_turn": turn}
    return [np.array(v) for v in Geometry.of(**{prefix + "pole": pole}, **turned).frames()[index]]


def is_fallback(pole):
    """The two poles whose whole equator is 90 degrees from 0N 0E (once rounded as Geometry does)."""
    return round(pole[0], 9) == 0 and math.remainder(round(pole[1], 9), 180.0) == 0


def pole_proj_string(lat, lon, turn, output):
    """PROJ's ob_tran for a pole, solved by PROJ alone from the documented rule: o_lat_p and
    lon_0 from the pole; o_lon_p such that 0N 0E (0N 90E for the fallback poles) lies at
    rotated longitude -turn."""
    from pyproj import Proj

    o_proj = "merc" if output == "mercator" else "eqc"
    base = f"+proj=ob_tran +o_proj={o_proj} +R=1 +o_lat_p={lat!r} +lon_0={lon + 180!r}"
    anchor = (90.0, 0.0) if is_fallback((lat, lon)) else (0.0, 0.0)
    x, _ = Proj(base + " +o_lon_p=0")(*anchor)
    return base + f" +o_lon_p={-math.degrees(x) - turn!r}"


def _random_poles(count, seed=20261202):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield dict(
            pole=(float(rng.uniform(-89.99, 89.99)), float(rng.uniform(-180, 180))),
            pole_turn=float(rng.choice([0.0, rng.uniform(-360, 360)])),
            to=str(rng.choice(["mercator", "equirectangular"])),
            output_size=(int(rng.integers(8, 60)) | 1, int(rng.integers(6, 40)) | 1),
            input_size=(int(rng.integers(16, 400)) | 1, int(rng.integers(8, 200)) | 1),
        )


FALLBACKS = [dict(pole=pole, pole_turn=turn, to=to, output_size=(47, 31), input_size=(181, 91))
             for pole, turn, to in [((0.0, 0.0), 0.0, "mercator"), ((0.0, 180.0), 25.0, "equirectangular")]]


@pytest.mark.parametrize("case", list(_random_poles(40)) + FALLBACKS)
def test_lut_agrees_with_proj(case):
    spec = GeometrySpec(**case)
    expected, trusted = _proj_lut(spec, pole_proj_string(*case["pole"], case["pole_turn"], case["to"]))
    assert trusted.mean() > 0.9
    np.testing.assert_array_equal(build_lut(spec, backend="serial").array[trusted], expected[trusted])


@pytest.mark.parametrize("side", SIDES)
@given(lat=latitudes, lon=longitudes, turn=turns)
def test_the_pole_lands_where_it_is_put_and_the_turn_runs_along_the_new_equator(side, lat, lon, turn):
    centre, east, pole = frame(side, (lat, lon), turn)
    start, start_east, _ = frame(side, (lat, lon))
    np.testing.assert_allclose(pole, unit(lat, lon), atol=1e-9)
    # The turn-0 centre is the new equator's point nearest to 0N 0E: no point 90 degrees from the
    # pole is nearer than |pole x (0N 0E)|, the hypot of pole_y and pole_z (0N 90E for the fallback poles).
    axis = 1 if is_fallback((lat, lon)) else 0
    assert start[axis] == pytest.approx(math.hypot(*np.delete(pole, axis)), abs=1e-9)
    t = math.radians(turn)
    np.testing.assert_allclose(centre, math.cos(t) * start + math.sin(t) * start_east, atol=1e-9)
    np.testing.assert_allclose(east, np.cross(pole, centre), atol=1e-9)


@given(lat=latitudes, lon=longitudes, dlat=st.floats(-1e-6, 1e-6), dlon=st.floats(-1e-6, 1e-6))
def test_the_aspect_is_continuous_in_the_pole_away_from_the_fallbacks(lat, lon, dlat, dlon):
    p = unit(lat, lon)
    distance = math.hypot(p[1], p[2])  # sin of the angle to 0N 0E or 0N 180E
    if distance < math.sin(math.radians(1.0)):
        return
    near = (lat - dlat if lat + dlat > 90 or lat + dlat < -90 else lat + dlat, lon + dlon)
    moved = np.linalg.norm(unit(*near) - p)
    for a, b in zip(frame("to", (lat, lon), 0.0), frame("to", near, 0.0), strict=True):
        assert np.linalg.norm(a - b) <= 4 * moved / distance + 1e-9


@pytest.mark.parametrize("pole,same", [
    (dict(pole=(90, 0)), dict(heading=0)),
    (dict(pole=(90, 123), pole_turn=30), dict(center=(0, 30), heading=0)),
    (dict(pole=(-90, 0)), dict(heading=180)),
    (dict(pole=(0, 90)), dict()),
    (dict(pole=(0, -90)), dict(heading=270)),
    (dict(pole=(0, 0)), dict(center=(0, 90), heading=270)),
    (dict(pole=(0, 180)), dict(center=(0, 90), heading=90)),
    (dict(from_pole=(90, 0)), dict()),
    (dict(from_pole=(0, 90), from_pole_turn=180), dict(from_center=(0, 180), from_heading=270)),
])
def test_the_documented_poles(pole, same):
    assert Geometry.of(**pole) == Geometry.of(**same)


def test_a_pole_at_the_north_pole_is_the_identity():
    pixels = make_map(91, 45)
    np.testing.assert_array_equal(reproject(pixels, pole=(90, 0), to="equirectangular"), pixels)


def test_a_spec_takes_a_pole_in_place_of_its_centre_and_heading():
    spec = GeometrySpec((64, 32), center=(10, 20), heading=30, to="equirectangular")
    assert GeometrySpec((64, 32), geometry=spec.geometry, pole=(90, 0)) == GeometrySpec(
        (64, 32), heading=0, to="equirectangular")


@pytest.mark.parametrize("kwargs,message", [
    (dict(pole=(20, 10), center=(1, 2)), "give pole or center, not both"),
    (dict(from_pole=(20, 10), from_heading=5), "give from pole or from heading, not both"),
    (dict(pole_turn=5), "pole turn turns the map about pole"),
    (dict(pole=(0, 90), legacy=True), "legacy"),
    (dict(pole=(91, 0)), "pole latitude must be within"),
    (dict(pole=(0, math.nan)), "finite"),
    (dict(pole=(0, 0), pole_turn=math.inf), "pole turn must be a finite"),
])
def test_nonsense_is_refused(kwargs, message):
    with pytest.raises(SpecError, match=message):
        Geometry.of(**kwargs)


@pytest.mark.parametrize("args,message", [
    (["--pole", "20,10", "--center", "1,2"], "--pole and --center: give one or the other"),
    (["--pole", "20,10", "--heading", "0"], "--pole and --heading: give one or the other"),
    (["--from-pole", "20,10", "--from-center", "0,0", "--from-heading", "0"],
     "--from-pole, --from-center and --from-heading: give one or the other"),
    (["--pole-turn", "5"], "--pole-turn turns the map about --pole"),
    (["--from-pole-turn", "5", "--pole", "1,2"], "--from-pole-turn turns the map about --from-pole"),
    (["--pole", "0,90", "--legacy"], "'--pole': legacy"),
    (["--from-pole", "90,0", "--legacy"], "'--from-pole': legacy"),
    (["--pole", "20,10", "--lut", "table.npy"], "--lut brings its own geometry: drop --pole"),
    (["--pole", "91,0"], "'--pole': '91,0': latitude must be within"),
    (["--pole", "1,2", "--pole-turn", "nan"], "'--pole-turn': 'nan' is not a finite number"),
])
def test_the_cli_refuses(runner, tmp_path, map_file, args, message):
    result = invoke(runner, "convert", map_file[0], "-o", tmp_path / "out.png", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out.png").exists()


def test_verbose_prints_the_equivalent_centre_and_heading(runner, tmp_path):
    args = ["--input-size", "64x32", "--to", "equirectangular", "--no-cache"]
    result = invoke(runner, "-v", "lut", "build", *args, "--pole", "20,10", "--pole-turn", "30",
                    "--from-pole", "0,0", "-o", tmp_path / "pole.npy")
    assert result.exit_code == 0, result.output
    number = r"(-?[0-9.e+-]+)"
    centre = re.search(rf"--pole: the same as --center {number},{number} --heading {number}", result.output)
    from_centre = re.search(rf"--from-pole: the same as --from-center {number},{number} --from-heading {number}",
                            result.output)
    assert from_centre.groups() == ("0", "90", "270")
    result = invoke(runner, "lut", "build", *args, "--center", f"{centre[1]},{centre[2]}", "--heading", centre[3],
                    "--from-center", "0,90", "--from-heading", "270", "-o", tmp_path / "aspect.npy")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pole.json").read_text() == (tmp_path / "aspect.json").read_text()


def test_real_subprocess_refuses(tmp_path, map_file):
    out = tmp_path / "out.png"
    run = run_cli("convert", map_file[0], "-o", out, "--pole", "20,10", "--heading", "5", cwd=tmp_path)
    assert run.returncode == 2 and "--pole and --heading: give one or the other" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


@pytest.mark.slow
def test_real_subprocess_converts(tmp_path, map_file):
    out = tmp_path / "out.png"
    run = run_cli("convert", map_file[0], "-o", out, "--pole", "90,0", "--to", "equirectangular", "--no-cache",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(out)), map_file[1])
