"""The geometry an image carries: written into PNG, TIFF, JPEG and WebP, read back strictly
(damaged, unknown or hostile documents are a warning and a plain map), used as the input side
by convert and batch unless --from* says otherwise, and shown by `polewarp info`."""

import json
import logging
import math
import random
import subprocess
import sys
from xml.sax.saxutils import escape

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from polewarp.cli.main import cli
from polewarp.engine import embedded, projections
from polewarp.engine.embedded import as_input, decode, document, encode, input_geometry
from polewarp.engine.errors import SpecError
from polewarp.engine.geometry import Geometry
from polewarp.engine.imageio import Picture, read_header, read_image, write_image

from .conftest import make_map, run_env

ORTHO = Geometry(to="orthographic", center=(40.0, -30.0), heading=0.0)
GEOMETRIES = [
    Geometry(),
    ORTHO,
    Geometry(to="cylindrical-equal-area", lat_ts=30.0, center=(-12.5, 170.0), heading=33.0,
             from_="mollweide", from_center=(10.0, 20.0), from_heading=200.0),
    Geometry(to="gnomonic", radius=45.0, from_="mercator", from_lat_limit=80.0),
]


@pytest.fixture
def warnings_seen():
    """The polewarp logger's warnings (the CLI group may have stopped its propagation)."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("polewarp")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


# --- the document -------------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: g.to)
def test_a_document_reads_back_as_the_geometry_with_its_top_written_out(geometry):
    made = decode(encode(geometry))
    assert (made.to, made.center, made.heading, made.from_, made.from_center, made.from_heading) == (
        geometry.to, geometry.center, geometry.heading, geometry.from_, geometry.from_center, geometry.from_heading)
    assert made.options("from") == geometry.options("from")
    expected = geometry.options("to")
    if geometry.to == "mercator" and expected["lat_limit"] is None:
        expected["lat_limit"] = 84.600493902  # the original script's extent, written out
    assert made.options("to") == expected
    assert encode(geometry) == encode(geometry) and json.loads(encode(geometry)) == document(geometry)


def test_a_mercator_output_left_to_the_script_extent_reads_back_with_that_top():
    side = document(Geometry())["map"]
    top = math.degrees(math.atan(math.sinh(side["bounds"][1])))
    assert side["options"] == {"lat_limit": round(top, 9)} and side["options"]["lat_limit"] == 84.600493902
    assert as_input(Geometry()) == {"from_": "mercator", "from_center": (0.0, 0.0), "from_heading": 90.0,
                                    "from_lat_limit": 84.600493902}


def test_the_output_side_becomes_the_input_side():
    assert as_input(ORTHO) == {"from_": "orthographic", "from_center": (40.0, -30.0), "from_heading": 0.0,
                               "from_radius": 90.0}
    back = Geometry(to="equirectangular", heading=0.0)
    read = input_geometry(back, ORTHO, {})
    assert read == Geometry(to="equirectangular", heading=0.0, from_="orthographic", from_center=(40.0, -30.0),
                            from_heading=0.0, from_radius=90.0)


def test_given_input_options_override_the_file_and_a_given_projection_ignores_it():
    plain = Geometry(to="equirectangular", heading=0.0)
    assert input_geometry(plain, ORTHO, {"from_center": (1.0, 2.0), "from_radius": 60.0}) == Geometry(
        to="equirectangular", heading=0.0, from_="orthographic", from_center=(1.0, 2.0), from_heading=0.0,
        from_radius=60.0)
    assert input_geometry(plain, ORTHO, None) is plain  # --from given (or --legacy): the file is not used
    assert input_geometry(plain, None, {}) is plain
    assert input_geometry(plain, None, {"from_heading": 10.0}) == Geometry(to="equirectangular", heading=0.0,
                                                                           from_heading=10.0)
    with pytest.raises(SpecError, match="from lat limit does not apply to orthographic"):
        input_geometry(plain, ORTHO, {"from_lat_limit": 80.0})
    with pytest.raises(SpecError, match="not an input option"):
        input_geometry(plain, ORTHO, {"from_": "mercator"})


def _tampered(change):
    data = document(ORTHO)
    change(data)
    return json.dumps(data)


DAMAGED = {
    "not json": '{"polewarp": 1, "map": ',
    "unknown version": _tampered(lambda d: d.update(polewarp=2)),
    "version as a bool": _tampered(lambda d: d.update(polewarp=True)),
    "version as text": _tampered(lambda d: d.update(polewarp="1")),
    "no version": json.dumps({"map": {}}),
    "a list": "[1, 2]",
    "an extra key": _tampered(lambda d: d.update(extra=1)),
    "a missing side": _tampered(lambda d: d.pop("source")),
    "latitude out of range": _tampered(lambda d: d["map"].update(center=[1000.0, 0.0])),
    "NaN": encode(ORTHO).replace('"heading":0.0', '"heading":NaN', 1),
    "Infinity": encode(ORTHO).replace('"heading":0.0', '"heading":1e999', 1),
    "a huge integer": encode(ORTHO).replace('"heading":0.0', '"heading":' + "9" * 400, 1),
    "a string angle": _tampered(lambda d: d["map"].update(heading="0")),
    "a bool angle": _tampered(lambda d: d["map"].update(heading=False)),
    "unknown projection": _tampered(lambda d: d["map"].update(projection="ortho")),
    "an option it does not take": _tampered(lambda d: d["map"]["options"].update(lat_limit=80.0)),
    "radius out of range": _tampered(lambda d: d["map"]["options"].update(radius=170.0)),
    "other bounds": _tampered(lambda d: d["map"].update(bounds=[2.0, 2.0])),
    "repeated key": encode(ORTHO)[:-1] + ',"polewarp":1}',
    "deep nesting": '{"polewarp": 1, "map": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "too long": _tampered(lambda d: d["map"].update(projection="x" * 20_000)),
    "three-part centre": _tampered(lambda d: d["map"].update(center=[1.0, 2.0, 3.0])),
}


@pytest.mark.parametrize("text", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_or_unknown_document_is_refused_with_a_reason(text):
    with pytest.raises(SpecError) as caught:
        decode(text)
    assert str(caught.value) and len(str(caught.value)) < 200


@settings(deadline=None, max_examples=100)
@given(st.data())
def test_any_change_to_a_document_gives_a_geometry_or_a_reason(data):
    text = encode(GEOMETRIES[2])
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start, min(len(text), start + 8)))
    changed = text[:start] + data.draw(st.text(max_size=8)) + text[end:]
    try:
        assert isinstance(decode(changed), Geometry)
    except SpecError:
        pass
    packet = embedded._xmp_packet(changed)
    cut = data.draw(st.integers(0, len(packet)))
    try:
        embedded._from_xmp(packet[:cut] + packet[cut + 1:])
    except SpecError:
        pass


# --- the places in each format -----------------------------------------------------------------

def _picture(geometry, size=(16, 8), mode="RGB"):
    pixels = make_map(*size)
    return Picture(pixels if mode == "RGB" else pixels[..., :1], mode, info={"dpi": (72, 72)}, geometry=geometry)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
@pytest.mark.parametrize("geometry", GEOMETRIES[1:3], ids=lambda g: g.to)
def test_each_format_carries_the_geometry_in_its_header(tmp_path, suffix, geometry):
    path = tmp_path / f"map{suffix}"
    write_image(path, _picture(geometry))
    read = read_image(path)
    assert read.geometry == decode(encode(geometry))
    assert read_header(path).geometry == read.geometry
    if suffix != ".webp":
        assert read.info["dpi"] == pytest.approx((72, 72), rel=1e-3)  # PNG: per metre  # kept beside it, as before
    again = tmp_path / f"again{suffix}"
    write_image(again, _picture(geometry))
    assert again.read_bytes() == path.read_bytes()  # no timestamp: equal runs, equal bytes


def test_the_places_are_the_ones_documented(tmp_path):
    text = encode(ORTHO)
    for suffix in (".png", ".tif", ".jpg", ".webp"):
        write_image(tmp_path / f"m{suffix}", _picture(ORTHO))
    with Image.open(tmp_path / "m.png") as image:
        assert image.info[embedded.KEY] == text
    with Image.open(tmp_path / "m.tif") as image:
        assert image.tag_v2[270] == text
    for suffix in (".jpg", ".webp"):
        with Image.open(tmp_path / f"m{suffix}") as image:
            assert embedded.XMP_NAMESPACE.encode() in image.info["xmp"]
            assert embedded._from_xmp(image.info["xmp"]) == text


@pytest.mark.parametrize("suffix, mode", [(".bmp", "RGB"), (".gif", "P"), (".ppm", "RGB")])
def test_formats_without_a_place_say_so_at_debug_level(tmp_path, suffix, mode, caplog, runner):
    picture = _picture(ORTHO)
    if mode == "P":
        picture = Picture(picture.pixels[..., :1], "P", Image.new("P", (1, 1)).palette, geometry=ORTHO)
    logger = logging.getLogger("polewarp")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="polewarp"):
            write_image(tmp_path / f"m{suffix}", picture)
    finally:
        logger.removeHandler(caplog.handler)
    assert any("no place for the geometry" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    assert read_image(tmp_path / f"m{suffix}").geometry is None
    fmt = {".bmp": "BMP", ".gif": "GIF", ".ppm": "PPM"}[suffix]
    info = runner.invoke(cli, ["info", str(tmp_path / f"m{suffix}")])
    assert info.stdout.endswith(f", no embedded geometry ({fmt} has no place for one)\n"), info.output


def _png_with_text(path, text, key=embedded.KEY):
    info = PngImagePlugin.PngInfo()
    info.add_itxt(key, text)
    Image.fromarray(make_map(16, 8)).save(path, pnginfo=info)


@pytest.mark.parametrize("name", ["not json", "unknown version", "latitude out of range", "other bounds"])
def test_a_file_with_damaged_metadata_is_read_as_a_plain_map_with_a_warning(tmp_path, name, warnings_seen):
    path = tmp_path / "map.png"
    _png_with_text(path, DAMAGED[name])
    picture = read_image(path)
    assert picture.geometry is None and picture.size == (16, 8)
    assert len(warnings_seen) == 1
    assert warnings_seen[0].getMessage().startswith(f"{path}: its embedded geometry is unusable (")


def test_other_programs_text_in_shared_places_is_passed_over_in_silence(tmp_path, warnings_seen):
    Image.fromarray(make_map(16, 8)).save(tmp_path / "imagej.tif", description="ImageJ=1.54f\nimages=1")
    _png_with_text(tmp_path / "other.png", "hello", key="Comment")
    Image.fromarray(make_map(16, 8)).save(tmp_path / "other.jpg", xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    for name in ("imagej.tif", "other.png", "other.jpg"):
        assert read_image(tmp_path / name).geometry is None
    assert not warnings_seen
    Image.fromarray(make_map(16, 8)).save(tmp_path / "broken.tif", description='{"polewarp": 1, "map"')
    assert read_image(tmp_path / "broken.tif").geometry is None and len(warnings_seen) == 1


def test_xmp_with_a_dtd_or_damaged_is_not_parsed(tmp_path, warnings_seen):
    text = escape(encode(ORTHO))
    namespace = embedded.XMP_NAMESPACE
    entity = (f'<!DOCTYPE x [<!ENTITY a "{"a" * 100}">]><x:xmpmeta xmlns:x="adobe:ns:meta/" '
              f'xmlns:polewarp="{namespace}"><polewarp:geometry>&a;{text}</polewarp:geometry></x:xmpmeta>')
    Image.fromarray(make_map(16, 8)).save(tmp_path / "dtd.webp", xmp=entity.encode())
    Image.fromarray(make_map(16, 8)).save(tmp_path / "cut.jpg", xmp=embedded._xmp_packet(text)[:-60])
    rdf, quoted = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", text.replace('"', "&quot;")
    attribute = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{rdf}">'
                 f'<rdf:Description xmlns:polewarp="{namespace}" polewarp:geometry="{quoted}"/>'
                 '</rdf:RDF></x:xmpmeta>')
    Image.fromarray(make_map(16, 8)).save(tmp_path / "attribute.jpg", xmp=attribute.encode())
    odd = f'<?xml version="1.0" encoding="klingon"?><x xmlns:p="{namespace}"/>'.encode()
    Image.fromarray(make_map(16, 8)).save(tmp_path / "odd.webp", xmp=odd)
    for name in ("dtd.webp", "cut.jpg", "odd.webp"):
        assert read_image(tmp_path / name).geometry is None
    assert len(warnings_seen) == 3
    assert read_image(tmp_path / "attribute.jpg").geometry == decode(encode(ORTHO))  # rewritten by an editor


# --- polewarp info -----------------------------------------------------------------------------

def test_info_says_what_a_file_carries_and_what_it_lacks(tmp_path, runner):
    write_image(tmp_path / "globe.png", _picture(ORTHO))
    Image.fromarray(make_map(16, 8)).save(tmp_path / "plain.jpg")
    result = runner.invoke(cli, ["info", str(tmp_path / "globe.png"), str(tmp_path / "plain.jpg")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'globe.png'}: 16x8 RGB PNG",
        "  geometry: equirectangular -> orthographic, centre 40,-30, heading 0, radius 90",
        "  read back as: --from orthographic --from-center 40,-30 --from-heading 0 --from-radius 90",
        f"{tmp_path / 'plain.jpg'}: 16x8 RGB JPEG, no embedded geometry",
    ]
    result = runner.invoke(cli, ["info", "--json", str(tmp_path / "globe.png"), str(tmp_path / "plain.jpg")])
    records = json.loads(result.stdout)
    assert [r["geometry"] for r in records] == [document(ORTHO), None]
    assert records[0] | {"geometry": None} == {"file": str(tmp_path / "globe.png"), "format": "PNG", "width": 16,
                                              "height": 8, "mode": "RGB", "geometry": None}


def test_info_on_damaged_metadata_and_on_what_is_no_image(tmp_path, runner):
    _png_with_text(tmp_path / "damaged.png", DAMAGED["unknown version"])
    (tmp_path / "junk.png").write_bytes(b"junk")
    result = runner.invoke(cli, ["info", str(tmp_path / "damaged.png"), str(tmp_path / "junk.png")])
    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path / 'damaged.png'}: 16x8 RGB PNG, no embedded geometry\n"
    assert "its embedded geometry is unusable (unknown version 2" in result.stderr
    assert f"polewarp: {tmp_path / 'junk.png'}: not an image file Pillow can read" in result.stderr
    assert runner.invoke(cli, ["info"]).exit_code == 2


@pytest.mark.slow
def test_info_in_a_real_process_never_loads_numba(tmp_path):
    write_image(tmp_path / "globe.webp", _picture(ORTHO))
    script = ("import sys\nfrom polewarp.cli.main import _run\n"
              f"assert _run(['info', '--json', {str(tmp_path / 'globe.webp')!r}]) in (0, None)\n"
              "assert 'numba' not in sys.modules, 'numba was imported'\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=run_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["geometry"] == document(ORTHO)
    done = subprocess.run([sys.executable, "-m", "polewarp", "info", str(tmp_path / "globe.webp")],
                          capture_output=True, text=True, env=run_env(), timeout=60)
    assert done.returncode == 0 and "orthographic, centre 40,-30" in done.stdout, done.stderr


# --- convert and batch ---------------------------------------------------------------------------

def _convert(runner, *args):
    result = runner.invoke(cli, ["convert", *map(str, args), "--backend", "serial"])
    assert result.exit_code == 0, result.output
    return result


def test_convert_reads_an_input_by_its_embedded_geometry_unless_told(tmp_path, runner):
    Image.fromarray(make_map(64, 32)).save(tmp_path / "world.png")
    _convert(runner, tmp_path / "world.png", "--to", "ortho", "--center", "40,-30", "--heading", "0",
             "--size", "64", "-o", tmp_path / "globe.png")
    result = _convert(runner, tmp_path / "globe.png", "--to", "equirectangular", "--heading", "0",
                      "-o", tmp_path / "back.png")
    assert f"{tmp_path / 'globe.png'}: read by its embedded geometry (made as equirectangular -> orthographic" \
        in result.stderr
    _convert(runner, tmp_path / "globe.png", "--to", "equirectangular", "--heading", "0", "--from", "ortho",
             "--from-center", "40,-30", "--from-heading", "0", "--from-radius", "90", "-o", tmp_path / "told.png")
    assert (tmp_path / "back.png").read_bytes() == (tmp_path / "told.png").read_bytes()
    assert read_image(tmp_path / "back.png").geometry == decode(encode(Geometry(
        to="equirectangular", heading=0.0, from_="orthographic", from_center=(40.0, -30.0), from_heading=0.0,
        from_radius=90.0)))
    # --from equirectangular alone: a plain map, as if the file carried nothing
    Image.open(tmp_path / "globe.png").save(tmp_path / "bare.png")
    _convert(runner, tmp_path / "globe.png", "--to", "equirectangular", "--heading", "0", "--from", "equirectangular",
             "--size", "64x32", "-o", tmp_path / "plain.png")
    _convert(runner, tmp_path / "bare.png", "--to", "equirectangular", "--heading", "0", "--size", "64x32",
             "-o", tmp_path / "bare-out.png")
    assert np.array_equal(read_image(tmp_path / "plain.png").pixels, read_image(tmp_path / "bare-out.png").pixels)
    # one --from-* option given overrides the file's, the rest still comes from it
    _convert(runner, tmp_path / "globe.png", "--to", "equirectangular", "--heading", "0", "--from-center", "40,-20",
             "-o", tmp_path / "moved.png")
    assert read_image(tmp_path / "moved.png").geometry.from_center == (40.0, -20.0)
    result = runner.invoke(cli, ["convert", str(tmp_path / "globe.png"), "--from-lat-limit", "80",
                                 "-o", str(tmp_path / "bad.png")])
    assert result.exit_code == 2 and "from lat limit does not apply to orthographic" in result.stderr



def test_a_from_pole_on_a_file_with_a_geometry_is_its_centre_and_heading(tmp_path, runner):
    from polewarp.engine.poles import pole_aspect

    Image.fromarray(make_map(64, 32)).save(tmp_path / "world.png")
    _convert(runner, tmp_path / "world.png", "--to", "ortho", "--center", "40,-30", "--heading", "0",
             "--size", "64", "-o", tmp_path / "globe.png")
    _convert(runner, tmp_path / "globe.png", "--heading", "0", "--from-pole", "50,150", "--from-pole-turn", "-20",
             "-o", tmp_path / "by-pole.png")
    (lat, lon), heading = pole_aspect((50.0, 150.0), -20.0)
    _convert(runner, tmp_path / "globe.png", "--heading", "0", "--from-center", f"{lat!r},{lon!r}",
             "--from-heading", repr(heading), "-o", tmp_path / "by-centre.png")
    assert (tmp_path / "by-pole.png").read_bytes() == (tmp_path / "by-centre.png").read_bytes()
    assert read_image(tmp_path / "by-pole.png").geometry.from_ == "orthographic"
    clash = runner.invoke(cli, ["convert", str(tmp_path / "globe.png"), "--from-pole", "50,150",
                                "--from-heading", "3", "-o", str(tmp_path / "no.png")])
    assert clash.exit_code == 2 and "--from-pole and --from-heading: give one or the other" in clash.stderr

def test_a_batch_makes_one_lut_per_size_and_embedded_geometry(tmp_path, runner):
    maps = tmp_path / "maps"
    maps.mkdir()
    for seed in range(2):
        Image.fromarray(make_map(64, 64, seed=seed)).save(maps / f"plain{seed}.png")
    _convert(runner, maps / "plain0.png", "--to", "ortho", "--center", "40,-30", "--heading", "0",
             "-o", maps / "globe.png")
    result = runner.invoke(cli, ["batch", str(maps), "-o", str(tmp_path / "out"), "--to", "equirectangular",
                                 "--heading", "0", "--size", "64x64", "-c", "1", "--time", "-q"])
    assert result.exit_code == 0, result.output
    luts = next(line for line in result.stderr.splitlines() if line.startswith("LUTs: "))
    assert luts.count("64x64") == 2 and "64x64 (read as orthographic, centre 40,-30, heading 0)" in luts
    _convert(runner, maps / "globe.png", "--to", "equirectangular", "--heading", "0", "--size", "64x64",
             "-o", tmp_path / "one.png")
    assert (tmp_path / "out" / "globe.png").read_bytes() == (tmp_path / "one.png").read_bytes()
    result = runner.invoke(cli, ["batch", str(maps), "-o", str(tmp_path / "told"), "--to", "equirectangular",
                                 "--heading", "0", "--size", "64x64", "--from", "equirectangular", "-c", "1",
                                 "--time", "-q"])
    assert result.exit_code == 0, result.output
    luts = next(line for line in result.stderr.splitlines() if line.startswith("LUTs: "))
    assert luts.count("64x64") == 1


# --- the round trip through every projection -----------------------------------------------------

def _needed_width(geometry, in_size):
    """The narrowest map of ``geometry``'s output whose every pixel within 30 degrees of its centre
    covers at most half an input pixel in each direction: from the Jacobian of the projection
    (numpy's formulas, finite differences) at points of that cap, inverted to input pixels per
    unit of the map's plane."""
    from .formula_cases import all_cases
    from .projected_reference import _vectors
    from .reference import rotation_vectors

    options = geometry.options("to")
    forward = all_cases()[geometry.to].numpy_forward
    c, e, p = (np.array(axis) for axis in rotation_vectors(*geometry.center, geometry.heading))
    rng = np.random.default_rng(0)
    rim = math.cos(math.radians(30))
    cos_d = np.concatenate([rng.uniform(rim, 1, 20_000), np.full(4000, rim)])
    azimuth = rng.uniform(0, 2 * np.pi, cos_d.size)
    sin_d = np.sqrt(1 - cos_d**2)
    world = cos_d[:, None] * c + (sin_d * np.cos(azimuth))[:, None] * e + (sin_d * np.sin(azimuth))[:, None] * p
    lon, lat = np.arctan2(world[:, 1], world[:, 0]), np.arcsin(world[:, 2])

    def plane(lon, lat):
        v = _vectors(lat, lon)
        return forward(np.arctan2(v @ e, v @ c), np.arcsin(np.clip(v @ p, -1, 1)), options)

    step = 1e-6
    (x0, y0), (x1, y1), (x2, y2) = plane(lon, lat), plane(lon + step, lat), plane(lon, lat + step)
    a, b, cc, d = (x1 - x0) / step, (x2 - x0) / step, (y1 - y0) / step, (y2 - y0) / step  # d(x, y)/d(lon, lat)
    det = np.abs(a * d - b * cc)
    per_x, per_y = in_size[0] / (2 * np.pi), in_size[1] / np.pi  # input pixels per radian
    # inverse Jacobian rows: d(lon)/d(x, y) = (d, -b)/det, d(lat)/d(x, y) = (-cc, a)/det
    footprint = np.maximum(per_x * (np.abs(d) + np.abs(b)), per_y * (np.abs(cc) + np.abs(a))) / det
    x_edge, _ = geometry.output.bounds(options)
    # a pixel is 2X/W of the plane across (and as tall, at the natural height); 2 % to spare
    return math.ceil(2 * x_edge * footprint.max() / 0.5 * 1.02)


# Each projection's extent options, as small as the 30 degrees around the centre allow (the
# smaller the map the criterion needs, the faster the test); given by hand on the input side too.
EXTENT = {"cylindrical": {"lat_limit": 31.0}, "azimuthal": {"radius": 31.0}}


@pytest.mark.slow
@pytest.mark.parametrize("name", projections.NAMES)
def test_a_round_trip_through_every_projection_needs_no_from_options(tmp_path, name):
    """equirectangular 1024x512 -> P at a random aspect, fine enough near its centre -> back with
    no --from*: nearest gives the input back within 30 degrees of P's centre; --from* given by
    hand gives the same bytes."""
    from polewarp.engine.imageio import EncoderOptions
    from polewarp.engine.pipeline import BuildOptions, ConvertRequest, convert_file

    rng = random.Random(f"round trip {name}")
    center, heading = (rng.uniform(-30, 30), rng.uniform(-180, 180)), rng.uniform(0, 360)
    extent = EXTENT.get(projections.projection(name).family, {})
    geometry = Geometry(to=name, center=center, heading=heading, **extent)
    in_size = (1024, 512)
    width = _needed_width(geometry, in_size)
    world = tmp_path / "world.png"
    Image.fromarray(make_map(*in_size, seed=projections.NAMES.index(name))).save(world, compress_level=0)
    build, encoder = BuildOptions("threads", 2), EncoderOptions(compress_level=0)  # the serial kernel, on 2 threads
    convert_file(ConvertRequest(world, tmp_path / "p.png", geometry, size=(width,), encoder=encoder), build)
    flat = Geometry(to="equirectangular", heading=0.0)
    convert_file(ConvertRequest(tmp_path / "p.png", tmp_path / "back.png", flat, size=in_size,
                                encoder=encoder, input_options={}), build)
    told = Geometry(to="equirectangular", heading=0.0, from_=name, from_center=center, from_heading=heading,
                    **{f"from_{option}": value for option, value in extent.items()})
    convert_file(ConvertRequest(tmp_path / "p.png", tmp_path / "told.png", told, size=in_size, encoder=encoder),
                 build)
    assert (tmp_path / "back.png").read_bytes() == (tmp_path / "told.png").read_bytes()
    original, restored = read_image(world).pixels, read_image(tmp_path / "back.png").pixels
    lon, lat = np.meshgrid(np.radians((np.arange(1024) + 0.5) * 360 / 1024 - 180),
                           np.radians(90 - (np.arange(512) + 0.5) * 180 / 512))
    c_lat, c_lon = np.radians(center)
    near = (np.sin(lat) * np.sin(c_lat) + np.cos(lat) * np.cos(c_lat) * np.cos(lon - c_lon)
            > math.cos(math.radians(30)))
    same = (restored == original).all(axis=-1)[near]
    assert same.mean() >= 0.999, f"{name} {width} px wide: {same.mean():.4%} came back"
