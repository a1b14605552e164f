"""The first run after install says once that it compiles kernels; a later run says nothing."""

import subprocess
import sys

import pytest

from polewarp.engine.compiling import NOTICE

from .conftest import run_env

# One cheap kernel, compiled where the notice's threshold is 0 s (it compiles in well under the
# real one), logged as the command line logs: "polewarp: message" at INFO.
ONE_KERNEL = """
import logging
import numpy as np
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from polewarp.engine import compiling
compiling.NOTICE_AFTER_S = 0.0
from polewarp.engine import kernels
kernels._row_terms(3, True, 1.0, np.empty((3, 3)))
"""


def first_and_later(tmp_path, code):
    env = dict(run_env(), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    return [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stderr
            for _ in range(2)]


@pytest.mark.slow
def test_a_compile_is_announced_once_and_a_cached_kernel_not_at_all(tmp_path):
    first, later = first_and_later(tmp_path, ONE_KERNEL)
    assert first.splitlines() == [f"polewarp: {NOTICE}"]
    assert later == ""
