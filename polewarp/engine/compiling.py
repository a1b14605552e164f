"""Say once, on the "polewarp" logger, that kernels are being compiled for this machine.

A first run after install compiles the numba kernels it needs, seconds each, which numba's
cache then keeps for later runs. numba announces every real compile (a cache miss; loading a
cached kernel is none) as a "numba:compile" event: once compiling has gone on for more than
NOTICE_AFTER_S, in one go or in several, the notice is logged while it goes on, once a process.
"""

from __future__ import annotations

import logging
import threading
import time

from numba.core import event

log = logging.getLogger("polewarp")

NOTICE_AFTER_S = 1.0
NOTICE = "compiling kernels for this machine (a first run only: numba's cache keeps them)"


class _CompileNotice(event.Listener):
    """Times the compiles, outermost ones only (a kernel compiles the functions it calls within
    its own compile); numba compiles under one lock, so one thread at a time calls this."""

    def __init__(self):
        self.said = False
        self._depth = 0
        self._spent = 0.0
        self._started = 0.0
        self._timer: threading.Timer | None = None

    def on_start(self, _event) -> None:
        self._depth += 1
        if self._depth == 1 and not self.said:
            self._started = time.perf_counter()
            self._timer = threading.Timer(max(0.0, NOTICE_AFTER_S - self._spent), self._say)
            self._timer.daemon = True
            self._timer.start()

    def on_end(self, _event) -> None:
        self._depth -= 1
        if self._depth == 0 and self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._spent += time.perf_counter() - self._started

    def _say(self) -> None:
        if not self.said:
            self.said = True
            log.info(NOTICE)


def announce_compiles() -> None:
    """Listen to numba's compiles for the rest of the process (jit.py calls this once)."""
    event.register("numba:compile", _CompileNotice())
