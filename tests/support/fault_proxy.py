"""A reverse proxy on 127.0.0.1 that passes every request to one upstream and injects faults.

The tests put it in front of the real MLflow server to make a registry that is slow, cuts a
download mid-body, answers 503 or 429 first, or stalls a body until told to go on, and to see
what the service asked for (its ``Range`` headers above all). Bodies stream both ways a chunk
at a time; nothing is buffered whole. Faults are switched at run time, for every request or
for those whose path starts with a prefix (the query is not part of the path).

Only the standard library: the proxy must not share code with what it tests.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "SeenRequest"]

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 120.0
IDLE_TIMEOUT = 120.0
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class SeenRequest:
    """One request as the proxy saw and answered it.

    ``status`` is what the proxy sent (None until it sent headers); ``fault`` names the fault
    that acted on it (``"fail"``, ``"cut"``, ``"throttle"``, ``"hold"``) or is None.
    ``started``/``ended`` are ``time.monotonic()`` values; ``ended`` is None while the
    answer is still being sent. ``client_port`` is the port the request came from.
    """

    method: str
    target: str
    range: str | None
    status: int | None
    bytes_sent: int
    client_port: int
    started: float
    ended: float | None
    fault: str | None

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]


@dataclass
class _Cut:
    prefix: str
    after: int
    times: int


@dataclass
class _Failure:
    prefix: str
    status: int
    times: int
    retry_after: float | None


class FaultProxy:
    """A threaded HTTP/1.1 reverse proxy to ``upstream_url`` on a free 127.0.0.1 port.

    Every fault takes ``prefix``: the faults apply to requests whose path starts with it
    (``None``: to every request). Where several throttles or holds match, the longest
    prefix wins.
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the proxy fronts a plain http:// upstream, not {upstream_url!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_netloc = parts.netloc
        self._lock = threading.Lock()
        self._log: list[SeenRequest] = []
        self._throttles: dict[str, float] = {}
        self._holds: dict[str, threading.Event] = {}
        self._cuts: list[_Cut] = []
        self._failures: list[_Failure] = []
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request seen so far, in the order they arrived."""
        with self._lock:
            return list(self._log)

    def throttle(self, bytes_per_second: float, *, prefix: str | None = None) -> None:
        """Send matching response bodies at about ``bytes_per_second``."""
        if bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive")
        with self._lock:
            self._throttles[prefix or ""] = float(bytes_per_second)

    def cut_after(self, n_bytes: int, times: int = 1, *, prefix: str | None = None) -> None:
        """Close the connection after ``n_bytes`` of the body, for the next ``times`` bodies
        that reach that length."""
        if n_bytes < 0 or times < 1:
            raise ValueError("cut_after needs n_bytes >= 0 and times >= 1")
        with self._lock:
            self._cuts.append(_Cut(prefix or "", n_bytes, times))

    def fail_first(
        self,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        *,
        prefix: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (and ``Retry-After``)
        without asking the upstream."""
        if not 400 <= status <= 599 or times < 1:
            raise ValueError("fail_first needs an error status and times >= 1")
        with self._lock:
            self._failures.append(_Failure(prefix or "", status, times, retry_after))

    def hold(self, *, prefix: str | None = None) -> None:
        """Stall matching bodies (headers still go out) until ``release``."""
        with self._lock:
            self._holds.setdefault(prefix or "", threading.Event()).clear()

    def release(self, *, prefix: str | None = None) -> None:
        """Let bodies held under ``prefix`` go on."""
        with self._lock:
            event = self._holds.pop(prefix or "", None)
        if event is not None:
            event.set()

    def reset(self) -> None:
        """Back to a plain pass-through: every fault off, held bodies released, log emptied."""
        with self._lock:
            holds = list(self._holds.values())
            self._holds.clear()
            self._throttles.clear()
            self._cuts.clear()
            self._failures.clear()
            self._log.clear()
        for event in holds:
            event.set()

    def wait_for(
        self, predicate: Callable[[SeenRequest], bool], timeout: float, what: str
    ) -> SeenRequest:
        """The first seen request that satisfies ``predicate``; fails after ``timeout`` s
        with the log, saying ``what`` was awaited."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((seen for seen in self.requests if predicate(seen)), None)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the proxy saw no {what} within {timeout:g} s; it saw: {self.describe()}"
                )
            time.sleep(0.05)

    def describe(self) -> str:
        """The request log in a line per request, for failure messages."""
        lines = [
            f"{seen.method} {seen.target} range={seen.range} -> {seen.status} "
            f"({seen.bytes_sent} bytes, fault={seen.fault}, "
            f"{'open' if seen.ended is None else 'done'})"
            for seen in self.requests
        ]
        return "\n  ".join(["", *lines]) if lines else "(nothing)"

    def close(self) -> None:
        """Stop serving, release every held body and drop every open connection."""
        self._closed.set()
        with self._lock:
            holds = list(self._holds.values())
            self._holds.clear()
            sockets = list(self._sockets)
        for event in holds:
            event.set()
        self._server.shutdown()
        self._server.server_close()
        for sock in sockets:
            _drop(sock)
        self._thread.join(timeout=5)

    # What the handler asks of the proxy, under its lock.

    def _record(self, seen: SeenRequest) -> int:
        with self._lock:
            self._log.append(seen)
            return len(self._log) - 1

    def _update(self, index: int, **changes: object) -> None:
        with self._lock:
            if index < len(self._log):
                self._log[index] = replace(self._log[index], **changes)

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.times > 0 and path.startswith(failure.prefix):
                    failure.times -= 1
                    return failure
        return None

    def _cut_for(self, path: str) -> _Cut | None:
        with self._lock:
            return next((c for c in self._cuts if c.times > 0 and path.startswith(c.prefix)), None)

    def _spend_cut(self, cut: _Cut) -> bool:
        with self._lock:
            if cut.times <= 0:
                return False
            cut.times -= 1
            return True

    def _rate_for(self, path: str) -> float | None:
        with self._lock:
            return _longest_match(self._throttles, path)

    def _hold_for(self, path: str) -> threading.Event | None:
        with self._lock:
            return _longest_match(self._holds, path)

    def _track(self, sock: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._sockets.add if open_ else self._sockets.discard)(sock)


def _longest_match(table: dict, path: str):
    matches = [prefix for prefix in table if path.startswith(prefix)]
    return table[max(matches, key=len)] if matches else None


def _drop(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _ClientGone(Exception):
    """The client hung up (or the proxy cut it off) while its answer was being sent."""


def _handler_for(proxy: FaultProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        owner = proxy

    return Handler


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """One client connection: each request forwarded upstream and answered, faults applied."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    owner: FaultProxy

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._track(self.connection, False)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._proxy()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _proxy(self) -> None:
        path = self.path.partition("?")[0]
        index = self.owner._record(
            SeenRequest(
                method=self.command,
                target=self.path,
                range=self.headers.get("Range"),
                status=None,
                bytes_sent=0,
                client_port=self.client_address[1],
                started=time.monotonic(),
                ended=None,
                fault=None,
            )
        )
        try:
            failure = self.owner._take_failure(path)
            if failure is not None:
                self._skip_request_body()
                self._answer_failure(failure, index)
                return
            self._forward(path, index)
        except _ClientGone:
            self.close_connection = True
        finally:
            self.owner._update(index, ended=time.monotonic())

    def _answer_failure(self, failure: _Failure, index: int) -> None:
        self.owner._update(index, status=failure.status, fault="fail")
        body = f"fault proxy: HTTP {failure.status}\n".encode()
        self.send_response(failure.status)
        if failure.retry_after is not None:
            self.send_header("Retry-After", f"{failure.retry_after:g}")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self._write(body)

    def _forward(self, path: str, index: int) -> None:
        upstream = http.client.HTTPConnection(
            self.owner.upstream_host, self.owner.upstream_port, timeout=UPSTREAM_TIMEOUT
        )
        try:
            try:
                self._send_upstream(upstream)
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException):
                self.owner._update(index, status=502)
                self._answer_bad_gateway()
                return
            self._relay(response, path, index)
        finally:
            upstream.close()

    def _send_upstream(self, upstream: http.client.HTTPConnection) -> None:
        """The request line, the headers (Host set to the upstream's) and the body, streamed."""
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        upstream.putheader("Host", self.owner.upstream_netloc)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "host":
                upstream.putheader(name, value)
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        if chunked:
            for piece in self._chunked_request_body():
                upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            upstream.send(b"0\r\n\r\n")
            return
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            piece = self.rfile.read(min(CHUNK, left))
            if not piece:
                raise _ClientGone
            upstream.send(piece)
            left -= len(piece)

    def _chunked_request_body(self) -> Iterator[bytes]:
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line:
                raise _ClientGone
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return
            left = size
            while left > 0:
                piece = self.rfile.read(min(CHUNK, left))
                if not piece:
                    raise _ClientGone
                left -= len(piece)
                yield piece
            self.rfile.readline(1024)

    def _skip_request_body(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            for _ in self._chunked_request_body():
                pass
            return
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            piece = self.rfile.read(min(CHUNK, left))
            if not piece:
                raise _ClientGone
            left -= len(piece)

    def _answer_bad_gateway(self) -> None:
        body = b"fault proxy: the upstream did not answer\n"
        self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write(body)

    def _relay(self, response: http.client.HTTPResponse, path: str, index: int) -> None:
        """The upstream's status and headers, then its body a chunk at a time, faults applied."""
        has_body = self.command != "HEAD" and response.status not in NO_BODY_STATUSES
        length = response.getheader("Content-Length")
        reframe = has_body and length is None
        self.owner._update(index, status=response.status)
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if reframe:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if has_body:
            self._relay_body(response, path, index, reframe, None if reframe else int(length))

    def _relay_body(
        self,
        response: http.client.HTTPResponse,
        path: str,
        index: int,
        reframe: bool,
        length: int | None,
    ) -> None:
        """Copies the body; a body the upstream cut short is cut short for the client too."""
        cut = self.owner._cut_for(path)
        sent, faults, whole = 0, set(), True
        while length is None or sent < length:
            self._wait_while_held(path, index, faults)
            rate = self.owner._rate_for(path)
            size = CHUNK if rate is None else max(1024, min(CHUNK, int(rate / 20)))
            if cut is not None and sent < cut.after:
                size = min(size, cut.after - sent)
            if cut is not None and sent >= cut.after and self.owner._spend_cut(cut):
                self.owner._update(index, fault=_named(faults | {"cut"}))
                self._hang_up()
                return
            try:
                piece = response.read1(size)
            except (OSError, http.client.HTTPException):
                piece, whole = b"", False
            if not piece:
                whole = whole and length is None
                break
            if rate is not None:
                faults.add("throttle")
            self.owner._update(index, bytes_sent=sent + len(piece), fault=_named(faults))
            try:
                self._write(b"%x\r\n%s\r\n" % (len(piece), piece) if reframe else piece)
            except _ClientGone:
                self.owner._update(index, bytes_sent=sent)
                raise
            sent += len(piece)
            if rate is not None:
                time.sleep(len(piece) / rate)
        if not whole:
            self._hang_up()
        elif reframe:
            self._write(b"0\r\n\r\n")

    def _wait_while_held(self, path: str, index: int, faults: set[str]) -> None:
        hold = self.owner._hold_for(path)
        if hold is None:
            return
        faults.add("hold")
        self.owner._update(index, fault=_named(faults))
        while not hold.wait(0.05):
            if self.owner._closed.is_set():
                raise _ClientGone

    def _hang_up(self) -> None:
        self.close_connection = True
        _drop(self.connection)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc


def _named(faults: set[str]) -> str | None:
    return "+".join(sorted(faults)) or None
