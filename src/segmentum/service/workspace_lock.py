"""The server's lock on its workspace, with a lane for the real-time processor.

Every step that uses the server's workspace (an intake commit, a worker step, a request)
holds this lock, since one DuckDB connection serves them all. A plain ``threading.Lock``
is not fair: when an intake commit ends, the intake thread, already running, takes the lock
again for its next group before the micro-batch thread it just woke can. Under load the
micro-batches then waited for one or two intake commits at each of their two short holds
(measured through HTTP, 2 clients: 71 + 38 ms of a 333 ms batch). An ``urgent`` holder
(the micro-batches) is served before any waiting ordinary one; it never holds the lock long
(planning, then writing its result: its evaluation runs outside), so ordinary holders still
get it between.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WorkspaceLock:
    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0
        #: Threads waiting (for tests that need to know a waiter is queued).
        self.waiting = 0

    @contextmanager
    def held(self, urgent: bool = False) -> Iterator[None]:
        with self._condition:
            self.waiting += 1
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._held or (not urgent and self._urgent_waiting):
                    self._condition.wait()
                self._held = True
            finally:
                self.waiting -= 1
                if urgent:
                    self._urgent_waiting -= 1
        try:
            yield
        finally:
            with self._condition:
                self._held = False
                self._condition.notify_all()
