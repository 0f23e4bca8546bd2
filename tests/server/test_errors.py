"""How the service says it has no room: a database pool with no free connection is a 503
with ``Retry-After``, a full disk (a file write, SQLite's, PostgreSQL's) a 507 in words; an
ordinary failure stays a 500 that says nothing of its cause."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from wallaroo_registry_ui.server.errors import install_error_handlers, is_disk_full


class _DiskFull(Exception):
    pgcode = "53100"


FAILURES = {
    "pool": PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out"),
    "enospc": OSError(errno.ENOSPC, "No space left on device"),
    "sqlite": OperationalError(
        "INSERT ...", {}, sqlite3.OperationalError("database or disk is full")
    ),
    "postgres": OperationalError("INSERT ...", {}, _DiskFull("could not extend file")),
    "other": RuntimeError("something else"),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/fail/{kind}")
    def fail(kind: str) -> dict:
        raise FAILURES[kind]

    return TestClient(app, raise_server_exceptions=False)


def test_a_pool_with_no_free_connection_is_a_503_with_retry_after(client):
    answer = client.post("/fail/pool")
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.json()
    assert body["code"] == 503
    assert "every database connection is in use" in body["msg"]
    assert "QueuePool" not in body["msg"]


@pytest.mark.parametrize("kind", ["enospc", "sqlite", "postgres"])
def test_a_full_disk_is_a_507_in_words(client, kind):
    answer = client.post(f"/fail/{kind}")
    assert answer.status_code == 507
    assert answer.json() == {
        "msg": "the service's disk is full: nothing was written; try again later",
        "code": 507,
    }


def test_any_other_failure_stays_an_opaque_500(client):
    answer = client.post("/fail/other")
    assert answer.status_code == 500
    assert "something else" not in answer.text


def test_disk_full_is_found_through_wrapping():
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as inner:
            raise RuntimeError("while storing") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
