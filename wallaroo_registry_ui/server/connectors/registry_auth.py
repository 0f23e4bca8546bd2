"""How requests to a registry prove who sends them.

``RegistryHttp`` calls the registry's auth on every request to the registry's own origin
(redirects within it included) and ``NoAuth`` on every other, so a credential never leaves
the origin; it masks what the auth names as secret in every message it builds.
"""

from __future__ import annotations

from typing import Protocol

import requests
from requests.auth import AuthBase

from wallaroo_registry_ui.server.connectors.base import UpstreamError
from wallaroo_registry_ui.server.secrets import token_problem


class RegistryAuth(Protocol):
    """A requests auth that also names the secrets it sends, so that messages can mask them.

    ``__call__`` gets each prepared request, as ``requests.auth.AuthBase`` does: a bearer
    token adds a header; a signed-request scheme would sign the method, URL and headers there
    with its key, and name that key in ``secrets``.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never appear in a message, a log line or an answer."""
        ...


class BearerToken(AuthBase):
    """``Authorization: Bearer <token>``: MLflow's and Databricks' personal access tokens."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)


class NoAuth(AuthBase):
    """Sends no credentials, and stops requests from taking any from ~/.netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request

    def secrets(self) -> tuple[str, ...]:
        return ()


def token_auth(registry_name: str, token: str) -> RegistryAuth:
    """The auth of a registry connected with ``token`` (none without one); a token that cannot
    go in an HTTP header is refused here, before any request, naming the cure."""
    if not token:
        return NoAuth()
    if token_problem(token.strip()):
        raise UpstreamError(
            registry_name,
            "its stored token cannot be sent in an HTTP header; connect the registry "
            "again with the token as the registry issued it",
        )
    return BearerToken(token)
