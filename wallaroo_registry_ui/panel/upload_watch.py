"""Following a panel's uploads: the service runs them, the kernel only asks how they are doing.

One daemon thread per panel asks ``get_upload`` about once a second, and only while an upload
it follows is in flight; it ends when none is, and when the panel closes. Nothing here can stop
an upload: closing the panel or restarting the kernel only stops the asking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from wallaroo_registry_ui.client.errors import NotFound
from wallaroo_registry_ui.client.records import UploadProgress
from wallaroo_registry_ui.panel.steps import describe_failure

if TYPE_CHECKING:
    from wallaroo_registry_ui.client.records import UploadedModel

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 10.0
MAX_ENDED = 20
NOT_REPORTED = "This server does not report how its uploads are going."


class UploadSource(Protocol):
    """What the watch asks (a RegistryClient): the upload job, and the model version for the
    stored file's sha256, or for its status where the server has no upload jobs."""

    def get_upload(self, model_version_id: int) -> UploadProgress: ...

    def get_model_version(self, model_version_id: int) -> UploadedModel: ...


@dataclass(frozen=True)
class FollowedUpload:
    """One upload as the panel knows it: the service's last answer (None before the first, or
    when the server does not report uploads) and what the panel knows beside it."""

    model_version_id: int
    progress: UploadProgress | None = None
    file_name: str = ""
    name: str = ""
    workspace_id: int | None = None
    sha: str = ""
    note: str = ""
    reported: bool = True

    @property
    def status(self) -> str:
        """``uploading``, ``ready``, ``error``, or ``unknown`` for an upload the server does not
        report."""
        if not self.reported:
            return "unknown"
        return "uploading" if self.progress is None else self.progress.status

    @property
    def in_flight(self) -> bool:
        """Still worth asking about."""
        return self.reported and self.status == "uploading"


class UploadWatch:
    """The uploads one panel follows, newest first, kept current by one polling thread.

    ``on_change`` gets every followed upload after each change, called in order (under a lock
    of its own), so its last call is always the true state; ``on_end`` gets each upload once,
    when it has ended (with the sha256 when it is ready).
    """

    def __init__(
        self,
        source: UploadSource,
        on_change: Callable[[list[FollowedUpload]], None],
        on_end: Callable[[FollowedUpload], None],
        *,
        interval: float = POLL_SECONDS,
        keep_ended: int = MAX_ENDED,
    ) -> None:
        self._source = source
        self._on_change = on_change
        self._on_end = on_end
        self._interval = interval
        self._keep_ended = keep_ended
        self._entries: dict[int, FollowedUpload] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._publish_lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs_reported = True
        self._shown: dict[int, FollowedUpload] = {}

    # ---- what the panel asks ---------------------------------------------------------------

    def follow(
        self,
        model_version_id: int,
        *,
        progress: UploadProgress | None = None,
        file_name: str = "",
        name: str = "",
        workspace_id: int | None = None,
    ) -> None:
        """Show this upload and keep asking about it while it is in flight."""
        model_version_id = int(model_version_id)
        with self._lock:
            known = self._entries.get(model_version_id)
            entry = known or FollowedUpload(model_version_id)
            self._entries[model_version_id] = replace(
                entry,
                file_name=file_name or entry.file_name,
                name=name or entry.name or (progress.name if progress is not None else ""),
                workspace_id=workspace_id if workspace_id is not None else entry.workspace_id,
            )
        if progress is not None:
            self.update(progress)
        else:
            self._publish()
        self._ensure_polling()

    def update(self, progress: UploadProgress) -> None:
        """News of an upload from elsewhere (a cancel's answer, a listing); followed from now."""
        model_version_id = int(progress.model_version_id)
        with self._lock:
            before = self._entries.get(model_version_id) or FollowedUpload(model_version_id)
        sha, note = before.sha, ""
        if progress.status == "ready" and not sha:
            sha, note = self._stored_sha(model_version_id)
        with self._changed:
            current = self._entries.get(model_version_id, before)
            if current.progress is not None and current.progress.done:
                return  # an end is final; a poll answered before it is old news
            ended = current.in_flight and progress.done
            entry = replace(
                current,
                progress=progress,
                name=current.name or progress.name,
                workspace_id=(
                    current.workspace_id
                    if current.workspace_id is not None
                    else progress.workspace_id
                ),
                sha=sha,
                note=note,
                reported=True,
            )
            self._entries[model_version_id] = entry
            self._forget_old_ended(keep=model_version_id)
        if ended:
            self._ended(entry)
        self._publish()
        if not progress.done:
            self._ensure_polling()

    def get(self, model_version_id: int) -> FollowedUpload | None:
        """The upload as last seen, None if it is not followed."""
        with self._lock:
            return self._entries.get(int(model_version_id))

    def followed(self) -> list[FollowedUpload]:
        """Every followed upload, newest first."""
        with self._lock:
            return [self._entries[key] for key in sorted(self._entries, reverse=True)]

    def wait(self, model_version_id: int, timeout: float | None = None) -> FollowedUpload:
        """Block until a followed upload has ended and its end is shown (TimeoutError after
        ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        model_version_id = int(model_version_id)
        with self._changed:
            while True:
                entry = self._shown.get(model_version_id)
                if entry is None and model_version_id not in self._entries:
                    raise LookupError(f"upload {model_version_id} is not followed by this panel")
                if entry is not None and not entry.in_flight:
                    return entry
                if self._closed.is_set():
                    raise RuntimeError("the panel was closed; the upload goes on in the service")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"upload {model_version_id} is still in flight")
                self._changed.wait(left)

    @property
    def closed(self) -> bool:
        """The panel has closed: nothing is asked any more."""
        return self._closed.is_set()

    def close(self) -> None:
        """Stop asking; the uploads go on in the service."""
        self._closed.set()
        with self._changed:
            self._changed.notify_all()

    # ---- the polling thread ----------------------------------------------------------------

    def _ensure_polling(self) -> None:
        with self._lock:
            if self._closed.is_set() or self._thread is not None:
                return
            if not any(entry.in_flight for entry in self._entries.values()):
                return
            self._thread = threading.Thread(
                target=self._poll, name="registry-browser-uploads", daemon=True
            )
            self._thread.start()

    def _poll(self) -> None:
        delay = 0.0
        try:
            while not self._closed.wait(delay):
                with self._lock:
                    due = [key for key, entry in self._entries.items() if entry.in_flight]
                    if not due:
                        self._thread = None
                        return
                failed = self._ask(due)
                delay = min(delay * 2, MAX_POLL_SECONDS) if failed else self._interval
                delay = max(delay, self._interval)
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _ask(self, due: Sequence[int]) -> bool:
        """Ask about each upload in ``due``; whether any question failed."""
        failed = False
        for model_version_id in due:
            if self._closed.is_set():
                return failed
            try:
                progress = self._ask_one(model_version_id)
            except NotFound:
                self._annotate(model_version_id, NOT_REPORTED, reported=False)
            except Exception as exc:
                log.debug("asking about upload %s failed", model_version_id, exc_info=True)
                failed = True
                note = "Could not ask the service about this upload (asking again): "
                self._annotate(model_version_id, note + describe_failure(exc))
            else:
                self.update(progress)
        return failed

    def _ask_one(self, model_version_id: int) -> UploadProgress:
        """``get_upload``; where the server has no such call (a Wallaroo instance), what the
        model version's own status tells. NotFound when neither knows the upload."""
        if self._jobs_reported:
            try:
                return self._source.get_upload(model_version_id)
            except NotFound:
                version = self._source.get_model_version(model_version_id)
                self._jobs_reported = False
                return UploadProgress.from_model_version(version)
        version = self._source.get_model_version(model_version_id)
        return UploadProgress.from_model_version(version)

    # ---- bookkeeping -----------------------------------------------------------------------

    def _stored_sha(self, model_version_id: int) -> tuple[str, str]:
        try:
            return str(self._source.get_model_version(model_version_id).sha or ""), ""
        except Exception as exc:
            return "", f"Could not read the stored file's sha256: {describe_failure(exc)}"

    def _annotate(self, model_version_id: int, note: str, *, reported: bool = True) -> None:
        with self._changed:
            entry = self._entries.get(model_version_id)
            if entry is None:
                return
            updated = replace(entry, note=note, reported=reported)
            self._entries[model_version_id] = updated
        if entry.in_flight and not updated.in_flight:
            self._ended(updated)
        self._publish()

    def _forget_old_ended(self, keep: int) -> None:
        """Called with the lock held: keep ``keep`` and the newest ``keep_ended`` ended uploads."""
        ended = sorted(
            key for key, entry in self._entries.items() if not entry.in_flight and key != keep
        )
        for key in ended[: max(0, len(ended) - self._keep_ended)]:
            del self._entries[key]

    def _publish(self) -> None:
        """Show every followed upload; a waiter hears of an end only once it is shown."""
        with self._publish_lock:
            followed = self.followed()
            try:
                self._on_change(followed)
            except Exception:
                log.exception("showing the uploads failed")
            with self._changed:
                self._shown = {upload.model_version_id: upload for upload in followed}
                self._changed.notify_all()

    def _ended(self, entry: FollowedUpload) -> None:
        try:
            self._on_end(entry)
        except Exception:
            log.exception("handling the end of upload %s failed", entry.model_version_id)
