"""The kind table drives guessing, URL checks, opening and the service's create_registry: a
kind added to it (here a made-up one, monkeypatched in) needs no other module."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from wallaroo_registry_ui.contract import RegisteredModelJson
from wallaroo_registry_ui.server import connectors
from wallaroo_registry_ui.server.app import create_app
from wallaroo_registry_ui.server.connectors import (
    CONNECTORS,
    guess_kind,
    open_connector,
    url_problem,
)
from wallaroo_registry_ui.server.connectors.base import Page
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector
from wallaroo_registry_ui.server.settings import Settings
from wallaroo_registry_ui.server.users import add_user_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for httpx2 in httpx's place
    from fastapi.testclient import TestClient

ZOO_URL = "https://zoo.models.example.net"
HTTPS_ONLY = "must be an https:// URL: a model zoo refuses plain HTTP"


class ModelZooConnector:
    """A third kind that lives only in this test: no request is ever made."""

    kind = "modelzoo"
    host_suffixes = (".models.example.net",)
    opened: list[tuple[str, str, str, requests.Session | None]] = []

    def __init__(
        self, name: str, url: str, token: str = "", *, session: requests.Session | None = None
    ) -> None:
        self.name = name
        self.opened.append((name, url, token, session))

    @staticmethod
    def url_problem(url: str) -> str | None:
        return None if url.startswith("https://") else HTTPS_ONLY

    def list_models(self, *, max_results: int, **_: object) -> Page[RegisteredModelJson]:
        model = RegisteredModelJson(
            name=f"zoo model of {self.name}",
            user_id="keeper",
            creation_timestamp=1,
            last_updated_timestamp=2,
            latest_versions=None,
        )
        return Page([model], None)

    def close(self) -> None:
        pass


@pytest.fixture
def zoo_kind(monkeypatch) -> Iterator[type[ModelZooConnector]]:
    monkeypatch.setitem(CONNECTORS, ModelZooConnector.kind, ModelZooConnector)
    ModelZooConnector.opened.clear()
    yield ModelZooConnector
    ModelZooConnector.opened.clear()


def test_the_table_holds_each_kind_under_its_own_name():
    assert {"mlflow": MlflowConnector, "databricks": DatabricksConnector} == CONNECTORS
    assert all(connector.kind == kind for kind, connector in CONNECTORS.items())
    assert connectors.DEFAULT_KIND == "mlflow" and MlflowConnector.host_suffixes == ()


def test_a_new_kind_is_guessed_checked_and_opened_from_its_row(zoo_kind):
    assert guess_kind(f"{ZOO_URL}/") == "modelzoo"
    assert guess_kind("https://ZOO.Models.Example.NET") == "modelzoo"
    assert guess_kind("https://models.example.net.attacker.test") == "mlflow"
    assert guess_kind("https://adb-1.2.azuredatabricks.net") == "databricks"
    assert guess_kind("https://mlflow.example.com") == "mlflow"
    assert url_problem(ZOO_URL) is None
    assert url_problem("http://zoo.models.example.net") == HTTPS_ONLY
    assert url_problem("http://127.0.0.1:5000", "modelzoo") == HTTPS_ONLY
    assert url_problem("http://127.0.0.1:5000") is None
    assert url_problem("http://zoo.models.example.net?x=1") == (
        "must be the registry's root URL, without a query or fragment"
    )
    session = requests.Session()
    opened = open_connector("modelzoo", "zoo", ZOO_URL, "zoo-token", session)
    assert isinstance(opened, ModelZooConnector)
    assert zoo_kind.opened == [("zoo", ZOO_URL, "zoo-token", session)]
    session.close()


def test_kind_rules_follow_the_kind_not_the_host():
    with_path = "https://adb-1.2.azuredatabricks.net/ml/models"
    assert "without a path" in url_problem(with_path)
    assert "without a path" in url_problem("http://127.0.0.1:9/prefix", "databricks")
    assert url_problem("http://127.0.0.1:9/prefix", "mlflow") is None
    assert url_problem("http://127.0.0.1:9/prefix", "no such kind") is None
    with pytest.raises(ValueError, match="unknown registry kind 'no such kind'"):
        open_connector("no such kind", "x", "http://127.0.0.1:9", "")


@pytest.fixture
def service(tmp_path: Path, monkeypatch) -> Iterator[tuple[TestClient, dict]]:
    """The service in this process, so that the monkeypatched table is the one it reads."""
    monkeypatch.delenv("WALLAROO_REGISTRY_SECRET_KEY", raising=False)
    app = create_app(Settings(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}"))
    _, token = add_user_token(app.state.services.sessions, "keeper@example.com")
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    app.state.services.connections.close()


def test_the_service_creates_and_opens_a_registry_of_the_new_kind(service, zoo_kind):
    client, auth = service

    def call(route: str, body: dict) -> httpx.Response:
        return client.post(f"/v1/api/models/{route}", json=body, headers=auth)

    created = call("create_registry", {"name": "zoo", "url": ZOO_URL, "token": "zoo-token"})
    assert created.status_code == 200, created.text
    registry_id = created.json()["id"]
    registry = call("get_registry", {"registry_id": registry_id}).json()
    assert registry["kind"] == "modelzoo" and registry["url"] == ZOO_URL
    page = call("list_registry_models", {"registry_id": registry_id}).json()
    assert [m["name"] for m in page["registered_models"]] == ["zoo model of zoo"]
    assert [(name, url, token) for name, url, token, _ in zoo_kind.opened] == [
        ("zoo", ZOO_URL, "zoo-token")
    ]
    refused = call("create_registry", {"name": "zoo", "url": "http://zoo.models.example.net"})
    assert refused.status_code == 400 and refused.json()["msg"] == f"url: {HTTPS_ONLY}"
    unknown = call("create_registry", {"name": "s3", "url": ZOO_URL, "kind": "s3"})
    assert unknown.status_code == 400
    assert unknown.json()["msg"] == "kind: must be one of mlflow, databricks, modelzoo"


def test_the_service_names_the_known_kinds(service):
    client, auth = service
    body = {"name": "s3", "url": "http://host", "kind": "s3"}
    unknown = client.post("/v1/api/models/create_registry", json=body, headers=auth)
    assert unknown.status_code == 400
    assert unknown.json()["msg"] == "kind: must be one of mlflow, databricks"
