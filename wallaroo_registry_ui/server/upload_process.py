"""The upload runner in a process of its own, beside each process that answers calls.

Transfers read, hash and write bytes as fast as the registry sends them. In a process of their
own, at a lower CPU priority, they take neither the interpreter lock nor a core's turn from the
calls, and a transfer that crashes its interpreter takes no call down with it.

The serving process starts the runner process with the settings it resolved (in the
environment) and talks to it over the runner's stdin, a line per command: ``wake`` (an upload
was just recorded) and ``interrupt <model version id>`` (it was just cancelled). When that pipe
closes, because the serving process stopped or died (SIGKILL too), the runner stops its
transfers and gives their leases back, so a restarted or another service resumes them at once.
A runner process that dies on its own is started again.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import sys
import threading
from contextlib import suppress
from typing import IO

from sqlalchemy.orm import sessionmaker

from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools, open_registry_connector
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import Settings, resolve_settings, settings_environment
from wallaroo_registry_ui.server.store import make_engine
from wallaroo_registry_ui.server.upload_jobs import host_identity
from wallaroo_registry_ui.server.upload_runner import STOP_GRACE_SECONDS, UploadRunner
from wallaroo_registry_ui.server.upload_space import UploadSpace

log = logging.getLogger("wallaroo_registry_ui.server.upload_process")

NICENESS = 10
"""How much lower than the serving process the runner process runs."""
RESTART_SECONDS = 1.0
EXIT_SECONDS = STOP_GRACE_SECONDS + 5.0
UPLOAD_POOL_SPARE = 2
"""Database connections the runner has beyond one per transfer (its loop's)."""


class UploadProcess:
    """The serving process's handle on its runner process; ``start`` and ``stop`` it once."""

    def __init__(self, settings: Settings) -> None:
        self.host = host_identity()
        self._environment = os.environ | settings_environment(settings)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="upload-process", daemon=True)

    @property
    def pid(self) -> int | None:
        with self._lock:
            return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def wake(self) -> None:
        self._send("wake")

    def interrupt(self, version_id: int) -> None:
        self._send(f"interrupt {int(version_id)}")

    def stop(self) -> None:
        """Close the pipe and wait for the runner to give its leases back."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return
        with suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("the upload process did not stop in %.0f s; killing it", EXIT_SECONDS)
            process.kill()
            process.wait()
        self._watcher.join(RESTART_SECONDS)

    def _spawn(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "wallaroo_registry_ui.server.upload_process"],
            stdin=subprocess.PIPE,
            env=self._environment,
            text=True,
            bufsize=1,
        )
        with self._lock:
            self._process = process

    def _send(self, line: str) -> None:
        with self._lock:
            process = self._process
            if process is None or process.stdin is None:
                return
            with suppress(OSError, ValueError):
                process.stdin.write(line + "\n")
                process.stdin.flush()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            code = process.wait() if process is not None else None
            if self._stopping.wait(RESTART_SECONDS):
                return
            log.warning("the upload process ended (status %s); starting it again", code)
            self._spawn()


def build_runner(settings: Settings) -> tuple[UploadRunner, ConnectionPools]:
    """The runner with a database engine and registry connections of its own."""
    engine = make_engine(
        settings.database_url, pool_size=settings.uploads.max_uploads + UPLOAD_POOL_SPARE
    )
    connections = ConnectionPools(settings.egress.policy())
    cipher = TokenCipher.from_environment(settings.key_file)
    artifacts = ArtifactStore(settings.artifacts_dir)
    runner = UploadRunner(
        sessionmaker(engine, expire_on_commit=False),
        artifacts,
        functools.partial(open_registry_connector, cipher, connections),
        settings.uploads,
        space=UploadSpace(artifacts.root, settings.limits.max_upload_size),
    )
    return runner, connections


def follow_commands(runner: UploadRunner, commands: IO[str]) -> None:
    """Carry out the serving process's commands until it closes the pipe."""
    for line in commands:
        word, _, argument = line.strip().partition(" ")
        if word == "wake":
            runner.wake()
        elif word == "interrupt" and argument.isdigit():
            runner.interrupt(int(argument))
        elif word:
            log.warning("the upload process ignored an unknown command %r", word[:40])


def main() -> int:
    """The runner process. Ctrl-C and SIGTERM reach the serving process too, which then closes
    the pipe; so they are left to it, and the pipe alone ends this process."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    with suppress(OSError):
        os.nice(NICENESS)
    runner, connections = build_runner(resolve_settings())
    runner.start()
    try:
        follow_commands(runner, sys.stdin)
    finally:
        runner.stop()
        connections.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
