"""An overall deadline on the registry requests made for one call, however the registry trickles.

Per-read timeouts alone let a registry that sends a byte every few seconds hold a call
forever. A route sets a deadline around its registry work (``registry_deadline``); inside it,
``RegistryHttp`` cuts each request's timeouts to the time left and stops retrying at it, and
every response the registry's pooled session receives is watched (``watch_response``, a
``requests`` response hook, which runs before a body is read): when the deadline passes, a
timer shuts the sockets of those still open down, so a read blocked on a trickle returns at
once. Whatever the connector then raises becomes one 504 that names the limit. The deadline
lives in a context variable, so connectors pass nothing along, and work that sets none (the
upload runner's transfers) runs unbounded as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

import requests

from wallaroo_registry_ui.server.connectors.base import UpstreamError, UpstreamTimeout


@dataclass
class _Deadline:
    at: float
    seconds: float
    what: str
    passed: bool = False
    responses: list[requests.Response] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, response: requests.Response) -> None:
        with self.lock:
            if not self.passed:
                self.responses.append(response)
                return
        _shut_down(response)

    def expire(self) -> None:
        with self.lock:
            self.passed = True
            responses, self.responses = self.responses, []
        for response in responses:
            _shut_down(response)

    def error(self, registry_name: str) -> UpstreamTimeout:
        return UpstreamTimeout(
            registry_name,
            f"did not finish answering within {self.seconds:g} s, "
            f"the service's limit for {self.what}",
        )


_current: ContextVar[_Deadline | None] = ContextVar("registry_deadline", default=None)


@contextmanager
def registry_deadline(seconds: float, what: str) -> Iterator[None]:
    """Registry requests inside end by ``seconds`` from now; ``what`` names the call for
    the error ("a listing")."""
    deadline = _Deadline(time.monotonic() + seconds, seconds, what)
    timer = threading.Timer(seconds, deadline.expire)
    timer.daemon = True
    token = _current.set(deadline)
    timer.start()
    try:
        yield
    except UpstreamError as exc:
        if deadline.passed or time.monotonic() >= deadline.at:
            raise deadline.error(exc.registry) from None
        raise
    finally:
        timer.cancel()
        _current.reset(token)


def watch_response(response: requests.Response, *_args: object, **_kwargs: object) -> None:
    """A ``requests`` response hook: a response received under a deadline is cut off when
    the deadline passes (outside one, nothing happens)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.watch(response)


def time_left() -> float | None:
    """Seconds until the deadline (None when there is none; 0 once it has passed)."""
    deadline = _current.get()
    if deadline is None:
        return None
    return max(0.0, deadline.at - time.monotonic())


def bounded(timeout: float) -> float:
    """``timeout``, or the time left when that is shorter (never 0: a socket would block)."""
    left = time_left()
    return timeout if left is None else max(0.01, min(timeout, left))


def check_deadline(registry_name: str) -> None:
    """Raise UpstreamTimeout (a 504) once the deadline has passed."""
    deadline = _current.get()
    if deadline is not None and time.monotonic() >= deadline.at:
        raise deadline.error(registry_name)


def _shut_down(response: requests.Response) -> None:
    """Shut the response's socket down (urllib3's ``HTTPResponse.shutdown``), so a read
    waiting on it returns now; the connection is then dropped, not reused."""
    shutdown = getattr(response.raw, "shutdown", None)
    if callable(shutdown):
        with suppress(OSError, ValueError, RuntimeError):
            shutdown()
