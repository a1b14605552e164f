"""The gather: every dtype and channel count, numba equal to numpy, fill, one-hot pixels."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from polewarp import GeometrySpec, Lut, apply_lut, build_lut
from polewarp.cli import cli
from polewarp.engine.cache import LutCache
from polewarp.engine.errors import CacheError, SpecError
from polewarp.engine.gather import GATHERS, NUMBA_MIN_PIXELS, check_lut, choose_gather
from polewarp.engine.imageio import read_image
from polewarp.engine.lutfile import load_lut, save_lut

from .conftest import make_map, run_env


@pytest.fixture(scope="module")
def mercator_lut():
    """A LUT with "no source" pixels (a Mercator input has none near the rotated poles)."""
    lut = build_lut(GeometrySpec((120, 60), source="mercator"))
    assert (lut.array[..., 0] == lut.missing).any()
    return lut


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64, bool])
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("gather", ["numba", "numpy"])
def test_gather_matches_fancy_indexing(mercator_lut, dtype, channels, gather):
    rng = np.random.default_rng(1)
    shape = (60, 120) if channels is None else (60, 120, channels)
    image = (rng.random(shape) * 200).astype(dtype)
    fill = 1 if dtype is not bool else True
    out = apply_lut(mercator_lut, image, fill=fill, gather=gather)
    rows, cols = mercator_lut.array[..., 0], mercator_lut.array[..., 1]
    missing = rows == mercator_lut.missing
    expected = image[np.where(missing, 0, rows), np.where(missing, 0, cols)]
    expected[missing] = fill
    assert out.dtype == image.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_per_channel_fill(mercator_lut):
    image = np.zeros((60, 120, 4), np.uint8)
    out = apply_lut(mercator_lut, image, fill=(1, 2, 3, 4))
    missing = mercator_lut.array[..., 0] == mercator_lut.missing
    np.testing.assert_array_equal(out[missing], np.tile([1, 2, 3, 4], (missing.sum(), 1)))


@settings(deadline=None, max_examples=30)
@given(row=st.integers(0, 30), col=st.integers(0, 60))
def test_one_hot_pixel_lands_where_the_lut_says(row, col):
    lut = build_lut(GeometrySpec((61, 31), heading=37, center=(20, 10)))
    image = np.zeros((31, 61), np.uint16)
    image[row, col] = 7
    out = apply_lut(lut, image)
    hits = (lut.array[..., 0] == row) & (lut.array[..., 1] == col)
    np.testing.assert_array_equal(out == 7, hits)


@settings(deadline=None, max_examples=40)
@given(in_w=st.integers(1, 50), in_h=st.integers(1, 30), out_w=st.integers(1, 400), channels=st.sampled_from([1, 3, 5]),
       seed=st.integers(0, 2**32 - 1))
def test_numba_gathers_equal_numpy_for_any_length(in_w, in_h, out_w, channels, seed):
    """Random LUTs of any length (the numba gathers work and prefetch in blocks of pixels)."""
    rng = np.random.default_rng(seed)
    table = np.stack([rng.integers(0, in_h, (2, out_w)), rng.integers(0, in_w, (2, out_w))], axis=-1)
    table[rng.random((2, out_w)) < 0.1] = np.iinfo(np.uint16).max
    lut = Lut(table.astype(np.uint16), GeometrySpec((in_w, in_h), output_size=(out_w, 2)))
    image = rng.integers(0, 256, (in_h, in_w, channels), dtype=np.uint8)
    np.testing.assert_array_equal(apply_lut(lut, image, 7, gather="numba"), apply_lut(lut, image, 7, gather="numpy"))


def test_wrong_input_size_is_refused(mercator_lut):
    with pytest.raises(SpecError, match="120x60 input"):
        apply_lut(mercator_lut, np.zeros((61, 120), np.uint8))


def test_bad_fill_is_refused(mercator_lut):
    with pytest.raises(SpecError, match="fill has 2 values"):
        apply_lut(mercator_lut, np.zeros((60, 120, 3), np.uint8), fill=(1, 2))


# --- one contract for the numpy and numba nearest gathers, and the check of foreign LUTs ---------

def random_table(rng, in_h, in_w, shape, dtype, marker_share):
    """A nearest LUT of ``shape`` (H, W) in ``dtype`` pointing anywhere in the input, with about
    ``marker_share`` of its pixels the marker pair (no source)."""
    table = np.stack([rng.integers(0, in_h, shape), rng.integers(0, in_w, shape)], axis=-1).astype(dtype)
    table[rng.random(shape) < marker_share] = np.iinfo(dtype).max
    return table


def reference_gather(table, image, fill):
    """The gather in plain numpy fancy indexing, the marker found in the LUT's own dtype."""
    missing = table[..., 0] == np.iinfo(table.dtype).max
    rows, cols = (np.where(missing, 0, table[..., k]).astype(np.intp) for k in (0, 1))
    out = image[rows, cols]
    out[missing] = fill
    return out


@pytest.mark.parametrize("lut_dtype", [np.uint16, np.uint32])
@pytest.mark.parametrize("marker_share", [0.0, 0.2])
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_numpy_and_numba_gathers_write_the_same_pixels(lut_dtype, marker_share, channels, dtype):
    """Every LUT dtype, with and without "no source", packable pixels (1, 2, 4, 8 bytes) or not."""
    rng = np.random.default_rng(channels)
    table = random_table(rng, 13, 29, (7, 41), lut_dtype, marker_share)
    image = (rng.random((13, 29, channels)) * 250).astype(dtype)
    expected = reference_gather(table, image, 3)
    wrapped = [Lut(table, GeometrySpec((29, 13), output_size=(41, 7)))] if lut_dtype is np.uint16 else []
    for lut in [table, *wrapped]:  # a spec this small takes uint16: uint32 comes bare
        for method in ("numba", "numpy", "auto"):
            np.testing.assert_array_equal(apply_lut(lut, image, 3, gather=method), expected)


@settings(deadline=None, max_examples=60)
@given(in_w=st.integers(1, 40), in_h=st.integers(1, 20), out_w=st.integers(1, 300),
       channels=st.integers(1, 5), lut_dtype=st.sampled_from([np.uint16, np.uint32]),
       marker_share=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_numpy_and_numba_gathers_agree_on_random_luts(in_w, in_h, out_w, channels, lut_dtype, marker_share, seed):
    rng = np.random.default_rng(seed)
    table = random_table(rng, in_h, in_w, (3, out_w), lut_dtype, marker_share)
    image = rng.integers(0, 2**16, (in_h, in_w, channels), dtype=np.uint16)
    numba_out = apply_lut(table, image, 9, gather="numba")
    np.testing.assert_array_equal(numba_out, apply_lut(table, image, 9, gather="numpy"))
    np.testing.assert_array_equal(numba_out, reference_gather(table, image, 9))


@pytest.mark.parametrize("resample", ["bilinear", "average"])
@pytest.mark.parametrize("channels", [1, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_blending_gathers_are_the_same_whatever_the_path(resample, channels, dtype):
    """The gather choice and where the LUT came from (built or checked as foreign) change nothing."""
    spec = GeometrySpec((90, 45), output_size=(60, 30), source="mercator", resample=resample)
    built = build_lut(spec)
    image = (np.random.default_rng(5).random((45, 90, channels)) * 255).astype(dtype)
    expected = apply_lut(built, image, 4, alpha=channels == 4)
    for lut in (built, Lut(np.array(built.array), spec)):
        for method in GATHERS:
            np.testing.assert_array_equal(apply_lut(lut, image, 4, gather=method, alpha=channels == 4), expected)


def test_auto_gather_takes_numba_from_the_measured_size():
    assert choose_gather("auto", NUMBA_MIN_PIXELS) == "numba"
    assert choose_gather("numpy", NUMBA_MIN_PIXELS) == "numpy"


@pytest.mark.parametrize("table, message", [
    (np.zeros((4, 5, 3), np.uint16), "bare LUT array"),
    (np.zeros((4, 5, 2), np.int64), "bare LUT array"),
    (np.zeros((4, 5, 4, 2), np.uint16), "bare LUT array"),
])
def test_bare_arrays_of_another_layout_are_refused(table, message):
    with pytest.raises(SpecError, match=message):
        apply_lut(table, np.zeros((3, 8), np.uint8))


@pytest.mark.parametrize("method", GATHERS)
@pytest.mark.parametrize("pair", [(3, 0), (0, 8), (65535, 0), (0, 65535), (70, 900)])
def test_bare_arrays_pointing_outside_the_input_are_refused(method, pair):
    """Past the last row or column, or half a marker (one side only: no build writes that)."""
    table = np.zeros((4, 5, 2), np.uint16)
    table[2, 3] = pair
    with pytest.raises(CacheError, match="outside the 8x3 input"):
        apply_lut(table, np.zeros((3, 8, 3), np.uint8), gather=method)


def test_a_lut_whose_shape_does_not_fit_its_method_is_refused():
    spec = GeometrySpec((64, 32), resample="bilinear")
    with pytest.raises(SpecError, match="bilinear LUT"):
        apply_lut(Lut(np.zeros((32, 64, 2), np.uint16), spec), np.zeros((32, 64), np.uint8))


@pytest.mark.parametrize("resample", ["nearest", "bilinear", "average"])
def test_check_takes_every_last_readable_pair_and_nothing_past_it(resample):
    """The limits are what the kernels read safely: pixels for nearest and average, 1/256 px for
    bilinear (with its padded neighbours); built LUTs pass, one step past the edge does not."""
    spec = GeometrySpec((64, 32), output_size=(16, 8), resample=resample)
    table = np.array(build_lut(spec).array)
    check_lut(table, (32, 64), resample, "numba")
    scale = 256 if resample == "bilinear" else 1
    for axis, side in ((0, 32), (1, 64)):
        table.reshape(-1, 2)[5] = (0, 0)
        table.reshape(-1, 2)[5, axis] = side * scale - 1
        for method in ("numba", "numpy"):
            check_lut(table, (32, 64), resample, method)
        table.reshape(-1, 2)[5, axis] = side * scale
        for method in ("numba", "numpy"):
            with pytest.raises(CacheError, match="outside the 64x32 input"):
                check_lut(table, (32, 64), resample, method)


# --- through the command line --------------------------------------------------------------------

def forged(spec, row, col):
    """The built LUT of ``spec`` with one pair moved to (row, column): what a foreign file could hold."""
    table = np.array(build_lut(spec).array)
    table.reshape(-1, 2)[7] = (row, col)
    return table


@pytest.mark.slow
def test_a_uint32_lut_writes_the_same_pixels_from_the_cache_as_built(tmp_path):
    """Input wider than 65535: a uint32 LUT with "no source" pixels (a Mercator input); the hit
    gathers without numba (a small output), the build with it."""
    source = tmp_path / "wide.png"
    Image.fromarray(make_map(66000, 4)).save(source, compress_level=1)
    outputs = []
    for run in ("build", "hit"):
        output = tmp_path / f"{run}.png"
        done = subprocess.run([sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(output),
                               "--from", "mercator", "--size", "100x50", "--cache-dir", str(tmp_path / "c"), "--time"],
                              env=run_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(read_image(output).pixels)
    assert "cache (" in done.stderr
    assert (outputs[0] == 0).all(axis=-1).any()  # the "no source" fill is there
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("resample, pair", [("nearest", (0, 64)), ("nearest", (65535, 3)),
                                            ("bilinear", (0, 2**31))])
def test_a_lut_file_pointing_outside_the_input_fails_naming_it(runner, map_file, tmp_path, resample, pair):
    source, _ = map_file
    spec = GeometrySpec((64, 32), resample=resample)
    npy = save_lut(Lut(forged(spec, *pair), spec), tmp_path / "t.npy")  # a matching sidecar: a pair, but hostile
    output = tmp_path / "o.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(output), "--lut", str(npy)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and str(npy) in result.output and "outside the 64x32 input" in result.output
    assert "Traceback" not in result.output and not output.exists()


@pytest.mark.parametrize("resample, pair", [("nearest", (40, 3)), ("bilinear", (0, 2**31)),
                                            ("bilinear", (2**31, 0))])
def test_a_cache_entry_pointing_outside_the_input_is_rebuilt(runner, map_file, tmp_path, resample, pair):
    """Its checksum is valid (the cache wrote it), its values are not: damaged, rebuilt, and the
    output is the one a build gives."""
    source, _ = map_file
    spec = GeometrySpec((64, 32), resample=resample)
    folder = tmp_path / "c"
    LutCache(folder).store(Lut(forged(spec, *pair), spec))
    args = ["convert", str(source), "--resample", resample]
    result = runner.invoke(cli, [*args, "-o", str(tmp_path / "hit.png"), "--cache-dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "damaged" in result.output and "outside the 64x32 input" in result.output
    assert runner.invoke(cli, [*args, "-o", str(tmp_path / "built.png"), "--no-cache"]).exit_code == 0
    np.testing.assert_array_equal(read_image(tmp_path / "hit.png").pixels, read_image(tmp_path / "built.png").pixels)
    np.testing.assert_array_equal(LutCache(folder).load(spec).array, build_lut(spec).array)


@pytest.mark.slow
@pytest.mark.parametrize("resample, pair", [("nearest", (40, 3)), ("bilinear", (0, 2**31))])
def test_batch_rebuilds_a_cache_entry_pointing_outside_the_input(runner, map_file, tmp_path, resample, pair):
    """batch checks the LUT it shares with its workers once, as it loads it from the cache."""
    source, _ = map_file
    spec = GeometrySpec((64, 32), resample=resample)
    folder = tmp_path / "c"
    LutCache(folder).store(Lut(forged(spec, *pair), spec))
    out = tmp_path / "out"
    result = runner.invoke(cli, ["batch", str(source), "-o", str(out), "--workers", "2", "--resample", resample,
                                 "--cache-dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "damaged" in result.output and "outside the 64x32 input" in result.output
    built = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "b.png"), "--resample", resample,
                                "--no-cache"])
    assert built.exit_code == 0
    np.testing.assert_array_equal(read_image(out / "map.png").pixels, read_image(tmp_path / "b.png").pixels)


def test_load_lut_names_a_file_pointing_outside_the_input(tmp_path):
    spec = GeometrySpec((64, 32))
    npy = save_lut(Lut(forged(spec, 0, 64), spec), tmp_path / "t.npy")
    with pytest.raises(CacheError, match=f"{npy}: the LUT points outside the 64x32 input"):
        load_lut(npy)
    assert not load_lut(npy, check=False).checked


@pytest.mark.parametrize("resample", ["nearest", "bilinear", "average"])
@pytest.mark.parametrize("channels", [1, 3, 4, 5])
def test_rows_gathered_on_threads_are_the_rows_gathered_in_one_run(resample, channels):
    from concurrent.futures import ThreadPoolExecutor

    from polewarp.engine.gather import RowGather

    spec = GeometrySpec((90, 45), output_size=(60, 31), resample=resample)
    lut = build_lut(spec)
    image = (np.random.default_rng(6).random((45, 90, channels)) * 255).astype(np.uint8)
    expected = apply_lut(lut, image, 7, gather="numba", alpha=channels == 4)
    with ThreadPoolExecutor(3) as threads:
        rows = RowGather(spec, image, 7, "numba", channels == 4, True, threads=threads, workers=3)
        for first, last in ((0, 31), (5, 6), (3, 20)):
            out = np.zeros((last - first, 60, channels), np.uint8)
            rows(lut.array[first:last], out)
            np.testing.assert_array_equal(out, expected[first:last])
