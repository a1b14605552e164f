"""The banded pipeline: the same pixels as the in-memory path for any band height, the streaming
writers read back by Pillow and tifffile, memory-mapped inputs, the cache band by band, and
signals, a killed worker and a full disk mid-stream leaving nothing behind."""

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile
from PIL import Image

from polewarp.cli.main import cli
from polewarp.engine.cache import LutCache
from polewarp.engine.geometry import Geometry
from polewarp.engine.lut import build_lut
from polewarp.engine.pipeline import BuildOptions, ConvertRequest, convert_file

from .conftest import make_map, polewarp_segments, run_env, worker_processes

SERIAL = BuildOptions("serial", 1)
DEFAULT = Geometry()


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image)


def convert(source, target, geometry=DEFAULT, size=(96, 48), band_rows=None, build=SERIAL, cache=None,
            budget=None):
    request = ConvertRequest(source, target, geometry, size)
    return convert_file(request, build, cache, budget=budget, band_rows=band_rows)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(make_map(64, 32)).save(path)
    return path


@pytest.mark.parametrize("resample", ["nearest", "bilinear", "average"])
@pytest.mark.parametrize("to", ["mercator", "equirectangular", "orthographic"])
def test_banded_equals_in_memory(source, tmp_path, resample, to):
    geometry = Geometry.of(to=to, resample=resample)
    convert(source, tmp_path / "whole.tif", geometry)
    expected = pixels(tmp_path / "whole.tif")
    for rows in (1, 7, 64):
        for ext in ("tif", "png"):
            lut, _ = convert(source, tmp_path / f"b.{ext}", geometry, band_rows=rows)
            assert np.array_equal(pixels(tmp_path / f"b.{ext}"), expected), (rows, ext)
            assert f"bands of {min(rows, 48)} rows" in lut.origin
        assert np.array_equal(tifffile.imread(tmp_path / "b.tif"), expected)


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_the_parallel_backends_fill_each_band(source, tmp_path, backend):
    convert(source, tmp_path / "whole.png")
    convert(source, tmp_path / "b.png", band_rows=5, build=BuildOptions(backend, 2, 2))
    assert np.array_equal(pixels(tmp_path / "b.png"), pixels(tmp_path / "whole.png"))


MODES = {"1": lambda p: p[:, :, 0] > 127, "L": lambda p: p[:, :, 0], "LA": lambda p: p[:, :, :2],
         "P": lambda p: p[:, :, 0], "RGBA": lambda p: np.dstack([p, p[:, :, :1]]),
         "I;16": lambda p: p[:, :, 0].astype(np.uint16) * 257, "F": lambda p: p[:, :, 0].astype(np.float32) / 3}


@pytest.mark.parametrize("mode", list(MODES))
def test_streamed_files_keep_the_mode_and_metadata(tmp_path, mode):
    image = Image.fromarray(MODES[mode](make_map(64, 32)))
    image = image.convert("P") if mode == "P" else image.convert(mode) if mode == "1" else image
    source = tmp_path / ("in.tif" if mode == "F" else "in.png")
    image.save(source, dpi=(150, 150), icc_profile=b"not really a profile")
    formats = ["tif"] if mode == "F" else ["png"] if mode == "1" else ["png", "tif"]
    for ext in formats:
        convert(source, tmp_path / f"whole.{ext}")
        convert(source, tmp_path / f"band.{ext}", band_rows=7)
        with Image.open(tmp_path / f"whole.{ext}") as whole, Image.open(tmp_path / f"band.{ext}") as band:
            assert band.mode == whole.mode, ext
            assert np.array_equal(np.asarray(band), np.asarray(whole)), ext
            assert band.info.get("icc_profile") == whole.info.get("icc_profile") == b"not really a profile"
            assert tuple(map(round, band.info["dpi"])) == tuple(map(round, whole.info["dpi"])) == (150, 150)
            if mode == "P":
                assert band.getpalette() == whole.getpalette()
        if ext == "tif" and mode != "P":
            assert np.array_equal(tifffile.imread(tmp_path / f"band.{ext}"), pixels(tmp_path / "whole.tif"))


def test_a_tiny_budget_bands_convert_and_batch_with_the_same_pixels(runner, source, tmp_path):
    whole = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "whole.png"), "--size", "96x48"])
    banded = runner.invoke(cli, ["-v", "convert", str(source), "-o", str(tmp_path / "band.png"), "--size", "96x48",
                                 "--max-memory", "1K"])
    assert whole.exit_code == banded.exit_code == 0, banded.output
    assert "banded" in banded.stderr and "bands of 48 rows" in banded.stderr
    assert np.array_equal(pixels(tmp_path / "band.png"), pixels(tmp_path / "whole.png"))
    batch = runner.invoke(cli, ["batch", str(source), "-o", str(tmp_path / "out"), "--size", "96x48",
                                "--max-memory", "1K", "--format", "tif"])
    assert batch.exit_code == 0, batch.output
    assert np.array_equal(pixels(tmp_path / "out" / "in.tif"), pixels(tmp_path / "whole.png"))


def test_formats_that_do_not_stream_are_usage_errors(runner, source, tmp_path):
    huge = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.jpg"), "--max-memory", "1K"])
    assert huge.exit_code == 2 and "write tif or png, which stream" in huge.output
    wide = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.webp"), "--size", "16384"])
    assert wide.exit_code == 2 and "WEBP holds sides of at most 16383 px" in wide.output
    bad = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.png"), "--max-memory", "lots"])
    assert bad.exit_code == 2 and "--max-memory 'lots'" in bad.output
    assert not any(tmp_path.glob("o.*")) and not any(tmp_path.glob(".o.*"))


NPY = {"L": (np.uint8, ()), "I;16": (np.uint16, ()), "F": (np.float32, ()), "RGB": (np.uint8, (3,)),
       "RGBA": (np.uint8, (4,))}


@pytest.mark.parametrize("mode", list(NPY))
def test_npy_inputs_are_mapped_as_their_mode(tmp_path, mode):
    dtype, channels = NPY[mode]
    array = (np.random.default_rng(1).random((32, 64) + channels) * 60000).astype(dtype)
    if dtype == np.uint8:
        array = make_map(64, 32, channels=(channels or (1,))[0]).reshape((32, 64) + channels)
    np.save(tmp_path / "in.npy", array)
    Image.fromarray(array).save(tmp_path / "in.tif")
    for band_rows in (None, 7):
        convert(tmp_path / "in.npy", tmp_path / "a.tif", band_rows=band_rows)
        convert(tmp_path / "in.tif", tmp_path / "b.tif", band_rows=band_rows)
        assert np.array_equal(tifffile.imread(tmp_path / "a.tif"), tifffile.imread(tmp_path / "b.tif"))


def test_hostile_npy_files_are_refused_in_one_line(runner, tmp_path):
    cases = {"two-channels": np.zeros((4, 8, 2), np.uint8), "int64": np.zeros((4, 8), np.int64),
             "fortran": np.asfortranarray(np.zeros((4, 8, 3), np.uint8)), "big-endian": np.zeros((4, 8), ">u2")}
    for name, array in cases.items():
        np.save(tmp_path / f"{name}.npy", array)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((32, 64, 3), np.uint8))
    data = good.read_bytes()
    (tmp_path / "truncated.npy").write_bytes(data[:-10])
    (tmp_path / "evil.npy").write_bytes(data[:10] + b"__import__('os').system('echo owned')" + data[48:])
    (tmp_path / "long.npy").write_bytes(data[:8] + (60000).to_bytes(2, "little") + b" " * 60000)
    for path in sorted(tmp_path.glob("*.npy")):
        if path == good:
            continue
        result = runner.invoke(cli, ["convert", str(path), "-o", str(tmp_path / "o.png"), "--no-cache"])
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and path.name in result.stderr, result.output
        assert "owned" not in result.output
    assert not (tmp_path / "o.png").exists()


def test_an_uncompressed_tiff_over_the_budget_is_mapped(tmp_path, caplog):
    array = make_map(64, 32)
    tifffile.imwrite(tmp_path / "in.tif", array, rowsperstrip=5)
    Image.fromarray(array).save(tmp_path / "in.png")
    with caplog.at_level("DEBUG", "polewarp"):
        convert(tmp_path / "in.tif", tmp_path / "a.tif", budget=1)
    assert "memory-mapped, not read" in caplog.text
    convert(tmp_path / "in.png", tmp_path / "b.tif")
    assert np.array_equal(pixels(tmp_path / "a.tif"), pixels(tmp_path / "b.tif"))


def test_a_banded_build_is_cached_band_by_band_and_read_back(source, tmp_path, caplog):
    cache = LutCache(tmp_path / "c")
    geometry = Geometry.of(resample="average")
    first, _ = convert(source, tmp_path / "a.png", geometry, band_rows=7, cache=cache)
    second, _ = convert(source, tmp_path / "b.png", geometry, band_rows=7, cache=cache)
    assert first.origin.startswith("built by bands") and second.origin.startswith("cache")
    assert np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png"))
    hit = cache.load(first.spec)
    assert np.array_equal(hit.array, build_lut(first.spec, "serial").array)
    small = LutCache(tmp_path / "small", max_bytes=1000)
    with caplog.at_level("DEBUG", "polewarp"):
        convert(source, tmp_path / "c.png", band_rows=7, cache=small)
    assert "larger than the cache cap" in caplog.text and small.entries() == []


# --- faults mid-stream (real subprocesses) ---------------------------------------------------------

def start_huge(tmp_path, *extra, **kwargs):
    """A banded convert lasting seconds: a 16000x8000 output in bands of ~600 rows."""
    Image.fromarray(make_map(64, 32)).save(tmp_path / "in.png")
    return subprocess.Popen([sys.executable, "-m", "polewarp", "convert", str(tmp_path / "in.png"), "-o",
                             str(tmp_path / "out.tif"), "--size", "16000x8000", "--max-memory", "1K", "--no-cache",
                             *extra], cwd=tmp_path, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def wait_for_stream(process, tmp_path, timeout=90):
    """Until the output's temporary file holds a band (the stream is under way)."""
    deadline = time.monotonic() + timeout
    while not any(p.stat().st_size > 2**20 for p in tmp_path.glob(".out.tif*")):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_stream_leaves_nothing(tmp_path, signum, code):
    before = polewarp_segments()
    process = start_huge(tmp_path, "--backend", "processes", "-c", "2")
    wait_for_stream(process, tmp_path)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
    assert polewarp_segments() - before == set()


@pytest.mark.slow
def test_a_worker_killed_mid_stream_leaves_nothing(tmp_path):
    before = polewarp_segments()
    process = start_huge(tmp_path, "--backend", "processes", "-c", "2")
    wait_for_stream(process, tmp_path)
    worker_processes(process)[0].kill()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "worker process died" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
    assert polewarp_segments() - before == set()


@pytest.mark.slow
def test_a_full_disk_mid_stream_fails_in_one_line(tmp_path):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 2**20, 50 * 2**20))

    process = start_huge(tmp_path, preexec_fn=small_files)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "File too large" in err and "Traceback" not in err, err
    assert err.strip().count("\n") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_progress_is_reported_band_by_band_and_small_maps_keep_the_in_memory_path(source, tmp_path):
    seen = []
    request = ConvertRequest(source, tmp_path / "a.png", Geometry(), (96, 48))
    convert_file(request, SERIAL, band_rows=20, bands_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(20, 48), (40, 48), (48, 48)]
    lut, _ = convert_file(ConvertRequest(source, tmp_path / "b.png", Geometry(), (96, 48)), SERIAL,
                          bands_progress=seen.append)
    assert "bands" not in lut.origin and len(seen) == 3


def test_a_tiff_beyond_the_classic_limit_is_a_bigtiff(source, tmp_path, monkeypatch):
    from polewarp.engine import streams

    monkeypatch.setattr(streams, "TIFF_LIMIT", 0)
    convert(source, tmp_path / "big.tif", band_rows=7)
    convert(source, tmp_path / "whole.tif")
    with tifffile.TiffFile(tmp_path / "big.tif") as tif:
        assert tif.is_bigtiff and np.array_equal(tif.asarray(), pixels(tmp_path / "whole.tif"))


def test_the_band_height_follows_the_budget():
    from polewarp.engine.bands import MAX_BAND_BYTES, MIN_BAND_BYTES, make_plan

    spec = Geometry().spec((86400, 43200))  # a uint32 LUT: 8 bytes a pixel, 3 more of RGB output
    row = 86400 * (8 + 3)
    resident = make_plan(spec, 86400 * 43200 * 3, 3, 10 * 2**30)
    mapped = make_plan(spec, 86400 * 43200 * 3, 3, 10 * 2**30, mapped=True)
    roomy = make_plan(spec, 0, 3, 2**40)
    assert resident.huge and resident.band_rows == MIN_BAND_BYTES // row
    assert mapped.band_rows == MAX_BAND_BYTES // row and not roomy.huge
    assert make_plan(spec, 0, 3, 2**40, band_rows=7).band_rows == 7


def test_a_band_segment_gets_each_band_rows_at_their_place(tmp_path):
    """The pool's workers allocate the rows they fill: in a band's segment, at the row's place
    in the band, never past the segment's end (which would grow it to the whole LUT)."""
    from polewarp.engine import workers

    band = (8, 16, 2)
    with workers.SharedArray(band, np.uint16, reserve=False) as shared:
        if shared._memory is not None:
            pytest.skip("no /dev/shm: the stdlib's segment is reserved whole")
        reserve = workers._row_reserver(shared.handle, shared.array)
        reserve(3 * 8 + 2, 3 * 8 + 5)  # rows 2-4 of the LUT's fourth band
        stat = os.stat(workers.SEGMENT_DIR / shared.handle.name)
        assert stat.st_size == shared.array.nbytes
        assert stat.st_blocks > 0


def test_streamed_outputs_carry_the_embedded_geometry_and_the_georef(runner, source, tmp_path):
    from polewarp.engine.imageio import read_header

    (tmp_path / "whole").mkdir()
    (tmp_path / "band").mkdir()
    for ext in ("tif", "png"):
        args = ["--georef"] if ext == "png" else []
        for name, extra in (("whole", []), ("band", ["--max-memory", "1K"])):
            result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / name / f"m.{ext}"),
                                         "--to", "mercator", "--size", "96x48", *args, *extra])
            assert result.exit_code == 0, result.output
        whole, band = read_header(tmp_path / "whole" / f"m.{ext}"), read_header(tmp_path / "band" / f"m.{ext}")
        assert band.geometry == whole.geometry and whole.geometry.to == "mercator"
        sidecars = sorted(p.name for p in (tmp_path / "whole").glob("m.*") if p.suffix not in (".tif", ".png"))
        assert sidecars == sorted(p.name for p in (tmp_path / "band").glob("m.*") if p.suffix not in (".tif", ".png"))
        for name in sidecars:
            assert (tmp_path / "band" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
        if ext == "png":
            assert {".pgw", ".prj", ".xml"} <= {(tmp_path / "band" / n).suffix for n in sidecars}
    with Image.open(tmp_path / "whole" / "m.tif") as whole, Image.open(tmp_path / "band" / "m.tif") as band:
        for tag in (33550, 33922, 34735, 34736):  # scale, tiepoint, GeoKeys, their doubles
            assert band.tag_v2.get(tag) == whole.tag_v2.get(tag) is not None, tag


def test_an_input_is_read_by_its_embedded_geometry_in_bands_too(source, tmp_path):
    """A Mercator map that says so is read as Mercator in bands as in memory (and not as the
    equirectangular map the options would otherwise take it for)."""
    convert(source, tmp_path / "m.png", Geometry.of(to="mercator"))
    back = Geometry.of(to="equirectangular")
    results = {}
    for name, rows, options in (("whole", None, {}), ("band", 5, {}), ("plain", None, None)):
        request = ConvertRequest(tmp_path / "m.png", tmp_path / f"{name}.png", back, (96, 48), input_options=options)
        lut, _ = convert_file(request, SERIAL, band_rows=rows)
        assert lut.spec.from_ == ("equirectangular" if options is None else "mercator")
        results[name] = pixels(tmp_path / f"{name}.png")
    assert np.array_equal(results["band"], results["whole"])
    assert not np.array_equal(results["plain"], results["whole"])


def test_a_graticule_is_not_drawn_in_bands_but_refused_by_name(runner, source, tmp_path):
    args = ["convert", str(source), "-o", str(tmp_path / "g.png"), "--graticule", "30", "--max-memory", "1K"]
    result = runner.invoke(cli, args)
    real = subprocess.run([sys.executable, "-m", "polewarp", *args], env=run_env(), capture_output=True, text=True,
                          timeout=120)
    for code, stderr in ((result.exit_code, result.stderr), (real.returncode, real.stderr)):
        error = stderr.strip().splitlines()[-1]
        assert code == 2 and error.startswith("Error: Invalid value for '--graticule'"), stderr
        assert "draw no graticule" in error and "--max-memory" in error and "Traceback" not in stderr
    assert not any(tmp_path.glob("g.*")) and not any(tmp_path.glob(".g.*"))


def test_big_streamable_outputs_are_banded_within_the_budget_and_others_are_not(source, tmp_path, monkeypatch):
    from polewarp.engine import bands

    monkeypatch.setattr(bands, "BANDED_MIN_PIXELS", 96 * 48)
    expected = convert(source, tmp_path / "whole.png")[0]
    assert "bands" not in expected.origin  # no budget: never banded
    budget = 2**30
    assert "bands" in convert(source, tmp_path / "a.tif", budget=budget)[0].origin
    assert np.array_equal(pixels(tmp_path / "a.tif"), pixels(tmp_path / "whole.png"))
    assert "bands" not in convert(source, tmp_path / "b.jpg", budget=budget)[0].origin
    assert "bands" not in convert(source, tmp_path / "c.png", Geometry.of(graticule=30), budget=budget)[0].origin
    assert "bands" not in convert(source, tmp_path / "d.png", size=(95, 48), budget=budget)[0].origin


TIFF_INPUTS = {"L": (1,), "LA": (2,), "RGB": (3,), "RGBA": (4,), "I;16": (), "F": ()}


@pytest.mark.parametrize("mode", list(TIFF_INPUTS))
def test_uncompressed_tiffs_are_read_without_decoding_as_pillow_decodes_them(tmp_path, mode):
    from polewarp.engine.imageio import read_image
    from polewarp.engine.mapped import read_input

    base = make_map(64, 32)
    image = {"I;16": lambda: Image.fromarray(base[:, :, 0].astype(np.uint16) * 257),
             "F": lambda: Image.fromarray(base[:, :, 0].astype(np.float32) / 3)}.get(
        mode, lambda: Image.fromarray(base).convert(mode))()
    path = tmp_path / "in.tif"
    image.save(path, dpi=(150, 150), icc_profile=b"not really a profile")
    convert(tmp_path / "in.tif", tmp_path / "made.tif", Geometry.of(to="mollweide"))
    decoded, read = read_image(path), read_input(path, 1)  # no decoding: --max-pixels is the decoder's
    assert not isinstance(read.pixels, np.memmap) and read.pixels.flags.writeable
    assert (read.mode, read.pixels.dtype) == (decoded.mode, decoded.pixels.dtype)
    assert np.array_equal(read.pixels, decoded.pixels)
    assert read.info["icc_profile"] == decoded.info["icc_profile"]
    assert tuple(map(round, read.info["dpi"])) == (150, 150)
    made = tmp_path / "made.tif"  # and a map polewarp wrote keeps its embedded geometry
    assert read_input(made, 1).geometry == read_image(made).geometry is not None


def test_a_tiff_truncated_while_it_is_read_fails_in_one_line(tmp_path):
    from polewarp.engine.errors import ImageError
    from polewarp.engine.mapped import load, map_input

    tifffile.imwrite(tmp_path / "in.tif", make_map(64, 32))
    mapped = map_input(tmp_path / "in.tif")
    os.truncate(tmp_path / "in.tif", 2000)
    with pytest.raises(ImageError, match="truncated while it was read"):
        load(mapped)
