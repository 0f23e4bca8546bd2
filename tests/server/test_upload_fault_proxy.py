"""The fault proxy the upload tests stand on, against a tiny local server: it passes requests
through whole and streaming, and each fault does what it says, only where it is switched on."""

from __future__ import annotations

import hashlib
import http.server
import random
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from support.fault_proxy import FaultProxy

PAYLOAD = random.Random(8).randbytes(512 * 1024)


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Serves ``PAYLOAD`` (honouring ``Range: bytes=N-``), echoes request bodies' sha256; on
    ``/slow`` sends one chunk, then the rest once ``go_on`` is set (chunked, no length); on
    ``/short`` announces ``PAYLOAD`` but hangs up after 1000 bytes."""

    protocol_version = "HTTP/1.1"
    seen: list[dict] = []
    go_on = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "headers": dict(self.headers.items())})
        if self.path.startswith("/slow"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            type(self).go_on.wait(10)
            self.wfile.write(b"4\r\nrest\r\n0\r\n\r\n")
            return
        if self.path.startswith("/short"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.close_connection = True
            return
        body, status = PAYLOAD, 200
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            body, status = PAYLOAD[int(wanted[6:].rstrip("-")) :], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Upstream", "tiny")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        digest, size = hashlib.sha256(), 0
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while (length := int(self.rfile.readline().strip(), 16)) > 0:
                piece = self.rfile.read(length)
                self.rfile.readline()
                digest.update(piece)
                size += len(piece)
            self.rfile.readline()
        else:
            piece = self.rfile.read(int(self.headers["Content-Length"]))
            digest.update(piece)
            size = len(piece)
        type(self).seen.append({"path": self.path, "headers": dict(self.headers.items())})
        answer = f"{size} {digest.hexdigest()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def _settled(proxy: FaultProxy) -> list:
    """The log once every answer is over (the client can read the last byte a moment before
    the proxy notes the end)."""
    deadline = time.monotonic() + 5
    while any(seen.ended is None for seen in proxy.requests) and time.monotonic() < deadline:
        time.sleep(0.01)
    return proxy.requests


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    _Upstream.seen = []
    _Upstream.go_on = threading.Event()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}") as running:
            yield running
    finally:
        _Upstream.go_on.set()
        upstream.shutdown()
        upstream.server_close()


def test_requests_pass_through_whole_with_their_headers(proxy):
    with requests.Session() as session:
        got = session.get(
            f"{proxy.url}/file?x=1", headers={"Authorization": "Bearer abc", "X-Mine": "1"}
        )
        posted = session.post(f"{proxy.url}/echo", data=b"hello" * 1000)
        streamed = session.post(f"{proxy.url}/echo", data=iter([b"ab", b"cd"]))
    assert got.status_code == 200 and got.content == PAYLOAD
    assert got.headers["X-Upstream"] == "tiny"
    first = _Upstream.seen[0]
    assert first["path"] == "/file?x=1"
    assert first["headers"]["Authorization"] == "Bearer abc"
    assert first["headers"]["X-Mine"] == "1"
    assert first["headers"]["Host"] == proxy.upstream_netloc
    assert posted.text == f"5000 {hashlib.sha256(b'hello' * 1000).hexdigest()}"
    assert streamed.text == f"4 {hashlib.sha256(b'abcd').hexdigest()}"
    seen = _settled(proxy)
    assert [(r.method, r.path, r.status) for r in seen] == [
        ("GET", "/file", 200),
        ("POST", "/echo", 200),
        ("POST", "/echo", 200),
    ]
    assert seen[0].target == "/file?x=1"
    assert seen[0].bytes_sent == len(PAYLOAD)
    assert all(r.ended is not None and r.fault is None for r in seen)


def test_range_goes_upstream_and_is_recorded(proxy):
    got = requests.get(f"{proxy.url}/file", headers={"Range": "bytes=1000-"}, timeout=10)
    assert got.status_code == 206 and got.content == PAYLOAD[1000:]
    assert _Upstream.seen[0]["headers"]["Range"] == "bytes=1000-"
    (seen,) = proxy.requests
    assert (seen.range, seen.status, seen.bytes_sent) == ("bytes=1000-", 206, len(PAYLOAD) - 1000)


def test_bodies_stream_without_waiting_for_their_end(proxy):
    with requests.get(f"{proxy.url}/slow", stream=True, timeout=10) as got:
        pieces = got.iter_content(chunk_size=None)
        assert next(pieces) == b"first"
        assert proxy.requests[0].ended is None
        _Upstream.go_on.set()
        assert b"".join(pieces) == b"rest"
    assert got.headers["Transfer-Encoding"] == "chunked"


def test_an_upstream_hanging_up_mid_body_is_passed_on(proxy):
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{proxy.url}/short", timeout=10)
    assert time.monotonic() - started < 5
    assert proxy.requests[0].bytes_sent == 1000


def test_throttle_paces_the_body(proxy):
    proxy.throttle(1024 * 1024)
    started = time.monotonic()
    got = requests.get(f"{proxy.url}/file", timeout=10)
    elapsed = time.monotonic() - started
    assert got.content == PAYLOAD
    assert elapsed >= 0.45, f"512 KiB at 1 MiB/s took {elapsed:.2f} s"
    assert proxy.requests[0].fault == "throttle"


def test_cut_after_closes_mid_body_then_passes(proxy):
    proxy.cut_after(100_000)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{proxy.url}/file", timeout=10)
    again = requests.get(f"{proxy.url}/file", timeout=10)
    assert again.content == PAYLOAD
    cut, whole = proxy.requests
    assert (cut.fault, cut.bytes_sent, cut.status) == ("cut", 100_000, 200)
    assert (whole.fault, whole.bytes_sent) == (None, len(PAYLOAD))


def test_fail_first_answers_without_the_upstream_then_passes(proxy):
    proxy.fail_first(503)
    proxy.fail_first(429, retry_after=2)
    unavailable = requests.get(f"{proxy.url}/file", timeout=10)
    limited = requests.get(f"{proxy.url}/file", timeout=10)
    passed = requests.get(f"{proxy.url}/file", timeout=10)
    assert unavailable.status_code == 503 and "Retry-After" not in unavailable.headers
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert passed.status_code == 200 and passed.content == PAYLOAD
    assert len(_Upstream.seen) == 1
    assert [(r.status, r.fault) for r in proxy.requests] == [
        (503, "fail"),
        (429, "fail"),
        (200, None),
    ]


def test_faults_keep_to_their_prefix(proxy):
    proxy.fail_first(503, times=5, prefix="/a/")
    proxy.cut_after(10, prefix="/a/")
    proxy.throttle(1024, prefix="/a/")
    assert requests.get(f"{proxy.url}/b/file", timeout=10).content == PAYLOAD
    assert requests.get(f"{proxy.url}/a/file", timeout=10).status_code == 503
    assert [(r.path, r.fault) for r in proxy.requests] == [("/b/file", None), ("/a/file", "fail")]


def test_hold_stalls_the_body_until_release(proxy):
    proxy.hold(prefix="/file")
    with requests.get(f"{proxy.url}/file", stream=True, timeout=10) as got:
        assert got.status_code == 200
        assert got.headers["Content-Length"] == str(len(PAYLOAD))
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(got.raw.read()))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive(), "the body came through a hold"
        assert proxy.requests[0].bytes_sent == 0
        proxy.release(prefix="/file")
        reader.join(10)
    assert received == [PAYLOAD]
    assert proxy.requests[0].fault == "hold"


def test_reset_switches_every_fault_off_and_empties_the_log(proxy):
    proxy.fail_first(503, times=3)
    proxy.cut_after(10, times=3)
    proxy.throttle(1024)
    proxy.hold()
    assert requests.get(f"{proxy.url}/file", timeout=10).status_code == 503
    proxy.reset()
    assert proxy.requests == []
    started = time.monotonic()
    assert requests.get(f"{proxy.url}/file", timeout=10).content == PAYLOAD
    assert time.monotonic() - started < 2
    assert [r.fault for r in proxy.requests] == [None]


def test_a_dead_upstream_is_a_502():
    with FaultProxy("http://127.0.0.1:1") as nowhere:
        got = requests.get(f"{nowhere.url}/file", timeout=10)
        assert got.status_code == 502
        assert [r.status for r in nowhere.requests] == [502]


def test_wait_for_names_what_it_waited_for(proxy):
    requests.get(f"{proxy.url}/file", timeout=10)
    assert proxy.wait_for(lambda r: r.path == "/file", 1, "file read").status == 200
    with pytest.raises(AssertionError, match="no range read within"):
        proxy.wait_for(lambda r: r.range is not None, 0.2, "range read")
