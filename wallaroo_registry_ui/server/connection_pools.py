"""One HTTP session per registry, kept between requests so connections (and TLS) are reused.

Sessions carry no credentials: ``RegistryHttp`` attaches the registry's auth to each request
for the registry's own origin only. Every session obeys the service's egress rules
(``connectors/egress.py``): each request, redirect hops included, is checked and connected
to the address checked. Every response they receive is watched by the deadline of the call
it was made for, if any (``connectors/deadlines.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import requests

from wallaroo_registry_ui.server.connectors import open_connector
from wallaroo_registry_ui.server.connectors.base import RegistryConnector
from wallaroo_registry_ui.server.connectors.deadlines import watch_response

if TYPE_CHECKING:
    from wallaroo_registry_ui.server.secrets import TokenCipher
    from wallaroo_registry_ui.server.store import Registry
from wallaroo_registry_ui.server.connectors.egress import EgressAdapter, EgressPolicy

MAX_REGISTRIES = 64
CONNECTIONS_PER_REGISTRY = 16


class ConnectionPools:
    """Least-recently-used sessions, one per registry id and URL, under ``egress`` (the
    default rules when not given)."""

    def __init__(
        self, egress: EgressPolicy | None = None, max_registries: int = MAX_REGISTRIES
    ) -> None:
        self.egress = egress or EgressPolicy()
        self._max = max_registries
        self._sessions: OrderedDict[tuple[str, str], requests.Session] = OrderedDict()
        self._lock = threading.Lock()

    def session_for(self, registry_id: str, url: str) -> requests.Session:
        key = (registry_id, url)
        with self._lock:
            session = self._sessions.pop(key, None)
            if session is None:
                session = _new_session(self.egress)
            self._sessions[key] = session
            while len(self._sessions) > self._max:
                _, evicted = self._sessions.popitem(last=False)
                evicted.close()
            return session

    def forget(self, registry_id: str) -> None:
        """Close the sessions of a registry that changed or went, so none is used again."""
        with self._lock:
            keys = [key for key in self._sessions if key[0] == registry_id]
            for key in keys:
                self._sessions.pop(key).close()

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()


def _new_session(egress: EgressPolicy) -> requests.Session:
    session = requests.Session()
    adapter = EgressAdapter(
        egress, pool_connections=CONNECTIONS_PER_REGISTRY, pool_maxsize=CONNECTIONS_PER_REGISTRY
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(watch_response)
    return session


def open_registry_connector(
    cipher: TokenCipher, connections: ConnectionPools, registry: Registry
) -> RegistryConnector:
    """A registry's connector with its decrypted token, over a pooled session."""
    token = cipher.decrypt(registry.token_encrypted)
    session = connections.session_for(registry.id, registry.url)
    return open_connector(registry.kind, registry.name, registry.url, token, session)
