"""polewarp: re-project world-map images through cached, parallel-built lookup tables.

The public API works on numpy arrays: ``build_lut(spec)``, ``apply_lut(lut, image)`` and
``reproject(image, **geometry)``, which calls both. Importing polewarp does not import numba:
it is loaded when a LUT is first built.
"""

__version__ = "0.1.0"

__all__ = ["GeometrySpec", "Lut", "build_lut", "apply_lut", "reproject", "__version__"]


def __getattr__(name):
    if name == "GeometrySpec":
        from .engine.geometry import GeometrySpec

        return GeometrySpec
    if name in ("Lut", "build_lut"):
        from .engine import lut

        return getattr(lut, name)
    if name == "apply_lut":
        from .engine.gather import apply_lut

        return apply_lut
    if name == "reproject":
        from .engine.api import reproject

        return reproject
    raise AttributeError(f"module 'polewarp' has no attribute {name!r}")
