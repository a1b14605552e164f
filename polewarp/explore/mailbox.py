"""Newest view wins: a single-slot mailbox in front of one render thread.

A fast drag asks for views faster than they render. Each request waits in the one slot; a newer
one takes its place and the older is answered "superseded" at once, so work never queues up and
the frame being rendered is always for the newest view the page has asked for so far.
"""

from __future__ import annotations

import threading


class Ticket:
    """One request: its job, and (once ``done`` is set) its result, its error, or neither (dropped)."""

    def __init__(self, job):
        self.job = job
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None


class LatestOnly:
    """Runs ``work(job)`` on one thread for the newest submitted job; ``submit`` blocks until its
    job is done or dropped. ``close`` drops what waits, lets the running job end, joins the thread."""

    def __init__(self, work, name: str = "polewarp-render"):
        self._work = work
        self._lock = threading.Condition()
        self._slot: Ticket | None = None
        self._closed = False
        self._arrivals = self._newest = 0
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()

    def arrival(self) -> int:
        """A number for a request as it arrives. Requests prepare their jobs concurrently (a drag
        is solved first, the first one compiling for seconds), so they may submit out of order:
        one submitted after a request that arrived later is stale."""
        with self._lock:
            self._arrivals += 1
            return self._arrivals

    def submit(self, job, order: int | None = None):
        """The result of ``work(job)``, or None when a newer job replaced it, a request that
        arrived after ``order`` (from ``arrival``) was submitted first, or the mailbox closed,
        before it started; the work's exception is raised here."""
        ticket = Ticket(job)
        with self._lock:
            if self._closed or (order is not None and order < self._newest):
                return None
            self._newest = max(self._newest, order or 0)
            if self._slot is not None:
                self._slot.done.set()  # superseded: answered with no result
            self._slot = ticket
            self._lock.notify()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._slot is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                ticket, self._slot = self._slot, None
            try:
                ticket.result = self._work(ticket.job)
            except Exception as err:  # reported to the request that asked for it
                ticket.error = err
            finally:
                ticket.done.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._slot is not None:
                self._slot.done.set()
                self._slot = None
            self._lock.notify()
        self._thread.join()
