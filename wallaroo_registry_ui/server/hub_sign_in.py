"""Who a JupyterHub token belongs to, as the hub says (``GET <hub API>/user`` with that
token, what ``jupyterhub.services.auth.HubAuth.user_for_token`` does), trusted for a short
while so a busy notebook does not ask the hub on every call and a revoked token stops
working within the bound.

The cache is keyed by the token's SHA-256, never the token; nothing here logs, raises or
returns a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from wallaroo_registry_ui.server.secrets import hash_api_token
from wallaroo_registry_ui.server.settings import HubSettings

HUB_TIMEOUT_SECONDS = 10.0
MAX_CACHED = 10_000


@dataclass(frozen=True)
class HubIdentity:
    """What the hub said about a token: whose it is, whether they are a hub admin, their
    groups, and the scopes the token carries."""

    name: str
    admin: bool
    groups: tuple[str, ...]
    scopes: frozenset[str]

    def has_scope(self, service_name: str) -> bool:
        return bool({"access:services", f"access:services!service={service_name}"} & self.scopes)


class HubRefused(Exception):
    """The hub does not know the token (or it belongs to no user): a failed sign-in."""


class HubUnreachable(Exception):
    """The hub could not be asked or gave an answer we cannot read."""


@dataclass
class _Entry:
    expires_at: float
    identity: HubIdentity
    user_id: str | None = None


class HubSignIn:
    """Asks the hub about tokens; one per process, shared by its request threads."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._http = session or requests.Session()
        self._http.trust_env = False
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}

    def identity(self, token: str) -> tuple[HubIdentity, str | None]:
        """The hub's answer about ``token`` and, when it came from the cache, the id of the
        service user it was last matched to (None: fresh from the hub, match it again)."""
        key = hash_api_token(token)
        now = self._clock()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry.expires_at > now:
                return entry.identity, entry.user_id
            self._cache.pop(key, None)
        identity = self._ask(token)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._drop_expired(now)
            self._cache[key] = _Entry(now + self.settings.cache_seconds, identity)
        return identity, None

    def remember_user(self, token: str, identity: HubIdentity, user_id: str) -> None:
        """Note which service user the cached answer stands for."""
        with self._lock:
            entry = self._cache.get(hash_api_token(token))
            if entry is not None and entry.identity == identity:
                entry.user_id = user_id

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, e in self._cache.items() if e.expires_at <= now]:
            del self._cache[key]
        while len(self._cache) >= MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))

    def _ask(self, token: str) -> HubIdentity:
        try:
            answer = self._http.get(
                f"{self.settings.api_url}/user",
                headers={"Authorization": f"token {token}"},
                timeout=HUB_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise HubUnreachable(f"the hub could not be reached ({type(exc).__name__})") from None
        if answer.status_code in (401, 403, 404):
            raise HubRefused(f"the hub does not accept the token (HTTP {answer.status_code})")
        if answer.status_code != 200:
            raise HubUnreachable(f"the hub answered HTTP {answer.status_code}")
        try:
            model = answer.json()
        except ValueError:
            raise HubUnreachable("the hub's answer is not JSON") from None
        return _identity(model)


def _identity(model: object) -> HubIdentity:
    if not isinstance(model, dict):
        raise HubUnreachable("the hub's answer is not a user")
    name = model.get("name")
    if model.get("kind", "user") != "user":
        raise HubRefused(f"the token belongs to a hub {str(model.get('kind'))[:20]}, not a user")
    if not isinstance(name, str) or not name.strip():
        raise HubUnreachable("the hub's answer names no user")
    groups = model.get("groups") or []
    scopes = model.get("scopes") or []
    return HubIdentity(
        name=name,
        admin=model.get("admin") is True,
        groups=tuple(sorted({g for g in groups if isinstance(g, str) and g})),
        scopes=frozenset(s for s in scopes if isinstance(s, str)),
    )
