"""The panel's upload watch against a scripted source: it asks only while an upload is in flight,
stops when none is or when the panel closes, reads the sha256 once ready, tells each end once,
and follows a server without upload jobs through the model version's own status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from wallaroo_registry_ui.client.errors import ConnectionFailed, NotFound
from wallaroo_registry_ui.client.records import UploadProgress
from wallaroo_registry_ui.panel.upload_watch import FollowedUpload, UploadWatch

INTERVAL = 0.02
SHA = "ab" * 32


def progress(
    model_version_id: int, status: str = "uploading", done: int = 0, **kw: object
) -> UploadProgress:
    fields = {
        "bytes_total": 100,
        "bytes_per_second": 10.0 if done else None,
        "attempts": 1,
        "error": None,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": None if status == "uploading" else "2026-01-01T00:00:10Z",
    }
    return UploadProgress(model_version_id, status, done, **{**fields, **kw})


@dataclass
class Version:
    sha: str
    status: str = "ready"
    version_id: int = 0
    size: int | None = 100
    created_at: str | None = None
    name: str = "m"
    workspace_id: int | None = 1


@dataclass
class ScriptedSource:
    """Answers each upload's polls from a script; the last answer repeats."""

    scripts: dict[int, list[object]]
    versions: dict[int, object] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)
    versions_asked: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_upload(self, model_version_id: int) -> UploadProgress:
        with self.lock:
            self.asked.append(model_version_id)
            script = self.scripts[model_version_id]
            answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_model_version(self, model_version_id: int):
        with self.lock:
            self.versions_asked.append(model_version_id)
        answer = self.versions.get(model_version_id, Version(SHA, version_id=model_version_id))
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Seen:
    changes: list[list[FollowedUpload]] = field(default_factory=list)
    ended: list[FollowedUpload] = field(default_factory=list)


def watch_of(source: ScriptedSource, **options) -> tuple[UploadWatch, Seen]:
    seen = Seen()
    watch = UploadWatch(
        source, seen.changes.append, seen.ended.append, interval=INTERVAL, **options
    )
    return watch, seen


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def test_asks_while_in_flight_and_stops_when_it_ended() -> None:
    script = [progress(7, done=10), progress(7, done=60), progress(7, "ready", 100)]
    source = ScriptedSource({7: script})
    watch, seen = watch_of(source)
    watch.follow(7, file_name="weights/big.bin", name="big", workspace_id=1)

    ended = watch.wait(7, timeout=10)
    assert ended.status == "ready" and ended.sha == SHA
    assert (ended.file_name, ended.name, ended.workspace_id) == ("weights/big.bin", "big", 1)
    asked = len(source.asked)
    time.sleep(INTERVAL * 10)
    assert len(source.asked) == asked == 3, "the watch kept asking after the upload ended"
    assert source.versions_asked == [7], "the sha256 is read once, when the upload is ready"
    assert [u.model_version_id for u in seen.ended] == [7]
    moved = [c[0].progress.bytes_done for c in seen.changes if c and c[0].progress]
    assert moved[:3] == [10, 60, 100]
    assert seen.changes[-1][0].sha == SHA
    watch.close()


def test_close_stops_the_asking() -> None:
    source = ScriptedSource({3: [progress(3, done=5)]})
    watch, _ = watch_of(source)
    watch.follow(3)
    eventually(lambda: len(source.asked) >= 2, "two polls")
    watch.close()
    time.sleep(INTERVAL * 3)
    asked = len(source.asked)
    time.sleep(INTERVAL * 10)
    assert len(source.asked) == asked, "the watch kept asking after the panel closed"
    with pytest.raises(RuntimeError, match="closed"):
        watch.wait(3, timeout=1)


def test_a_new_upload_after_an_idle_spell_is_asked_about_again() -> None:
    source = ScriptedSource({1: [progress(1, "error", error="cut")], 2: [progress(2, "ready")]})
    watch, seen = watch_of(source)
    watch.follow(1)
    assert watch.wait(1, timeout=10).status == "error"
    eventually(lambda: watch._thread is None, "the thread ends once nothing is in flight")
    watch.follow(2)
    assert watch.wait(2, timeout=10).status == "ready"
    assert [u.model_version_id for u in seen.ended] == [1, 2]
    assert [u.model_version_id for u in watch.followed()] == [2, 1], "newest first"
    watch.close()


def test_update_from_elsewhere_ends_it_once() -> None:
    source = ScriptedSource({4: [progress(4, done=1)]})
    watch, seen = watch_of(source)
    watch.follow(4)
    cancelled = progress(4, "error", 1, error="cancelled by alice@example.com")
    watch.update(cancelled)
    watch.update(cancelled)
    assert watch.wait(4, timeout=1).progress.error == "cancelled by alice@example.com"
    assert len(seen.ended) == 1
    watch.close()


def test_failed_polls_are_noted_and_retried() -> None:
    fault = ConnectionFailed("refused", call="models/get_upload")
    source = ScriptedSource({5: [fault, fault, progress(5, done=50), progress(5, "ready", 100)]})
    watch, seen = watch_of(source)
    watch.follow(5)
    assert watch.wait(5, timeout=10).status == "ready"
    notes = [c[0].note for c in seen.changes if c]
    assert any("Could not ask the service" in n and "refused" in n for n in notes)
    assert watch.get(5).note == ""
    watch.close()


def test_a_server_without_upload_jobs_is_followed_by_the_version_status() -> None:
    missing = NotFound("no such call", status=404, call="models/get_upload")
    versions = {9: Version("", status="pending_load_native", version_id=9, size=None)}
    source = ScriptedSource({9: [missing]}, versions=versions)
    watch, _ = watch_of(source)
    watch.follow(9)
    eventually(lambda: len(source.versions_asked) >= 2, "the version's status is asked")
    assert watch.get(9).status == "uploading"
    source.versions[9] = Version("cd" * 32, version_id=9)
    ended = watch.wait(9, timeout=10)
    assert ended.status == "ready" and ended.sha == "cd" * 32
    assert source.asked == [9], "get_upload is not asked again once it is known to be missing"
    watch.close()


def test_an_upload_nobody_knows_ends_as_unknown() -> None:
    missing = NotFound("gone", status=404, call="models/get_upload")
    source = ScriptedSource({6: [missing]}, versions={6: missing})
    watch, seen = watch_of(source)
    watch.follow(6)
    ended = watch.wait(6, timeout=10)
    assert ended.status == "unknown" and not ended.in_flight and ended.note
    assert [u.model_version_id for u in seen.ended] == [6]
    watch.close()


def test_wait_times_out_while_the_upload_goes_on() -> None:
    source = ScriptedSource({8: [progress(8, done=1)]})
    watch, _ = watch_of(source)
    watch.follow(8)
    with pytest.raises(TimeoutError, match="8"):
        watch.wait(8, timeout=INTERVAL * 5)
    with pytest.raises(LookupError):
        watch.wait(99, timeout=1)
    watch.close()


def test_only_the_newest_ended_uploads_are_kept() -> None:
    source = ScriptedSource({})
    watch, _ = watch_of(source, keep_ended=2)
    for model_version_id in (1, 2, 3, 4):
        watch.update(progress(model_version_id, "error", error="no"))
    watch.update(progress(5, done=3))
    kept = [u.model_version_id for u in watch.followed()]
    assert kept == [5, 4, 3], "the two newest ended and the one just seen stay"
    watch.close()
