"""The view a drag makes: the centre and heading that keep the point grabbed under the pointer.

The explorer's page sends the pixel where a drag started and the pixel under the pointer now;
the rotation is solved here, with the projections' own inverse and forward, so that no
projection math is written twice (once in JavaScript). As d3's versor dragging does, the new
aspect is the old one turned by the smallest rotation that takes the pointer's point of the
map's own sphere to the anchor's: the grabbed point then lies exactly under the pointer.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .geometry import Geometry, GeometrySpec, aspect_frame


def plane_point(spec: GeometrySpec, pixel) -> tuple[float, float]:
    """The projected (x, y) of a continuous pixel position (0, 0: the top-left corner of the
    image, (W, H): the bottom-right), by the framing every LUT uses."""
    x_edge, y_edge = spec.output.bounds(spec.options("to"))
    width, height = spec.output_size
    return -x_edge + pixel[0] / width * 2.0 * x_edge, y_edge - pixel[1] / height * 2.0 * y_edge


def own_vector(spec: GeometrySpec, pixel) -> np.ndarray | None:
    """The unit vector on the map's own (rotated) sphere shown at ``pixel``; None off the outline."""
    from .fills import unproject

    x, y = plane_point(spec, pixel)
    lam, phi = unproject(spec.to, x, y, spec.options("to"))
    if not (np.isfinite(lam) and np.isfinite(phi)):
        return None
    return np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])


def pixel_of(spec: GeometrySpec, point) -> tuple[float, float] | None:
    """Where the geographic unit vector ``point`` lies in the output image (continuous pixel
    position, as ``plane_point`` takes it); None where the projection does not show it."""
    from .fills import project

    own = _axes(spec.geometry) @ np.asarray(point, np.float64)
    lam, phi = math.atan2(own[1], own[0]), math.atan2(own[2], math.hypot(own[0], own[1]))
    x, y = project(spec.to, lam, phi, spec.options("to"))
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    x_edge, y_edge = spec.output.bounds(spec.options("to"))
    width, height = spec.output_size
    return float((x + x_edge) / (2.0 * x_edge) * width), float((y_edge - y) / (2.0 * y_edge) * height)


def geographic(spec: GeometrySpec, pixel) -> np.ndarray | None:
    """The geographic unit vector shown at ``pixel``; None off the outline."""
    own = own_vector(spec, pixel)
    return None if own is None else _axes(spec.geometry).T @ own


def solve_drag(spec: GeometrySpec, anchor, pointer) -> Geometry | None:
    """The geometry that shows at ``pointer`` the point ``spec`` shows at ``anchor`` (both
    continuous pixel positions in ``spec``'s output); None when either lies off the outline."""
    grabbed, under = own_vector(spec, anchor), own_vector(spec, pointer)
    if grabbed is None or under is None:
        return None
    # new axes (as rows) = R^T-turned old ones, R the smallest rotation taking `under` to `grabbed`
    axes = _rotation(under, grabbed).T @ _axes(spec.geometry)
    center, heading = _aspect_of(axes)
    return dataclasses.replace(spec.geometry, center=center, heading=heading)  # validated again


def _axes(geometry: Geometry) -> np.ndarray:
    """The output's axes (centre, rotated east, rotated pole) as the rows of a matrix: it takes a
    geographic vector into the map's own coordinates."""
    return np.array(aspect_frame(geometry.center, geometry.heading))


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` to ``b`` (Rodrigues); half a turn about
    any perpendicular axis when they are opposite."""
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(np.dot(a, b))
    if sin < 1e-15:
        if cos > 0:
            return np.eye(3)
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        sin, cos = 0.0, -1.0
    k = axis / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sin * cross + (1.0 - cos) * cross @ cross


def _aspect_of(axes: np.ndarray) -> tuple[tuple[float, float], float]:
    """The (lat, lon) and heading (degrees) whose ``aspect_frame`` is ``axes``."""
    centre, pole = axes[0], axes[2]
    lat = math.degrees(math.atan2(centre[2], math.hypot(centre[0], centre[1])))
    lon = math.degrees(math.atan2(centre[1], centre[0]))
    sin_lat, cos_lat = math.sin(math.radians(lat)), math.cos(math.radians(lat))
    sin_lon, cos_lon = math.sin(math.radians(lon)), math.cos(math.radians(lon))
    north = np.array([-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat])
    east = np.array([-sin_lon, cos_lon, 0.0])
    return (lat, lon), math.degrees(math.atan2(float(pole @ east), float(pole @ north)))
