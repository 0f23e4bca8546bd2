"""A port on 127.0.0.1 that accepts connections and never answers, so a test can tell that a
path was refused before any request was made."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

__all__ = ["no_connection_seen", "silent_port", "silent_port_url"]


@pytest.fixture
def silent_port() -> Iterator[socket.socket]:
    """A listening socket nobody answers on; any request to it would be seen."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def silent_port_url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def no_connection_seen(sock: socket.socket) -> bool:
    """True when nothing connected to the port within its timeout."""
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return True
    conn.close()
    return False
