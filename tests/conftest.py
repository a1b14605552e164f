"""Shared fixtures: a CLI runner, small test images, an isolated cache, a shared-memory check."""

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

SHM = Path("/dev/shm")


def polewarp_segments():
    return {p.name for p in SHM.glob("polewarp_*")} if SHM.is_dir() else set()


@pytest.fixture(autouse=True)
def no_segment_left_behind():
    """Every test must leave /dev/shm as it found it."""
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
    import subprocess
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
    import psutil

    return [child for child in psutil.Process(process.pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())]
