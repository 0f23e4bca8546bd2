"""Where uploaded model files live: a local directory, written so no half file is ever seen.

An upload's bytes go to a staging file named for its model version (``.incoming-<uuid>``)
that outlives the process, so an upload resumed after a restart, or taken over by another
process on the same host, appends to what is already there. One process at a time writes a
staging file: it holds an exclusive ``flock`` on it. The sha256 is computed over the stored
file itself by a thread that reads it back right behind the writer, into one reused buffer,
so hashing runs beside the transfer instead of after it and a resumed file is hashed whole.
Behind the hash, the file's pages are handed back to the kernel (``POSIX_FADV_DONTNEED``):
that starts writing them to disk early, so the fsync at the end finds little left to do, and
the page cache stays flat in the file's size instead of filling up and being reclaimed.
Only a complete file, fsynced, is renamed into its final place ``<version uuid>/<file>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STAGING_PREFIX = ".incoming-"
HASH_BLOCK = 4 << 20
"""Bytes the hashing thread reads back at once, into the one buffer it keeps."""
WRITE_BEHIND = 32 << 20
"""Every this many bytes hashed, the page cache of the bytes hashed is let go of."""


class StagingBusy(Exception):
    """Another process or thread is writing this upload's staging file."""


@dataclass(frozen=True)
class KnownVersions:
    """What the database knows, for the start-up sweep: every version's uuid, and those of
    versions still ``uploading`` (whose staging files are kept to be resumed)."""

    versions: set[str]
    uploading: set[str]


class _TrailingHasher:
    """Hashes a file from its first byte up to what its writer says it has written."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = memoryview(bytearray(HASH_BLOCK))
        self._cond = threading.Condition()
        self._digest = hashlib.sha256()
        self._done = 0
        self._target = 0
        self._epoch = 0
        self._let_go = 0
        self._closing = False
        self._failure: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="upload-hash", daemon=True)
        self._thread.start()

    def advance(self, size: int) -> None:
        """The file now holds ``size`` bytes."""
        with self._cond:
            self._target = size
            self._cond.notify_all()

    def reset(self) -> None:
        """The file was emptied: start over from its first byte."""
        with self._cond:
            self._digest = hashlib.sha256()
            self._done = self._target = self._let_go = 0
            self._epoch += 1
            self._cond.notify_all()

    def hexdigest(self) -> str:
        """The sha256 of every byte written, once the thread has caught up with them."""
        with self._cond:
            while self._done < self._target and self._failure is None:
                self._cond.wait()
            if self._failure is not None:
                raise self._failure
            return self._digest.hexdigest()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and self._done >= self._target:
                    self._cond.wait()
                if self._closing:
                    return
                epoch, start, digest = self._epoch, self._done, self._digest
                length = min(HASH_BLOCK, self._target - start)
            try:
                count = os.preadv(self._fd, [self._buffer[:length]], start)
            except OSError as exc:
                with self._cond:
                    self._failure = exc
                    self._cond.notify_all()
                return
            if count > 0:
                digest.update(self._buffer[:count])
            with self._cond:
                if epoch != self._epoch:
                    continue
                if count <= 0:
                    self._failure = OSError(f"the staging file ended at byte {start}")
                    self._cond.notify_all()
                    return
                self._done = start + count
                self._cond.notify_all()
                done = self._done
            if done - self._let_go >= WRITE_BEHIND:
                _let_go_of(self._fd, done)
                self._let_go = done


class StagingFile:
    """One upload's bytes so far, locked by the one writer appending to it.

    Chunks are written as they come, without copies (bytes, bytearrays and memoryviews alike,
    so a reader may hand in a buffer it reuses once ``write`` returns).
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.size = os.fstat(fd).st_size
        self._hasher = _TrailingHasher(fd)
        self._hasher.advance(self.size)
        self._closed = False

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk).cast("B")
        total = view.nbytes
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += total
        self._hasher.advance(self.size)

    def restart(self) -> None:
        """Drop every byte kept, for a registry that sends the whole file again."""
        self._hasher.reset()
        os.ftruncate(self._fd, 0)
        self.size = 0

    def finish(self) -> str:
        """Make the bytes durable and say their sha256 (over the whole stored file)."""
        sha256 = self._hasher.hexdigest()
        os.fsync(self._fd)
        return sha256

    def remove(self) -> None:
        """Delete the file (while still holding it, so no one else starts on it) and close."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.close()

    def close(self) -> None:
        """Stop hashing and let go of the file; its bytes stay for whoever resumes it."""
        if self._closed:
            return
        self._closed = True
        self._hasher.close()
        os.close(self._fd)

    def __enter__(self) -> StagingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_locked(path: Path) -> int:
    """An fd of ``path`` (created if missing) under an exclusive lock, or StagingBusy.

    The lock is checked to be on the file the name still points to: a writer that removed
    it while this open waited leaves an unnamed file, and the open starts again.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StagingBusy(path.name) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def staging_path(self, version_uuid: str) -> Path:
        """``.incoming-<uuid>``, right in the store's folder."""
        if not version_uuid or "/" in version_uuid or version_uuid in (".", ".."):
            raise ValueError("a staging file is named by a model version's uuid")
        return self.path_of(f"{STAGING_PREFIX}{version_uuid}")

    def open_staging(self, version_uuid: str) -> StagingFile:
        """The staging file of a model version, with what an earlier attempt left in it."""
        path = self.staging_path(version_uuid)
        return StagingFile(path, _open_locked(path))

    def remove_idle_staging(self, version_uuid: str) -> bool:
        """Remove a staging file nobody writes; False when a writer holds it (it removes it)."""
        path = self.staging_path(version_uuid)
        if not path.exists():
            return True
        try:
            fd = _open_locked(path)
        except StagingBusy:
            return False
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
        return True

    def commit(self, staging: StagingFile, key: str) -> Path:
        """Move a finished staging file to its final place under ``key``
        (``<version uuid>/<file>``), durably."""
        final = self.path_of(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging.path, final)
        _fsync_dir(final.parent)
        return final

    def discard(self, key: str) -> None:
        """Remove a committed file and its folder when that is left empty."""
        final = self.path_of(key)
        final.unlink(missing_ok=True)
        if final.parent != self.root and final.parent.exists() and not any(final.parent.iterdir()):
            final.parent.rmdir()

    def sweep(self, known: Callable[[], KnownVersions]) -> int:
        """Remove what no upload will use: staging files of uploads that are not in flight,
        and folders no model version owns.

        The folder is listed before the database is read: a file is created only after its
        version's row, so whatever the listing holds, the database already knows of. Safe
        beside live processes on the same data dir: a staging file stays while its upload is
        ``uploading`` (whichever process holds its lease), and any other is removed only
        under its lock, which a writer still at work holds.
        """
        entries = list(self.root.iterdir())
        found = known()
        removed = 0
        for entry in entries:
            if entry.is_file() and entry.name.startswith(STAGING_PREFIX):
                version_uuid = entry.name[len(STAGING_PREFIX) :]
                if version_uuid not in found.uploading and self.remove_idle_staging(version_uuid):
                    removed += 1
            elif entry.is_dir() and entry.name not in found.versions:
                for child in entry.iterdir():
                    child.unlink(missing_ok=True)
                entry.rmdir()
                removed += 1
        return removed

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("artifact key escapes the artifact store")
        return path


def _let_go_of(fd: int, length: int) -> None:
    """Start writing the first ``length`` bytes of a file back and drop what is clean of
    them from the page cache (advice only: no byte is lost, and a failure changes nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, 0, length, os.POSIX_FADV_DONTNEED)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
