"""The audit trail: who connected, changed, attached, uploaded or cancelled what, and when.

Every route that changes something calls ``record`` in the same session as the change, so an
event is stored exactly when its change is. Failed sign-ins have no change to ride on and are
recorded in a session of their own (``record_alone``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server.store import AuditEvent, User, as_utc, iso

ACTIONS = frozenset(
    {
        "login_failed",
        "registry_connected",
        "registry_updated",
        "registry_deleted",
        "registry_attached",
        "registry_detached",
        "member_added",
        "member_removed",
        "member_role_changed",
        "upload_started",
        "upload_cancelled",
        "user_added",
        "user_revoked",
        "user_removed",
        "user_admin_changed",
        "workspace_created",
    }
)
MAX_DETAIL = 500


def record(
    session: Session,
    actor: User | str,
    action: str,
    *,
    workspace_id: int | None = None,
    registry_id: str | None = None,
    model_version_id: int | None = None,
    detail: str = "",
) -> None:
    """Adds one event to ``session``; it is stored when the caller commits its change.

    ``detail`` is words of ours (a name, an email, a role), never a token or a registry's answer.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(
        AuditEvent(
            actor=actor.email if isinstance(actor, User) else actor,
            action=action,
            workspace_id=workspace_id,
            registry_id=registry_id,
            model_version_id=model_version_id,
            detail=detail[:MAX_DETAIL],
        )
    )


def record_alone(sessions: sessionmaker, actor: str, action: str, **where: object) -> None:
    """``record`` in a transaction of its own, for events that change nothing else."""
    with sessions.begin() as session:
        record(session, actor, action, **where)  # type: ignore[arg-type]


def parse_since(text: str) -> datetime:
    """An ISO-8601 date (from its midnight, UTC) or datetime (UTC when it gives no offset),
    as an aware UTC datetime; ValueError in words otherwise."""
    value = text.strip()
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"'{value[:40]}' is not an ISO-8601 date or datetime "
            "(2026-01-31 or 2026-01-31T09:30:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def events(
    session: Session, *, since: datetime | None = None, workspace_id: int | None = None
) -> list[dict]:
    """The trail, newest first, as ``audit/list`` answers it."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if workspace_id is not None:
        query = query.where(AuditEvent.workspace_id == workspace_id)
    return [
        {
            "at": iso(as_utc(event.at) or event.at),
            "actor": event.actor,
            "action": event.action,
            "workspace_id": event.workspace_id,
            "registry_id": event.registry_id,
            "model_version_id": event.model_version_id,
            "detail": event.detail,
        }
        for event in session.scalars(query)
    ]


def format_event(event: dict) -> str:
    """One event on one line, for a person reading ``wallaroo-registry-ui audit``."""
    where = [
        f"{label} {event[key]}"
        for label, key in (
            ("workspace", "workspace_id"),
            ("registry", "registry_id"),
            ("model version", "model_version_id"),
        )
        if event[key] is not None
    ]
    parts = [event["at"], event["actor"], event["action"].replace("_", " ")]
    parts += [", ".join(where)] if where else []
    parts += [event["detail"]] if event["detail"] else []
    return "  ".join(parts)
