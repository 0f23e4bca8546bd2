"""``/v1/api/audit/*`` (ours): the audit trail, for instance admins."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AliasChoices, Field

from wallaroo_registry_ui.contract import AuditEventJson, AuditListJson
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.access import require_admin
from wallaroo_registry_ui.server.body_types import Body, IntId, Text
from wallaroo_registry_ui.server.deps import SessionDep, UserDep
from wallaroo_registry_ui.server.errors import bad_field

router = APIRouter()


class AuditQuery(Body):
    since: Text | None = None
    workspace_id: IntId | None = Field(
        default=None, validation_alias=AliasChoices("workspace_id", "workspace-id")
    )


@router.post("/list", response_model=dict)
def list_events(
    session: SessionDep, user: UserDep, body: AuditQuery | None = None
) -> AuditListJson:
    """Every event (of one workspace, from ``since`` on), newest first."""
    require_admin(user, "audit/list")
    body = body or AuditQuery()
    since = None
    if body.since:
        try:
            since = audit.parse_since(body.since)
        except ValueError as exc:
            raise bad_field("since", str(exc)) from exc
    found = audit.events(session, since=since, workspace_id=body.workspace_id)
    return AuditListJson(events=[AuditEventJson(**event) for event in found])
