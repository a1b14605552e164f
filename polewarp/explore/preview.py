"""Preview frames: the LUT built in this warm process, gathered and encoded as JPEG or WebP.

The same build and gather as `polewarp convert`, at a small size: what the page shows is what
Save writes, pixel for pixel at equal sizes (but for the lossy encoding).
"""

from __future__ import annotations

import io

from ..engine.backends import available_cpus
from ..engine.geometry import GeometrySpec
from ..engine.imageio import for_blending, to_image
from ..engine.pipeline import render
from ..engine.planes import PlaneCache

FORMATS = {"jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
QUALITY = 80  # a preview: ~5 ms to encode 0.5 Mpx as JPEG here
# Threads over the nogil fill: no pool to start or segment to make, and both cores on one
# preview; the process pool pays off only for builds many times larger (engine/backends.py).
BACKEND = "threads"


class Previewer:
    """Renders previews of one input picture; the blending methods' copy of it is made once."""

    def __init__(self, picture, fill: str | None = None, graticule_color: str | None = None,
                 workers: int | None = None):
        self._pictures = {"nearest": picture}
        self._fill, self._graticule_color = fill, graticule_color
        self.workers = workers or available_cpus()
        self._planes = PlaneCache()  # a drag turns the view: its projection's vectors stay

    def picture(self, resample: str):
        key = "nearest" if resample == "nearest" else "blending"
        if key not in self._pictures:
            self._pictures[key] = for_blending(self._pictures["nearest"])
        return self._pictures[key]

    def frame(self, spec: GeometrySpec, fmt: str = "jpeg") -> bytes:
        """The view ``spec`` encoded as ``fmt`` (jpeg or webp)."""
        from ..engine.lut import build_lut

        lut = build_lut(spec, BACKEND, self.workers, planes=self._planes)
        image = to_image(render(self.picture(spec.resample), lut, self._fill, self._graticule_color))
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGBA" if fmt == "webp" and "A" in image.mode else "RGB")
        stream = io.BytesIO()
        image.save(stream, format=FORMATS[fmt][0], quality=QUALITY)
        return stream.getvalue()
