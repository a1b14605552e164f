"""The shared-memory process pool: one segment owned by the parent, workers fill row blocks in place.

The parent creates the segment and always unlinks it; each worker attaches once (the pool's
initializer), receives only ``(r0, r1)`` ranges and writes its rows with a numba kernel.
Nothing is pickled back and nothing is sorted. Workers die with their parent, every wait on
them is bounded once a signal arrives, and a segment whose creator was killed is removed by
the next polewarp process that creates one (see ``SharedArray``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import mmap
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import sys
import threading
import time
import weakref
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from . import signals
from .errors import PolewarpError, WorkerError

if os.name == "posix":  # the lock scheme's flock (used where SEGMENT_DIR exists)
    import fcntl

SEGMENT_DIR = Path("/dev/shm")  # where POSIX shared memory is a file system (Linux)
SEGMENT_PREFIX = "polewarp_"
# Segments under the lock scheme; other polewarp_* names (older versions) are never removed.
LOCKED_PREFIX = SEGMENT_PREFIX + "lk_"
# A segment being created is locked within microseconds; one unlocked for this long is stale.
STALE_CREATION_S = 60.0
# After SIGTERM (and SIGCONT, for a stopped one) a worker gets this long before SIGKILL.
TERMINATE_GRACE_S = 1.0
PR_SET_PDEATHSIG = 1


@dataclasses.dataclass(frozen=True)
class SharedArrayHandle:
    """What a worker needs to attach to the parent's array: small and picklable.

    ``reserved``: the segment's memory is allocated already; else each worker allocates the
    rows it fills (``_row_reserver``).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    reserved: bool = True


def _size_text(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


def _out_of_memory(size: int, reason: str) -> PolewarpError:
    stats = os.statvfs(SEGMENT_DIR)
    return PolewarpError(f"not enough shared memory in {SEGMENT_DIR}: the LUT needs {_size_text(size)}, "
                         f"{_size_text(stats.f_bavail * stats.f_frsize)} is free ({reason})")


def _reserve(fd: int, size: int, offset: int = 0, length: int | None = None) -> None:
    """Allocate ``length`` bytes of the segment from ``offset`` (default: all of its ``size``)
    now: a /dev/shm too small for it fails here, cleanly, instead of killing the process with
    SIGBUS when the array is first written."""
    try:
        os.posix_fallocate(fd, offset, size - offset if length is None else length)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # no fallocate here: only set the size
            os.ftruncate(fd, size)
            return
        raise _out_of_memory(size, err.strerror) from None


def _size_only(fd: int, size: int) -> None:
    """Set the segment's size, its memory left to the workers that fill it (in parallel, each
    its own rows); one too large for what /dev/shm has free fails here already."""
    stats = os.statvfs(SEGMENT_DIR)
    if size > stats.f_bavail * stats.f_frsize:
        raise _out_of_memory(size, os.strerror(errno.ENOSPC))
    os.ftruncate(fd, size)


def _create_locked(size: int, reserve: bool = True) -> tuple[str, int]:
    """A new segment file, locked by this process for its whole life: (name, descriptor).

    It is created under a name the cleaner treats as in progress, locked, and only then
    renamed into place, so that no cleaner ever finds an unlocked segment of a live creator.
    """
    name = f"{LOCKED_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    creating = SEGMENT_DIR / f".{name}"
    fd = os.open(creating, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(creating, SEGMENT_DIR / name)
    except BaseException:
        creating.unlink(missing_ok=True)
        os.close(fd)
        raise
    try:
        (_reserve if reserve else _size_only)(fd, size)
    except BaseException:
        _release(SEGMENT_DIR / name, fd, os.getpid())
        raise
    return name, fd


def _release(path: Path, fd: int, creator: int) -> None:
    """Unlink the segment and drop the lock (in its creator only: forked workers copy the
    owner's objects but never own the segment)."""
    if os.getpid() != creator:
        return
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)


class SharedArray:
    """A numpy array in a shared-memory segment this process owns and unlinks on ``close``.

    Where shared memory is a file system (Linux's /dev/shm) the segment is a file this process
    creates itself, so that it holds an ``flock`` on it from creation to unlink: forked workers
    inherit the open file, and with it the lock, so it is free only once the creator and all
    its workers are gone, whatever killed them (pids alone prove nothing: they are reused, and
    containers sharing /dev/shm have their own). ``remove_orphans`` unlinks the segments whose
    lock it can take, before every new segment. The creator skips the stdlib's resource
    tracker, a process that would outlive it. Elsewhere the stdlib's segment is used as is.

    ``reserve=False`` (a pool's build): only the size is set; the workers allocate the rows
    they fill, in parallel, instead of this process allocating and zeroing it all first.
    """

    def __init__(self, shape: tuple[int, ...], dtype, reserve: bool = True):
        dtype = np.dtype(dtype)
        size = max(1, int(np.prod(shape)) * dtype.itemsize)
        self._memory = self._release = None
        try:
            with signals.deferred():  # no signal between creating the segment and owning it
                name, buffer = self._create(size, reserve)
        except BaseException:  # a signal held back is raised as the section ends, here
            self.close()
            raise
        self.array = np.ndarray(shape, dtype=dtype, buffer=buffer)
        self.handle = SharedArrayHandle(name, tuple(shape), dtype.str, reserve or self._memory is not None)

    def _create(self, size: int, reserve: bool) -> tuple[str, object]:
        """Create the segment and arrange its release: (name, buffer)."""
        if not SEGMENT_DIR.is_dir():
            self._memory = shared_memory.SharedMemory(create=True, size=size)
            self._release = weakref.finalize(self, _release_memory, self._memory)
            return self._memory.name, self._memory.buf
        remove_orphans()
        name, fd = _create_locked(size, reserve)
        self._release = weakref.finalize(self, _release, SEGMENT_DIR / name, fd, os.getpid())
        return name, mmap.mmap(fd, size)

    def detach(self) -> np.ndarray:
        """The array, kept alive past ``close``: a mapped file stays mapped after its unlink
        (sparing a copy of a large LUT); the stdlib's segment is copied."""
        return self.array if self._memory is None else self.array.copy()

    def close(self) -> None:
        """Unlink the segment (its memory goes with the last view of it); safe to call twice."""
        self.array = None
        if self._release is not None:
            with signals.deferred():
                self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _release_memory(memory: shared_memory.SharedMemory) -> None:
    try:
        memory.close()
    finally:
        memory.unlink()


def _remove_if_orphan(path: Path, min_age: float = 0.0) -> bool:
    """Unlink ``path`` if its lock is free (creator and workers gone) and it is ``min_age``
    seconds old; the file locked is checked to be the one still under that name."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # gone already, or another user's
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        locked, named = os.fstat(fd), os.lstat(path)
        if (locked.st_dev, locked.st_ino) != (named.st_dev, named.st_ino):
            return False
        if time.time() - locked.st_ctime < min_age:
            return False
        path.unlink()
        return True
    except OSError:  # held by a live process, or removed meanwhile
        return False
    finally:
        os.close(fd)


def remove_orphans() -> list[str]:
    """Unlink the segments (and creations cut short) whose creator is provably gone: their
    lock is free. Cheap: one open and one flock per polewarp segment."""
    removed = [path.name for path in SEGMENT_DIR.glob(LOCKED_PREFIX + "*") if _remove_if_orphan(path)]
    # A creation is unlocked for the instant between its open and its flock: only old ones go.
    return removed + [path.name for path in SEGMENT_DIR.glob(f".{LOCKED_PREFIX}*")
                      if _remove_if_orphan(path, STALE_CREATION_S)]


@dataclasses.dataclass
class _WorkerState:
    """Everything one worker keeps between tasks: its attached segment and the fill's arguments."""

    segment: object  # the mapping, kept for the worker's life
    array: np.ndarray
    fill: object  # a callable (array, r0, r1) -> None
    reserve: object = None  # a callable (r0, r1) -> None allocating those rows; None: the parent did


_state: _WorkerState | None = None


def _die_with_parent() -> None:
    """Make this worker end when its parent does, even by SIGKILL: PR_SET_PDEATHSIG on Linux,
    else a thread watching the parent's end of a pipe."""
    parent = multiprocessing.parent_process()
    if sys.platform.startswith("linux"):
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent.pid:  # the parent died before prctl took effect
                os._exit(1)
            return
    threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def worker_signals() -> None:
    """In a worker (pool initializer): Ctrl-C is the parent's to handle (it reaches the whole
    process group), SIGTERM simply ends the worker, and the worker dies with its parent."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signals.pending() == signal.SIGTERM:  # arrived between the fork and now
        os.kill(os.getpid(), signal.SIGTERM)


def attach(handle: SharedArrayHandle) -> tuple[object, np.ndarray]:
    """Map the parent's segment (the worker never unlinks it): (mapping, array)."""
    if SEGMENT_DIR.is_dir():
        with open(SEGMENT_DIR / handle.name, "r+b") as stream:
            mapping = mmap.mmap(stream.fileno(), 0)
        buffer = mapping
    else:
        mapping = shared_memory.SharedMemory(name=handle.name)
        buffer = mapping.buf
    return mapping, np.ndarray(handle.shape, dtype=np.dtype(handle.dtype), buffer=buffer)


def _row_reserver(handle: SharedArrayHandle, array: np.ndarray):
    """(r0, r1) -> None, allocating those rows of an unreserved segment (see ``SharedArray``).

    A segment of one band (``lut.BandFill``) holds the LUT's row r at r modulo its height, and a
    task never spans two bands: the same rule places the rows of a whole LUT (r < its height)."""
    fd = os.open(SEGMENT_DIR / handle.name, os.O_RDWR)  # kept open for the worker's life
    row, size, height = array.strides[0], array.nbytes, max(1, array.shape[0])

    def reserve(r0: int, r1: int) -> None:
        _reserve(fd, size, r0 % height * row, (r1 - r0) * row)

    return reserve


def _attach(handle: SharedArrayHandle, fill) -> None:
    """Pool initializer: attach once, keep the state."""
    global _state
    worker_signals()
    segment, array = attach(handle)
    _state = _WorkerState(segment, array, fill, None if handle.reserved else _row_reserver(handle, array))


def _run_block(block: tuple[int, int]) -> int:
    """Fill one row block in place; returns only the number of rows done."""
    r0, r1 = block
    if _state.reserve is not None:
        _state.reserve(r0, r1)
    _state.fill(_state.array, r0, r1)
    return r1 - r0


def start_method() -> str:
    """fork where the platform has it (a pool starts in milliseconds), else spawn."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def process_pool(workers: int, initializer, initargs) -> ProcessPoolExecutor:
    """A process pool started the cheapest safe way, each worker set up once by ``initializer``.

    The workers are forked here, with signals held back (see ``signals``). They die with the
    thread that forked them (PR_SET_PDEATHSIG's rule): call this from one that outlives the pool.
    """
    context = multiprocessing.get_context(start_method())
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer,
                                   initargs=initargs)
    try:
        with signals.deferred():
            executor.submit(os.getpid)  # a fork pool forks all its workers at the first task
    except BaseException:  # a signal held back, raised as the section ends, lands here too
        shutdown(executor, abandon=True)
        raise
    return executor


def shutdown(executor: ProcessPoolExecutor, abandon: bool = False, background: bool = False) -> None:
    """End a pool and its workers, with every wait bounded once a signal has arrived.

    ``abandon``: the work is dropped (an error or a signal is on its way), so the workers are
    ended at once; otherwise the running tasks finish first, unless a signal comes meanwhile.
    Ending is SIGTERM (with SIGCONT: a stopped process keeps it pending), then SIGKILL after
    TERMINATE_GRACE_S. Signals are held back meanwhile and raised at the end.
    ``background``: the signals are sent now, and the waits for the workers' exit (and the
    SIGKILL, if one is needed) are left to a daemon thread: a build whose work is done returns
    without paying for its workers' exit (tens of milliseconds), and a signal waits for nothing.
    """
    with signals.deferred():
        # The executor forgets its processes and thread on shutdown: keep them to end them.
        processes = list((executor._processes or {}).values())
        manager = executor._executor_manager_thread
        executor.shutdown(wait=False, cancel_futures=True)
        if not abandon:
            _wait_for_exit(processes, None, lambda: signals.pending() is not None)
        _send(processes, signal.SIGTERM)
        _send(processes, signal.SIGCONT)
        if background:
            threading.Thread(target=_reap, args=(processes, manager), name="polewarp-reaper", daemon=True).start()
        else:
            _reap(processes, manager)


def _wait_for_exit(processes, timeout, stop=lambda: False) -> list:
    """Until the processes have exited, ``timeout`` seconds have passed or ``stop()``: those
    still running. A process has exited when its sentinel is ready, even if another thread
    (the executor's) reaped it, so that no signal is ever sent to a reaped (reusable) pid."""
    deadline = None if timeout is None else time.monotonic() + timeout
    alive = [p for p in processes if p.exitcode is None]
    while alive and not stop():
        left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
        if left <= 0:
            break
        ready = multiprocessing.connection.wait([p.sentinel for p in alive], left)
        alive = [p for p in alive if p.sentinel not in ready and p.exitcode is None]
    return alive


def _reap(processes, manager) -> None:
    """After SIGTERM: wait out the grace period, SIGKILL what is left, then the executor's thread."""
    _send(_wait_for_exit(processes, TERMINATE_GRACE_S), signal.SIGKILL)
    _wait_for_exit(processes, TERMINATE_GRACE_S)
    if manager is not None:
        manager.join(TERMINATE_GRACE_S)


def _send(processes, sig) -> None:
    for process in processes:
        if process.exitcode is None:
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:  # exited meanwhile
                pass


def _started(_) -> int:
    """A no-op task: its round trip proves a worker is up and attached."""
    return os.getpid()


class RowPool:
    """Worker processes attached to one shared array, filling row blocks on request.

    Kept alive across builds (the profiler's steady state); ``close`` shuts it down. The
    caller owns the array and unlinks it.
    """

    def __init__(self, target: SharedArray, fill, workers: int):
        self.workers = workers
        self._executor = process_pool(workers, _attach, (target.handle, fill))

    def start(self) -> None:
        """Wait until every worker is up and attached."""
        self._call(lambda: list(self._executor.map(_started, range(self.workers))))

    def run(self, blocks, progress=None) -> None:
        """Fill ``blocks`` in the workers; returns when all are done (WorkerError if one dies)."""

        def dispatch():
            pending = {self._executor.submit(_run_block, block) for block in blocks}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        rows = future.result()
                        if progress is not None:
                            progress(rows)
            except BrokenProcessPool:
                # The pool's own thread fails every pending future; cancelling one under it
                # makes that thread die with InvalidStateError (Python 3.11).
                pending = ()
                raise
            finally:
                for future in pending:
                    future.cancel()

        self._call(dispatch)

    def _call(self, work) -> None:
        try:
            work()
        except BrokenProcessPool:
            raise WorkerError(
                "a worker process died while building the LUT (killed, or out of memory?)"
            ) from None
        except PolewarpError:  # a WorkerError, or a full /dev/shm met by a worker
            raise
        except Exception as err:
            failure = WorkerError(f"a worker failed while building the LUT: {type(err).__name__}: {err}")
            failure.details = getattr(err.__cause__, "tb", None)  # concurrent.futures' _RemoteTraceback
            raise failure from err

    def close(self, background: bool = False) -> None:
        """End the workers at once: by now their work is done, or dropped. ``background``:
        their exit is awaited off this thread (see ``shutdown``); once the work is done."""
        shutdown(self._executor, abandon=True, background=background)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
