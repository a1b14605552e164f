"""numba's on-disk cache across processes: kernels compiled in different processes and loaded
into one must each keep their own code (they once shared a symbol, and a caller linked to the
first one loaded)."""

import os
import subprocess
import sys

import pytest

from .conftest import run_env

PROBE = """
import sys
import numpy as np
from polewarp.engine.geometry import Geometry
from polewarp.engine.lut import build_lut
for name in sys.argv[1:]:
    spec = Geometry.of(to=name, center=(40, -30), heading=0).spec((256, 128), (64,))
    lut = np.asarray(build_lut(spec, "serial").array)
print(lut.astype(np.int64).tobytes().hex())
"""


@pytest.mark.slow
def test_kernels_compiled_in_other_processes_keep_their_own_code(tmp_path):
    env = {**run_env(), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def last_lut(*names):
        return subprocess.run([sys.executable, "-c", PROBE, *names], env=env, cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout

    alone = last_lut("orthographic")  # compiles the orthographic output's stages, in one process
    last_lut("robinson")  # the robinson output's, in another
    assert last_lut("robinson", "orthographic") == alone  # both loaded from the cache into a third
    assert os.listdir(tmp_path / "numba")
