"""HTTP listeners that count every connection they accept, for the egress tests: a listener
the service must not reach has to have accepted nothing, not merely answered nothing.

Also the ways a connection fails: a port that resets what it accepts, a port whose backlog
is full (connects time out), and a certificate for a name, for TLS on a pinned address.
"""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Listener",
    "Reply",
    "backlog_full_port",
    "certificate_for",
    "listening",
    "resetting_port",
]


@dataclass
class Reply:
    """What a listener answers: a status, headers and a body."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class Listener:
    """A threaded HTTP server on ``host``; ``routes`` maps a path prefix to a ``Reply`` (or
    a function of the request path giving one); ``accepted`` counts connections."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Reply | Callable[[str], Reply]] = {"/": Reply()}
        self.accepted = 0
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        listener = self

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def get_request(self):  # type: ignore[override]
                conn, address = super().get_request()
                with listener._lock:
                    listener.accepted += 1
                if tls is not None:
                    conn = tls.wrap_socket(conn, server_side=True)
                return conn, address

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.seen.append(Seen(self.path, dict(self.headers.items())))
                reply = listener.reply_for(self.path)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = Server((host, 0), Handler)
        self.port = self._server.server_address[1]
        scheme = "https" if tls is not None else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reply_for(self, path: str) -> Reply:
        prefix = max((p for p in self.routes if path.startswith(p)), key=len)
        reply = self.routes[prefix]
        return reply(path) if callable(reply) else reply

    def redirect(self, prefix: str, location: str, status: int = 302) -> None:
        self.routes[prefix] = Reply(status, b"", {"Location": location})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def listening(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[Listener]:
    listener = Listener(host, tls)
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def resetting_port() -> Iterator[int]:
    """A 127.0.0.1 port that accepts each connection and resets it at once (RST)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


@contextmanager
def backlog_full_port() -> Iterator[int]:
    """A 127.0.0.1 port whose accept queue is full, so a new connection times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        yield port
    finally:
        filler.close()
        sock.close()


def certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` and its key, as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
