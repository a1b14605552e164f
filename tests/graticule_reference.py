"""A plain-numpy graticule mask, written from its definition (README, "Graticules") rather than
from the kernels: the corners' longitudes and latitudes by arctan2, bands by floor division,
a pixel's longitudes as an arc from its first corner, a pole by the winding of its corners."""

import numpy as np

from . import reference
from .formula_cases import all_cases

CASES = all_cases()
TIE = 1e-7  # degrees: a corner this close to a line may fall on either side of it (rounding)


def corner_directions(spec):
    """The output's own (lon, lat) in radians at every pixel corner, (H + 1, W + 1), NaN outside,
    and whether the corner lies within 1e-6 pixel of the outline (the kernels' formulas may put
    it on the other side)."""
    entry, options = spec.output, spec.options("to")
    height, width = spec.output_shape
    x_edge, y_edge = entry.bounds(options)
    x = np.arange(width + 1) / width * (2 * x_edge) - x_edge
    y = y_edge - np.arange(height + 1) / height * (2 * y_edge)
    inverse = CASES[entry.name].numpy_inverse
    if entry.cylindrical:  # longitude from x alone, latitude from y alone
        lam, _ = inverse(x, np.zeros_like(x), options)
        _, phi = inverse(np.zeros_like(y), y, options)
        return (*np.meshgrid(lam, phi), np.zeros(phi.shape + lam.shape, bool))
    x, y = np.meshgrid(x, y)
    lam, phi = inverse(x, y, options)
    dx, dy = 1e-6 * 2 * x_edge / width, 1e-6 * 2 * y_edge / height
    inside = [np.isfinite(inverse(x + sx, y + sy, options)[0]) for sx, sy in ((dx, 0), (-dx, 0), (0, dy), (0, -dy))]
    return lam, phi, np.any(inside, axis=0) & ~np.all(inside, axis=0)


def _degrees(vectors):
    lon = np.degrees(np.arctan2(vectors[..., 1], vectors[..., 0]))
    lat = np.degrees(np.arctan2(vectors[..., 2], np.hypot(vectors[..., 0], vectors[..., 1])))
    return lon, lat


def corner_degrees(spec, rotated: bool):
    """(lon, lat) in degrees of every corner, the output's own or geographic, and its nearness
    to the outline."""
    lam, phi, near = corner_directions(spec)
    own = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
    if not rotated:
        c, e, p = reference.rotation_vectors(*spec.center, spec.heading)
        own = own[..., :1] * c + own[..., 1:2] * e + own[..., 2:] * p
    return (*_degrees(own), near)


def _wrap(d):
    return (d + 180.0) % 360.0 - 180.0


def _pixels(values):
    """(H, W, 4): each pixel's corners in order round it (top left, top right, bottom right, bottom left)."""
    return np.stack([values[:-1, :-1], values[:-1, 1:], values[1:, 1:], values[1:, :-1]], axis=-1)


def grid_mask(spec, step: float, rotated: bool):
    """The pixels on one grid's lines, and those where rounding may decide (ties)."""
    lon, lat, near = (_pixels(values) for values in corner_degrees(spec, rotated))
    inside = np.isfinite(lat)
    with np.errstate(invalid="ignore"):
        bands = np.floor(lat / step)
        crossed_lat = np.nanmax(np.where(inside, bands, -np.inf), -1) > np.nanmin(np.where(inside, bands, np.inf), -1)
        first = np.nanmax(np.where(inside, lon, -np.inf), -1, keepdims=True)  # any inside corner
        arc = np.where(inside, _wrap(lon - first), np.nan)
        low, high = first[..., 0] + np.nanmin(np.where(inside, arc, np.inf), -1), \
            first[..., 0] + np.nanmax(np.where(inside, arc, -np.inf), -1)
        crossed_lon = np.floor(high / step) > np.floor(low / step)
        winding = sum(_wrap(np.roll(lon, -1, -1) - lon)[..., k] for k in range(4))
        pole = inside.all(-1) & (np.abs(winding) > 180.0)
        top = np.floor(90.0 / step)
        north = np.floor(np.min(lat, -1) / step) < top  # for a pole's pixel, whose corners are all inside
        south = np.floor(np.max(lat, -1) / step) >= -top
        on = np.where(pole, np.where(lat[..., 0] > 0, north, south), crossed_lat | crossed_lon)
        ties = ((np.abs(lat / step - np.round(lat / step)) < TIE / step)
                | (np.abs(lon / step - np.round(lon / step)) < TIE / step) | near).any(-1)
    return on & (inside.sum(-1) >= 2), ties | (np.abs(np.abs(winding) - 180.0) < 1e-6)


def mask(spec):
    """The spec's whole graticule (geographic and rotated) and its ties."""
    height, width = spec.output_shape
    on, ties = np.zeros((height, width), bool), np.zeros((height, width), bool)
    for step, rotated in ((spec.graticule, False), (spec.graticule_rotated, True)):
        if step is not None:
            grid_on, grid_ties = grid_mask(spec, step, rotated)
            on |= grid_on
            ties |= grid_ties
    return on, ties
