"""Signals and crashed workers during a real LUT build: clean exit codes, nothing left behind."""

import signal
import subprocess
import sys
import time

import psutil
import pytest

from .conftest import polewarp_segments, run_env

pytestmark = pytest.mark.slow

BIG_BUILD = ["lut", "build", "--input-size", "2048x1024", "--size", "16000x8000", "--backend", "processes",
             "--workers", "2", "--rows-per-task", "8"]


def start_build(tmp_path, *extra):
    args = [sys.executable, "-m", "polewarp", *BIG_BUILD, "-o", str(tmp_path / "big.npy"), *extra]
    return subprocess.Popen(args, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)


def wait_for_workers(process, count=2, timeout=60):
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [child for child in parent.children() if "resource_tracker" not in " ".join(child.cmdline())]
        if len(workers) >= count and polewarp_segments():
            time.sleep(0.3)  # let them get into the build
            return workers
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("the workers never started")


def assert_nothing_left(tmp_path, before):
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers == [], leftovers
    for _ in range(50):
        if not polewarp_segments() - before:
            break
        time.sleep(0.1)
    assert polewarp_segments() - before == set()


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_pool_build(tmp_path, signum, code):
    before = polewarp_segments()
    process = start_build(tmp_path)
    workers = wait_for_workers(process)
    started = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert time.monotonic() - started < 10
    assert "interrupted" in err and "Traceback" not in err
    assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)
    assert_nothing_left(tmp_path, before)


def test_killed_worker_ends_the_run_cleanly(tmp_path):
    before = polewarp_segments()
    process = start_build(tmp_path)
    workers = wait_for_workers(process)
    workers[0].kill()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "worker process died" in err and "Traceback" not in err
    assert_nothing_left(tmp_path, before)


def test_sigint_during_convert_keeps_the_old_output(tmp_path):
    from PIL import Image

    from .conftest import make_map

    source = tmp_path / "in.png"
    Image.fromarray(make_map(64, 32)).save(source)
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")
    before = polewarp_segments()
    process = subprocess.Popen(
        [sys.executable, "-m", "polewarp", "convert", str(source), "-o", str(target), "--size", "16000x8000",
         "--backend", "processes", "-c", "2", "-n", "8", "--no-cache"],
        env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_workers(process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]
    assert polewarp_segments() - before == set()
