"""numba's compile flags, decided once, and the fingerprint of every file that holds jitted code.

No fastmath anywhere: LUTs must agree with PROJ and with the plain-numpy references to the last
bit, and the "no source" checks must see NaN and infinities.
"""

import hashlib
import os
from pathlib import Path

# numba's OpenMP threading layer (GNU's, here) spins its threads after each parallel loop,
# taking a core from whatever runs next; polewarp's loops are coarse, so waiting passively costs
# nothing. Read when the layer first loads, so it must be set before the first prange call.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

from .compiling import announce_compiles  # noqa: E402

announce_compiles()

ngjit = numba.njit(nogil=True, cache=True)
ngjit_parallel = numba.njit(nogil=True, cache=True, parallel=True)
ngjit_inline = numba.njit(nogil=True, cache=True, inline="always")  # the caller's constants fold in
# For loops the compiler vectorises: numpy's error model drops the division-by-zero checks
# (a division by zero gives inf or NaN, which these loops handle).
ngjit_vector = numba.njit(nogil=True, cache=True, error_model="numpy")
ngjit_vector_inline = numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")

_ENGINE = Path(__file__).resolve().parent


def _fingerprint() -> str:
    """sha256 of the source of every module with jitted code. numba invalidates a cached function
    only when its own file changes, but a kernel compiled from a factory inlines formulas from
    other files: factory kernels keep this in their closure, so it is part of their cache key."""
    digest = hashlib.sha256()
    files = [_ENGINE / "kernels.py", _ENGINE / "fills.py", _ENGINE / "graticule.py"]
    for path in sorted([*files, *(_ENGINE / "formulas").glob("*.py")]):
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


SOURCE_FINGERPRINT = _fingerprint()


def named_after(*key):
    """Rename a factory's kernel after its ``key`` before it is jitted. numba names compiled code
    by the function's qualified name and a per-process counter, so two closures of one factory
    compiled in different processes can share a symbol; loaded from the cache into one process,
    a caller then links to whichever came first (a wrong LUT, seen with two projections' stages).
    With the key in the name, no two kernels share a symbol."""
    suffix = "_".join(str(part).replace("-", "m") for part in key)

    def rename(function):
        function.__name__ = f"{function.__name__}_{suffix}"
        function.__qualname__ = f"{function.__qualname__}_{suffix}"
        return function

    return rename
