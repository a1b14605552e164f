"""Bilinear and average resampling: LUT encodings, gathers against plain numpy, alpha, seams,
quality against an 8x8 supersampled float64 reference, and the CLI."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from polewarp import GeometrySpec, Lut, apply_lut, build_lut
from polewarp.cli import cli
from polewarp.engine import gather
from polewarp.engine.cache import LutCache, cache_key
from polewarp.engine.errors import SpecError
from polewarp.engine.geometry import FRACTION_BITS
from polewarp.engine.imageio import read_image

from . import reference
from .conftest import make_map


def bilinear_reference(image, positions, fill, alpha=False):
    """Plain numpy: blend four neighbours with weights in 1/65536, wrap columns, clamp rows."""
    src = image.astype(np.float64) if image.ndim == 3 else image[..., None].astype(np.float64)
    in_h, in_w = src.shape[:2]
    pr, pc = positions[..., 0].astype(np.int64), positions[..., 1].astype(np.int64)
    missing = pr >= in_h * 256
    pr, pc = np.where(missing, 0, pr), np.where(missing, 0, pc)
    r0, c0, fr, fc = pr >> 8, pc >> 8, pr & 255, pc & 255
    r1, c1 = np.minimum(r0 + 1, in_h - 1), (c0 + 1) % in_w
    weights = [((256 - fr) * (256 - fc), r0, c0), ((256 - fr) * fc, r0, c1), (fr * (256 - fc), r1, c0),
               (fr * fc, r1, c1)]
    integer = image.dtype.kind != "f"
    if alpha:
        wa = [w * src[r, c, -1] for w, r, c in weights]
        total_a = sum(wa)
        colour = sum(w[..., None] * src[r, c, :-1] for w, (_, r, c) in zip(wa, weights, strict=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = total_a[..., None]
            out_c = np.where(weight > 0, np.floor((colour + weight // 2) / weight) if integer else colour / weight, 0)
        out_a = np.floor((total_a + 32768) / 65536) if integer else total_a / 65536
        out = np.concatenate([out_c, out_a[..., None]], axis=-1)
    else:
        total = sum(w[..., None] * src[r, c] for w, r, c in weights)
        out = np.floor((total + 32768) / 65536) if integer else total / 65536
    out[missing] = fill
    out = out.astype(image.dtype)
    return out if image.ndim == 3 else out[..., 0]


@pytest.mark.parametrize("size", [(333, 167), (100, 50)])
def test_bilinear_positions_match_the_formulas(size):
    width, height = size
    lat, lon = reference.transverse_latlon(width, height)
    x, y = reference.equirect_coords(lat, lon, width, height)
    u, v = (x - 0.5) * 256, (y - 0.5) * 256
    col = np.floor(u + 0.5).astype(np.int64) % (width * 256)
    row = np.clip(np.floor(v + 0.5), 0, (height - 1) * 256)
    lut = build_lut(GeometrySpec(size, resample="bilinear"))
    assert lut.array.dtype == np.uint32
    trusted = (np.abs(u + 0.5 - np.round(u + 0.5)) > 1e-6) & (np.abs(v + 0.5 - np.round(v + 0.5)) > 1e-6)
    np.testing.assert_array_equal(lut.array[..., 1][trusted], col[trusted])
    np.testing.assert_array_equal(lut.array[..., 0][trusted], row[trusted])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
@pytest.mark.parametrize("channels", [None, 2, 3, 4])
def test_bilinear_gather_matches_plain_numpy(dtype, channels):
    spec = GeometrySpec((90, 45), source="mercator", resample="bilinear", center=(10, 20), heading=70)
    lut = build_lut(spec)
    assert (lut.array[..., 0] == lut.missing).any()
    shape = (45, 90) if channels is None else (45, 90, channels)
    image = (np.random.default_rng(2).random(shape) * 60000).astype(dtype)
    fill = 7
    np.testing.assert_array_equal(apply_lut(lut, image, fill), bilinear_reference(image, lut.array, fill))


def test_fixed_point_constants_follow_the_lut_fraction_bits():
    """The kernels' fixed point is the one geometry.FRACTION_BITS gives bilinear LUTs, in the
    names and in the compiled blends (a stale numba cache would fail here): a column position of
    f / FRACTION_ONE between a pixel of 0 and one of 200 blends to 200 f / FRACTION_ONE."""
    from polewarp.engine import kernels

    one = 1 << FRACTION_BITS
    assert (kernels.FRACTION_ONE, kernels.FRACTION_MASK) == (one, one - 1)
    assert (kernels.WEIGHT_ONE, kernels.WEIGHT_HALF) == (1 << kernels.WEIGHT_BITS, kernels.WEIGHT_ONE // 2)
    assert kernels.WEIGHT_ONE == one * one
    spec = GeometrySpec((4, 2), output_size=(4, 2), resample="bilinear")
    table = np.zeros_like(build_lut(spec).array)
    table[..., 1] = np.array([one // 2, 1, one - 1, 0])
    image = np.zeros((2, 4, 3))
    image[:, 1] = 200
    expected = 200 * np.array([one // 2, 1, one - 1, 0]) / one
    for dtype in (np.uint8, np.float32):  # the word kernel and the one taking a pixel at a time
        out = apply_lut(Lut(table, spec), image.astype(dtype))
        np.testing.assert_array_equal(out[..., 0], np.broadcast_to(np.floor(expected + 0.5).astype(dtype)
                                                                   if dtype is np.uint8 else expected, (2, 4)))


@settings(max_examples=80, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 20), out_w=st.integers(1, 600), channels=st.integers(1, 4),
       alpha=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_byte_blend_matches_plain_numpy_at_every_edge(width, height, out_w, channels, alpha, seed):
    """The 8-bit blend (8-byte word loads, blocks of output pixels) against the reference on
    random positions that include the last row and column, the seam, and pixels with no source
    (whose fill, transparent but coloured, must come out as it is)."""
    rng = np.random.default_rng(seed)
    positions = np.stack([rng.integers(0, (height - 1) * 256 + 1, (3, out_w)),
                          rng.integers(0, width * 256, (3, out_w))], axis=-1).astype(np.uint32)
    positions[0, :4] = ((height - 1) * 256, width * 256 - 1)  # bottom-right: the word reads run past the pixels
    positions[1, rng.random(out_w) < 0.2] = np.iinfo(np.uint32).max
    lut = Lut(positions, GeometrySpec((width, height), output_size=(out_w, 3), resample="bilinear"))
    image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image[..., -1] = np.where(rng.random((height, width)) < 0.3, 0, image[..., -1])  # transparent pixels
    fill = (200, 100, 50, 0)[-channels:]
    alpha = alpha and channels > 1
    np.testing.assert_array_equal(apply_lut(lut, image, fill, alpha=alpha),
                                  bilinear_reference(image, positions, fill, alpha=alpha))


@pytest.mark.parametrize("resample", ["bilinear", "average"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_big_endian_machines_get_the_same_pixels_one_at_a_time(monkeypatch, resample, channels):
    lut = build_lut(GeometrySpec((90, 45), output_size=(60, 30), source="mercator", resample=resample))
    image = np.random.default_rng(4).integers(0, 256, (45, 90, channels), dtype=np.uint8)
    by_words = apply_lut(lut, image, 5, alpha=channels == 4)
    monkeypatch.setattr(gather, "LITTLE_ENDIAN", False)
    np.testing.assert_array_equal(apply_lut(lut, image, 5, alpha=channels == 4), by_words)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [2, 4])
def test_bilinear_alpha_is_premultiplied(channels, dtype):
    lut = build_lut(GeometrySpec((90, 45), resample="bilinear", heading=33))
    rng = np.random.default_rng(5)
    image = (rng.random((45, 90, channels)) * (np.iinfo(dtype).max + 1 if dtype != np.float32 else 1)).astype(dtype)
    image[..., -1] = np.where(rng.random((45, 90)) < 0.3, 0, image[..., -1])
    out = apply_lut(lut, image, 0, alpha=True)
    np.testing.assert_array_equal(out, bilinear_reference(image, lut.array, 0, alpha=True))


def test_transparent_pixels_do_not_bleed():
    image = np.zeros((40, 80, 4), np.uint8)
    image[:, ::2] = (255, 0, 0, 255)  # opaque red beside transparent black
    for resample in ("bilinear", "average"):
        out = apply_lut(build_lut(GeometrySpec((80, 40), resample=resample, heading=20)), image, alpha=True)
        visible = out[..., 3] > 0
        assert visible.mean() > 0.5
        assert (out[visible][:, 0] == 255).all() and (out[visible][:, 1:3] == 0).all()


def test_no_seam_line_and_identity():
    flat = np.full((45, 90, 3), 200, np.uint8)
    out = apply_lut(build_lut(GeometrySpec((90, 45), resample="bilinear")), flat)
    assert (out == 200).all()
    pixels = make_map(91, 45)
    identity = build_lut(GeometrySpec((91, 45), resample="bilinear", heading=0, to="equirectangular"))
    np.testing.assert_array_equal(apply_lut(identity, pixels), pixels)


def test_average_lut_regroups_the_finer_nearest_lut():
    spec = GeometrySpec((64, 32), output_size=(32, 16), resample="average")
    assert spec.supersample == 4
    lut = build_lut(spec, backend="processes", workers=2, rows_per_task=3)
    fine = build_lut(GeometrySpec((64, 32), output_size=(128, 64))).array
    assert lut.array.shape == (16, 32, 16, 2)
    np.testing.assert_array_equal(lut.array[3, 5].reshape(4, 4, 2), fine[12:16, 20:24])


def average_reference(image, table, fill, alpha=False):
    """Plain numpy: the mean of each pixel's samples that have a source, colours weighted by
    alpha (the last channel) when asked, integers rounded half up."""
    pixels = (image if image.ndim == 3 else image[..., None]).astype(np.float64)
    rows, cols = table[..., 0].astype(np.int64), table[..., 1].astype(np.int64)
    valid = rows < pixels.shape[0]
    samples = pixels[np.where(valid, rows, 0), np.where(valid, cols, 0)] * valid[..., None]
    count = valid.sum(axis=2)[..., None]
    integer = image.dtype.kind != "f"
    with np.errstate(invalid="ignore", divide="ignore"):
        if alpha:
            weight = samples[..., -1:].sum(axis=2)
            colours = (samples[..., :-1] * samples[..., -1:]).sum(axis=2) / weight
            mean = np.concatenate([np.where(weight > 0, colours, 0.0), weight / count], axis=-1)
        else:
            mean = samples.sum(axis=2) / count
    out = np.where(count > 0, np.floor(mean + 0.5) if integer else mean, fill).astype(image.dtype)
    return out if image.ndim == 3 else out[..., 0]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_average_gather_matches_plain_numpy(dtype, channels):
    spec = GeometrySpec((90, 46), output_size=(45, 23), source="mercator", resample="average")
    lut = build_lut(spec)
    shape = (46, 90) if channels is None else (46, 90, channels)
    image = (np.random.default_rng(3).random(shape) * 250).astype(dtype)
    np.testing.assert_allclose(apply_lut(lut, image, 9), average_reference(image, lut.array, 9), rtol=1e-6)


@settings(max_examples=80, deadline=None)
@given(width=st.integers(1, 30), height=st.integers(1, 20), channels=st.integers(1, 4), k=st.integers(1, 8),
       alpha=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_byte_average_matches_plain_numpy_for_any_sample_count(width, height, channels, k, alpha, seed):
    """The 8-bit average (word loads; sums in 16-bit lanes and the mean by a reciprocal, or
    sums weighted by alpha) against the reference with up to 64 samples, samples without
    source, transparent samples, pixels with none, the last pixel."""
    rng = np.random.default_rng(seed)
    table = np.stack([rng.integers(0, height, (4, 9, k * k)), rng.integers(0, width, (4, 9, k * k))], axis=-1)
    table[rng.random((4, 9, k * k)) < 0.3] = np.iinfo(np.uint16).max  # the marker pair: no source
    table[0, 0] = np.iinfo(np.uint16).max  # a pixel with no source at all
    table[1, 1] = (height - 1, width - 1)
    table = table.astype(np.uint16)
    lut = Lut(table, GeometrySpec((width, height), output_size=(9, 4), resample="average", supersample=k))
    image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image[..., -1] = np.where(rng.random((height, width)) < 0.3, 0, image[..., -1])
    fill = tuple(range(40, 40 + channels))
    alpha = alpha and channels > 1
    np.testing.assert_array_equal(apply_lut(lut, image, fill, alpha=alpha),
                                  average_reference(image, table, fill, alpha=alpha))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_average_alpha_matches_plain_numpy(dtype):
    spec = GeometrySpec((90, 46), output_size=(45, 23), source="mercator", resample="average")
    lut = build_lut(spec)
    rng = np.random.default_rng(6)
    image = (rng.random((46, 90, 4)) * (250 if dtype != np.float32 else 1)).astype(dtype)
    image[..., -1] = np.where(rng.random((46, 90)) < 0.3, 0, image[..., -1])
    np.testing.assert_allclose(apply_lut(lut, image, 9, alpha=True), average_reference(image, lut.array, 9, alpha=True),
                               rtol=1e-6)


def test_spec_rules_for_methods():
    assert GeometrySpec((100, 50), output_size=(50, 25), resample="average").supersample == 4
    assert GeometrySpec((100, 50), resample="average").supersample == 2
    with pytest.raises(SpecError, match="supersample applies only"):
        GeometrySpec((10, 5), supersample=3)
    with pytest.raises(SpecError, match="nearest-neighbour output only"):
        GeometrySpec((10, 5), legacy=True, resample="bilinear")
    keys = {cache_key(GeometrySpec((10, 5), resample=r)) for r in ("nearest", "bilinear", "average")}
    assert len(keys) == 3


def test_cache_keeps_every_method(tmp_path):
    cache = LutCache(tmp_path)
    for resample in ("bilinear", "average"):
        lut = build_lut(GeometrySpec((40, 20), resample=resample))
        cache.store(lut)
        np.testing.assert_array_equal(cache.load(lut.spec).array, lut.array)


# --- quality: PSNR against an 8x8 supersampled float64 rendering ------------------------------

@pytest.mark.slow
def test_quality_ranking_on_the_embedded_map():
    from polewarp.data import default_map

    with Image.open(default_map()) as image:
        pixels = np.asarray(image.resize((512, 256), Image.Resampling.LANCZOS))
    scores = {}
    for out_w, out_h in ((512, 256), (256, 128)):
        ideal = reference.supersampled(pixels, out_w, out_h)
        for resample in ("nearest", "bilinear", "average"):
            spec = GeometrySpec((512, 256), output_size=(out_w, out_h), resample=resample)
            scores[out_w, resample] = reference.psnr(apply_lut(build_lut(spec), pixels), ideal)
    assert scores[512, "bilinear"] > scores[512, "nearest"] + 1
    assert scores[256, "bilinear"] > scores[256, "nearest"]
    assert scores[256, "average"] > max(scores[256, "bilinear"], scores[256, "nearest"]) + 1


# --- the CLI --------------------------------------------------------------------------------

def test_cli_methods_and_palette_conversion(runner, tmp_path):
    source = tmp_path / "p.png"
    Image.fromarray(make_map(64, 32)).convert("P").save(source)
    out = tmp_path / "o.png"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), "--resample", "bilinear"])
    assert result.exit_code == 0, result.output
    assert "P image converted to RGB" in result.stderr and read_image(out).mode == "RGB"
    result = runner.invoke(cli, ["convert", str(source), "-o", str(tmp_path / "o.gif"), "--resample", "average"])
    assert result.exit_code == 2 and "GIF cannot store a RGB image" in result.output
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), "--supersample", "3"])
    assert result.exit_code == 2 and "supersample applies only" in result.output
    result = runner.invoke(cli, ["convert", str(source), "-o", str(out), "--resample", "average",
                                 "--supersample", "3", "--size", "32x16"])
    assert result.exit_code == 0, result.output


def test_cli_lut_build_batch_and_profile_take_resample(runner, map_file, tmp_path):
    source, _ = map_file
    npy = tmp_path / "b.npy"
    assert runner.invoke(cli, ["lut", "build", "--input-size", "64x32", "--resample", "bilinear",
                               "-o", str(npy)]).exit_code == 0
    assert np.load(npy).dtype == np.uint32
    a, b = tmp_path / "a.png", tmp_path / "out"
    assert runner.invoke(cli, ["convert", str(source), "-o", str(a), "--lut", str(npy)]).exit_code == 0
    result = runner.invoke(cli, ["batch", str(source), "-o", str(b), "--resample", "bilinear"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_image(a).pixels, read_image(b / "map.png").pixels)
    result = runner.invoke(cli, ["profile", "--size", "32x16", "--workers", "1", "--rows-per-task", "auto",
                                 "--backend", "serial", "--repeat", "1", "--resample", "average", "--json"])
    assert result.exit_code == 0, result.output
