"""Starting and stopping servers: whole process groups, even when the leader is gone first."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from wallaroo_registry_ui.demo.processes import (
    ServerFailedToStart,
    free_port,
    group_alive,
    marked_groups,
    start_process,
    stop_process,
    wait_http,
)

# A leader that starts a worker in its own group, prints the worker's pid, then waits.
LEADER = (
    "import subprocess, time; worker = subprocess.Popen(['sleep', '60']); "
    "print(worker.pid, flush=True); time.sleep(60)"
)


def _first_line(log_path, what: str) -> str:
    """The first line the process wrote to its log, once it is there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log_path.read_text() if log_path.exists() else ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        time.sleep(0.05)
    raise AssertionError(f"the process never printed {what}")


def _worker_pid(log_path) -> int:
    return int(_first_line(log_path, "its worker's pid"))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_stop_reaches_the_workers_of_a_leader_that_already_exited(tmp_path):
    log_path = tmp_path / "leader.log"
    process = start_process([sys.executable, "-c", LEADER], log_path)
    worker = _worker_pid(log_path)
    assert os.getpgid(worker) == process.pid != os.getpgrp()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(5)
    assert group_alive(process.pid) and not _gone(worker)

    stop_process(process, grace=5)
    assert not group_alive(process.pid)
    assert _gone(worker)


def test_a_worker_ignoring_sigterm_gets_sigkill(tmp_path):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring SIGTERM', flush=True); time.sleep(60)"
    )
    log_path = tmp_path / "stubborn.log"
    process = start_process([sys.executable, "-c", code], log_path)
    assert _first_line(log_path, "that it ignores SIGTERM") == "ignoring SIGTERM"
    started = time.monotonic()
    stop_process(process, grace=1)
    assert process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_a_server_that_dies_fails_with_its_log(tmp_path):
    log_path = tmp_path / "dying.log"
    code = "import sys; print('listening failed: port in use', flush=True); sys.exit(3)"
    process = start_process([sys.executable, "-c", code], log_path)
    with pytest.raises(ServerFailedToStart, match="exited with code 3") as caught:
        wait_http(f"http://127.0.0.1:{free_port()}/", process, log_path, timeout=30)
    assert "listening failed: port in use" in str(caught.value)


def test_marked_processes_are_found_by_their_environment(tmp_path):
    mark = str(tmp_path)
    process = start_process(
        ["sleep", "60"], tmp_path / "marked.log", env={"WALLAROO_REGISTRY_DEMO_DIR": mark}
    )
    try:
        # Until the child has exec'd, /proc shows the environment it was forked with.
        deadline = time.monotonic() + 10
        while not marked_groups("WALLAROO_REGISTRY_DEMO_DIR", mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked_groups("WALLAROO_REGISTRY_DEMO_DIR", mark) == {process.pid}
        assert marked_groups("WALLAROO_REGISTRY_DEMO_DIR", mark + "-other") == set()
    finally:
        stop_process(process)
    assert marked_groups("WALLAROO_REGISTRY_DEMO_DIR", mark) == set()
