"""The service moves uploads' bytes in a process of its own, at a lower CPU priority: a runner
process that dies is started again and its upload finishes, and a serving process killed
alone takes its runner with it, leases given back."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from support.fault_proxy import FaultProxy
from support.upload_stack import open_stack, start_upload_service

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


def test_a_runner_process_moves_the_bytes_and_is_restarted_when_it_dies(
    tmp_path, upload_mlflow, generated_file
):
    data_dir = tmp_path / "service"
    with FaultProxy(upload_mlflow.url) as proxy:
        service = start_upload_service(data_dir)
        try:
            stack = open_stack(service, "process@example.com")
            registry = stack.connect(proxy.url)
            proxy.throttle(4 * MIB, prefix=generated_file.proxy_path)
            version_id = stack.start(registry, generated_file.models_uri, "runner-weights")
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= 2 * MIB, 30, "2 MiB in")

            runner = _until(lambda: _lease_pid(data_dir, version_id), 10, "lease holder")
            assert runner != service.process.pid
            assert _parent_of(runner) == service.process.pid
            niceness = os.getpriority(os.PRIO_PROCESS, runner)
            assert niceness - os.getpriority(os.PRIO_PROCESS, service.process.pid) == NICENESS

            os.kill(runner, signal.SIGKILL)
            proxy.throttle(64 * MIB, prefix=generated_file.proxy_path)
            done = stack.api.wait_ended(version_id, 60)
            assert done["status"] == "ready", (done, proxy.describe())
            version = stack.api.version(version_id)
            assert version["file_info"]["sha"] == generated_file.sha256
            successor = _lease_pid(data_dir, version_id)
            assert successor is None  # an ended upload holds no lease
        finally:
            service.stop()


def test_a_serving_process_killed_alone_takes_its_runner_along(
    tmp_path, upload_mlflow, generated_file
):
    data_dir = tmp_path / "service"
    with FaultProxy(upload_mlflow.url) as proxy:
        service = start_upload_service(data_dir)
        try:
            stack = open_stack(service, "orphan@example.com")
            registry = stack.connect(proxy.url)
            proxy.throttle(2 * MIB, prefix=generated_file.proxy_path)
            version_id = stack.start(registry, generated_file.models_uri, "orphan-weights")
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= MIB, 30, "1 MiB in")
            runner = _until(lambda: _lease_pid(data_dir, version_id), 10, "lease holder")

            os.kill(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)
            _until(lambda: not pid_alive(runner), GONE_SECONDS, "end of the runner process")
            assert _lease_pid(data_dir, version_id) is None, "the lease was not given back"
        finally:
            service.stop()
