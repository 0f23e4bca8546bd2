"""models/update_registry and models/delete_registry against a real service: who may, the
same checks as create_registry, a rotated token and a new URL used from the next call on, and a
deletion that detaches the registry everywhere while uploaded models keep their provenance."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.registry_helpers import EmptyMlflow, file_sha256, local_http_server
from support.service_stack import make_admin

from wallaroo_registry_ui.server.store import AuditEvent, make_engine

MIB = 1024 * 1024
OLD_TOKEN = "old-registry-token-7d1e44a9c2"
NEW_TOKEN = "new-registry-token-0b5f3e81aa"


def _audit(service, registry_id: str) -> list[tuple[str, int | None]]:
    engine = make_engine(service.database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(AuditEvent.action, AuditEvent.workspace_id)
                .where(AuditEvent.registry_id == registry_id)
                .order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]


@pytest.fixture
def shared_registry(registry_service, alice) -> tuple[str, int]:
    """A registry of Alice's attached to a new workspace of hers; (registry id, workspace id)."""
    workspace = alice.client.create_workspace(f"changes-{uuid.uuid4().hex[:8]}")
    registry = alice.client.create_registry(
        "changeable", "http://127.0.0.1:9", token=OLD_TOKEN, workspace_id=workspace
    )
    return registry, workspace


def test_only_the_creator_or_an_admin_may_change_or_delete(
    registry_service, alice, shared_registry
):
    registry, workspace = shared_registry
    member = registry_service.add_user("registry-member@example.com")
    alice.client.add_user(workspace, "registry-member@example.com")
    outsider = registry_service.add_user("registry-outsider@example.com")
    admin = registry_service.add_user("registry-admin@example.com")
    make_admin(registry_service, "registry-admin@example.com")
    rename = {"registry_id": registry, "name": "renamed"}

    for call, body in (("models/update_registry", rename), ("models/delete_registry", rename)):
        refused = registry_service.post(member, call, body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["msg"] == (
            "registry_id: only the registry's creator (alice@example.com) or an instance "
            f"admin may change or delete registry {registry}"
        )
        hidden = registry_service.post(outsider, call, body)
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["msg"] == f"registry {registry} not found"
    assert alice.client.get_registry(registry).name == "changeable"

    by_admin = registry_service.post(admin, "models/update_registry", rename)
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["name"] == "renamed"
    by_creator = alice.client.update_registry(registry, name="renamed again")
    assert by_creator.name == "renamed again"
    assert by_creator.workspaces[0].id == workspace
    assert alice.client.get_registry(registry).name == "renamed again"

    deleted = registry_service.post(admin, "models/delete_registry", {"registry_id": registry})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": registry, "detached_from": [workspace], "uploads_ended": 0}
    mine = {"registry_updated", "registry_detached", "registry_deleted"}
    trail = [(a, w) for a, w in _audit(registry_service, registry) if a in mine]
    assert trail == [
        ("registry_updated", None),
        ("registry_updated", None),
        ("registry_detached", workspace),
        ("registry_deleted", None),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name/url/token"),
        ({"name": ""}, "name"),
        ({"name": "n" * 256}, "name"),
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://127.0.0.1:9"}, "url"),
        ({"url": "http://127.0.0.1:9/" + "p" * 2048}, "url"),
        ({"token": "two\nlines"}, "token"),
        ({"token": 5}, "token"),
    ],
)
def test_an_update_is_checked_as_create_is(registry_service, alice, shared_registry, body, field):
    registry, _ = shared_registry
    before = registry_service.post(alice.token, "models/get_registry", {"registry_id": registry})
    reply = registry_service.post(
        alice.token, "models/update_registry", {"registry_id": registry, **body}
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["msg"].startswith(f"{field}"), reply.text
    after = registry_service.post(alice.token, "models/get_registry", {"registry_id": registry})
    assert after.json() == before.json()


def test_an_unknown_registry_is_not_found(registry_service, alice):
    unknown = str(uuid.uuid4())
    for call in ("models/update_registry", "models/delete_registry"):
        reply = registry_service.post(alice.token, call, {"registry_id": unknown, "name": "x"})
        assert reply.status_code == 404, reply.text


class _RecordingMlflow(EmptyMlflow):
    """Answers registered-models/search with an empty page over keep-alive HTTP/1.1,
    remembering each request's Authorization header and client port."""

    seen: list[tuple[str, int]]

    def seen_request(self) -> None:
        self.seen.append((self.headers.get("Authorization", ""), self.client_address[1]))


@pytest.fixture
def two_registries() -> Iterator[tuple[tuple[str, list], tuple[str, list]]]:
    """Two stand-in MLflow servers, each with its list of what it was sent."""
    first = type("First", (_RecordingMlflow,), {"seen": []})
    second = type("Second", (_RecordingMlflow,), {"seen": []})
    with local_http_server(first) as one, local_http_server(second) as two:
        yield (one, first.seen), (two, second.seen)


def test_a_new_token_and_a_new_url_are_used_from_the_next_call(
    alice, team_workspace, two_registries
):
    (first_url, first_seen), (second_url, second_seen) = two_registries
    registry = alice.client.create_registry(
        "rotated", first_url, token=OLD_TOKEN, workspace_id=team_workspace
    )
    created = alice.client.get_registry(registry)
    alice.client.list_registry_models(registry)
    assert first_seen == [(f"Bearer {OLD_TOKEN}", first_seen[0][1])]

    time.sleep(0.01)
    rotated = alice.client.update_registry(registry, token=NEW_TOKEN)
    assert rotated.token_hint != created.token_hint and NEW_TOKEN not in rotated.token_hint
    assert rotated.updated_at > created.updated_at and rotated.created_at == created.created_at
    alice.client.list_registry_models(registry)
    assert first_seen[1][0] == f"Bearer {NEW_TOKEN}"
    assert first_seen[1][1] != first_seen[0][1], "the old pooled connection was used again"

    moved = alice.client.update_registry(registry, url=second_url + "/")
    assert moved.url == second_url
    alice.client.list_registry_models(registry)
    assert [auth for auth, _ in second_seen] == [f"Bearer {NEW_TOKEN}"]
    assert len(first_seen) == 2

    cleared = alice.client.update_registry(registry, token="")
    assert cleared.token_hint == ""
    alice.client.list_registry_models(registry)
    assert second_seen[-1][0] == ""


def test_delete_detaches_everywhere_ends_uploads_and_keeps_provenance(
    upload_stack, fault_proxy, generated_file
):
    api = upload_stack.api
    registry = upload_stack.connect(fault_proxy.url, name="deleted mlflow")
    other = api.ok("workspaces/create", {"workspace_name": f"second-{uuid.uuid4().hex[:8]}"})
    other_id = other["workspace_id"]
    api.ok(
        "models/attach_registry_to_workspace", {"registry_id": registry, "workspace_id": other_id}
    )
    kept = upload_stack.start(registry, generated_file.models_uri, "kept-weights")
    assert api.wait_ended(kept, 60)["status"] == "ready"

    fault_proxy.throttle(2 * MIB, prefix=generated_file.proxy_path)
    in_flight = upload_stack.start(registry, generated_file.models_uri, "cut-weights")
    api.wait_until(in_flight, lambda u: u["bytes_done"] >= MIB, 30, "1 MiB in")
    uuid_in_flight = api.version(in_flight)["file_info"]["version"]

    deleted = api.ok("models/delete_registry", {"registry_id": registry})
    assert deleted == {
        "id": registry,
        "detached_from": sorted([upload_stack.workspace_id, other_id]),
        "uploads_ended": 1,
    }
    ended = api.wait_ended(in_flight, 10)
    assert ended["status"] == "error"
    assert ended["error"] == "the registry 'deleted mlflow' was deleted"
    assert api.version(in_flight)["status"] == "error"
    deadline = time.monotonic() + 10
    while any(uuid_in_flight in p.name for p in upload_stack.stored_files()):
        assert time.monotonic() < deadline, "the cut upload's bytes were kept"
        time.sleep(0.1)

    assert api.post("models/get_registry", {"registry_id": registry}).status_code == 404
    for workspace_id in (upload_stack.workspace_id, other_id):
        listed = api.ok("models/list_registries", {"workspace_id": workspace_id})
        assert registry not in [r["id"] for r in listed]
    version = api.version(kept)
    assert version["status"] == "ready"
    assert version["source"]["registry_id"] == registry
    assert version["source"]["model_name"] == generated_file.model_name
    assert file_sha256(upload_stack.stored_file(version)) == generated_file.sha256
    trail = _audit(upload_stack.service, registry)
    assert ("registry_deleted", None) in trail
    assert {w for a, w in trail if a == "registry_detached"} >= {
        upload_stack.workspace_id,
        other_id,
    }
    again = api.post("models/delete_registry", {"registry_id": registry})
    assert again.status_code == 404
