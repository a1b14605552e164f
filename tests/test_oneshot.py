"""One-shot builds: what ``auto`` picks, and a pool build whose workers are reaped after it returns."""

import numpy as np
import psutil

from polewarp import GeometrySpec, build_lut
from polewarp.engine.backends import THREADS_MIN_PIXELS, choose_backend


def test_auto_takes_threads_from_a_megapixel_and_serial_below_or_with_one_worker():
    large, small = GeometrySpec((64, 32), (1000, 1000)), GeometrySpec((64, 32), (999, 1000))
    assert 999 * 1000 < THREADS_MIN_PIXELS <= 1000 * 1000
    assert [choose_backend(large, 2), choose_backend(small, 2), choose_backend(large, 1)] == [
        "threads", "serial", "serial"]
    assert build_lut(GeometrySpec((64, 32)), workers=2).origin.startswith("built (serial")


def test_a_pool_build_ends_its_workers_after_returning():
    spec = GeometrySpec((64, 32), (256, 128))
    before = set(psutil.Process().children())  # others' (a resource tracker, say) are not the pool's
    lut = build_lut(spec, "processes", 2)
    np.testing.assert_array_equal(lut.array, build_lut(spec, "serial").array)
    # SIGTERM'd at once, reaped by a thread, SIGKILL after 1 s
    _, alive = psutil.wait_procs(set(psutil.Process().children()) - before, timeout=10)
    assert alive == []
