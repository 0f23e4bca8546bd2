"""Request bodies over 1 MiB are refused with 413 before they are read whole: a 256 MiB body
(streamed from a generator, so the test does not hold it either) is answered quickly, whether
it says its length or comes in chunks, and the service's memory does not grow with it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

MIB = 1 << 20
HUGE = 256 * MIB
PIECE = b'{"workspace_name": "' + b"x" * (MIB - 21)
QUICK_SECONDS = 5.0
RSS_GROWTH_LIMIT = 64 * MIB
CALL = "/v1/api/workspaces/create"


def _pieces(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = PIECE[: total - sent]
        sent += len(piece)
        yield piece


class _SizedBody:
    """``total`` bytes made as they are sent, with a length (so requests sends
    Content-Length rather than chunks)."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[bytes]:
        return _pieces(self.total)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _raw_headers(url: str, token: str, framing: str) -> tuple[socket.socket, bytes]:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=QUICK_SECONDS)
    head = (
        f"POST {CALL} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n"
    ).encode()
    return sock, head


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_declared_length_over_the_limit_is_refused_before_any_byte(registry_service, alice):
    sock, head = _raw_headers(registry_service.url, alice.token, f"Content-Length: {HUGE}\r\n")
    with sock:
        started = time.monotonic()
        sock.sendall(head)
        answer = _read_answer(sock)
    assert time.monotonic() - started < QUICK_SECONDS
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":413' in answer
    assert b"body: is over 1 MiB" in answer


def test_a_chunked_body_is_refused_at_the_limit(registry_service, alice):
    sock, head = _raw_headers(registry_service.url, alice.token, "Transfer-Encoding: chunked\r\n")
    with sock:
        started = time.monotonic()
        sock.sendall(head)
        for piece in _pieces(2 * MIB):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = _read_answer(sock)
    assert time.monotonic() - started < QUICK_SECONDS
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":413' in answer


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_256_mib_body_is_answered_quickly_without_memory_growth(
    registry_service, alice, declared
):
    pid = registry_service.process.pid
    before = _rss(pid)
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    body = _SizedBody(HUGE) if declared else _pieces(HUGE)
    started = time.monotonic()
    answer = requests.post(f"{registry_service.url}{CALL}", data=body, headers=headers, timeout=60)
    elapsed = time.monotonic() - started
    growth = _rss(pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"the service grew by {growth // MIB} MiB"
    assert elapsed < 30, f"a refused 256 MiB body took {elapsed:.1f} s"
    assert answer.status_code == 413, answer.text[:200]
    assert answer.json() == {"msg": "body: is over 1 MiB, the most a call takes", "code": 413}
    assert ("Content-Length" in answer.request.headers) is declared
    names = [w.name for w in alice.client.list_workspaces()]
    assert not any(name.startswith("xxxx") for name in names)


def test_a_body_under_the_limit_is_read_as_before(registry_service, alice):
    name = "n" * (MIB // 2)
    answer = registry_service.post(alice.token, "workspaces/create", {"workspace_name": name})
    assert answer.status_code == 400
    assert answer.json()["msg"].startswith("workspace_name:")
