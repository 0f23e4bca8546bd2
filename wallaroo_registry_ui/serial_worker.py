"""One background thread for the panel's slow calls, run in the order the user asked for them.

The comm handler must return at once so the panel stays responsive; running jobs one at a time
keeps "choose workspace, then registry" in order without any locking in the jobs themselves.
What is queued or running is reported as a list of labels, for the view's busy state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


class SerialWorker:
    """Runs jobs one after another on a single thread; ``on_busy`` gets the pending labels,
    called in order (under this worker's lock), so the last call is always the true state."""

    def __init__(self, on_busy: Callable[[list[str]], None]) -> None:
        self._on_busy = on_busy
        self._labels: list[str] = []
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def submit(self, label: str, job: Callable[[], None]) -> Future[None]:
        """Queue ``job``; its label counts as busy from now until it ends."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="registry-browser")
            self._labels.append(label)
            self._on_busy(list(self._labels))
            return self._executor.submit(self._run, label, job)

    def _run(self, label: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("panel job %r failed", label)
        finally:
            with self._lock:
                self._labels.remove(label)
                self._on_busy(list(self._labels))

    def wait_until_idle(self, timeout: float | None = 60.0) -> None:
        """Block until every job queued so far has ended (TimeoutError after ``timeout``)."""
        with self._lock:
            executor = self._executor
        if executor is not None:
            executor.submit(lambda: None).result(timeout)

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are dropped."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
