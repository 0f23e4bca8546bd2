"""How many calls may be talking to registries at once: per user, and in the whole process.

A call that waits on a slow registry holds one of the server's worker threads. Without a
bound, one user's dozens of slow listings would take every thread and every other user would
wait; with one, the call over the bound is answered at once with 503 and ``Retry-After``
(nothing queues behind a slow registry), and the process's bound stays under its thread
count, so calls that need no registry always find a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from wallaroo_registry_ui.server.errors import service_busy


class RegistryCallSlots:
    """Counts the registry calls running, per user id and in all."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._running: dict[int, int] = {}
        self._all = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        """Hold one slot for ``user_id`` while the block runs; 503 when none is free."""
        with self._lock:
            mine = self._running.get(user_id, 0)
            if mine >= self.per_user:
                raise service_busy(
                    f"you already have {mine} calls waiting on registries, the most one user "
                    "may have at once"
                )
            if self._all >= self.total:
                raise service_busy(
                    f"the service is busy: {self._all} calls are waiting on registries"
                )
            self._running[user_id] = mine + 1
            self._all += 1
        try:
            yield
        finally:
            with self._lock:
                self._all -= 1
                left = self._running[user_id] - 1
                if left:
                    self._running[user_id] = left
                else:
                    del self._running[user_id]
