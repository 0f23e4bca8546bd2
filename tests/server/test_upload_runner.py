"""The upload runner in this process, against a scripted registry connector: resume after a
cut where the registry honours an offset and start over where it does not, give up within
the budget, cancel within a second (also from another process), wait its turn, stop with the
bytes kept, and another runner resuming them.

The connector here is a stand-in written for these tests (no network): it serves one file
from memory and breaks where a test says, so each fault happens at an exact byte.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamBroken,
)
from wallaroo_registry_ui.server.settings import (
    MAX_UPLOADS_ENV,
    UPLOAD_ATTEMPTS_ENV,
    UPLOAD_LEASE_ENV,
    UPLOAD_RETRY_ENV,
    UploadSettings,
    resolve_settings,
    settings_environment,
)
from wallaroo_registry_ui.server.store import (
    ModelVersion,
    Registry,
    UploadJob,
    User,
    Workspace,
    open_store,
)
from wallaroo_registry_ui.server.upload_runner import RateWindow, UploadRunner
from wallaroo_registry_ui.server.uploads import UploadRequest, record_upload

MIB = 1 << 20
CHUNK = 64 * 1024
REGISTRY_NAME = "scripted registry"
SETTINGS = UploadSettings(max_uploads=2, lease_seconds=3, retry_seconds=20, max_attempts=4)


@dataclass
class ScriptedFile:
    """The file a scripted registry serves, and the faults it will have."""

    data: bytes
    honours_offset: bool = True
    cuts: list[int] = field(default_factory=list)
    """Byte positions at which a request's connection breaks, each once, in order."""
    seconds_per_chunk: float = 0.0
    missing: bool = False
    offsets_asked: list[int] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class ScriptedConnector:
    kind = "scripted"

    def __init__(self, files: dict[str, ScriptedFile]) -> None:
        self.files = files

    def check_path(self, path: str) -> dict:
        if path not in self.files:
            raise InvalidArtifactPath(f"path {path!r} is not a file of registry '{REGISTRY_NAME}'")
        return {
            "model_name": "scripted-model",
            "model_version": "3",
            "path": path,
            "file_name": posixpath.basename(path),
        }

    def open_download(self, path: str, *, offset: int = 0) -> ArtifactDownload:
        served = self.files[path]
        served.offsets_asked.append(offset)
        if served.missing:
            raise RegistryNotFound(REGISTRY_NAME, f"{path} does not exist", 404)
        start = offset if served.honours_offset else 0
        cut = served.cuts.pop(0) if served.cuts else None

        def chunks() -> Iterator[bytes]:
            position = start
            while position < len(served.data):
                if cut is not None and position >= cut:
                    raise UpstreamBroken(REGISTRY_NAME, "the connection broke mid-file")
                end = min(len(served.data), position + CHUNK)
                if cut is not None and position < cut < end:
                    end = cut
                if served.seconds_per_chunk:
                    time.sleep(served.seconds_per_chunk)
                yield served.data[position:end]
                position = end

        return ArtifactDownload(
            posixpath.basename(path), chunks(), len(served.data), {}, offset=start
        )

    def close(self) -> None:
        pass


@dataclass
class Stack:
    sessions: sessionmaker
    artifacts: ArtifactStore
    connector: ScriptedConnector
    user: User
    registry: Registry
    workspace_id: int
    runners: list[UploadRunner] = field(default_factory=list)

    def runner(self, settings: UploadSettings = SETTINGS, *, start: bool = True) -> UploadRunner:
        runner = UploadRunner(
            self.sessions, self.artifacts, lambda _registry: self.connector, settings
        )
        self.runners.append(runner)
        if start:
            runner.start()
        return runner

    def upload(self, path: str, data: bytes | None = None, **faults: object) -> int:
        """Record an upload of a new scripted file at ``path``; the version's id."""
        self.connector.files[path] = ScriptedFile(data or os.urandom(MIB + 123), **faults)
        request = UploadRequest(
            name=f"m-{uuid.uuid4().hex[:8]}", path=path, visibility="private",
            workspace_id=self.workspace_id, framework="custom", requirements=[],
            python_version="3.8", input_schema=None, output_schema=None, model_name=None,
            model_version=None,
        )  # fmt: skip
        with self.sessions() as session:
            provenance = self.connector.check_path(path)
            version_id = record_upload(session, provenance, self.registry, self.user, request)
        for runner in self.runners:
            runner.wake()
        return version_id

    def job(self, version_id: int) -> tuple[UploadJob, ModelVersion]:
        with self.sessions() as session:
            return session.get(UploadJob, version_id), session.get(ModelVersion, version_id)

    def wait(self, version_id: int, until, timeout: float = 20.0) -> UploadJob:
        deadline = time.monotonic() + timeout
        while True:
            job, _ = self.job(version_id)
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"upload {version_id} is still {job.status}: {vars(job)}")
            time.sleep(0.05)

    def ended(self, version_id: int, timeout: float = 20.0) -> UploadJob:
        return self.wait(version_id, lambda job: job.status != "uploading", timeout)

    def stored(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.artifacts.root))
            for p in self.artifacts.root.rglob("*")
            if p.is_file()
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    sessions = open_store(f"sqlite:///{tmp_path / 'registry.db'}")
    with sessions.begin() as session:
        user = User(email="runner@example.com")
        session.add(user)
        session.flush()
        workspace = Workspace(name="runner-space", created_by=user.id)
        registry = Registry(
            name=REGISTRY_NAME, url="scripted://", kind="scripted", token_encrypted="",
            token_masked="", created_by=user.id,
        )  # fmt: skip
        session.add_all([workspace, registry])
        session.flush()
        workspace_id = workspace.id
    built = Stack(
        sessions, ArtifactStore(tmp_path / "artifacts"), ScriptedConnector({}), user, registry,
        workspace_id,
    )  # fmt: skip
    yield built
    for runner in built.runners:
        runner.stop(grace=2)
    sessions.kw["bind"].dispose()


def test_an_upload_is_stored_whole_with_its_sha256(stack):
    runner = stack.runner()
    version_id = stack.upload("scripted:/model.bin")
    served = stack.connector.files["scripted:/model.bin"]
    job = stack.ended(version_id)
    _, version = stack.job(version_id)
    assert (job.status, job.error, job.attempts) == ("ready", None, 1)
    assert (job.bytes_done, job.bytes_total) == (len(served.data), len(served.data))
    assert (version.status, version.sha, version.size) == ("ready", served.sha256, len(served.data))
    final = stack.artifacts.path_of(version.storage_key)
    assert hashlib.sha256(final.read_bytes()).hexdigest() == served.sha256
    assert stack.stored() == [version.storage_key]
    assert job.lease_holder is None and runner.running == set()


def test_a_cut_resumes_from_the_bytes_stored(stack):
    stack.runner()
    cut = 300_000
    version_id = stack.upload("scripted:/cut.bin", cuts=[cut])
    served = stack.connector.files["scripted:/cut.bin"]
    job = stack.ended(version_id)
    _, version = stack.job(version_id)
    assert job.status == "ready" and job.attempts == 2
    assert served.offsets_asked == [0, cut]
    assert version.sha == served.sha256


def test_a_registry_that_sends_the_whole_file_again_is_started_over(stack):
    stack.runner()
    version_id = stack.upload(
        "scripted:/norange.bin", cuts=[200_000, 700_000], honours_offset=False
    )
    served = stack.connector.files["scripted:/norange.bin"]
    job = stack.ended(version_id)
    _, version = stack.job(version_id)
    assert job.status == "ready" and job.attempts == 3
    assert served.offsets_asked == [0, 200_000, 700_000]
    assert (version.sha, version.size) == (served.sha256, len(served.data))


def test_a_missing_file_ends_in_error_with_nothing_kept(stack):
    stack.runner()
    version_id = stack.upload("scripted:/gone.bin", missing=True)
    job = stack.ended(version_id)
    _, version = stack.job(version_id)
    assert job.status == "error" and version.status == "error"
    assert job.error == (
        f"registry '{REGISTRY_NAME}' answered HTTP 404: scripted:/gone.bin does not exist"
    )
    assert job.attempts == 1 and job.bytes_done == 0 and job.finished_at is not None
    assert stack.stored() == []


def test_faults_are_retried_within_the_budget_then_error(stack):
    stack.runner()
    version_id = stack.upload("scripted:/flaky.bin", cuts=[100_000 * i for i in range(1, 10)])
    job = stack.ended(version_id, timeout=30)
    assert job.status == "error"
    assert job.attempts == SETTINGS.max_attempts
    assert job.error.startswith(f"registry '{REGISTRY_NAME}': the connection broke mid-file")
    assert job.error.endswith(f"gave up after {SETTINGS.max_attempts} attempts")
    assert stack.stored() == []


def test_a_cancel_stops_the_transfer_within_a_second(stack):
    runner = stack.runner()
    version_id = stack.upload("scripted:/slow.bin", seconds_per_chunk=0.05)
    stack.wait(version_id, lambda job: job.bytes_done > 0)
    with stack.sessions() as session:
        assert jobs.cancel(session, version_id, "dana@example.com")
    asked = time.monotonic()
    assert runner.interrupt(version_id)
    stack.wait(version_id, lambda job: job.lease_holder is None, timeout=5)
    assert time.monotonic() - asked < 1.0
    job, version = stack.job(version_id)
    assert (job.status, job.error, job.bytes_done) == ("error", "cancelled by dana@example.com", 0)
    assert version.status == "error"
    assert stack.stored() == []


def test_a_cancel_recorded_by_another_process_is_seen_within_a_second(stack):
    stack.runner()
    version_id = stack.upload("scripted:/slow2.bin", seconds_per_chunk=0.05)
    stack.wait(version_id, lambda job: job.bytes_done > 0)
    with stack.sessions() as session:
        assert jobs.cancel(session, version_id, "erin@example.com")
    asked = time.monotonic()
    stack.wait(version_id, lambda job: job.lease_holder is None, timeout=5)
    assert time.monotonic() - asked < 1.5
    assert stack.stored() == []


def test_progress_is_written_while_the_bytes_come(stack):
    stack.runner()
    data = os.urandom(4 * MIB)
    version_id = stack.upload("scripted:/steady.bin", data=data, seconds_per_chunk=0.03)
    seen = []
    while True:
        job, _ = stack.job(version_id)
        if job.status != "uploading":
            break
        seen.append((job.bytes_done, job.bytes_per_second))
        time.sleep(0.2)
    moving = [done for done, rate in seen if 0 < done < len(data) and rate]
    assert len(set(moving)) >= 2, seen
    assert moving == sorted(moving)
    assert job.status == "ready" and job.bytes_per_second > 0


def test_uploads_beyond_max_uploads_wait_their_turn(stack):
    runner = stack.runner(UploadSettings(max_uploads=1, lease_seconds=3))
    first = stack.upload("scripted:/first.bin", seconds_per_chunk=0.1)
    waiting = [stack.upload(f"scripted:/next-{i}.bin") for i in range(2)]
    stack.wait(first, lambda job: job.bytes_done > 0)
    assert runner.running == {first}
    for version_id in waiting:
        job, version = stack.job(version_id)
        assert (job.status, job.bytes_done, job.attempts, version.size) == ("uploading", 0, 0, 0)
    for version_id in [first, *waiting]:
        assert stack.ended(version_id).status == "ready"


def test_a_stopped_runner_keeps_the_bytes_and_another_resumes_them(stack):
    first = stack.runner()
    data = os.urandom(2 * MIB)
    version_id = stack.upload("scripted:/resume.bin", data=data, seconds_per_chunk=0.02)
    served = stack.connector.files["scripted:/resume.bin"]
    stack.wait(version_id, lambda job: job.bytes_done > 256 * 1024)
    first.stop()
    job, _ = stack.job(version_id)
    kept = stack.artifacts.staging_path(stack.job(version_id)[1].version).stat().st_size
    assert job.status == "uploading" and job.lease_holder is None and kept > 0
    served.seconds_per_chunk = 0
    stack.runner()
    job = stack.ended(version_id)
    _, version = stack.job(version_id)
    assert job.status == "ready" and version.sha == served.sha256
    assert served.offsets_asked == [0, kept]


def test_an_upload_of_a_dead_process_on_this_host_is_taken_over_at_once(stack):
    version_id = stack.upload("scripted:/orphan.bin")
    dead = jobs.LeaseHolder(str(uuid.uuid4()), jobs.host_identity(), _dead_pid())
    with stack.sessions() as session:
        generation = session.get(UploadJob, version_id).lease_generation
    assert jobs.claim(stack.sessions, dead, version_id, generation, 600)
    started = time.monotonic()
    stack.runner()
    assert stack.ended(version_id).status == "ready"
    assert time.monotonic() - started < 5


def test_a_staging_file_still_written_elsewhere_is_left_alone(stack):
    runner = stack.runner(start=False)
    version_id = stack.upload("scripted:/busy.bin")
    _, version = stack.job(version_id)
    other_writer = stack.artifacts.open_staging(version.version)
    try:
        runner.start()
        time.sleep(1.5)
        job, _ = stack.job(version_id)
        assert job.status == "uploading" and job.attempts == 0 and job.lease_holder is None
    finally:
        other_writer.close()


def test_the_rate_is_over_the_last_seconds():
    window = RateWindow(seconds=2)
    assert window.rate(0.0, 0) is None
    assert window.rate(1.0, 100) == 100
    assert window.rate(2.0, 300) == 150
    assert window.rate(4.0, 300) == pytest.approx(0.0)
    assert window.rate(5.0, 50) is None
    assert window.rate(6.0, 150) == 100


def test_upload_settings_come_from_the_flag_then_the_environment(tmp_path):
    env = {
        MAX_UPLOADS_ENV: "3",
        UPLOAD_LEASE_ENV: "2.5",
        UPLOAD_RETRY_ENV: "60",
        UPLOAD_ATTEMPTS_ENV: "7",
    }
    resolved = resolve_settings(str(tmp_path), environ=env)
    assert resolved.uploads == UploadSettings(3, 2.5, 60.0, 7)
    assert resolve_settings(str(tmp_path), max_uploads=1, environ=env).uploads.max_uploads == 1
    assert resolve_settings(str(tmp_path), environ={}).uploads == UploadSettings(4, 30, 300, 10)
    assert resolve_settings(environ=settings_environment(resolved)) == resolved
    for name, value, problem in (
        (MAX_UPLOADS_ENV, "0", "--max-uploads (WALLAROO_REGISTRY_MAX_UPLOADS): must be between"),
        (MAX_UPLOADS_ENV, "two", "WALLAROO_REGISTRY_MAX_UPLOADS: 'two' is not an integer"),
        (UPLOAD_LEASE_ENV, "0.1", "WALLAROO_REGISTRY_UPLOAD_LEASE_SECONDS: must be at least 1"),
        (UPLOAD_RETRY_ENV, "nan", "WALLAROO_REGISTRY_UPLOAD_RETRY_SECONDS: must be a finite"),
        (UPLOAD_ATTEMPTS_ENV, "0", "WALLAROO_REGISTRY_UPLOAD_MAX_ATTEMPTS: must be at least 1"),
    ):
        with pytest.raises(ValueError) as caught:
            resolve_settings(str(tmp_path), environ={name: value})
        assert str(caught.value).startswith(problem), caught.value


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
