"""At an input's outline: every method reads pixels as the input holds them, and a pixel whose
centre lies beyond the outline holds the input's background. With alpha (transparent beyond the
outline, as polewarp writes one) the blends are weighted by it, so no colour comes from beyond;
an opaque input's background shows in the last pixel."""

import numpy as np
import pytest

from polewarp import GeometrySpec, apply_lut, build_lut

COLOUR = (200, 100, 50)


def _mapped(name: str, alpha: bool) -> np.ndarray:
    """A one-colour world drawn in projection ``name``: transparent, or black, beyond its outline."""
    world = np.empty((60, 120, 4 if alpha else 3), np.uint8)
    world[...] = COLOUR + ((255,) if alpha else ())
    lut = build_lut(GeometrySpec((120, 60), 240, to=name, heading=0.0), backend="serial")
    return apply_lut(lut, world, alpha=alpha)


def _read_back(name: str, mapped: np.ndarray, resample: str, alpha: bool) -> np.ndarray:
    height, width = mapped.shape[:2]
    spec = GeometrySpec((width, height), (120, 60), to="equirectangular", heading=0.0, source=name,
                        resample=resample)
    return apply_lut(build_lut(spec, backend="serial"), mapped, alpha=alpha)


@pytest.mark.parametrize("name", ["mollweide", "orthographic", "sinusoidal"])
def test_bilinear_leaves_transparent_pixels_beyond_the_outline_out(name):
    back = _read_back(name, _mapped(name, alpha=True), "bilinear", alpha=True)
    shown = back[..., 3] > 0
    assert shown.mean() > 0.4
    assert (back[shown, :3] == COLOUR).all(), "a colour from beyond the outline blended in"
    assert (back[shown, 3] < 255).any(), "no pixel near the outline: the test shows nothing"


@pytest.mark.parametrize("name", ["mollweide", "sinusoidal"])
@pytest.mark.parametrize("resample", ["nearest", "bilinear", "average"])
def test_an_opaque_inputs_background_shows_in_the_last_pixel(name, resample):
    back = _read_back(name, _mapped(name, alpha=False), resample, alpha=False)
    darker = (back < COLOUR).any(axis=-1)
    assert darker.mean() < 0.1, "more than the rim"
    if resample == "nearest":
        assert ((back == COLOUR).all(axis=-1) | (back == 0).all(axis=-1)).all()


@pytest.mark.parametrize("resample", ["nearest", "average"])
def test_with_alpha_no_colour_comes_from_beyond_the_outline(resample):
    back = _read_back("mollweide", _mapped("mollweide", alpha=True), resample, alpha=True)
    shown = back[..., 3] > 0
    assert shown.mean() > 0.9 and (back[shown, :3] == COLOUR).all()
