"""Upload job rows: created with their model version, read and cancelled by the routes, and
run under a lease that one runner at a time holds.

Each change a runner makes is one short transaction whose UPDATE is conditional: a claim on
the lease generation it saw, everything else on still holding the lease of an upload that is
still ``uploading``. So two processes on one database never both run an upload, and a cancel
or a takeover is seen by the old holder at its next write. The conditions are plain SQL,
atomic on SQLite (writes are serialized) and PostgreSQL (a second UPDATE of a row waits for
the first and re-checks its WHERE) alike. The job's status and its version's move together.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.contract import UploadJson, UploadListEntryJson
from wallaroo_registry_ui.server.store import (
    ModelVersion,
    UploadJob,
    as_utc,
    iso,
    new_uuid,
    utcnow,
)

UPLOADING, READY, ERROR = "uploading", "ready", "error"
MAX_HOST_NAME = 255
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def host_identity() -> str:
    """This machine as leases name it: host name and boot, so a pid is compared with the
    processes of the same boot only."""
    try:
        boot = BOOT_ID.read_text().strip()[:8]
    except OSError:
        boot = ""
    name = socket.gethostname()
    return (f"{name}/{boot}" if boot else name)[:MAX_HOST_NAME]


def pid_alive(pid: int) -> bool:
    """Whether a process of this host has ``pid`` (a zombie, killed but not reaped, has not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@dataclass(frozen=True)
class LeaseHolder:
    """One upload runner: an id of its own, and where it runs, so a dead one can be told."""

    id: str
    host: str
    pid: int

    @classmethod
    def for_this_process(cls) -> LeaseHolder:
        return cls(new_uuid(), host_identity(), os.getpid())


def upload_json(job: UploadJob) -> UploadJson:
    """The contract's UPLOAD."""
    return UploadJson(
        model_version_id=job.model_version_id,
        status=job.status,
        bytes_done=job.bytes_done,
        bytes_total=job.bytes_total,
        bytes_per_second=None if job.bytes_per_second is None else float(job.bytes_per_second),
        attempts=job.attempts,
        error=job.error,
        started_at=iso(job.started_at),
        finished_at=None if job.finished_at is None else iso(job.finished_at),
    )


def upload_list_entry(job: UploadJob, name: str, workspace_id: int) -> UploadListEntryJson:
    return UploadListEntryJson(**upload_json(job), name=name, workspace_id=workspace_id)


def add_job(session: Session, version_id: int) -> UploadJob:
    """The job of a version just recorded, in the same transaction (committed by the caller)."""
    job = UploadJob(
        model_version_id=version_id,
        status=UPLOADING,
        bytes_done=0,
        attempts=0,
        started_at=utcnow(),
        lease_generation=0,
    )
    session.add(job)
    return job


def cancel(session: Session, version_id: int, by: str) -> bool:
    """End an upload in flight as cancelled by ``by``; False when it had already ended.

    The lease is left to its holder, which lets go of it once its transfer has stopped.
    """
    ended = session.execute(
        update(UploadJob)
        .where(UploadJob.model_version_id == version_id, UploadJob.status == UPLOADING)
        .values(**_ended_in_error(f"cancelled by {by}"))
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        session.rollback()
        return False
    _end_version(session, version_id, ERROR)
    session.commit()
    return True


def end_uploads_from_registry(session: Session, registry_id: str, message: str) -> list[int]:
    """End every upload in flight from a registry as failed with ``message``, in the caller's
    transaction; their ids. Their holders see it at their next write, as with a cancel."""
    in_flight = list(
        session.scalars(
            select(UploadJob.model_version_id)
            .join(ModelVersion, ModelVersion.id == UploadJob.model_version_id)
            .where(ModelVersion.source_registry_id == registry_id, UploadJob.status == UPLOADING)
        )
    )
    ended = []
    for version_id in in_flight:
        changed = session.execute(
            update(UploadJob)
            .where(UploadJob.model_version_id == version_id, UploadJob.status == UPLOADING)
            .values(**_ended_in_error(message))
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:
            _end_version(session, version_id, ERROR)
            ended.append(version_id)
    return ended


def _ended_in_error(message: str) -> dict:
    """What an upload's job row says once something other than its runner ended it."""
    return {
        "status": ERROR,
        "error": message,
        "finished_at": utcnow(),
        "bytes_done": 0,
        "bytes_per_second": None,
    }


@dataclass(frozen=True)
class LeaseState:
    """Who holds an upload's lease, as last read."""

    status: str
    holder: str | None
    expires_at: datetime | None
    host: str | None
    pid: int | None

    def live(self, now: datetime, host: str) -> bool:
        """Whether a process still holds the lease: unexpired, and not a process of this
        host that is gone."""
        if self.holder is None or self.expires_at is None or self.expires_at <= now:
            return False
        return self.host != host or self.pid is None or pid_alive(self.pid)


def lease_state(sessions: sessionmaker, version_id: int) -> LeaseState | None:
    with sessions() as session:
        row = session.execute(
            select(
                UploadJob.status,
                UploadJob.lease_holder,
                UploadJob.lease_expires_at,
                UploadJob.lease_host,
                UploadJob.lease_pid,
            ).where(UploadJob.model_version_id == version_id)
        ).first()
    if row is None:
        return None
    return LeaseState(
        row.status, row.lease_holder, as_utc(row.lease_expires_at), row.lease_host, row.lease_pid
    )


# ---- what runners do ---------------------------------------------------------------------


def claimable(
    sessions: sessionmaker, holder: LeaseHolder, limit: int, skip: Collection[int] = ()
) -> list[tuple[int, int]]:
    """Uploads in flight that ``holder`` may claim, oldest first, as (id, lease generation):
    no lease, an expired one, or one of a process of this host that is gone."""
    now = utcnow()
    with sessions() as session:
        rows = session.execute(
            select(
                UploadJob.model_version_id,
                UploadJob.lease_generation,
                UploadJob.lease_holder,
                UploadJob.lease_host,
                UploadJob.lease_pid,
                UploadJob.lease_expires_at,
            )
            .where(
                UploadJob.status == UPLOADING,
                or_(UploadJob.lease_holder.is_(None), UploadJob.lease_holder != holder.id),
                or_(
                    UploadJob.lease_holder.is_(None),
                    UploadJob.lease_expires_at < now,
                    UploadJob.lease_host == holder.host,
                ),
            )
            .order_by(UploadJob.model_version_id)
            .limit(limit + len(skip) + 64)
        ).all()
    found = []
    for row in rows:
        if row.model_version_id in skip:
            continue
        lease = LeaseState(
            UPLOADING, row.lease_holder, as_utc(row.lease_expires_at), row.lease_host, row.lease_pid
        )
        if not lease.live(now, holder.host):
            found.append((row.model_version_id, row.lease_generation))
        if len(found) >= limit:
            break
    return found


def claim(
    sessions: sessionmaker,
    holder: LeaseHolder,
    version_id: int,
    generation: int,
    lease_seconds: float,
) -> bool:
    """Take the lease if nobody took it since it was seen at ``generation``."""
    with sessions.begin() as session:
        taken = session.execute(
            update(UploadJob)
            .where(
                UploadJob.model_version_id == version_id,
                UploadJob.status == UPLOADING,
                UploadJob.lease_generation == generation,
            )
            .values(
                lease_holder=holder.id,
                lease_host=holder.host,
                lease_pid=holder.pid,
                lease_expires_at=utcnow() + timedelta(seconds=lease_seconds),
                lease_generation=UploadJob.lease_generation + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return taken.rowcount == 1


def renew(
    sessions: sessionmaker, holder: LeaseHolder, version_ids: Collection[int], lease_seconds: float
) -> set[int]:
    """Push the leases on; the ids whose lease ``holder`` still has."""
    if not version_ids:
        return set()
    with sessions.begin() as session:
        session.execute(
            _mine(holder, version_ids)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return set(
            session.scalars(
                select(UploadJob.model_version_id).where(
                    UploadJob.model_version_id.in_(list(version_ids)),
                    UploadJob.lease_holder == holder.id,
                    UploadJob.status == UPLOADING,
                )
            )
        )


def release(
    sessions: sessionmaker, holder: LeaseHolder, version_ids: Collection[int] | None = None
) -> None:
    """Let go of leases (all of ``holder``'s when no ids are given), whatever the status."""
    condition = [UploadJob.lease_holder == holder.id]
    if version_ids is not None:
        if not version_ids:
            return
        condition.append(UploadJob.model_version_id.in_(list(version_ids)))
    with sessions.begin() as session:
        session.execute(
            update(UploadJob)
            .where(*condition)
            .values(lease_holder=None, lease_host=None, lease_pid=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Progress:
    """What a transfer has done so far, as the runner writes it (a total of None leaves the
    one known before, from an earlier attempt, in place)."""

    bytes_done: int
    bytes_total: int | None
    bytes_per_second: float | None


def record_progress(
    sessions: sessionmaker, holder: LeaseHolder, progress: dict[int, Progress]
) -> set[int]:
    """Write the progress of running uploads in one transaction; the ids ``holder`` no longer
    runs (cancelled, ended, or taken over), whose transfers must stop."""
    stopped = set()
    if not progress:
        return stopped
    with sessions.begin() as session:
        for version_id, done in progress.items():
            values: dict = {
                "bytes_done": done.bytes_done,
                "bytes_per_second": done.bytes_per_second,
            }
            if done.bytes_total is not None:
                values["bytes_total"] = done.bytes_total
            written = session.execute(
                _mine(holder, [version_id])
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if written.rowcount != 1:
                stopped.add(version_id)
    return stopped


def begin_attempt(
    sessions: sessionmaker, holder: LeaseHolder, version_id: int, bytes_done: int
) -> int | None:
    """Count one more request for the file; the attempts so far, or None when not held."""
    with sessions.begin() as session:
        counted = session.execute(
            _mine(holder, [version_id])
            .values(attempts=UploadJob.attempts + 1, bytes_done=bytes_done)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:
            return None
        return session.scalar(
            select(UploadJob.attempts).where(UploadJob.model_version_id == version_id)
        )


def finish_ready(
    sessions: sessionmaker,
    holder: LeaseHolder,
    version_id: int,
    sha256: str,
    size: int,
    bytes_per_second: float | None,
) -> bool:
    """Mark the upload and its version ready; False when it was no longer ``holder``'s."""
    with sessions.begin() as session:
        ended = session.execute(
            _mine(holder, [version_id])
            .values(
                status=READY,
                bytes_done=size,
                bytes_total=size,
                bytes_per_second=bytes_per_second,
                error=None,
                finished_at=utcnow(),
                **_NO_LEASE,
            )
            .execution_options(synchronize_session=False)
        )
        if ended.rowcount != 1:
            return False
        _end_version(session, version_id, READY, sha256, size)
        return True


def finish_error(
    sessions: sessionmaker, holder: LeaseHolder, version_id: int, message: str
) -> bool:
    """Mark the upload and its version failed, saying why; False when no longer held."""
    with sessions.begin() as session:
        ended = session.execute(
            _mine(holder, [version_id])
            .values(
                status=ERROR,
                bytes_done=0,
                bytes_per_second=None,
                error=message,
                finished_at=utcnow(),
                **_NO_LEASE,
            )
            .execution_options(synchronize_session=False)
        )
        if ended.rowcount != 1:
            return False
        _end_version(session, version_id, ERROR)
        return True


_NO_LEASE = {"lease_holder": None, "lease_host": None, "lease_pid": None, "lease_expires_at": None}


def _mine(holder: LeaseHolder, version_ids: Collection[int]):  # type: ignore[no-untyped-def]
    """An UPDATE of the uploads in flight among ``version_ids`` whose lease ``holder`` has."""
    return update(UploadJob).where(
        UploadJob.model_version_id.in_(list(version_ids)),
        UploadJob.lease_holder == holder.id,
        UploadJob.status == UPLOADING,
    )


def _end_version(
    session: Session, version_id: int, status: str, sha256: str = "", size: int = 0
) -> None:
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.id == version_id)
        .values(status=status, sha=sha256, size=size)
        .execution_options(synchronize_session=False)
    )
