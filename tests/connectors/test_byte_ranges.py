"""Resuming a download against small local servers that honour, ignore or lie about
``Range``: only a 206 that starts at the asked offset and runs to the file's end is taken as
the file's tail; anything else is asked for again whole, so no wrong byte is spliced in."""

from __future__ import annotations

import gzip
import http.server
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests
from support.registry_helpers import local_http_server, read_download

from wallaroo_registry_ui.server.connectors.base import UpstreamBroken, UpstreamError, is_retryable
from wallaroo_registry_ui.server.connectors.byte_ranges import ContentRange, content_range
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

TOKEN = "tok-range-5e5e5e5e-secret"
FILE = random.Random(8).randbytes(3 * (1 << 20) + 17)
SIZE = len(FILE)
ROUTE = "/api/2.0/mlflow-artifacts/artifacts/0/x/y.bin"
URI = "mlflow-artifacts:/0/x/y.bin"
OFFSET = (1 << 20) + 5

Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[str | None], Answer]


@dataclass
class Seen:
    """What a scripted server was asked: the Range and Authorization of each file request."""

    requests: list[tuple[str | None, str | None]] = field(default_factory=list)
    encodings: list[str | None] = field(default_factory=list)

    @property
    def ranges(self) -> list[str | None]:
        return [asked for asked, _ in self.requests]


def _asked_first(range_header: str | None) -> int | None:
    if not range_header:
        return None
    return int(range_header.removeprefix("bytes=").split("-")[0])


def honest(range_header: str | None) -> Answer:
    first = _asked_first(range_header)
    if first is None:
        return 200, {}, FILE
    if first >= SIZE:
        return 416, {"Content-Range": f"bytes */{SIZE}"}, b""
    return 206, {"Content-Range": f"bytes {first}-{SIZE - 1}/{SIZE}"}, FILE[first:]


def unless_ranged(lie: Callable[[int], Answer]) -> Script:
    """Honest to a request for the whole file; ``lie(first)`` to a ranged one."""

    def script(range_header: str | None) -> Answer:
        first = _asked_first(range_header)
        return honest(None) if first is None else lie(first)

    return script


def _serve(script: Script, seen: Seen, redirect_to: str | None = None) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if urlsplit(self.path).path != ROUTE:
                self._answer(404, {"Content-Type": "application/json"}, b"{}")
                return
            seen.requests.append((self.headers.get("Range"), self.headers.get("Authorization")))
            seen.encodings.append(self.headers.get("Accept-Encoding"))
            if redirect_to is not None:
                self._answer(302, {"Location": f"{redirect_to}{ROUTE}"}, b"")
                return
            status, headers, body = script(self.headers.get("Range"))
            self._answer(status, headers, body)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            cut = headers.pop("X-Cut-After", None)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body if cut is None else body[: int(cut)])
            if cut is not None:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def servers() -> Iterator[Callable[..., tuple[str, Seen]]]:
    """Start scripted servers for one test: ``servers(script)`` is (url, what it saw)."""
    with ExitStack() as stack:

        def start(script: Script = honest, redirect_to: str | None = None) -> tuple[str, Seen]:
            seen = Seen()
            url = stack.enter_context(local_http_server(_serve(script, seen, redirect_to)))
            return url, seen

        yield start


def _connector(url: str) -> MlflowConnector:
    return MlflowConnector("liar", url, http=RegistryHttp("liar", url, TOKEN, max_retry_seconds=0))


def test_an_honest_206_is_the_tail(servers):
    url, seen = servers(honest)
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert (download.offset, download.size) == (OFFSET, SIZE)
    assert read_download(download) == FILE[OFFSET:]
    assert seen.requests == [(f"bytes={OFFSET}-", f"Bearer {TOKEN}")]


def test_a_route_that_ignores_ranges_sends_the_whole_file(servers):
    url, seen = servers(lambda _range: (200, {}, FILE))
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert (download.offset, download.size) == (0, SIZE)
    assert read_download(download) == FILE
    assert seen.ranges == [f"bytes={OFFSET}-"]


LIES: dict[str, Callable[[int], Answer]] = {
    "starts at 0": lambda first: (206, {"Content-Range": f"bytes 0-{SIZE - 1}/{SIZE}"}, FILE),
    "starts a byte late": lambda first: (
        206,
        {"Content-Range": f"bytes {first + 1}-{SIZE - 1}/{SIZE}"},
        FILE[first + 1 :],
    ),
    "stops short of the end": lambda first: (
        206,
        {"Content-Range": f"bytes {first}-{first + 99}/{SIZE}"},
        FILE[first : first + 100],
    ),
    "has no Content-Range": lambda first: (206, {}, FILE[first:]),
    "has a garbled Content-Range": lambda first: (
        206,
        {"Content-Range": f"bytes={first}-{SIZE - 1}"},
        FILE[first:],
    ),
    "is shorter than its range": lambda first: (
        206,
        {"Content-Range": f"bytes {first}-{SIZE - 1}/{SIZE}"},
        FILE[first:-1],
    ),
    "is content-coded": lambda first: (
        206,
        {"Content-Range": f"bytes {first}-{SIZE - 1}/{SIZE}", "Content-Encoding": "gzip"},
        gzip.compress(FILE[first:]),
    ),
    "is unsatisfiable": lambda first: (416, {"Content-Range": f"bytes */{SIZE}"}, b""),
}


@pytest.mark.parametrize("lie", list(LIES))
def test_a_206_that_is_not_the_tail_starts_over(servers, lie):
    url, seen = servers(unless_ranged(LIES[lie]))
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert (download.offset, download.size) == (0, SIZE)
    assert read_download(download) == FILE
    assert seen.ranges == [f"bytes={OFFSET}-", None]


def test_a_416_at_the_files_end_leaves_nothing_to_read(servers):
    url, seen = servers(honest)
    download = _connector(url).open_download(URI, offset=SIZE)
    assert (download.offset, download.size) == (SIZE, SIZE)
    assert read_download(download) == b""
    assert seen.ranges == [f"bytes={SIZE}-"]


def test_a_416_that_does_not_say_the_size_starts_over(servers):
    url, seen = servers(unless_ranged(lambda first: (416, {}, b"")))
    download = _connector(url).open_download(URI, offset=SIZE)
    assert (download.offset, download.size) == (0, SIZE)
    assert read_download(download) == FILE
    assert seen.ranges == [f"bytes={SIZE}-", None]


def test_an_unknown_total_keeps_the_size_unknown(servers):
    """Nothing lists the file here (the proxy's listing route answers 404), so the size
    could only come from the 206's total."""
    url, _ = servers(
        unless_ranged(
            lambda first: (206, {"Content-Range": f"bytes {first}-{SIZE - 1}/*"}, FILE[first:])
        )
    )
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert (download.offset, download.size) == (OFFSET, None)
    assert read_download(download) == FILE[OFFSET:]


def test_the_size_of_a_206_is_its_total_not_its_length(servers):
    url, _ = servers(honest)
    download = _connector(url).open_download(URI, offset=SIZE - 3)
    assert (download.offset, download.size) == (SIZE - 3, SIZE)
    assert read_download(download) == FILE[-3:]


def test_part_of_a_file_for_the_whole_of_it_is_an_error(servers):
    url, seen = servers(lambda _range: (206, {"Content-Range": f"bytes 5-9/{SIZE}"}, FILE[5:10]))
    with pytest.raises(UpstreamError) as caught:
        _connector(url).open_download(URI, offset=OFFSET)
    assert caught.value.status == 206 and not is_retryable(caught.value)
    assert str(caught.value) == (
        "registry 'liar' answered HTTP 206: answered a request for a whole file with a part of it"
    )
    assert seen.ranges == [f"bytes={OFFSET}-", None]


def test_a_cut_in_the_tail_is_a_retryable_break(servers):
    url, _ = servers(
        unless_ranged(
            lambda first: (
                206,
                {
                    "Content-Range": f"bytes {first}-{SIZE - 1}/{SIZE}",
                    "Content-Length": str(SIZE - first),
                    "X-Cut-After": "1000",
                },
                FILE[first:],
            )
        )
    )
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert download.offset == OFFSET
    with pytest.raises(UpstreamBroken) as caught:
        read_download(download)
    assert is_retryable(caught.value)
    assert TOKEN not in str(caught.value) and "'liar'" in str(caught.value)


def test_a_range_follows_a_redirect_and_the_token_does_not(servers):
    storage, stored = servers(honest)
    url, seen = servers(redirect_to=storage)
    download = _connector(url).open_download(URI, offset=OFFSET)
    assert download.offset == OFFSET
    assert read_download(download) == FILE[OFFSET:]
    assert seen.requests == [(f"bytes={OFFSET}-", f"Bearer {TOKEN}")]
    assert stored.requests == [(f"bytes={OFFSET}-", None)]


def test_a_ranged_request_asks_for_no_content_coding(servers):
    """A range of a content-coded body counts coded bytes, not the file's."""
    url, seen = servers(honest)
    read_download(_connector(url).open_download(URI, offset=OFFSET))
    read_download(_connector(url).open_download(URI))
    assert seen.encodings[0] == "identity"
    assert seen.encodings[1] != "identity"


def test_headers_never_carry_the_auth(servers):
    url, seen = servers(honest)
    http = RegistryHttp("liar", url, TOKEN)
    with pytest.raises(ValueError, match="auth"):
        http.stream(ROUTE, headers={"authorization": "Bearer other"})
    assert seen.requests == []


@pytest.mark.parametrize(
    "header, parsed",
    [
        ("bytes 0-9/10", ContentRange(0, 9, 10)),
        ("bytes 5-9/*", ContentRange(5, 9, None)),
        ("BYTES 5-9/10", ContentRange(5, 9, 10)),
        (" bytes 5-9/10 ", ContentRange(5, 9, 10)),
        ("bytes 9-5/10", None),
        ("bytes 5-10/10", None),
        ("bytes */10", None),
        ("bytes=5-9/10", None),
        ("bytes 5-/10", None),
        ("items 5-9/10", None),
        ("", None),
    ],
)
def test_content_range_is_read_strictly(header, parsed):
    response = requests.Response()
    response.headers["Content-Range"] = header
    assert content_range(response) == parsed
