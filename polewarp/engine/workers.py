"""The shared-memory process pool: one segment owned by the parent, workers fill row blocks in place.

The parent creates the segment and always unlinks it; each worker attaches once (the pool's
initializer), receives only ``(r0, r1)`` ranges and writes its rows with a numba kernel.
Nothing is pickled back and nothing is sorted.
"""

from __future__ import annotations

import dataclasses
import mmap
import multiprocessing
import os
import secrets
import signal
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from .errors import WorkerError

SEGMENT_PREFIX = "polewarp_"


@dataclasses.dataclass(frozen=True)
class SharedArrayHandle:
    """What a worker needs to attach to the parent's array: small and picklable."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedArray:
    """A numpy array in a shared-memory segment this process owns and unlinks on ``close``."""

    def __init__(self, shape: tuple[int, ...], dtype):
        dtype = np.dtype(dtype)
        size = max(1, int(np.prod(shape)) * dtype.itemsize)
        name = f"{SEGMENT_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        self._segment = shared_memory.SharedMemory(name=name, create=True, size=size)
        self.array = np.ndarray(shape, dtype=dtype, buffer=self._segment.buf)
        self.handle = SharedArrayHandle(name, tuple(shape), dtype.str)

    def detach(self) -> np.ndarray:
        """The array, kept alive past ``close``: where the segment is a file (Linux's /dev/shm)
        it is mapped once more before the unlink, which spares copying a large LUT; elsewhere
        a copy."""
        path = Path("/dev/shm") / self._segment.name.lstrip("/")
        try:
            with open(path, "r+b") as stream:
                mapping = mmap.mmap(stream.fileno(), self._segment.size)
        except OSError:
            return self.array.copy()
        return np.frombuffer(mapping, dtype=self.array.dtype, count=self.array.size).reshape(self.array.shape)

    def close(self) -> None:
        """Drop the view, unmap and unlink; safe to call twice."""
        if self._segment is None:
            return
        self.array = None
        segment, self._segment = self._segment, None
        try:
            segment.close()
        finally:
            segment.unlink()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclasses.dataclass
class _WorkerState:
    """Everything one worker keeps between tasks: its attached segment and the fill's arguments."""

    segment: shared_memory.SharedMemory
    array: np.ndarray
    fill: object  # a callable (array, r0, r1) -> None


_state: _WorkerState | None = None


def worker_signals() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it reaches the whole process group),
    and SIGTERM simply ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def attach(handle: SharedArrayHandle) -> tuple[shared_memory.SharedMemory, np.ndarray]:
    """Attach to the parent's segment (the worker only ever closes it; the owner unlinks)."""
    segment = shared_memory.SharedMemory(name=handle.name)
    return segment, np.ndarray(handle.shape, dtype=np.dtype(handle.dtype), buffer=segment.buf)


def _attach(handle: SharedArrayHandle, fill) -> None:
    """Pool initializer: attach once, keep the state."""
    global _state
    worker_signals()
    _state = _WorkerState(*attach(handle), fill)


def _run_block(block: tuple[int, int]) -> int:
    """Fill one row block in place; returns only the number of rows done."""
    r0, r1 = block
    _state.fill(_state.array, r0, r1)
    return r1 - r0


def start_method() -> str:
    """fork where the platform has it (a pool starts in milliseconds), else spawn."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def process_pool(workers: int, initializer, initargs) -> ProcessPoolExecutor:
    """A process pool started the cheapest safe way, each worker set up once by ``initializer``."""
    context = multiprocessing.get_context(start_method())
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer,
                               initargs=initargs)


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
        """Start every worker now (a fork pool starts them all at the first task)."""
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
        except WorkerError:
            raise
        except Exception as err:
            failure = WorkerError(f"a worker failed while building the LUT: {type(err).__name__}: {err}")
            failure.details = getattr(err.__cause__, "tb", None)  # concurrent.futures' _RemoteTraceback
            raise failure from err

    def close(self) -> None:
        """Let running blocks finish, drop queued ones, end the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
