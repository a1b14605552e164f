"""Shared fixtures: a CLI runner, small test images, an isolated cache, a shared-memory check."""

import fcntl
import os
import subprocess
from pathlib import Path

import numpy as np
import psutil
import pytest
from click.testing import CliRunner
from PIL import Image

from polewarp.engine.workers import LOCKED_PREFIX, SEGMENT_DIR

# This test run's processes: pytest itself and every process a test started.
_run_pids = {os.getpid()}


class _RecordingPopen(subprocess.Popen):
    """subprocess.Popen that remembers the pid it started (subprocess.run goes through it too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _run_pids.add(self.pid)


@pytest.fixture(autouse=True, scope="session")
def record_started_processes():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", _RecordingPopen)
        yield


def _locked(path: Path) -> bool:
    """Whether a live process holds the segment's lock (its creator or their workers)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _ours(pid: int, path: Path) -> bool:
    """A segment is this run's when pytest made it, or a process a test started did: either
    still running, or gone (the lock is free). Pids are reused: a live holder that is not one
    of pytest's processes belongs to another run, a polewarp started meanwhile elsewhere."""
    if pid == os.getpid():
        return True
    if pid not in _run_pids:
        return False
    return not _locked(path) or pid in {child.pid for child in psutil.Process().children(recursive=True)}


def segment_pid(name: str) -> int:
    """The creator's pid in a segment's name (polewarp_lk_<pid>_<random>)."""
    return int(name[len(LOCKED_PREFIX):].split("_")[0])


def polewarp_segments():
    """This run's polewarp segments in /dev/shm: another polewarp (or pytest) running at the same
    time on this machine must not fail the suite."""
    if not SEGMENT_DIR.is_dir():
        return set()
    return {path.name for path in SEGMENT_DIR.glob(LOCKED_PREFIX + "*") if _ours(segment_pid(path.name), path)}


@pytest.fixture(autouse=True)
def no_segment_left_behind():
    """Every test must leave this run's segments as it found them."""
    before = polewarp_segments()
    yield
    assert polewarp_segments() - before == set()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test gets its own cache folder (never the user's)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLEWARP_CACHE_DIR", str(folder))
    monkeypatch.delenv("POLEWARP_CACHE_MAX", raising=False)
    return folder


@pytest.fixture
def runner():
    return CliRunner()


def make_map(width=64, height=32, seed=0, channels=3):
    """A random RGB-ish map: every pixel distinct enough to catch a wrong index."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.fixture
def map_file(tmp_path):
    """A 64x32 RGB PNG and its pixels."""
    pixels = make_map()
    path = tmp_path / "map.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def run_env():
    """The environment for a real subprocess run of polewarp."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def slow_batch_folder(tmp_path, count=24, size=(1200, 600)):
    """Maps big enough, saved uncompressed, that a batch encoding them at level 9 lasts seconds."""
    source = tmp_path / "big"
    source.mkdir()
    picture = Image.fromarray(make_map(*size))
    for i in range(count):
        picture.save(source / f"m{i:02d}.png", compress_level=0)
    return source


def start_batch(source, out, *extra):
    """A real `polewarp batch` subprocess at PNG level 9 (slow on purpose)."""
    import sys

    return subprocess.Popen([sys.executable, "-m", "polewarp", "batch", str(source), "-o", str(out),
                             "--compress-level", "9", *extra],
                            env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_outputs(process, out, count=1, timeout=90):
    """Until ``count`` outputs exist (the batch is under way), failing if the run ends first."""
    import time

    deadline = time.monotonic() + timeout
    while not (out.exists() and len(list(out.glob("*.png"))) >= count):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)


def worker_processes(process):
    """The run's child processes but multiprocessing's resource tracker."""
    return [child for child in psutil.Process(process.pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())]
