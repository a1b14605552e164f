"""A plain-numpy LUT for any (output, input) pair: the framing, both aspects and the projections'
numpy formulas (tests/formula_cases), written from docs/geometry.md rather than from the kernels."""

import numpy as np

from . import reference
from .formula_cases import all_cases

CASES = all_cases()
SLACK = 1e-9  # pixels beyond an image's edge that are still the edge (rounding)


def _plane(n: int, edge: float) -> np.ndarray:
    """Pixel centres of n pixels across [-edge, edge], as the kernels place them."""
    return (np.arange(n) + 0.5) / n * (2.0 * edge) - edge


def output_directions(spec):
    """Rotated (lon, lat) of every output pixel centre, NaN outside the outline, and whether the
    centre lies within 1e-4 pixel of the outline."""
    entry, options = spec.output, spec.options("to")
    height, width = spec.output_shape
    x_edge, y_edge = entry.bounds(options)
    x = _plane(width, x_edge)
    y = -_plane(height, y_edge)
    x, y = np.meshgrid(x, y)
    inverse = CASES[entry.name].numpy_inverse
    if entry.cylindrical:  # longitudes from the column alone, as the original script's s
        s = (np.arange(width) + 0.5) / width * (2 * np.pi) - np.pi
        _, phi = inverse(np.zeros(height), -_plane(height, y_edge), options)
        lon, lat = np.meshgrid(s, phi)
        near = np.zeros(lon.shape, bool)
    else:
        lon, lat = inverse(x, y, options)
        near = _near_outline(inverse, x, y, 1e-4 * 2 * x_edge / width, 1e-4 * 2 * y_edge / height, options)
    return lon, lat, near


def _near_outline(inverse, x, y, dx, dy, options):
    """Whether the plane points have points inside and outside the outline within (dx, dy)."""
    inside = [np.isfinite(inverse(x + sx, y + sy, options)[0]) for sx, sy in
              ((0, 0), (dx, 0), (-dx, 0), (0, dy), (0, -dy))]
    return np.any(inside, axis=0) & ~np.all(inside, axis=0)


def _vectors(lat, lon):
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def input_directions(spec, lon_r, lat_r):
    """(lon, lat) in the input's own frame of the output's rotated directions."""
    c, e, p = reference.rotation_vectors(*spec.center, spec.heading)
    v = _vectors(lat_r, lon_r)
    world = v[..., :1] * c + v[..., 1:2] * e + v[..., 2:] * p
    ci, ei, pi = reference.rotation_vectors(*spec.from_center, spec.from_heading)
    own = np.stack([world @ ci, world @ ei, world @ pi], axis=-1)
    return np.arctan2(own[..., 1], own[..., 0]), np.arcsin(np.clip(own[..., 2], -1, 1))


def source_coordinates(spec):
    """Continuous input pixel coordinates (x right, y down) of every output pixel, NaN for no
    source, and which of them the last bit may decide (near an outline or a pixel edge)."""
    lon_r, lat_r, near = output_directions(spec)
    lon, lat = input_directions(spec, lon_r, lat_r)
    entry, options = spec.input, spec.options("from")
    in_h, in_w = spec.input_shape
    x_edge, y_edge = entry.bounds(options)
    x, y = CASES[entry.name].numpy_forward(lon, lat, options)
    px = (x + x_edge) / (2 * x_edge) * in_w
    py = (y_edge - y) / (2 * y_edge) * in_h
    with np.errstate(invalid="ignore"):
        inside = (px >= -SLACK) & (px <= in_w + SLACK) & (py >= -SLACK) & (py <= in_h + SLACK)
    px, py = np.where(inside, px, np.nan), np.where(inside, py, np.nan)
    if not entry.cylindrical:
        near |= _near_outline(CASES[entry.name].numpy_inverse, np.nan_to_num(x), np.nan_to_num(y),
                              1e-4 * 2 * x_edge / in_w, 1e-4 * 2 * y_edge / in_h, options) & np.isfinite(px)
    with np.errstate(invalid="ignore"):
        on_edge = (np.abs(px - np.round(px)) <= 1e-4) | (np.abs(py - np.round(py)) <= 1e-4)
    return px, py, ~(near | on_edge)


def nearest_lut(spec):
    """The nearest LUT of ``spec`` and the mask of entries that do not depend on the last bit."""
    px, py, trusted = source_coordinates(spec)
    in_h, in_w = spec.input_shape
    none = np.isnan(px)
    col = np.floor(np.nan_to_num(px)).astype(np.int64)
    if spec.input.cylindrical:
        col = np.where(col >= in_w, col - in_w, col)
    col = np.clip(col, 0, in_w - 1)
    row = np.clip(np.floor(np.nan_to_num(py)).astype(np.int64), 0, in_h - 1)
    dtype = np.uint16 if max(spec.input_size) <= 65535 else np.uint32
    missing = np.iinfo(dtype).max
    lut = np.stack([np.where(none, missing, row), np.where(none, missing, col)], axis=-1).astype(dtype)
    return lut, trusted
