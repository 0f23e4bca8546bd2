"""A few slow registries do not stall everyone: on SQLite and on PostgreSQL, with 20 uploads
trickling from a registry and 16 listings stalled on it, another user's calls still answer in
seconds, no database transaction stays open while a registry is waited on, a user over the
bound on registry calls gets 503 with ``Retry-After`` at once, and every stalled listing ends
at the deadline with a 504 that says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
import pytest
import requests
from support.fault_proxy import FaultProxy
from support.generated_files import GeneratedFile
from support.postgres_stack import new_database
from support.upload_stack import UploadStack, open_stack, start_upload_service

from wallaroo_registry_ui.demo.registry_service import RegistryService

LISTING_DEADLINE = 8
PREVIEW_DEADLINE = 4
CALLS_PER_USER = 4
BUSY_USERS = 4
UPLOADS_PER_USER = 5
TRICKLE_BYTES_PER_SECOND = 200
SEARCH = "/api/2.0/mlflow/registered-models/search"
QUICK_SECONDS = 3.0


@dataclass
class Busy:
    service: RegistryService
    database_url: str | None
    stacks: list[UploadStack]
    registries: list[str]
    plain: UploadStack


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def busy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    upload_mlflow,
) -> Iterator[tuple[Busy, FaultProxy]]:
    """A service whose busy users reach the upload tests' MLflow through one fault proxy."""
    database_url = (
        new_database(request.getfixturevalue("postgres_url"), "slow")
        if request.param != "sqlite"
        else None
    )
    env = {
        "WALLAROO_REGISTRY_LISTING_DEADLINE_SECONDS": str(LISTING_DEADLINE),
        "WALLAROO_REGISTRY_PREVIEW_DEADLINE_SECONDS": str(PREVIEW_DEADLINE),
        "WALLAROO_REGISTRY_CALLS_PER_USER": str(CALLS_PER_USER),
    }
    folder = tmp_path_factory.mktemp(f"slow-registries-{request.param}")
    service = start_upload_service(folder, database_url=database_url, env=env)
    with FaultProxy(upload_mlflow.url) as proxy:
        try:
            tag = request.param
            stacks = [open_stack(service, f"busy{n}-{tag}@example.com") for n in range(BUSY_USERS)]
            registries = [stack.connect(proxy.url) for stack in stacks]
            plain = open_stack(service, f"plain-{tag}@example.com")
            yield Busy(service, database_url, stacks, registries, plain), proxy
            proxy.reset()
            for stack in stacks:
                stack.stop_leftovers(timeout=30)
        finally:
            service.stop()


def _long_open_transactions(database_url: str) -> list[tuple]:
    """The service's sessions idle inside a transaction for more than a second."""
    dsn = database_url.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, left(query, 80) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state LIKE 'idle in transaction%' "
                "AND state_change < now() - interval '1 second'"
            )
            return cursor.fetchall()
    finally:
        connection.close()


def _wait_until_held(proxy: FaultProxy, count: int, timeout: float = 20.0) -> None:
    """Until ``count`` listings are stalled at the proxy."""
    deadline = time.monotonic() + timeout
    while sum(seen.path == SEARCH for seen in proxy.requests) < count:
        assert time.monotonic() < deadline, f"listings held: {proxy.describe()}"
        time.sleep(0.05)


def _timed(call) -> tuple[float, requests.Response]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


def test_slow_registries_stall_no_one_else(busy, generated_file: GeneratedFile):
    setup, proxy = busy
    proxy.throttle(TRICKLE_BYTES_PER_SECOND, prefix=generated_file.proxy_path)
    for stack, registry in zip(setup.stacks, setup.registries, strict=True):
        for n in range(UPLOADS_PER_USER):
            stack.start(registry, generated_file.models_uri, f"trickled-{n}")
    proxy.hold(prefix=SEARCH)

    def list_models(stack: UploadStack, registry: str) -> tuple[float, requests.Response]:
        body = {"registry_id": registry}
        return _timed(lambda: stack.api.post("models/list_registry_models", body))

    listings = BUSY_USERS * CALLS_PER_USER
    with ThreadPoolExecutor(listings) as pool:
        futures = [
            pool.submit(list_models, stack, registry)
            for stack, registry in zip(setup.stacks, setup.registries, strict=True)
            for _ in range(CALLS_PER_USER)
        ]
        _wait_until_held(proxy, listings)

        for call, body in (
            ("workspaces/list", {}),
            ("models/list_registries", {}),
            ("models/list_uploads", {"workspace_id": setup.plain.workspace_id}),
        ):
            elapsed, answer = _timed(lambda c=call, b=body: setup.plain.api.post(c, b))
            assert answer.status_code == 200, f"{call}: {answer.status_code} {answer.text}"
            assert elapsed < QUICK_SECONDS, f"{call} took {elapsed:.1f} s behind slow registries"

        elapsed, refused = list_models(setup.stacks[0], setup.registries[0])
        assert refused.status_code == 503, refused.text
        assert elapsed < QUICK_SECONDS
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["code"] == 503
        assert "calls waiting on registries" in refused.json()["msg"]

        if setup.database_url is not None:
            for _ in range(3):
                assert _long_open_transactions(setup.database_url) == []
                time.sleep(0.5)

        answers = [future.result(timeout=LISTING_DEADLINE * 3) for future in futures]
    for elapsed, answer in answers:
        assert answer.status_code == 504, answer.text
        assert f"did not finish answering within {LISTING_DEADLINE} s" in answer.json()["msg"]
        assert elapsed < LISTING_DEADLINE + 5, f"a listing ran {elapsed:.1f} s"
    uploading = setup.stacks[0].api.ok(
        "models/list_uploads", {"workspace_id": setup.stacks[0].workspace_id}
    )["uploads"]
    assert len(uploading) == UPLOADS_PER_USER
    assert all(u["status"] == "uploading" for u in uploading), uploading


def test_a_trickled_preview_ends_at_its_deadline(busy, generated_file: GeneratedFile):
    """A registry sending the file a KiB at a time (each read well inside the per-read
    timeout) is cut off at the preview's deadline, not after its 256 KiB."""
    setup, proxy = busy
    proxy.reset()
    proxy.throttle(2048, prefix=generated_file.proxy_path)
    body = {
        "registry_id": setup.registries[1],
        "name": generated_file.model_name,
        "version": generated_file.version,
        "path": generated_file.relative_path,
    }
    elapsed, answer = _timed(
        lambda: setup.stacks[1].api.post("models/preview_registry_artifact", body)
    )
    assert answer.status_code == 504, answer.text
    assert answer.json() == {
        "msg": f"registry 'proxied mlflow': did not finish answering within {PREVIEW_DEADLINE} "
        "s, the service's limit for a preview",
        "code": 504,
    }
    assert PREVIEW_DEADLINE - 1 < elapsed < PREVIEW_DEADLINE + 3, f"took {elapsed:.1f} s"
    proxy.reset()


def test_the_bound_is_per_user_and_comes_back(busy):
    """Once the stalled calls have ended, the same user's listing answers again."""
    setup, proxy = busy
    proxy.reset()
    stack, registry = setup.stacks[0], setup.registries[0]
    answer = stack.api.post("models/list_registry_models", {"registry_id": registry})
    assert answer.status_code == 200, answer.text
    assert "registered_models" in answer.json()
