"""The gather: every dtype and channel count, numba equal to numpy, fill, one-hot pixels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polewarp import GeometrySpec, Lut, apply_lut, build_lut
from polewarp.engine.errors import SpecError


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
