"""The registry service on a real PostgreSQL server: the same API, nothing SQLite-only.

A real ``wallaroo-registry-ui serve`` process is driven with plain HTTP, restarted on the same
database, and the database itself is read to show that registry tokens are encrypted at rest.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, inspect, text
from support.postgres_stack import new_database

from wallaroo_registry_ui.contract import mask_token
from wallaroo_registry_ui.demo.processes import free_port, start_process, stop_process, wait_http
from wallaroo_registry_ui.demo.registry_service import LOCAL_REGISTRY_HOSTS
from wallaroo_registry_ui.server.store import SCHEMA_VERSION

CLI = str(Path(sys.executable).parent / "wallaroo-registry-ui")
REGISTRY_URL = "http://127.0.0.1:9"
REGISTRY_TOKEN = "some-secret-token-123456"
LOCAL_ALLOW = [arg for host in LOCAL_REGISTRY_HOSTS for arg in ("--allow-registry-host", host)]


@dataclass
class Service:
    """One ``serve`` process on the PostgreSQL database; restartable on the same data."""

    database_url: str
    data_dir: Path
    url: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "service.log"

    def store_flags(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), "--database-url", self.database_url]

    def start(self) -> None:
        port = free_port()
        self.process = start_process(
            [CLI, "serve", "--port", str(port), *self.store_flags(), *LOCAL_ALLOW],
            self.log_path,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.url}/v1/api/config", self.process, self.log_path, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def add_user(self, email: str) -> str:
        """``user add`` prints the new API token as its last line."""
        done = subprocess.run(
            [CLI, "user", "add", email, *self.store_flags()],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout.strip().splitlines()[-1]

    def post(self, token: str, path: str, body: dict) -> requests.Response:
        return requests.post(
            f"{self.url}/v1/api/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )

    def ok(self, token: str, path: str, body: dict) -> dict | list:
        """The JSON of a call that must succeed; the error body otherwise."""
        response = self.post(token, path, body)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()


def assert_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.json()["code"] == status


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def service(
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    database_url = new_database(postgres_url, "store")
    svc = Service(database_url=database_url, data_dir=tmp_path_factory.mktemp("pg-service"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def alice(service: Service) -> str:
    return service.add_user("alice@pg.example.com")


@pytest.fixture(scope="module")
def bob(service: Service) -> str:
    return service.add_user("bob@pg.example.com")


def create_workspace(service: Service, token: str) -> tuple[int, str]:
    name = unique("pg-team")
    workspace_id = service.ok(token, "workspaces/create", {"workspace_name": name})["workspace_id"]
    assert isinstance(workspace_id, int)
    return workspace_id, name


def create_registry(service: Service, token: str, workspace_id: int) -> str:
    body = {
        "name": unique("pg-mlflow"),
        "url": REGISTRY_URL,
        "token": REGISTRY_TOKEN,
        "workspace_id": workspace_id,
    }
    created = service.ok(token, "models/create_registry", body)
    assert created["workspace_id"] == workspace_id
    return str(created["id"])


def test_workspaces_round_trip(service: Service, alice: str, bob: str) -> None:
    workspace_id, name = create_workspace(service, alice)
    assert_error(service.post(alice, "workspaces/create", {"workspace_name": name}), 409)

    listed = service.ok(alice, "workspaces/list", {})["workspaces"]
    mine = next(w for w in listed if w["id"] == workspace_id)
    assert mine["name"] == name and mine["archived"] is False and mine["models"] == []
    assert datetime.fromisoformat(mine["created_at"]).tzinfo is not None

    member = {"workspace_id": workspace_id, "email": "bob@pg.example.com"}
    assert service.ok(alice, "workspaces/add_user", member) == {}
    users = service.ok(alice, "workspaces/list_users", {"workspace_id": workspace_id})["users"]
    assert {(u["email"], u["user_type"]) for u in users} == {
        ("alice@pg.example.com", "owner"),
        ("bob@pg.example.com", "collaborator"),
    }
    assert service.ok(alice, "workspaces/remove_user", member) == {"affected_rows": 1}
    assert service.ok(alice, "workspaces/remove_user", member) == {"affected_rows": 0}
    users = service.ok(bob, "workspaces/list", {})["workspaces"]
    assert workspace_id not in [w["id"] for w in users]


def test_roles_hold_on_postgres(service: Service, alice: str, bob: str) -> None:
    workspace_id, _ = create_workspace(service, alice)
    member = {"workspace_id": workspace_id, "email": "bob@pg.example.com"}
    assert service.ok(alice, "workspaces/add_user", member) == {}
    own = {"workspace_id": workspace_id, "email": "alice@pg.example.com"}
    assert_error(service.post(bob, "workspaces/remove_user", own), 403)
    assert_error(service.post(alice, "workspaces/remove_user", own), 409)
    demoted = {**own, "user_type": "collaborator"}
    assert_error(service.post(alice, "workspaces/add_user", demoted), 409)
    assert service.ok(alice, "workspaces/add_user", {**member, "user_type": "owner"}) == {}
    assert service.ok(alice, "workspaces/remove_user", own) == {"affected_rows": 1}
    users = service.ok(bob, "workspaces/list_users", {"workspace_id": workspace_id})["users"]
    assert [(u["email"], u["user_type"]) for u in users] == [("bob@pg.example.com", "owner")]


def test_registries_round_trip(service: Service, alice: str) -> None:
    home_id, home = create_workspace(service, alice)
    other_id, other = create_workspace(service, alice)
    registry_id = create_registry(service, alice, home_id)
    pair = {"registry_id": registry_id, "workspace_id": other_id}

    attached = service.ok(alice, "models/attach_registry_to_workspace", pair)
    assert attached == {"id": registry_id, **pair}
    registry = service.ok(alice, "models/get_registry", {"registry_id": registry_id})
    assert registry["url"] == REGISTRY_URL and registry["kind"] == "mlflow"
    assert registry["token"] == "some****56"
    assert registry["workspaces"] == [
        {"id": home_id, "name": home},
        {"id": other_id, "name": other},
    ]
    datetime.fromisoformat(registry["created_at"])
    listed = service.ok(alice, "models/list_registries", {"workspace_id": other_id})
    assert [(r["id"], r["token"]) for r in listed] == [(registry_id, "some****56")]

    detached = service.ok(alice, "models/remove_registry_from_workspace", pair)
    assert detached == {"id": registry_id, **pair}
    assert service.ok(alice, "models/list_registries", {"workspace_id": other_id}) == []
    registry = service.ok(alice, "models/get_registry", {"registry_id": registry_id})
    assert registry["workspaces"] == [{"id": home_id, "name": home}]
    assert service.ok(alice, "models/list", {"workspace_id": home_id}) == {"models": []}


def test_a_registry_is_changed_and_deleted_and_a_user_removed(service: Service, alice: str) -> None:
    home_id, _ = create_workspace(service, alice)
    other_id, _ = create_workspace(service, alice)
    registry_id = create_registry(service, alice, home_id)
    pair = {"registry_id": registry_id, "workspace_id": other_id}
    service.ok(alice, "models/attach_registry_to_workspace", pair)
    changed = service.ok(
        alice, "models/update_registry", {"registry_id": registry_id, "token": "rotated-token-98"}
    )
    assert (
        changed["token"] == mask_token("rotated-token-98") != "some****56"
        and changed["updated_at"] > changed["created_at"]
    )
    deleted = service.ok(alice, "models/delete_registry", {"registry_id": registry_id})
    assert deleted == {"id": registry_id, "detached_from": [home_id, other_id], "uploads_ended": 0}
    assert_error(service.post(alice, "models/get_registry", {"registry_id": registry_id}), 404)

    email = f"{unique('leaving')}@pg.example.com"
    leaving = service.add_user(email)
    service.ok(alice, "workspaces/add_user", {"workspace_id": home_id, "email": email})
    removed = subprocess.run(
        [CLI, "user", "remove", email, *service.store_flags()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    assert_error(service.post(leaving, "workspaces/list", {}), 401)
    users = service.ok(alice, "workspaces/list_users", {"workspace_id": home_id})["users"]
    assert email not in [u["email"] for u in users]


def test_a_stranger_sees_nothing(service: Service, alice: str, bob: str) -> None:
    workspace_id, _ = create_workspace(service, alice)
    registry_id = create_registry(service, alice, workspace_id)
    pair = {"registry_id": registry_id, "workspace_id": workspace_id}

    assert_error(service.post(bob, "models/get_registry", {"registry_id": registry_id}), 404)
    assert_error(service.post(bob, "models/attach_registry_to_workspace", pair), 404)
    assert_error(service.post(bob, "models/remove_registry_from_workspace", pair), 404)
    by_workspace = {"workspace_id": workspace_id}
    assert_error(service.post(bob, "models/list_registries", by_workspace), 403)
    assert_error(service.post(bob, "workspaces/list_users", by_workspace), 403)
    assert_error(service.post(bob, "models/list", by_workspace), 403)
    own_id, _ = create_workspace(service, bob)
    assert service.ok(bob, "models/list_registries", {"workspace_id": own_id}) == []
    own = {"registry_id": registry_id, "workspace_id": own_id}
    assert_error(service.post(bob, "models/attach_registry_to_workspace", own), 404)
    assert workspace_id not in [
        w["id"] for w in service.ok(bob, "workspaces/list", {})["workspaces"]
    ]
    assert service.ok(bob, "models/list", {}) == {"models": []}
    assert_error(service.post("wru_not-a-token", "workspaces/list", {}), 401)


def test_registry_token_is_not_stored_in_plain(
    service: Service,
    alice: str,
) -> None:
    workspace_id, _ = create_workspace(service, alice)
    registry_id = create_registry(service, alice, workspace_id)
    engine = create_engine(service.database_url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            assert "registries" in tables
            stored = connection.execute(
                text("SELECT token_encrypted, token_masked FROM registries WHERE id = :id"),
                {"id": registry_id},
            ).one()
            assert stored.token_masked == "some****56" and stored.token_encrypted
            for table in tables:
                rows = connection.execute(text(f"SELECT CAST(t AS text) FROM {quote(table)} t"))
                leaked = [row for (row,) in rows if REGISTRY_TOKEN in row]
                assert not leaked, f"the plain registry token is stored in table {table}"
    finally:
        engine.dispose()


def test_data_survives_a_restart(
    service: Service,
    alice: str,
) -> None:
    workspace_id, name = create_workspace(service, alice)
    registry_id = create_registry(service, alice, workspace_id)

    service.stop()
    service.start()
    again = service.add_user("alice@pg.example.com")

    for token in (alice, again):
        workspaces = service.ok(token, "workspaces/list", {})["workspaces"]
        assert name in [w["name"] for w in workspaces]
    registry = service.ok(alice, "models/get_registry", {"registry_id": registry_id})
    assert registry["token"] == "some****56"
    assert registry["workspaces"] == [{"id": workspace_id, "name": name}]
    assert_error(service.post(alice, "workspaces/create", {"workspace_name": name}), 409)

    engine = create_engine(service.database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT id, version FROM schema_info")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in versions] == [(1, SCHEMA_VERSION)]


def test_an_overlong_registry_name_is_bad_input_not_a_crash(service: Service, alice: str) -> None:
    workspace_id, _ = create_workspace(service, alice)
    body = {"name": "r" * 256, "url": REGISTRY_URL, "token": "", "workspace_id": workspace_id}
    response = service.post(alice, "models/create_registry", body)
    assert response.status_code == 400, (
        "PostgreSQL enforces registries.name VARCHAR(255) (store.py Registry.name), which SQLite "
        "ignores: create_registry must answer 400 for a name over 255 characters, as "
        f"workspaces/create does, not {response.status_code}"
    )
    assert response.json()["code"] == 400
    assert response.json()["msg"].startswith("name"), response.json()["msg"]
    assert "r" * 256 not in [r["name"] for r in service.ok(alice, "models/list_registries", {})], (
        "the name was stored anyway"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("workspaces/create", {"workspace_name": "team\x00x"}),
        ("workspaces/add_user", {"email": "a\x00b@pg.example.com"}),
        ("models/list", {"workspace_name": "team\x00x"}),
    ],
    ids=["workspace_name", "email", "workspace_name_lookup"],
)
def test_a_nul_character_is_bad_input_not_a_crash(
    service: Service, alice: str, path: str, body: dict
) -> None:
    if path == "workspaces/add_user":
        body = {**body, "workspace_id": create_workspace(service, alice)[0]}
    response = service.post(alice, path, body)
    assert response.status_code == 400, (
        "PostgreSQL text cannot hold NUL (psycopg2 raises ValueError), which SQLite stores: "
        "body_types.py must reject '\\x00' in request strings with a 400, "
        f"not {response.status_code}"
    )
    assert response.json()["code"] == 400
    field = "email" if path == "workspaces/add_user" else "workspace_name"
    assert response.json()["msg"].startswith(field), response.json()["msg"]
