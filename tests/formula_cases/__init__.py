"""What each projection's formulas are checked against, one module a family.

Each module has ``CASES``: a dict from the registry's long name to a :class:`Case`.
"""

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    """The references of one projection.

    numpy_forward(lam, phi, options) -> (x, y) and numpy_inverse(x, y, options) -> (lam, phi):
        plain-numpy versions of the formulas (arrays in radians, unit sphere, NaN for none),
        written from PROJ's source independently of the engine's; the LUT reference uses them.
    gie: PROJ's own test points for the spherical case, as ((lon, lat) degrees, (x, y) unit
        sphere, tolerance unit sphere), from test/gie/builtins.gie or more_builtins.gie.
    precise_forward: None where pyproj (its PROJ residual below 1e-11) is the reference; else an
        arbitrary-precision forward (mpmath) of one point, (lam, phi) -> (x, y) floats.
    options: the option sets to check (each a dict of the projection's options).
    inverse_excluded(x, y, options) -> bool array: ill-conditioned plane points where the inverse
        residual is not judged (say which in the function's docstring).
    tolerance: of the forward against its reference, unit-sphere units.
    """

    numpy_forward: Callable
    numpy_inverse: Callable
    gie: tuple = ()
    precise_forward: Callable | None = None
    options: tuple = ({},)
    inverse_excluded: Callable = lambda x, y, options: np.zeros(np.shape(x), bool)
    tolerance: float = 1e-10


def all_cases() -> dict:
    """Every family's cases, by projection name."""
    import importlib
    import pkgutil

    cases = {}
    for module in pkgutil.iter_modules(__path__):
        cases.update(importlib.import_module(f"{__name__}.{module.name}").CASES)
    return cases
