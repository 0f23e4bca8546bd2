"""A private PostgreSQL server for the test run, so the service is proven on a real one.

It runs from Debian's ``postgresql`` binaries (``make test`` installs them) in a temporary
directory, listens on 127.0.0.1 only and trusts local connections; the system cluster is
never touched.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from wallaroo_registry_ui.demo.processes import free_port, start_process, stop_process

__all__ = ["postgres_url"]

DATABASE = "wallaroo_registry"
SUPERUSER = "postgres"


def server_bin_dir() -> Path:
    """The newest installed server's binaries; a clear failure when there is none."""
    found = glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        pytest.fail(
            "PostgreSQL server binaries are missing (no /usr/lib/postgresql/*/bin/initdb); "
            "'make system' installs Debian's postgresql package"
        )

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.parent.name))

    return Path(max(found, key=version)).parent


def as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root, so root hands them to the postgres user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", SUPERUSER, "--"]


def own_for_server(directory: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(SUPERUSER)
        os.chown(directory, account.pw_uid, account.pw_gid)


def log_tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""


def wait_ready(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    """Until a connection succeeds; fails with the server log's tail if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres").close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.1)
    stop_process(process)
    pytest.fail(f"PostgreSQL on 127.0.0.1:{port} did not come up; log tail:\n{log_tail(log_path)}")


def create_database(port: int, name: str = DATABASE) -> None:
    connection = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def new_database(postgres_url: str, prefix: str) -> str:
    """A new, empty database on the test server, for services whose data (and key) must not
    meet another test's; its URL."""
    url = make_url(postgres_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    create_database(url.port, name)
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on a private server: its SQLAlchemy URL, the server gone afterwards."""
    bin_dir = server_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="wru-pg-"))
    own_for_server(root)
    data_dir, log_path = root / "data", root / "server.log"
    prefix = as_server_user()
    initdb = subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        capture_output=True, text=True, cwd=root, timeout=120,
    )  # fmt: skip
    if initdb.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
    port = free_port()
    process = start_process(
        [*prefix, str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        log_path,
    )  # fmt: skip
    try:
        wait_ready(port, process, log_path)
        create_database(port)
        yield f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w"],
            capture_output=True, cwd=root, timeout=60,
        )  # fmt: skip
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
