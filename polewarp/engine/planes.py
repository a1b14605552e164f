"""The unit vectors of an output's pixel centres, kept for builds that differ in rotation alone.

A LUT's output stage unprojects each pixel centre (x, y) of the output's plane into a unit
vector in the output's own axes, then turns it into the input's coordinates. Only the turn
depends on the centre and heading, so the explorer, whose drags change nothing else, keeps the
vectors of its view's projection, options and size, and each frame pays for the turn and the
input's forward alone (``fills.turned_fill``): Winkel tripel's iterative inverse, for one,
once per projection and size instead of once per frame.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

MAX_BYTES = 512 * 2**20  # the vectors kept at once (24 bytes a pixel: 22 previews of 1024x1024)


class PlaneCache:
    """Unit vectors (H, W, 3) by (output projection, its parameters, size), least recently used
    dropped past ``max_bytes``; safe to share between threads."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self._kept: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec, columns: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """The vectors of ``spec``'s output (not a cylinder), whose pixel centres are ``columns``
        (W, 1) x and ``rows`` (H, 1) y: kept, or made now and kept; None when one set alone
        would pass the cap (the build then unprojects per row, as without a cache)."""
        from .fills import inverse_points
        from .projections import number

        height, width = spec.output_shape
        if height * width * 24 > self.max_bytes:
            return None
        params = spec.output.params(spec.options("to"))
        key = (spec.to, tuple(params), width, height)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        vectors = np.empty((height * width, 3))
        inverse_points(number(spec.to))(np.tile(columns[:, 0], height), np.repeat(rows[:, 0], width),
                                        np.array(params, np.float64), vectors)
        vectors = vectors.reshape(height, width, 3)
        vectors.setflags(write=False)
        with self._lock:
            self._kept[key] = vectors
            while sum(kept.nbytes for kept in self._kept.values()) > self.max_bytes:
                self._kept.popitem(last=False)
        return vectors
