"""Real servers as child processes: each in its own process group with a log file, waited on
over HTTP, and stopped as a whole group so no worker it spawned outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import requests

LOG_TAIL_CHARS = 4000


class ServerFailedToStart(RuntimeError):
    """A server died or never answered; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound (so a preferred port can be kept).

    SO_REUSEADDR as servers set it, so a port left in TIME_WAIT by an earlier run counts
    as free.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def log_tail(log_path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """The end of a log, for error messages."""
    try:
        return log_path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def start_process(
    args: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start ``args`` in a new session (its own process group), output appended to ``log_path``.

    A new session also keeps a terminal's Ctrl-C away from it: whoever started it decides
    when and in which order it stops.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )


def wait_http(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    """Return once ``url`` answers 200; otherwise stop the process and raise with its log.

    An interrupt while waiting (Ctrl-C) stops the process too, so none is left behind.
    """
    deadline = time.monotonic() + timeout
    reason = f"no answer within {timeout:g} s"
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                reason = f"the process exited with code {process.returncode}"
                break
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
    except BaseException:
        stop_process(process)
        raise
    stop_process(process)
    raise ServerFailedToStart(f"{url}: {reason}; log tail ({log_path}):\n{log_tail(log_path)}")


def marked_groups(variable: str, value: str) -> set[int]:
    """Process groups with a process whose environment has ``variable=value``.

    Children inherit the environment, so a mark set on a server also finds its workers.
    """
    wanted = f"{variable}={value}".encode()
    groups = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted not in environ.read_bytes().split(b"\0"):
                continue
            groups.add(os.getpgid(int(environ.parent.name)))
        except (OSError, ValueError):
            continue
    return groups - {os.getpgrp()}


def stop_group(pgid: int, grace: float = 10.0, reap: Callable[[], object] = lambda: None) -> None:
    """SIGTERM to a process group, SIGKILL to what is left after ``grace`` seconds.

    ``reap`` collects our own child's exit status while waiting, for systems where a zombie
    still counts as a member of its group.
    """
    for sig, wait_seconds in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            reap()
            if not group_alive(pgid):
                return
            time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the process's whole group (it leads one: ``start_process`` made it so).

    The group is signalled even when its leader has already exited, because workers it
    started (uvicorn's, for MLflow) may still run.
    """
    stop_group(process.pid, grace, reap=process.poll)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1)
