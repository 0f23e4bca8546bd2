"""One demo per data dir: a lock held while it runs, and the servers a killed run left behind.

Every server the demo starts carries ``WALLAROO_REGISTRY_DEMO_DIR=<data dir>`` in its
environment (its workers and kernels inherit it), so a run that was killed without its
clean-up can be recognised and stopped by the next one, and nothing else is touched.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from wallaroo_registry_ui.demo.processes import marked_groups, stop_group

MARK_VARIABLE = "WALLAROO_REGISTRY_DEMO_DIR"


class AlreadyRunning(RuntimeError):
    """Another demo holds this data dir's lock."""


def mark(data_dir: Path) -> dict[str, str]:
    """The environment entry that marks a process as this data dir's demo server."""
    return {MARK_VARIABLE: str(data_dir)}


def hold_lock(data_dir: Path) -> IO[bytes]:
    """Lock the data dir for this process (released when it exits); keep the returned file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "demo.lock", "a+b")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"a demo is already running with the data dir {data_dir}") from None
    handle.truncate(0)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


def stop_leftovers(data_dir: Path) -> int:
    """Stop the servers of an earlier run on this data dir; how many groups were stopped."""
    groups = marked_groups(MARK_VARIABLE, str(data_dir))
    for pgid in groups:
        stop_group(pgid)
    return len(groups)
