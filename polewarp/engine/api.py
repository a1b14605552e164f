"""The convenience call of the public API: build (or reuse) a LUT and apply it in one go."""

from __future__ import annotations

import numpy as np

from .errors import SpecError
from .gather import apply_lut
from .geometry import GeometrySpec
from .lut import build_lut


def reproject(image: np.ndarray, spec: GeometrySpec | None = None, fill=None, **geometry) -> np.ndarray:
    """Re-project an (H, W) or (H, W, C) array.

    Parameters
    ----------
    image : the input map as an array, any dtype.
    spec : a GeometrySpec for this image's size; or leave it out and give GeometrySpec's
        keywords (``center``, ``heading``, ``to``, ``source``, ``output_size`` ...).
    fill : value(s) for output pixels with no source.
    """
    if spec is not None and geometry:
        raise SpecError(f"give a spec or its keywords, not both (got {', '.join(sorted(geometry))} beside the spec)")
    if spec is None:
        spec = GeometrySpec(input_size=(image.shape[1], image.shape[0]), **geometry)
    return apply_lut(build_lut(spec), image, fill)
