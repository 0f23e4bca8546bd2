"""The overall deadline on a call's registry requests: a registry that trickles its answer a
byte at a time (each read well inside the per-read timeout) is cut off at the deadline, for a
JSON answer and a streamed file alike, and outside a deadline nothing changes."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from support.local_egress import LOCAL_EGRESS
from support.registry_helpers import local_http_server

from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors.base import UpstreamTimeout
from wallaroo_registry_ui.server.connectors.deadlines import registry_deadline
from wallaroo_registry_ui.server.connectors.http import RegistryHttp

BODY = b'{"registered_models": [], "next_page_token": ""}'
TRICKLE_SECONDS = 0.1


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends ``BODY`` one byte every ``TRICKLE_SECONDS`` (all of it, quickly, on ``/fast``)."""

    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.path.startswith("/fast"):
            self.wfile.write(BODY)
            return
        try:
            for byte in BODY:
                if type(self).stop.wait(TRICKLE_SECONDS):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            pass


@pytest.fixture
def trickling() -> Iterator[RegistryHttp]:
    _Trickle.stop = threading.Event()
    pools = ConnectionPools(LOCAL_EGRESS)
    with local_http_server(_Trickle) as url:
        http = RegistryHttp("slow one", url, timeout=5, session=pools.session_for("r", url))
        try:
            yield http
        finally:
            _Trickle.stop.set()
            pools.close()


def test_a_trickled_json_answer_ends_at_the_deadline(trickling):
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as raised, registry_deadline(1.0, "a listing"):
        trickling.get_json("/slow")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the call ran {elapsed:.1f} s past a 1 s deadline"
    assert str(raised.value) == (
        "registry 'slow one': did not finish answering within 1 s, "
        "the service's limit for a listing"
    )


def test_a_trickled_file_ends_at_the_deadline(trickling):
    started = time.monotonic()
    received = bytearray()
    with pytest.raises(UpstreamTimeout) as raised, registry_deadline(1.0, "a preview"):
        response = trickling.stream("/slow")
        for chunk in trickling.iter_chunks(response, chunk_size=1 << 20):
            received += chunk
    assert time.monotonic() - started < 2.0
    assert len(received) < len(BODY)
    assert "within 1 s, the service's limit for a preview" in str(raised.value)


def test_an_answer_within_the_deadline_is_untouched(trickling):
    with registry_deadline(1.0, "a listing"):
        assert trickling.get_json("/fast") == {"registered_models": [], "next_page_token": ""}
    time.sleep(1.2)
    assert trickling.get_json("/fast")["registered_models"] == []


def test_without_a_deadline_a_trickle_is_read_to_its_end(trickling):
    started = time.monotonic()
    assert trickling.get_json("/slow")["next_page_token"] == ""
    assert time.monotonic() - started >= len(BODY) * TRICKLE_SECONDS * 0.9
