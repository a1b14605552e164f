"""SIGINT and SIGTERM as an ``Interrupted`` exception, held back while a critical section runs.

The command line calls ``install``, so that a signal unwinds the stack and every ``finally``
cleans up. Some moments must not be cut: forking the pool's workers (Python's fork hooks and
the executor's half-started threads would print tracebacks), shutting it down and releasing a
segment. Inside ``deferred()`` the handler only records the signal; it is raised again when
the outermost section ends. Where Python cannot propagate an exception (a ctypes callback
such as llvmlite's while numba compiles, a ``__del__``) the signal is delivered again a
moment later, so none is ever swallowed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from .errors import Interrupted, interruption_behind

REDELIVERY_S = 0.01  # ample for the code that swallowed the exception to return
_depth = 0  # nested critical sections now running
_pending: int | None = None  # the first signal that arrived during them
_raised: int | None = None  # the signal last raised: the process is unwinding to exit


def on_signal(signum, frame) -> None:
    """The SIGINT/SIGTERM handler: raise ``Interrupted`` now, or once the critical section ends."""
    global _pending, _raised
    if _depth:
        _pending = _pending or signum
        return
    _raised = signum
    raise Interrupted(signum)


def install() -> None:
    """SIGINT and SIGTERM raise ``Interrupted`` (exit codes 130 and 143), and are never lost."""
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.unraisablehook = _unraisable
    sys.excepthook = _excepthook


def _excepthook(kind, value, traceback, previous=sys.excepthook) -> None:
    """C code that swallows an error prints it through here (numba's import does, before it
    fails): an ``Interrupted`` is not an error to show."""
    if not isinstance(value, Interrupted):
        previous(kind, value, traceback)


def _unraisable(unraisable, previous=sys.unraisablehook) -> None:
    """An ``Interrupted`` raised where Python can only print and drop it: send the signal again
    in a moment, once the code that dropped it has returned (the handler runs in the main
    thread, after this hook). Other errors Python drops are printed as usual, but not once
    a signal is unwinding the process."""
    if not isinstance(unraisable.exc_value, Interrupted):
        if _raised is None:  # else a side effect of cutting code short (a half-built object's __del__)
            previous(unraisable)
        return
    resend = threading.Timer(REDELIVERY_S, os.kill, (os.getpid(), unraisable.exc_value.signum))
    resend.daemon = True
    resend.start()


@contextlib.contextmanager
def kept_as_interruption():
    """Around code that can turn ``Interrupted`` into another error (C code importing a module
    reports "failed to import"): once a signal was raised, the signal is what ends the run."""
    try:
        yield
    except Exception:
        if _raised is not None:
            raise Interrupted(_raised) from None
        raise


def raised() -> int | None:
    """The signal last raised as ``Interrupted``, even if the code it cut swallowed it."""
    return _raised


def pending() -> int | None:
    """The signal held back by the running critical section, if one arrived."""
    return _pending


@contextlib.contextmanager
def deferred():
    """A critical section: signals wait for its end (the outermost one re-raises them)."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None:
            signum, _pending = _pending, None
            # raise_signal runs the Python handler before it returns (in the main thread),
            # and with no handler of ours installed the default action applies.
            signal.raise_signal(signum)


def find_interruption(err: BaseException | None = None) -> BaseException | None:
    """The interruption behind ``err``, else the signal the handler raised that Python swallowed
    (a ctypes callback inside numba's compiler does, leaving numba to fail later with
    "RuntimeError: no compiled object yet")."""
    found = interruption_behind(err) if err is not None else None
    if found is None and raised() is not None:
        found = Interrupted(raised())
    return found


def check_interrupted() -> None:
    """Raise the interruption that arrived and was swallowed, so that a long loop stops."""
    found = find_interruption()
    if found is not None:
        raise found
