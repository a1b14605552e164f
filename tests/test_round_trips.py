"""Coordinates round-trip: a pixel centre of a map in P, taken to a map in Q and back, lands on
itself within 1e-6 pixel wherever both maps show the point; and a map polewarp writes, read back
with its own geometry as the input's, gives the map it came from."""

import random

import numpy as np
import pytest

from polewarp import GeometrySpec, apply_lut, build_lut
from polewarp.engine import projections
from polewarp.engine.fills import project, unproject
from polewarp.engine.geometry import aspect_frame

from .formula_cases import all_cases

CASES = all_cases()
NAMES = sorted(CASES)


def _frame(center, heading):
    return np.array(aspect_frame(center, heading))


def to_pixels(name, options, size, lam, phi):
    """Continuous pixel coordinates (x right, y down) in a W x H map of ``name``, NaN if off it."""
    x_edge, y_edge = projections.projection(name).bounds(options)
    x, y = project(name, lam, phi, options)
    px, py = (x + x_edge) / (2 * x_edge) * size[0], (y_edge - y) / (2 * y_edge) * size[1]
    off = ~((px >= 0) & (px <= size[0]) & (py >= 0) & (py <= size[1]))
    return np.where(off, np.nan, px), np.where(off, np.nan, py)


def from_pixels(name, options, size, px, py):
    """(lon, lat) in the map's own frame of pixel coordinates, and whether they are well conditioned."""
    x_edge, y_edge = projections.projection(name).bounds(options)
    x, y = px / size[0] * 2 * x_edge - x_edge, y_edge - py / size[1] * 2 * y_edge
    lam, phi = unproject(name, x, y, options)
    return lam, phi, ~CASES[name].inverse_excluded(x, y, options)


def turn(lam, phi, source_frame, target_frame):
    """(lon, lat) in one map's frame to (lon, lat) in another's."""
    v = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
    world = v @ source_frame
    own = world @ target_frame.T
    return np.arctan2(own[..., 1], own[..., 0]), np.arcsin(np.clip(own[..., 2], -1, 1))


def _side(rng, name):
    entry = projections.projection(name)
    options = {"lat_ts": rng.uniform(-50, 50)} if "lat_ts" in entry.options else {}
    if entry.radius is not None:
        options["radius"] = entry.radius[0]
    frame = _frame((rng.uniform(-80, 80), rng.uniform(-180, 180)), rng.uniform(0, 360))
    width = rng.randrange(60, 200)
    return options, frame, (width, entry.natural_height(width, options))


@pytest.mark.parametrize("name", NAMES)
def test_pixel_centres_come_back_to_themselves(name):
    rng = random.Random(NAMES.index(name))
    other = NAMES[(NAMES.index(name) + 5) % len(NAMES)]
    p_options, p_frame, p_size = _side(rng, name)
    q_options, q_frame, q_size = _side(rng, other)
    px, py = np.meshgrid(np.arange(p_size[0]) + 0.5, np.arange(p_size[1]) + 0.5)
    lam, phi, good = from_pixels(name, p_options, p_size, px, py)
    qx, qy = to_pixels(other, q_options, q_size, *turn(lam, phi, p_frame, q_frame))
    lam2, phi2, good2 = from_pixels(other, q_options, q_size, qx, qy)
    bx, by = to_pixels(name, p_options, p_size, *turn(lam2, phi2, q_frame, p_frame))
    both = np.isfinite(qx) & np.isfinite(lam2) & good & good2
    assert both.mean() > 0.05, "the two maps hardly share a point"
    error = np.hypot(bx - px, by - py)[both]
    assert np.isfinite(error).all() and error.max() <= 1e-6, f"off by {np.nanmax(error):.3g} px"


@pytest.mark.parametrize("name", ["mollweide", "orthographic", "cylindrical-equal-area", "winkel-tripel"])
def test_a_map_read_back_with_its_geometry_is_the_original(name):
    """equirectangular -> P (oblique) -> equirectangular with --from-* set to P's geometry: every
    pixel whose round trip stays well inside both maps comes back as it was."""
    rng = np.random.default_rng(3)
    original = rng.integers(0, 256, (90, 180, 3), dtype=np.uint8)
    aspect = {"center": (35.0, -40.0), "heading": 20.0}
    there = GeometrySpec((180, 90), 720, to=name, **aspect)
    mapped = apply_lut(build_lut(there, backend="serial"), original)
    back = GeometrySpec(there.output_size, (180, 90), to="equirectangular", heading=0.0, source=name,
                        from_center=aspect["center"], from_heading=aspect["heading"])
    lut = build_lut(back, backend="serial")
    restored = apply_lut(lut, mapped)
    shown = lut.array[..., 0] != np.iinfo(lut.array.dtype).max
    assert shown.mean() > 0.3
    # Within 60 degrees of the centre every one of these maps is at least twice as fine as the
    # input (720 pixels across), so each pixel comes back from a map pixel inside it; nearer the
    # poles the input's own pixels are narrower than that.
    lon, lat = np.meshgrid(np.radians((np.arange(180) + 0.5) * 2 - 180), np.radians(90 - (np.arange(90) + 0.5) * 2))
    centre_lat, centre_lon = np.radians(aspect["center"])
    near = (np.sin(lat) * np.sin(centre_lat) + np.cos(lat) * np.cos(centre_lat) * np.cos(lon - centre_lon)
            > np.cos(np.radians(60))) & (np.abs(lat) < np.radians(60))
    same = (restored == original).all(axis=-1)
    assert shown[near].all() and same[near].mean() > 0.99, f"{same[near].mean():.1%} of the pixels came back"
