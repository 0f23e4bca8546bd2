"""The audit trail through the real service: every change and failed sign-in is recorded with
who, when and what; ``audit/list`` (admins) and ``wallaroo-registry-ui audit`` show it."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import requests
from support.registry_helpers import TRICKLE_PATH, TrickleFile, local_http_server
from support.upload_api import UploadApi

UNREACHABLE = "http://127.0.0.1:9"


def _events(registry_service, token: str, body: dict) -> list[dict]:
    reply = registry_service.post(token, "audit/list", body)
    assert reply.status_code == 200, reply.text
    return reply.json()["events"]


def test_changes_are_recorded_with_who_when_and_what(registry_service, admin, alice):
    luke_token = registry_service.add_user("luke.audit@example.com")
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    workspace = alice.client.create_workspace("audited-space")
    connected = alice.client.create_registry("audited", UNREACHABLE, workspace_id=workspace)
    loose = alice.client.create_registry("audited loose", UNREACHABLE)
    alice.client.attach_registry(loose, workspace)
    alice.client.add_user(workspace, "luke.audit@example.com")
    alice.client.add_user(workspace, "luke.audit@example.com", user_type="owner")
    alice.client.detach_registry(loose, workspace)
    with local_http_server(TrickleFile) as url, UploadApi(registry_service.url, luke_token) as luke:
        trickle = luke.connect_registry("trickle", url, "", workspace)
        version_id = luke.start(trickle, workspace, f"{url}{TRICKLE_PATH}", "audited-model")
        assert luke.cancel(version_id).status_code == 200
    alice.client.remove_user(workspace, "luke.audit@example.com")

    found = _events(registry_service, admin.token, {"workspace_id": workspace})
    assert [(e["actor"], e["action"]) for e in found] == [
        ("alice@example.com", "member_removed"),
        ("luke.audit@example.com", "upload_cancelled"),
        ("luke.audit@example.com", "upload_started"),
        ("luke.audit@example.com", "registry_connected"),
        ("alice@example.com", "registry_detached"),
        ("alice@example.com", "member_role_changed"),
        ("alice@example.com", "member_added"),
        ("alice@example.com", "registry_attached"),
        ("alice@example.com", "registry_connected"),
    ]
    moments = [datetime.fromisoformat(e["at"]) for e in found]
    assert moments == sorted(moments, reverse=True)
    assert all(started <= m <= datetime.now(timezone.utc) for m in moments)
    by_action = {e["action"]: e for e in found}
    assert by_action["member_removed"]["detail"] == "luke.audit@example.com (owner) removed"
    assert by_action["member_role_changed"]["detail"] == (
        "luke.audit@example.com from collaborator to owner"
    )
    assert by_action["member_added"]["detail"] == "luke.audit@example.com as collaborator"
    assert by_action["registry_attached"]["registry_id"] == loose
    assert by_action["registry_detached"]["registry_id"] == loose
    for action in ("upload_started", "upload_cancelled"):
        assert by_action[action]["model_version_id"] == version_id
        assert by_action[action]["registry_id"] == trickle
    assert found[-1]["registry_id"] == connected
    assert found[-1]["detail"] == f"audited (mlflow) at {UNREACHABLE}"
    # A registry connected without a workspace is in the trail too, just not the workspace's.
    everything = _events(registry_service, admin.token, {})
    assert loose in [e["registry_id"] for e in everything if e["action"] == "registry_connected"]
    assert all(e["workspace_id"] == workspace for e in found)


def test_failed_sign_ins_are_recorded_without_the_token(registry_service, admin):
    presented = "wru_Presented-Secret-Token-4711"
    wire = f"{registry_service.url}/v1/api/workspaces/list"
    for headers in ({"Authorization": f"Bearer {presented}"}, {}):
        assert requests.post(wire, json={}, headers=headers, timeout=30).status_code == 401
    failed = [
        e for e in _events(registry_service, admin.token, {}) if e["action"] == "login_failed"
    ][:2]
    assert [e["actor"] for e in failed] == ["unknown", "unknown"]
    assert failed[0]["detail"].startswith("no API token sent, calling /v1/api/workspaces/list")
    assert failed[1]["detail"].startswith("unknown API token, calling /v1/api/workspaces/list")
    assert "from 127.0.0.1" in failed[1]["detail"]
    for event in failed:
        assert not any(part in str(event) for part in ("Presented", "Secret", "4711"))


def test_the_trail_is_for_admins_and_since_is_checked(registry_service, admin, alice):
    refused = registry_service.post(alice.token, "audit/list", {})
    assert refused.status_code == 403
    assert refused.json()["msg"] == "audit/list needs the instance admin role"
    for since in ("yesterday", "2026-13-01", 5):
        bad = registry_service.post(admin.token, "audit/list", {"since": since})
        assert bad.status_code == 400, bad.text
        assert bad.json()["msg"].startswith("since: ")
    alice.client.create_registry("since marker", UNREACHABLE)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert _events(registry_service, admin.token, {"since": tomorrow}) == []
    recent = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    listed = admin.client.list_audit(since=recent)
    assert listed and listed[0].actor == "alice@example.com"
    assert listed[0].detail.startswith("since marker (mlflow)")
    assert [e.at for e in listed] == [e["at"] for e in _events(registry_service, admin.token, {})][
        : len(listed)
    ]


def test_the_audit_command_prints_the_trail_newest_first(registry_service, alice):
    alice.client.create_registry("printed first", UNREACHABLE)
    alice.client.create_registry("printed last", UNREACHABLE)
    today = datetime.now(timezone.utc).date().isoformat()
    lines = registry_service.command("audit", "--since", today).stdout.splitlines()
    printed = [line for line in lines if "printed " in line]
    assert len(printed) == 2
    assert "alice@example.com  registry connected  registry " in printed[0]
    assert printed[0].endswith(f"printed last (mlflow) at {UNREACHABLE}")
    assert printed[1].endswith(f"printed first (mlflow) at {UNREACHABLE}")
    assert lines.index(printed[0]) < lines.index(printed[1])
    datetime.fromisoformat(printed[0].split("  ")[0])
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert registry_service.command("audit", "--since", tomorrow).stdout.startswith("no events")
    try:
        registry_service.command("audit", "--since", "last week")
    except subprocess.CalledProcessError as exc:
        assert exc.returncode == 2
        assert exc.stderr.startswith("error: --since: 'last week' is not an ISO-8601 date")
    else:
        raise AssertionError("audit --since 'last week' did not fail")
