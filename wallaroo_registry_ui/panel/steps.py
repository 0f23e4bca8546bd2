"""How the panel's steps run: one at a time, whether a Python caller or the view asked for them.

A step the view asks for runs on a ``SerialWorker``, so the comm handler returns at once; a step
called from Python runs in the caller's thread once the view's queued work is done, and returns
when the data is there. Either way the step shows in the panel's ``busy`` labels while it runs,
and its failure becomes the panel's ``error`` with no secret in it. An action that changes no
selection (cancelling an upload) runs on a second worker, so a slow one holds no browsing up;
work the kernel starts by itself (reloading what an ended upload changed) queues with the
view's steps but leaves the panel's error alone unless it fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from wallaroo_registry_ui.client.errors import RegistryApiError, redact
from wallaroo_registry_ui.panel.protocol import failure, reply

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

MAX_ERROR_CHARS = 1000
SETTLE_SECONDS = 300.0

Work = Callable[[], dict[str, Any] | None]


def describe_failure(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """A message a person can act on, with no secret in it."""
    if isinstance(exc, RegistryApiError | ValueError | LookupError | TypeError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(text, secrets)[:MAX_ERROR_CHARS]


class Panel(Protocol):
    """What the steps show in the panel: its busy labels and error, and replies to the view."""

    busy: list[str]
    error: str

    def send(self, content: dict[str, Any]) -> None: ...


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


class PanelSteps:
    """Runs a panel's steps in the order they were asked for, and shows them in the panel."""

    def __init__(self, panel: Panel) -> None:
        self._panel = panel
        self._lock = threading.RLock()
        self._busy_lock = threading.Lock()
        self._worker_busy: list[str] = []
        self._aside_busy: list[str] = []
        self._caller_busy: list[str] = []
        self._worker = SerialWorker(self._worker_busy_changed)
        self._aside = SerialWorker(self._aside_busy_changed)
        self._worker_thread: threading.Thread | None = None

    def settle(self) -> None:
        """Let the view's queued work finish first, unless we are that work."""
        if threading.current_thread() is not self._worker_thread:
            self._worker.wait_until_idle(SETTLE_SECONDS)

    def wait_until_idle(self, timeout: float | None) -> None:
        """Wait until every step and action the view asked for so far is done."""
        self._worker.wait_until_idle(timeout)
        self._aside.wait_until_idle(timeout)

    def shutdown(self) -> None:
        """Stop taking steps from the view; queued ones are dropped."""
        self._worker.shutdown()
        self._aside.shutdown()

    @contextmanager
    def from_python(self, label: str, secrets: Sequence[str] = ()) -> Iterator[None]:
        """A step called from Python: after the view's queued work, shown as busy; a failure
        is raised and also shown in the panel."""
        self.settle()
        with self._busy_lock:
            self._caller_busy.append(label)
            self._show_busy()
        try:
            with self._failure_shown(secrets):
                yield
        finally:
            with self._busy_lock:
                self._caller_busy.remove(label)
                self._show_busy()

    def from_view(
        self,
        label: str,
        work: Work,
        request_id: str | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        """Run ``work`` on the worker; a failure becomes the panel's error, and a request is
        answered either way."""

        def job() -> None:
            self._worker_thread = threading.current_thread()
            try:
                with self._failure_shown(secrets):
                    result = work()
            except Exception as exc:
                answer = failure(request_id, describe_failure(exc, secrets)) if request_id else None
            else:
                answer = reply(request_id, result) if request_id else None
            if answer is not None:
                self._panel.send(answer)

        self._worker.submit(label, job)

    def alongside(self, label: str, work: Work, request_id: str) -> None:
        """Run ``work`` on the second worker, beside the view's steps; a failure becomes the
        panel's error, and the request is answered either way."""

        def job() -> None:
            try:
                result = work()
            except Exception as exc:
                message = describe_failure(exc)
                self._panel.error = message
                self._panel.send(failure(request_id, message))
            else:
                self._panel.send(reply(request_id, result))

        self._aside.submit(label, job)

    def from_kernel(self, label: str, work: Callable[[], None]) -> None:
        """Queue ``work`` the kernel started itself after the view's steps; only a failure
        touches the panel's error."""

        def job() -> None:
            self._worker_thread = threading.current_thread()
            with self._lock:
                try:
                    work()
                except Exception as exc:
                    self._panel.error = describe_failure(exc)
                    raise

        self._worker.submit(label, job)

    @contextmanager
    def _failure_shown(self, secrets: Sequence[str]) -> Iterator[None]:
        """One step at a time: the panel's error is cleared, and a failure replaces it."""
        with self._lock:
            self._panel.error = ""
            try:
                yield
            except Exception as exc:
                self._panel.error = describe_failure(exc, secrets)
                raise

    def _show_busy(self) -> None:
        """Called with ``_busy_lock`` held, so updates from two threads land in order."""
        self._panel.busy = [*self._worker_busy, *self._aside_busy, *self._caller_busy]

    def _worker_busy_changed(self, labels: list[str]) -> None:
        with self._busy_lock:
            self._worker_busy = labels
            self._show_busy()

    def _aside_busy_changed(self, labels: list[str]) -> None:
        with self._busy_lock:
            self._aside_busy = labels
            self._show_busy()
