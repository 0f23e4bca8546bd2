"""Whether a file of a given size may be uploaded: under ``serve --max-upload-size`` and within
the artifact store's free space, less what the uploads in flight still need.

Checked against the size the registry announces before any byte is stored: when the upload is
asked for (the registry's listing of the version gives the file's size; a 507), and again when
its transfer starts (the download's Content-Length; the upload ends ``error``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallaroo_registry_ui.server.store import UploadJob
from wallaroo_registry_ui.server.upload_jobs import UPLOADING

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def size_in_words(size: int) -> str:
    """``3.2 GiB``, ``512 bytes``: one decimal, binary units, as ``df -h`` would say it."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in UNITS[1:]:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


class UploadSpace:
    """The artifact store's room for new uploads."""

    def __init__(self, root: Path, max_upload_size: int) -> None:
        self.root = root
        self.max_upload_size = max_upload_size

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def problem(self, size: int, reserved: int = 0, stored: int = 0) -> str | None:
        """Why a file of ``size`` bytes cannot be stored now, in words; None when it can.

        ``reserved`` is what uploads in flight still need of the free space; ``stored`` is
        what of this file is stored already (a resumed upload needs only the rest).
        """
        if size > self.max_upload_size:
            return (
                f"the file is {size_in_words(size)}; the service accepts at most "
                f"{size_in_words(self.max_upload_size)} (serve --max-upload-size)"
            )
        free = max(0, self.free_bytes() - reserved)
        if size - stored > free:
            return (
                f"the file is {size_in_words(size)}; there is {size_in_words(free)} free in "
                "the artifact store"
            )
        return None


def reserved_bytes(session: Session) -> int:
    """What the uploads in flight whose size is known have still to store."""
    remaining = func.coalesce(func.sum(UploadJob.bytes_total - UploadJob.bytes_done), 0)
    query = select(remaining).where(
        UploadJob.status == UPLOADING, UploadJob.bytes_total.is_not(None)
    )
    return max(0, int(session.scalar(query) or 0))
