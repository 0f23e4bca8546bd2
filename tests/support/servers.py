"""Servers the tests start: one that fails to start fails the test with its log, and every
one is stopped when the test or session that asked for it is done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

import pytest

from wallaroo_registry_ui.demo.processes import ServerFailedToStart


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


def started(start: Callable[[], S]) -> S:
    """``start()``, or the test fails with what the server printed before it gave up."""
    try:
        return start()
    except ServerFailedToStart as error:
        pytest.fail(str(error))


@contextmanager
def running(start: Callable[[], S]) -> Iterator[S]:
    """The server ``start()`` returns, stopped at the end of the ``with``."""
    server = started(start)
    try:
        yield server
    finally:
        server.stop()
