"""A small real HTTP server on 127.0.0.1 that answers the registry API from a script.

The client tests use it to see exactly what each call sends and how the client takes each kind
of answer (errors, HTML pages, redirects, retries). It needs only the standard library, so a
subprocess can serve it without loading anything the client is meant to load lazily.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedApi:
    """Answers each path from a script; the last scripted answer repeats."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Reply | Callable[[Any], Reply]]] = field(default_factory=dict)

    def respond(self, path: str, *replies: Reply | Callable[[Any], Reply]) -> None:
        self.scripts[path] = list(replies)

    def next_reply(self, path: str, body: Any) -> Reply:
        script = self.scripts.get(path)
        if not script:
            return 404, {"msg": f"nothing scripted for {path}", "code": 404}, {}
        reply = script.pop(0) if len(script) > 1 else script[0]
        return reply(body) if callable(reply) else reply

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def ok(payload: Any) -> Reply:
    """A 200 answer with ``payload`` as its JSON body."""
    return 200, payload, {}


def _handler_for(api: ScriptedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            api.received.append(Received(self.command, self.path, dict(self.headers), body))
            status, payload, headers = api.next_reply(self.path, body)
            if isinstance(payload, str | bytes):
                data = payload.encode() if isinstance(payload, str) else payload
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
            else:
                data = json.dumps(payload).encode()
                headers = {"Content-Type": "application/json", **headers}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving_scripted_api() -> Iterator[ScriptedApi]:
    """A ScriptedApi listening on a free 127.0.0.1 port until the block ends."""
    scripted = ScriptedApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(scripted))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    scripted.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()
