"""Upload job rows and their leases on SQLite and on a real PostgreSQL: one claim wins a race,
a live lease is respected until it expires, a dead holder on this host is replaced at once,
a cancel or a takeover is seen by the old holder, and a version-1 database migrates."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.store import (
    SCHEMA_VERSION,
    ApiToken,
    AuditEvent,
    Base,
    Model,
    ModelVersion,
    SchemaInfo,
    UploadJob,
    User,
    Workspace,
    make_engine,
    migrate,
    open_store,
)

ELSEWHERE = "another-host/0000"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database of its own for each test: a SQLite file, or a new PostgreSQL
    database on the test run's server (so no row is left where a service could claim it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"leases_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def sessions(database_url) -> Iterator[sessionmaker]:
    factory = open_store(database_url)
    yield factory
    factory.kw["bind"].dispose()


def new_upload(sessions: sessionmaker, *, size: int = 0, status: str = "uploading") -> int:
    """A user, workspace, model and version with its job, as an upload request records them."""
    tag = uuid.uuid4().hex[:10]
    with sessions.begin() as session:
        user = User(email=f"{tag}@leases.example.com")
        session.add(user)
        session.flush()
        workspace = Workspace(name=f"leases-{tag}", created_by=user.id)
        session.add(workspace)
        session.flush()
        model = Model(name=f"m-{tag}", workspace_id=workspace.id, owner_id=user.id)
        session.add(model)
        session.flush()
        version = ModelVersion(
            model_id=model.id, status=status, visibility="private", file_name="model.bin",
            sha="", size=size, storage_key=f"{tag}/model.bin", framework="custom",
            python_version="3.8", requirements=[], runtime="flight", source_path="x:/model.bin",
            created_by=user.id,
        )  # fmt: skip
        session.add(version)
        session.flush()
        jobs.add_job(session, version.id)
        return version.id


def holder(host: str | None = None, pid: int | None = None) -> jobs.LeaseHolder:
    here = jobs.LeaseHolder.for_this_process()
    return jobs.LeaseHolder(str(uuid.uuid4()), host or here.host, pid or here.pid)


def generation_of(sessions: sessionmaker, version_id: int) -> int:
    with sessions() as session:
        return session.get(UploadJob, version_id).lease_generation


def job_of(sessions: sessionmaker, version_id: int) -> tuple[UploadJob, ModelVersion]:
    with sessions() as session:
        return session.get(UploadJob, version_id), session.get(ModelVersion, version_id)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_one_claim_wins_among_racing_runners(sessions):
    version_id = new_upload(sessions)
    generation = generation_of(sessions, version_id)
    racers = [holder(host=f"host-{i}") for i in range(8)]
    start = threading.Barrier(len(racers))
    won: list[str] = []

    def race(runner: jobs.LeaseHolder) -> None:
        start.wait()
        if jobs.claim(sessions, runner, version_id, generation, 30):
            won.append(runner.id)

    threads = [threading.Thread(target=race, args=(runner,)) for runner in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    job, _ = job_of(sessions, version_id)
    assert job.lease_holder == won[0] and job.lease_generation == generation + 1


def test_a_live_lease_is_respected_until_it_expires(sessions):
    version_id = new_upload(sessions)
    first, second = holder(host=ELSEWHERE), holder()
    assert jobs.claim(sessions, first, version_id, generation_of(sessions, version_id), 1.0)
    assert version_id not in dict(jobs.claimable(sessions, second, 100))
    assert jobs.renew(sessions, first, [version_id], 1.0) == {version_id}
    time.sleep(1.3)
    found = dict(jobs.claimable(sessions, second, 100))
    assert version_id in found
    assert jobs.claim(sessions, second, version_id, found[version_id], 30)
    assert jobs.renew(sessions, first, [version_id], 30) == set()
    progress = {version_id: jobs.Progress(10, 100, 5.0)}
    assert jobs.record_progress(sessions, first, progress) == {version_id}
    assert not jobs.finish_ready(sessions, first, version_id, "f" * 64, 100, None)
    assert jobs.record_progress(sessions, second, progress) == set()
    job, version = job_of(sessions, version_id)
    assert (job.status, job.bytes_done, job.lease_holder) == ("uploading", 10, second.id)
    assert version.status == "uploading"


def test_a_dead_holder_on_this_host_is_replaced_at_once(sessions):
    gone, alive = new_upload(sessions), new_upload(sessions)
    for version_id, pid in ((gone, dead_pid()), (alive, None)):
        owner = holder(pid=pid)
        assert jobs.claim(sessions, owner, version_id, generation_of(sessions, version_id), 600)
    found = dict(jobs.claimable(sessions, holder(), 100))
    assert gone in found and alive not in found


def test_a_zombie_is_not_alive():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not jobs.pid_alive(child.pid):
            break
        time.sleep(0.05)
    try:
        assert not jobs.pid_alive(child.pid)
    finally:
        child.wait()
    assert jobs.pid_alive(jobs.LeaseHolder.for_this_process().pid)


def test_a_cancel_ends_the_upload_once_and_its_holder_sees_it(sessions):
    version_id = new_upload(sessions)
    runner = holder()
    assert jobs.claim(sessions, runner, version_id, generation_of(sessions, version_id), 30)
    assert jobs.record_progress(sessions, runner, {version_id: jobs.Progress(7, 9, 1.0)}) == set()
    with sessions() as session:
        assert jobs.cancel(session, version_id, "carol@example.com")
    with sessions() as session:
        assert not jobs.cancel(session, version_id, "carol@example.com")
    assert jobs.record_progress(sessions, runner, {version_id: jobs.Progress(8, 9, 1.0)}) == {
        version_id
    }
    assert not jobs.finish_ready(sessions, runner, version_id, "a" * 64, 9, 1.0)
    assert not jobs.finish_error(sessions, runner, version_id, "too late")
    job, version = job_of(sessions, version_id)
    assert (job.status, job.error, job.bytes_done) == ("error", "cancelled by carol@example.com", 0)
    assert job.finished_at is not None and version.status == "error"
    state = jobs.lease_state(sessions, version_id)
    assert state.status == "error" and state.holder == runner.id
    jobs.release(sessions, runner, [version_id])
    assert jobs.lease_state(sessions, version_id).holder is None


def test_the_end_of_an_upload_moves_its_version(sessions):
    ready, failed = new_upload(sessions), new_upload(sessions)
    runner = holder()
    for version_id in (ready, failed):
        assert jobs.claim(sessions, runner, version_id, generation_of(sessions, version_id), 30)
    assert jobs.begin_attempt(sessions, runner, ready, 0) == 1
    assert jobs.begin_attempt(sessions, runner, ready, 5) == 2
    assert jobs.record_progress(sessions, runner, {ready: jobs.Progress(50, 100, 2.5)}) == set()
    assert jobs.record_progress(sessions, runner, {ready: jobs.Progress(60, None, 2.5)}) == set()
    job, _ = job_of(sessions, ready)
    assert (job.bytes_done, job.bytes_total) == (60, 100)
    assert jobs.finish_ready(sessions, runner, ready, "b" * 64, 100, 12.5)
    assert jobs.finish_error(sessions, runner, failed, "registry 'r' answered HTTP 404: gone")
    job, version = job_of(sessions, ready)
    assert (job.status, job.bytes_done, job.attempts, job.lease_holder) == ("ready", 100, 2, None)
    assert (version.status, version.sha, version.size) == ("ready", "b" * 64, 100)
    answer = jobs.upload_json(job)
    assert answer["bytes_per_second"] == 12.5 and answer["finished_at"] is not None
    job, version = job_of(sessions, failed)
    assert (job.status, job.error, version.status) == (
        "error",
        "registry 'r' answered HTTP 404: gone",
        "error",
    )
    assert jobs.claimable(sessions, holder(), 100) == []


def test_release_gives_back_only_the_holders_own_leases(sessions):
    mine, theirs = new_upload(sessions), new_upload(sessions)
    me, them = holder(), holder(host=ELSEWHERE)
    assert jobs.claim(sessions, me, mine, generation_of(sessions, mine), 30)
    assert jobs.claim(sessions, them, theirs, generation_of(sessions, theirs), 30)
    jobs.release(sessions, me)
    assert jobs.lease_state(sessions, mine).holder is None
    assert jobs.lease_state(sessions, theirs).holder == them.id


def _version_one_database(url: str) -> None:
    """The schema as release 1 made it (no upload jobs, audit trail, admins or token expiry),
    with one stored model version."""
    engine = make_engine(url)
    later = {UploadJob.__tablename__, AuditEvent.__tablename__}
    try:
        tables = [t for t in Base.metadata.sorted_tables if t.name not in later]
        Base.metadata.create_all(engine, tables=tables)
        with engine.begin() as connection:
            for table, column in (
                ("users", "is_admin"), ("users", "removed_at"), ("api_tokens", "expires_at")
            ):  # fmt: skip
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            connection.execute(insert(SchemaInfo.__table__).values(id=1, version=1))
            connection.execute(
                text("INSERT INTO users (id, email, created_at) VALUES (:id, :email, :at)"),
                {"id": "u-1", "email": "old@example.com", "at": datetime.now(timezone.utc)},
            )
            connection.execute(
                insert(Workspace.__table__).values(id=1, name="old", created_by="u-1")
            )
            connection.execute(
                insert(Model.__table__).values(id=1, name="m", workspace_id=1, owner_id="u-1")
            )
            connection.execute(
                insert(ModelVersion.__table__).values(
                    id=1, model_id=1, version=str(uuid.uuid4()), status="ready",
                    visibility="private", file_name="model.pkl", sha="c" * 64, size=1234,
                    storage_key="k/model.pkl", framework="sklearn", python_version="3.8",
                    requirements=[], runtime="flight", source_path="models:/m/1/model.pkl",
                    created_by="u-1",
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def test_a_version_one_database_is_migrated(database_url):
    _version_one_database(database_url)
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)
        with engine.connect() as connection:
            assert connection.execute(select(SchemaInfo.version)).scalars().all() == [
                SCHEMA_VERSION
            ]
            rows = connection.execute(
                select(
                    UploadJob.model_version_id, UploadJob.status, UploadJob.bytes_done,
                    UploadJob.bytes_total, UploadJob.attempts, UploadJob.lease_holder,
                )
            ).all()  # fmt: skip
            assert [tuple(row) for row in rows] == [(1, "ready", 1234, 1234, 1, None)]
            job = connection.execute(select(UploadJob.finished_at, UploadJob.started_at)).one()
            assert job.finished_at is not None and job.started_at == job.finished_at
            old = connection.execute(select(User.is_admin, User.removed_at)).one()
            assert tuple(old) == (False, None)
            assert connection.execute(select(ApiToken.expires_at)).all() == []
            assert connection.execute(select(AuditEvent.id)).all() == []
    finally:
        engine.dispose()
