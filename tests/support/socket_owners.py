"""Which process group holds a TCP connection, read from Linux's /proc.

The takeover test starts two service processes and must kill the one that runs the upload;
the fault proxy knows the port each request came from, and this finds whose socket that is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["group_with_local_port"]

PROC = Path("/proc")


def group_with_local_port(port: int, groups: Iterable[int]) -> int | None:
    """The one of ``groups`` (process group ids) with a process holding a TCP socket bound
    to local port ``port`` on 127.0.0.1; None when none of them does."""
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    wanted = set(groups)
    for process in PROC.glob("[0-9]*"):
        try:
            group = os.getpgid(int(process.name))
        except (OSError, ValueError):
            continue
        if group in wanted and _holds_any(process, inodes):
            return group
    return None


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets whose local port is ``port``."""
    found = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rpartition(":")[2], 16) == port:
                found.add(fields[9])
    found.discard("0")
    return found


def _holds_any(process: Path, inodes: set[str]) -> bool:
    try:
        descriptors = list((process / "fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            link = os.readlink(descriptor)
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False
