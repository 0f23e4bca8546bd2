"""What a registry's URL must be whatever its kind: an http(s) root URL, without credentials,
query or fragment, on a host an HTTP client can connect to. A kind's own rules are its
connector's (``url_problem`` on the class in the kind table)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

MAX_HOST = 253
_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a registry's root URL, whatever its kind; None when it can."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL: check the host (an IPv6 address goes in [brackets])"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host, e.g. https://mlflow.example.com"
    if parts.username or parts.password:
        return "must not carry credentials; give the token in 'token'"
    if parts.query or parts.fragment:
        return "must be the registry's root URL, without a query or fragment"
    if _port(parts) == 0:
        return "has an invalid port"
    if any(char.isspace() for char in url):
        return "must not contain spaces"
    return host_problem(parts.hostname)


def host_of(url: str) -> str:
    """The lower-cased host of ``url``; "" when it has none or cannot be parsed."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def host_problem(host: str) -> str | None:
    """Why an HTTP client cannot connect to ``host``; checked when a registry is created, as
    a name the client refuses would otherwise fail every later call to the registry."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"has an invalid IPv6 address '{host}'"
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return "has an invalid host name (each dot-separated label is 1 to 63 characters)"
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > MAX_HOST or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return (
            f"has an invalid host name: at most {MAX_HOST} characters, in dot-separated "
            "labels of 1 to 63 letters, digits, '-' or '_'"
        )
    return None


def _port(parts: SplitResult) -> int | None:
    """The URL's port; 0, which no server listens on, for one that is malformed."""
    try:
        return parts.port
    except ValueError:
        return 0
