"""The bundled registry service as a real ``wallaroo-registry-ui serve`` process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.demo.processes import (
    free_port,
    group_alive,
    start_process,
    stop_process,
    wait_http,
)

CLI = [sys.executable, "-m", "wallaroo_registry_ui.cli"]
STARTUP_SECONDS = 60.0
KILL_WAIT_SECONDS = 10.0
LOCAL_REGISTRY_HOSTS = ("127.0.0.1",)
"""Where the demo's and the tests' registries run: what their services allow."""


@dataclass(frozen=True)
class RegistryService:
    """A running service: its URL, where its data and log are, and how it was started
    (``extra_args``, ``env`` and ``allow_registry_hosts``, so ``restart`` starts it the
    same way)."""

    url: str
    data_dir: Path
    database_url: str
    log_path: Path
    process: subprocess.Popen
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    allow_registry_hosts: tuple[str, ...] = ()

    def add_user(self, email: str, *, admin: bool = False) -> str:
        """Create the user (or reuse it) with ``user add`` (``--admin`` for an instance
        admin); the new API token it prints last."""
        done = self.command("user", "add", email, *(["--admin"] if admin else []))
        return done.stdout.strip().splitlines()[-1]

    def command(self, *args: str) -> subprocess.CompletedProcess:
        """A ``wallaroo-registry-ui`` command on this service's data; it must succeed."""
        return subprocess.run(
            [*CLI, *args, *self.store_flags()],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )

    def client(self, token: str, **options: Any) -> RegistryClient:
        """A client of this service logged in with ``token``."""
        return RegistryClient(self.url, token=token, **options)

    def post(self, token: str, call: str, body: object) -> requests.Response:
        """A raw API call (``call`` like ``models/get_registry``), for checking the wire."""
        return requests.post(
            f"{self.url}/v1/api/{call}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )

    def store_flags(self) -> list[str]:
        """The flags that point a CLI command at this service's data."""
        return ["--data-dir", str(self.data_dir), "--database-url", self.database_url]

    def stop(self) -> None:
        """Stop the service."""
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL the service's whole process group at once: no shutdown of any kind."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while time.monotonic() < deadline:
            self.process.poll()
            if not group_alive(self.process.pid):
                return
            time.sleep(0.05)

    def restart(
        self, *, port: int | None = None, allow_registry_hosts: Sequence[str] | None = None
    ) -> RegistryService:
        """A new ``serve`` on the same data, flags and environment (once this one is gone);
        ``allow_registry_hosts``, when given, replaces the hosts it allows."""
        allowed = (
            self.allow_registry_hosts if allow_registry_hosts is None else allow_registry_hosts
        )
        return start_registry_service(
            self.data_dir,
            port=port,
            database_url=self.database_url,
            env=self.env,
            extra_args=self.extra_args,
            allow_registry_hosts=allowed,
        )


def start_registry_service(
    data_dir: Path,
    *,
    port: int | None = None,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    allow_registry_hosts: Sequence[str] = (),
) -> RegistryService:
    """Start ``serve`` on ``port`` (a free one if None) and wait until it answers.

    ``extra_args`` go to ``serve`` (``--workers 2``, ``--max-uploads 1``); ``env`` is added
    to this process's environment (``WALLAROO_REGISTRY_UPLOAD_LEASE_SECONDS``, ...).
    ``allow_registry_hosts`` become ``--allow-registry-host`` flags: the demo and the tests
    allow ``127.0.0.1``, where their registries run; by default, as for a plain ``serve``,
    the service connects to no loopback address.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{data_dir / 'registry.db'}"
    chosen = port or free_port()
    log_path = data_dir / "service.log"
    flags = ["--data-dir", str(data_dir), "--database-url", database_url, *extra_args]
    for host in allow_registry_hosts:
        flags += ["--allow-registry-host", host]
    process = start_process(
        [*CLI, "serve", "--port", str(chosen), *flags], log_path, env=env, cwd=data_dir
    )
    url = f"http://127.0.0.1:{chosen}"
    wait_http(f"{url}/v1/api/config", process, log_path, timeout=STARTUP_SECONDS)
    return RegistryService(
        url,
        data_dir,
        database_url,
        log_path,
        process,
        tuple(extra_args),
        dict(env or {}),
        tuple(allow_registry_hosts),
    )
