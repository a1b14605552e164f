"""Signals, crashed, stopped and orphaned workers during real LUT builds and batches: clean exit
codes, bounded waits, and nothing left behind, even when the parent is killed."""

import errno
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from polewarp.engine import workers
from polewarp.engine.errors import PolewarpError
from polewarp.engine.workers import LOCKED_PREFIX, SEGMENT_DIR, SharedArray, remove_orphans

from .conftest import polewarp_segments, run_env, slow_batch_folder, start_batch, wait_for_outputs, worker_processes

BIG_BUILD = ["lut", "build", "--input-size", "2048x1024", "--size", "16000x8000", "--backend", "processes",
             "--workers", "2", "--rows-per-task", "8"]
# The smallest run that starts a pool, so creates a segment (and so removes orphaned ones).
TINY_BUILD = ["lut", "build", "--input-size", "64x32", "--size", "64x32", "--backend", "processes", "--workers", "2"]


def polewarp(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "polewarp", *args], env=run_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def start_build(tmp_path, *extra):
    return polewarp(*BIG_BUILD, "-o", str(tmp_path / "big.npy"), *extra, cwd=tmp_path)


def segments_of(pid):
    return sorted(SEGMENT_DIR.glob(f"{LOCKED_PREFIX}{pid}_*"))


def rows_written(pid) -> bool:
    """Whether the workers have written the first row block of ``pid``'s LUT (the segment
    starts zeroed; the top rows are the first tasks)."""
    for path in segments_of(pid):
        try:
            with open(path, "rb") as stream:
                if any(stream.read(65536)):
                    return True
        except FileNotFoundError:
            pass
    return False


def wait_for_workers(process, count=2, timeout=60):
    """Until ``count`` workers run and have written into the LUT (the build is under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = worker_processes(process)
        if len(running) >= count and rows_written(process.pid):
            return running
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("the workers never started")


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(processes, timeout=5.0):
    """Until every process has exited (its parent may be gone too, so no one may reap it)."""
    deadline = time.monotonic() + timeout
    while not all(map(gone, processes)):
        assert time.monotonic() < deadline, [p for p in processes if not gone(p)]
        time.sleep(0.02)


def assert_nothing_left(tmp_path, before):
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers == [], leftovers
    assert polewarp_segments() - before == set()


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_pool_build(tmp_path, signum, code):
    before = polewarp_segments()
    process = start_build(tmp_path)
    running = wait_for_workers(process)
    started = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert time.monotonic() - started < 5
    assert "interrupted" in err and "Traceback" not in err
    assert all(map(gone, running))
    assert_nothing_left(tmp_path, before)


@pytest.mark.slow
def test_killed_worker_ends_the_run_cleanly(tmp_path):
    before = polewarp_segments()
    process = start_build(tmp_path)
    wait_for_workers(process)[0].kill()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "worker process died" in err and "Traceback" not in err
    assert_nothing_left(tmp_path, before)


def _die_at_row_five(array, r0, r1):
    if r0 == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.0005)  # keeps thousands of blocks pending when the pool breaks


def test_a_worker_killed_under_many_pending_blocks_breaks_no_thread(monkeypatch):
    import threading

    from polewarp.engine.errors import WorkerError

    failed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failed.append(args.exc_type.__name__))
    with SharedArray((20000, 1), "uint8") as target, workers.RowPool(target, _die_at_row_five, 2) as pool:
        with pytest.raises(WorkerError, match="worker process died"):
            pool.run([(row, row + 1) for row in range(20000)])
    assert failed == []


@pytest.mark.slow
def test_sigint_during_convert_keeps_the_old_output(tmp_path):
    from PIL import Image

    from .conftest import make_map

    source = tmp_path / "in.png"
    Image.fromarray(make_map(64, 32)).save(source)
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")
    before = polewarp_segments()
    process = polewarp("convert", str(source), "-o", str(target), "--size", "16000x8000", "--backend", "processes",
                       "-c", "2", "-n", "8", "--no-cache")
    wait_for_workers(process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]
    assert polewarp_segments() - before == set()


def start_batch_under_way(tmp_path):
    source = slow_batch_folder(tmp_path, count=30)
    out = tmp_path / "out"
    process = start_batch(source, out, "-c", "2")
    wait_for_outputs(process, out)
    return process


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "batch"])
def test_stopped_worker_does_not_hold_up_sigterm(tmp_path, command):
    process = start_build(tmp_path) if command == "build" else start_batch_under_way(tmp_path)
    running = wait_for_workers(process) if command == "build" else worker_processes(process)
    running[0].suspend()
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        for worker in running:  # on failure, leave nothing stopped behind
            if not gone(worker):
                worker.kill()
    assert process.returncode == 143, err
    assert time.monotonic() - started < 5
    assert "Traceback" not in err
    wait_until_gone(running, timeout=1)


@pytest.mark.slow
def test_repeated_ctrl_c_during_a_batch_leaves_no_worker(tmp_path):
    process = start_batch_under_way(tmp_path)
    running = worker_processes(process)
    started = time.monotonic()
    while process.poll() is None:  # a user pressing Ctrl-C again and again
        assert time.monotonic() - started < 5, "the batch did not stop"
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    _, err = process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert all(map(gone, running)), "a worker outlived the batch"


@pytest.mark.slow
def test_sigkill_of_the_parent_takes_its_workers_and_the_next_run_removes_the_segment(tmp_path):
    process = start_build(tmp_path)
    wait_for_workers(process)
    children = psutil.Process(process.pid).children(recursive=True)
    # The segment is not the stdlib's: no resource tracker is started to outlive the run.
    assert len(children) == 2 and not any("resource_tracker" in " ".join(c.cmdline()) for c in children)
    segment = segments_of(process.pid)[0]
    process.kill()  # as the OOM killer does
    process.communicate()
    wait_until_gone(children)
    # Left behind (no tracker unlinks it), until the next run that makes a segment: this one,
    # or any polewarp running meanwhile.
    tiny = polewarp(*TINY_BUILD, "-o", str(tmp_path / "tiny.npy"))
    _, err = tiny.communicate(timeout=60)
    assert tiny.returncode == 0, err
    assert not segment.exists()


@pytest.mark.slow
def test_a_live_segment_or_an_unlocked_old_one_is_never_removed(tmp_path):
    legacy = SEGMENT_DIR / f"polewarp_{os.getpid()}_0ld5e9"  # an older polewarp's, which takes no lock
    legacy.write_bytes(b"x")
    try:
        with SharedArray((1000,), np.uint8) as live:
            live.array[:] = 7
            tiny = polewarp(*TINY_BUILD, "-o", str(tmp_path / "tiny.npy"))
            _, err = tiny.communicate(timeout=60)
            assert tiny.returncode == 0, err
            assert (SEGMENT_DIR / live.handle.name).exists() and (live.array == 7).all()
        assert legacy.exists()
    finally:
        legacy.unlink()


def test_orphans_are_removed_and_fresh_creations_kept(monkeypatch):
    orphan = SEGMENT_DIR / f"{LOCKED_PREFIX}{os.getpid()}_dead0001"  # nobody holds its lock
    creating = SEGMENT_DIR / f".{LOCKED_PREFIX}{os.getpid()}_dead0002"
    for path in (orphan, creating):
        path.write_bytes(b"")
    try:
        remove_orphans()  # (a polewarp running meanwhile may remove the orphan first)
        assert not orphan.exists()
        assert creating.exists()  # unlocked for an instant only: another process may be about to lock it
        monkeypatch.setattr(workers, "STALE_CREATION_S", 0.0)
        assert creating.name in remove_orphans()
    finally:
        orphan.unlink(missing_ok=True)
        creating.unlink(missing_ok=True)


def test_a_full_shared_memory_fails_in_one_line(monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(PolewarpError, match=r"the LUT needs 38\.1 MiB, [\d.]+ MiB is free"):
        SharedArray((10000, 1000, 2), np.uint16)
    assert not list(SEGMENT_DIR.glob(f"*{LOCKED_PREFIX}{os.getpid()}_*"))


@pytest.mark.slow
def test_a_lut_larger_than_shared_memory_exits_1_in_one_line(tmp_path):
    stats = os.statvfs(SEGMENT_DIR)
    side = int((2 * stats.f_blocks * stats.f_frsize / 8) ** 0.5) + 1  # a uint32 LUT twice /dev/shm
    before = polewarp_segments()
    process = polewarp("lut", "build", "--input-size", "70000x35000", "--size", f"{side}x{side}", "--backend",
                       "processes", "--workers", "2", "-o", str(tmp_path / "huge.npy"))
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "not enough shared memory in /dev/shm" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert_nothing_left(tmp_path, before)


def handlers_installed(pid) -> bool:
    """Whether the process catches SIGTERM yet (polewarp's handlers are in place)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def run_signalled(tmp_path, name, delay=None, signum=signal.SIGTERM):
    """Run a small pool build, signal it ``delay`` s after its handlers are in place (never when
    None): (exit code, stderr, seconds from the handlers to the end)."""
    return signal_when_ready(polewarp("lut", "build", "--input-size", "1024x512", "--size", "4096x2048", "--backend",
                              "processes", "--workers", "2", "-o", str(tmp_path / f"{name}.npy")), delay, signum)


def signal_when_ready(process, delay=None, signum=signal.SIGTERM):
    """Signal a polewarp process ``delay`` s after its handlers are in place (never when None):
    (exit code, stderr, seconds from the handlers to the end)."""
    deadline = time.monotonic() + 30
    while not handlers_installed(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.002)
    started = time.monotonic()
    if delay is not None:
        time.sleep(delay)  # the random moment under test
        process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    return process.returncode, err, time.monotonic() - started


@pytest.mark.slow
def test_signals_at_random_moments(tmp_path):
    code, err, seconds = run_signalled(tmp_path, "whole")
    assert code == 0, err
    rng = random.Random(11)
    codes = []
    for run in range(30):
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        code, err, _ = run_signalled(tmp_path, f"r{run}", rng.uniform(0, 1.2 * seconds), signum)
        codes.append(code)
        assert code in (0, 128 + signum), err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        written = {f"r{run}.npy", f"r{run}.json"}
        names = {p.name for p in tmp_path.iterdir()} - {"whole.npy", "whole.json"}
        if code == 0:  # the signal came after the work: the LUT is all there
            assert written <= names and np.load(tmp_path / f"r{run}.npy").shape == (2048, 4096, 2)
        assert names - written == set(), names  # no temporary left
        for path in written & names:
            path = tmp_path / path
            path.unlink()
        assert polewarp_segments() == set()
    assert codes.count(0) < len(codes) / 2, codes  # the moments fell mostly inside the run


@pytest.fixture
def polewarp_signals(monkeypatch):
    """polewarp's SIGTERM handling in this process, for the test's duration."""
    from polewarp.engine import signals

    monkeypatch.setattr(signals, "_raised", None)
    monkeypatch.setattr(sys, "unraisablehook", signals._unraisable)
    previous = signal.signal(signal.SIGTERM, signals.on_signal)
    yield signals
    signal.signal(signal.SIGTERM, previous)


def test_a_signal_waits_for_the_critical_section(polewarp_signals):
    from polewarp.engine.errors import Interrupted

    finished = False
    with pytest.raises(Interrupted) as raised:
        with polewarp_signals.deferred():
            signal.raise_signal(signal.SIGTERM)
            finished = True
    assert finished and raised.value.exit_code == 143 and polewarp_signals.pending() is None


def test_a_signal_python_drops_is_delivered_again(polewarp_signals):
    from polewarp.engine.errors import Interrupted

    class Dropping:
        def __del__(self):  # an exception here is printed and dropped, as in a ctypes callback
            signal.raise_signal(signal.SIGTERM)

    deadline = time.monotonic() + 5
    with pytest.raises(Interrupted):
        Dropping()
        while time.monotonic() < deadline:
            time.sleep(0.001)


def test_an_error_a_signal_turned_into_stays_the_signal(polewarp_signals):
    from polewarp.engine.errors import Interrupted

    with pytest.raises(Interrupted) as raised:
        with polewarp_signals.kept_as_interruption():
            try:
                signal.raise_signal(signal.SIGTERM)
            except Interrupted:  # what C code importing a module does with it
                raise ImportError("numba._devicearray failed to import") from None
    assert raised.value.exit_code == 143


def test_a_signal_while_a_segment_is_made_leaves_none(polewarp_signals, monkeypatch):
    from polewarp.engine.errors import Interrupted

    fallocate = os.posix_fallocate

    def signalled(fd, offset, length):
        signal.raise_signal(signal.SIGTERM)  # held back until the segment is owned
        fallocate(fd, offset, length)

    monkeypatch.setattr(os, "posix_fallocate", signalled)
    with pytest.raises(Interrupted) as raised:
        SharedArray((1000,), np.uint8)
    # Unlinked now, not when the traceback (which the CLI keeps until it exits) is freed.
    assert raised.traceback and not list(SEGMENT_DIR.glob(f"*{LOCKED_PREFIX}{os.getpid()}_*"))


def test_a_worker_meeting_a_full_shared_memory_fails_in_one_line(monkeypatch):
    from polewarp import GeometrySpec, build_lut

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)  # the forked workers inherit it: they reserve their rows
    with pytest.raises(PolewarpError, match=r"not enough shared memory in /dev/shm: the LUT needs 2\.0 MiB"):
        build_lut(GeometrySpec((64, 32), (1024, 512)), "processes", 2)
