"""The service moves uploads' bytes in a process of its own, at a lower CPU priority: a runner
process that dies is started again and its upload finishes, and a serving process killed
alone takes its runner with it, leases given back."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.fault_proxy import FaultProxy
from support.upload_stack import UploadStack, open_stack, start_upload_service

from wallaroo_registry_ui.demo.registry_service import RegistryService
from wallaroo_registry_ui.server.upload_jobs import pid_alive
from wallaroo_registry_ui.server.upload_process import NICENESS

MIB = 1024 * 1024
GONE_SECONDS = 15.0


def _lease_pid(data_dir: Path, version_id: int) -> int | None:
    with sqlite3.connect(data_dir / "registry.db") as connection:
        row = connection.execute(
            "SELECT lease_pid, lease_holder FROM upload_jobs WHERE model_version_id = ?",
            (version_id,),
        ).fetchone()
    return row[0] if row and row[1] else None


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _until(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


@dataclass
class InFlight:
    service: RegistryService
    stack: UploadStack
    proxy: FaultProxy
    version_id: int
    runner: int
    """The pid holding the upload's lease."""


@contextmanager
def _upload_in_flight(
    tmp_path: Path, upload_mlflow, generated_file, email: str, bytes_per_second: int
) -> Iterator[InFlight]:
    """A service with an upload moving its bytes through a throttled proxy, past its first
    MiB; the service stopped afterwards."""
    with FaultProxy(upload_mlflow.url) as proxy:
        service = start_upload_service(tmp_path / "service")
        try:
            stack = open_stack(service, email)
            registry = stack.connect(proxy.url)
            proxy.throttle(bytes_per_second, prefix=generated_file.proxy_path)
            version_id = stack.start(registry, generated_file.models_uri, email.split("@")[0])
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= MIB, 30, "1 MiB in")
            runner = _until(lambda: _lease_pid(service.data_dir, version_id), 10, "lease holder")
            yield InFlight(service, stack, proxy, version_id, runner)
        finally:
            service.stop()


def test_a_runner_process_moves_the_bytes_and_is_restarted_when_it_dies(
    tmp_path, upload_mlflow, generated_file
):
    with _upload_in_flight(
        tmp_path, upload_mlflow, generated_file, "process@example.com", 4 * MIB
    ) as flight:
        serving = flight.service.process.pid
        assert flight.runner != serving
        assert _parent_of(flight.runner) == serving
        niceness = os.getpriority(os.PRIO_PROCESS, flight.runner)
        assert niceness - os.getpriority(os.PRIO_PROCESS, serving) == NICENESS

        os.kill(flight.runner, signal.SIGKILL)
        flight.proxy.throttle(64 * MIB, prefix=generated_file.proxy_path)
        done = flight.stack.api.wait_ended(flight.version_id, 60)
        assert done["status"] == "ready", (done, flight.proxy.describe())
        version = flight.stack.api.version(flight.version_id)
        assert version["file_info"]["sha"] == generated_file.sha256
        assert _lease_pid(flight.service.data_dir, flight.version_id) is None


def test_a_serving_process_killed_alone_takes_its_runner_along(
    tmp_path, upload_mlflow, generated_file
):
    with _upload_in_flight(
        tmp_path, upload_mlflow, generated_file, "orphan@example.com", 2 * MIB
    ) as flight:
        os.kill(flight.service.process.pid, signal.SIGKILL)
        flight.service.process.wait(timeout=10)
        _until(lambda: not pid_alive(flight.runner), GONE_SECONDS, "end of the runner process")
        lease = _lease_pid(flight.service.data_dir, flight.version_id)
        assert lease is None, "the lease was not given back"
