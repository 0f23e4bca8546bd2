"""Bringing one registry file into a workspace as a model version: recorded at once, fetched
in the background.

``record_upload`` writes the model, its new version (``uploading``) and the version's upload
job in one commit, once the route has checked the path with the connector and the size the
registry lists against the room for it (``upload_space.py``). A
``Transfer`` runs one claimed upload to its end: it appends the registry's bytes to the
version's staging file, retries faults with backoff (from the bytes already stored where the
registry honours it, from the start where it sends the whole file again), and ends the upload
``ready`` (the size the registry announced checked, sha256 over the stored file) or ``error``
with no bytes kept. It touches the database only to start an attempt and to end.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.contract import public_url
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.artifacts import ArtifactStore, StagingBusy, StagingFile
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    ConnectorError,
    Provenance,
    RegistryConnector,
    UpstreamBroken,
    UpstreamError,
    is_retryable,
)
from wallaroo_registry_ui.server.errors import ApiError, is_disk_full
from wallaroo_registry_ui.server.settings import UploadSettings
from wallaroo_registry_ui.server.store import Model, ModelVersion, Registry, User, new_uuid, utcnow
from wallaroo_registry_ui.server.upload_space import UploadSpace

log = logging.getLogger("wallaroo_registry_ui.server.uploads")

NATIVE_RUNTIMES = {"onnx": "onnx", "tensorflow": "tensorflow", "mlflow": "mlflow"}
DEFAULT_FILE_NAME = "model"
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class UploadRequest:
    name: str
    path: str
    visibility: str
    workspace_id: int
    framework: str
    requirements: list[str]
    python_version: str
    input_schema: str | None
    output_schema: str | None
    model_name: str | None
    model_version: str | None


def record_upload(
    session: Session,
    provenance: Provenance,
    registry: Registry,
    user: User,
    request: UploadRequest,
    size: int | None = None,
) -> int:
    """Record the version (``uploading``) and its job; returns the version's id.

    ``provenance`` is what the connector's ``check_path`` found of the path (it raises
    InvalidArtifactPath, a 400, so nothing is written for a path not the registry's);
    ``size`` is the file's size where the registry's listing gave it (it counts at once
    against the free space later uploads are checked against).
    """
    file_name = stored_file_name(provenance.get("file_name"))
    try:
        model = _model_row(session, user, request.name, request.workspace_id)
        now = utcnow()
        model.updated_at = now
        version_uuid = new_uuid()
        version = ModelVersion(
            model_id=model.id,
            version=version_uuid,
            status=jobs.UPLOADING,
            visibility=request.visibility,
            file_name=file_name,
            sha="",
            size=0,
            storage_key=f"{version_uuid}/{file_name}",
            framework=request.framework,
            python_version=request.python_version,
            requirements=list(request.requirements),
            runtime=NATIVE_RUNTIMES.get(request.framework, "flight"),
            input_schema=request.input_schema,
            output_schema=request.output_schema,
            source_registry_id=registry.id,
            source_model_name=request.model_name or provenance.get("model_name"),
            source_version=request.model_version or provenance.get("model_version"),
            source_path=request.path,
            created_by=user.id,
            created_at=now,
        )
        session.add(version)
        session.flush()
        jobs.add_job(session, version.id).bytes_total = size
        audit.record(
            session,
            user,
            "upload_started",
            workspace_id=request.workspace_id,
            registry_id=registry.id,
            model_version_id=version.id,
            detail=f"{request.name} from {public_url(request.path)}",
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return version.id


def listed_size(connector: RegistryConnector, provenance: Provenance, path: str) -> int | None:
    """The file's size as the registry lists it in its version, or None: the path names no
    version, the file is not listed, or the registry did not answer (the transfer then checks
    the size the download announces)."""
    name, version = provenance.get("model_name"), provenance.get("model_version")
    if not name or not version:
        return None
    try:
        entries = connector.list_artifacts(name, version)
    except UpstreamError as exc:
        log.info("the size of %s is not known before its transfer: %s", path, exc)
        return None
    relative = (provenance.get("path") or "").lstrip("/")
    for entry in entries:
        if entry["is_dir"]:
            continue
        if entry["full_path"] == path or (relative and entry["relative_path"] == relative):
            size = entry["file_size"]
            return size if isinstance(size, int) and size >= 0 else None
    return None


def stored_file_name(name: str | None) -> str:
    """The name the file is stored under: the registry's base name, if it is one."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        return DEFAULT_FILE_NAME
    return name


def _model_row(session: Session, user: User, name: str, workspace_id: int) -> Model:
    model = session.scalar(
        select(Model).where(Model.workspace_id == workspace_id, Model.name == name)
    )
    if model is not None:
        return model
    model = Model(name=name, workspace_id=workspace_id, owner_id=user.id)
    session.add(model)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        model = session.scalar(
            select(Model).where(Model.workspace_id == workspace_id, Model.name == name)
        )
        if model is None:
            raise ApiError(409, f"name: model '{name}' is being created concurrently") from None
    return model


# ---- the transfer ------------------------------------------------------------------------


class StopReason(enum.Enum):
    CANCELLED = "cancelled"
    """The upload ended while running (a cancel): its bytes go."""
    LOST = "lost"
    """Another process holds the upload now: its bytes stay for it."""
    SHUTDOWN = "shutdown"
    """This process is stopping: the bytes stay for whoever resumes."""


class Outcome(enum.Enum):
    ENDED = "ended"
    """Ready or error, recorded; the lease went with it."""
    STOPPED = "stopped"
    """Stopped before its end (see StopReason); the lease is to be given back."""
    BUSY = "busy"
    """Another writer still holds the staging file; try again later."""


class _Stopped(Exception):
    pass


class _NoRoom(Exception):
    """The size the download announced is over the limit or the free space."""


@dataclass(frozen=True)
class _Plan:
    """What one upload fetches and where it goes, read when its transfer starts."""

    version_uuid: str
    storage_key: str
    path: str
    registry_id: str | None
    registry: Registry | None

    @property
    def registry_label(self) -> str:
        name = self.registry.name if self.registry is not None else self.registry_id
        return f"registry '{name}'"


OpenConnector = Callable[[Registry], RegistryConnector]


class Transfer:
    """One upload, claimed by this process, run to its end on one thread.

    ``bytes_done`` and ``bytes_total`` are read by the runner's ticker for progress;
    ``interrupt`` may be called from any thread and stops the transfer within a chunk (a
    read waiting on the registry is woken by shutting its socket down).
    """

    def __init__(
        self,
        version_id: int,
        *,
        sessions: sessionmaker,
        artifacts: ArtifactStore,
        open_connector: OpenConnector,
        holder: jobs.LeaseHolder,
        settings: UploadSettings,
        space: UploadSpace | None = None,
    ) -> None:
        self.version_id = version_id
        self.bytes_done = 0
        self.bytes_total: int | None = None
        self.stop_reason: StopReason | None = None
        self._sessions = sessions
        self._artifacts = artifacts
        self._open_connector = open_connector
        self._holder = holder
        self._settings = settings
        self._space = space
        self._stop = threading.Event()
        self._download: ArtifactDownload | None = None
        self._moved = 0
        self._first_byte_at: float | None = None

    def interrupt(self, reason: StopReason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()
        download = self._download
        if download is not None:
            _wake_reader(download)

    def run(self) -> Outcome:
        plan = self._plan()
        if plan is None:
            return Outcome.ENDED
        if plan.registry is None:
            self._end_with_error(plan, None, f"{plan.registry_label} no longer exists")
            return Outcome.ENDED
        try:
            staging = self._artifacts.open_staging(plan.version_uuid)
        except StagingBusy:
            return Outcome.BUSY
        connector: RegistryConnector | None = None
        try:
            self.bytes_done = staging.size
            try:
                connector = self._open_connector(plan.registry)
            except (RuntimeError, ValueError) as exc:
                return self._end_with_error(plan, staging, f"{plan.registry_label}: {exc}")
            return self._transfer(plan, connector, staging)
        except _Stopped:
            if self.stop_reason is StopReason.CANCELLED:
                staging.remove()
            return Outcome.STOPPED
        except _NoRoom as exc:
            return self._end_with_error(plan, staging, f"{plan.registry_label}: {exc}")
        except OSError as exc:
            reason = "the artifact store is out of space" if is_disk_full(exc) else None
            reason = reason or exc.strerror or type(exc).__name__
            log.warning("upload %d: storing the file failed: %s", self.version_id, reason)
            message = f"storing the file from {plan.registry_label} failed: {reason}"
            return self._end_with_error(plan, staging, message)
        except Exception:
            log.exception("upload %d failed inside the service", self.version_id)
            message = (
                f"the upload from {plan.registry_label} failed inside the service; "
                "its log has the details"
            )
            return self._end_with_error(plan, staging, message)
        finally:
            staging.close()
            if connector is not None:
                with suppress(Exception):
                    connector.close()

    # -- steps --

    def _plan(self) -> _Plan | None:
        with self._sessions() as session:
            version = session.get(ModelVersion, self.version_id)
            if version is None:
                return None
            registry_id = version.source_registry_id
            registry = session.get(Registry, registry_id) if registry_id else None
            return _Plan(
                version_uuid=version.version,
                storage_key=version.storage_key,
                path=version.source_path,
                registry_id=registry_id,
                registry=registry,
            )

    def _transfer(self, plan: _Plan, connector: RegistryConnector, staging: StagingFile) -> Outcome:
        deadline: float | None = None
        faults = 0
        while True:
            self._check_stop()
            attempts = jobs.begin_attempt(
                self._sessions, self._holder, self.version_id, staging.size
            )
            if attempts is None:
                self.interrupt(self.reason_not_held())
                raise _Stopped
            try:
                self._receive(plan, connector, staging)
                break
            except ConnectorError as exc:
                self._check_stop()
                if not is_retryable(exc):
                    return self._end_with_error(plan, staging, str(exc))
                faults += 1
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._settings.retry_seconds
                delay = _backoff(faults)
                if attempts >= self._settings.max_attempts or now + delay > deadline:
                    message = f"{exc}; gave up after {attempts} attempts"
                    return self._end_with_error(plan, staging, message)
                log.info(
                    "upload %d: %s; retrying in %.1f s from byte %d",
                    self.version_id, exc, delay, staging.size,
                )  # fmt: skip
                if self._stop.wait(delay):
                    raise _Stopped from None
        sha256 = staging.finish()
        self._check_stop()
        self._artifacts.commit(staging, plan.storage_key)
        rate = self._average_rate()
        if jobs.finish_ready(
            self._sessions, self._holder, self.version_id, sha256, staging.size, rate
        ):
            return Outcome.ENDED
        self._artifacts.discard(plan.storage_key)
        self.interrupt(self.reason_not_held())
        return Outcome.STOPPED

    def _receive(self, plan: _Plan, connector: RegistryConnector, staging: StagingFile) -> None:
        """One request for the file, from the bytes stored on; raises what the registry did."""
        offset = staging.size
        download = connector.open_download(plan.path, offset=offset)
        self._download = download
        try:
            self._check_stop()
            if download.offset != offset:
                if download.offset != 0:
                    raise RuntimeError(
                        f"asked for byte {offset} on, the connector started at {download.offset}"
                    )
                staging.restart()
                self.bytes_done = 0
            total = download.size
            self.bytes_total = total
            if total is not None and self._space is not None:
                problem = self._space.problem(total, stored=staging.size)
                if problem:
                    raise _NoRoom(problem)
            if total is not None and staging.size > total:
                staging.restart()
                self.bytes_done = 0
                raise UpstreamBroken(
                    _registry_name(plan),
                    f"the file is now smaller ({total} bytes) than the bytes already stored",
                )
            for chunk in download.chunks:
                if self._stop.is_set():
                    raise _Stopped
                staging.write(chunk)
                self._count(staging.size)
                if total is not None and staging.size > total:
                    raise UpstreamError(
                        _registry_name(plan),
                        f"sent more than the {total} bytes it announced for the file",
                    )
            self._check_stop()
            if total is not None and staging.size < total:
                raise UpstreamBroken(
                    _registry_name(plan),
                    f"the file came incomplete: {staging.size} of {total} bytes",
                )
        finally:
            self._download = None
            download.close()

    def _count(self, size: int) -> None:
        now = time.monotonic()
        if self._first_byte_at is None:
            self._first_byte_at = now
        self._moved += max(0, size - self.bytes_done)
        self.bytes_done = size

    def _average_rate(self) -> float | None:
        if self._first_byte_at is None:
            return None
        elapsed = time.monotonic() - self._first_byte_at
        return self._moved / elapsed if elapsed > 0 else None

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def reason_not_held(self) -> StopReason:
        """Why the database says this process no longer runs the upload."""
        state = jobs.lease_state(self._sessions, self.version_id)
        if state is None or state.status != jobs.UPLOADING:
            return StopReason.CANCELLED
        return StopReason.LOST

    def _end_with_error(self, plan: _Plan, staging: StagingFile | None, message: str) -> Outcome:
        """Record the failure, then drop the bytes; a cancel that came first wins."""
        ended = jobs.finish_error(self._sessions, self._holder, self.version_id, message)
        if not ended:
            self.interrupt(self.reason_not_held())
        if staging is not None and (ended or self.stop_reason is StopReason.CANCELLED):
            staging.remove()
        if ended:
            log.info("upload %d ended in error: %s", self.version_id, message)
            return Outcome.ENDED
        return Outcome.STOPPED


def _registry_name(plan: _Plan) -> str:
    return plan.registry.name if plan.registry is not None else str(plan.registry_id)


def _backoff(faults: int) -> float:
    """Seconds before the next attempt: doubling from half a second, capped, with jitter."""
    base = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (faults - 1))
    return base * random.uniform(0.8, 1.2)


def _wake_reader(download: ArtifactDownload) -> None:
    """Shut the socket of a streamed response down, so a read blocked on it returns now
    (urllib3's ``HTTPResponse.shutdown``); downloads without one stop at their next chunk."""
    raw = getattr(download.closer, "raw", None)
    shutdown = getattr(raw, "shutdown", None)
    if callable(shutdown):
        with suppress(OSError, ValueError, RuntimeError):
            shutdown()
