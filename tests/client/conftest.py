"""The client tests talk to a scripted API over real HTTP, so the client's transport, retries
and error handling run exactly as they do against the service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.api_samples import TOKEN
from support.scripted_api import ScriptedApi, serving_scripted_api

from wallaroo_registry_ui.client import RegistryClient


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with serving_scripted_api() as scripted:
        yield scripted


@pytest.fixture
def client(api: ScriptedApi) -> Iterator[RegistryClient]:
    with RegistryClient(api.base_url, TOKEN, max_retry_seconds=5) as registry_client:
        yield registry_client
