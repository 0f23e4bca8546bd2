"""Uploads as jobs, through the real service and the real MLflow behind the fault proxy:
answered before the bytes come, progress that moves, a cancel that stops and keeps nothing,
and a missing file that ends in ``error``."""

from __future__ import annotations

import statistics
import time

from support.registry_helpers import file_sha256
from support.upload_api import ended
from support.upload_stack import REGISTRY_NAME, REGISTRY_TOKEN

from wallaroo_registry_ui.contract import UploadJson, UploadListEntryJson

MIB = 1024 * 1024
UPLOAD_KEYS = UploadJson.__required_keys__ | UploadJson.__optional_keys__
LIST_ENTRY_KEYS = UploadListEntryJson.__required_keys__ | UploadListEntryJson.__optional_keys__


def _file_reads(proxy, generated_file):
    return [seen for seen in proxy.requests if seen.path == generated_file.proxy_path]


def _wait_files(stack, expected, timeout=5.0):
    """The artifact store's files once they equal ``expected``, or what they were at the end."""
    deadline = time.monotonic() + timeout
    while (files := stack.stored_files()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return files


def test_upload_is_answered_while_the_proxy_holds_the_body(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    api = upload_stack.api
    fault_proxy.hold(prefix=generated_file.proxy_path)
    asked = time.monotonic()
    version_id = upload_stack.start(proxied_registry, generated_file.models_uri, "held-weights")
    answered_in = time.monotonic() - asked
    assert answered_in < 5, f"upload_from_registry took {answered_in:.1f} s to answer"

    fault_proxy.wait_for(
        lambda seen: seen.path == generated_file.proxy_path, 15, "read of the file"
    )
    told = api.wait_until(
        version_id, lambda u: u["bytes_total"] is not None, 10, "told the file's size"
    )
    assert set(told) == UPLOAD_KEYS
    assert told["model_version_id"] == version_id
    assert told["status"] == "uploading"
    assert (told["bytes_done"], told["bytes_total"]) == (0, generated_file.size)
    assert told["started_at"] and told["finished_at"] is None and told["error"] is None
    (held,) = _file_reads(fault_proxy, generated_file)
    assert (held.bytes_sent, held.ended) == (0, None), "the hold let bytes through"
    in_flight = api.version(version_id)
    assert in_flight["status"] == "uploading"
    assert (in_flight["file_info"]["sha"], in_flight["file_info"]["size"]) == ("", 0)

    fault_proxy.release(prefix=generated_file.proxy_path)
    done = api.wait_ended(version_id, 60)
    assert done["status"] == "ready", done
    assert done["bytes_done"] == done["bytes_total"] == generated_file.size
    assert done["finished_at"] and done["error"] is None
    version = api.version(version_id)
    assert version["status"] == "ready"
    assert version["file_info"]["sha"] == generated_file.sha256
    assert version["file_info"]["size"] == generated_file.size
    assert file_sha256(upload_stack.stored_file(version)) == generated_file.sha256


def test_progress_moves_while_the_bytes_come(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    api = upload_stack.api
    rate = 4 * MIB
    fault_proxy.throttle(rate, prefix=generated_file.proxy_path)
    version_id = upload_stack.start(proxied_registry, generated_file.models_uri, "moving-weights")
    seen: list[dict] = []
    api.wait_until(version_id, lambda u: u["bytes_done"] >= 3 * MIB, 30, "3 MiB in", seen=seen)

    in_flight = api.version(version_id)
    assert in_flight["status"] == "uploading"
    assert in_flight["file_info"]["sha"] == ""
    assert 0 < in_flight["file_info"]["size"] < generated_file.size
    listed = api.ok("models/list", {"workspace_id": upload_stack.workspace_id})
    statuses = {
        version["model_version"]["id"]: version["model_version"]["status"]
        for entry in listed["models"]
        for version in entry["model_versions"]
    }
    assert statuses.get(version_id) == "uploading"
    flying = api.ok(
        "models/list_uploads", {"workspace_id": upload_stack.workspace_id, "status": "uploading"}
    )["uploads"]
    assert [entry["model_version_id"] for entry in flying] == [version_id]
    assert set(flying[0]) == LIST_ENTRY_KEYS
    assert flying[0]["name"] == "moving-weights"
    assert flying[0]["workspace_id"] == upload_stack.workspace_id

    done = api.wait_until(version_id, ended, 60, "ended", seen=seen)
    moving = [u for u in seen if u["status"] == "uploading"]
    done_counts = [u["bytes_done"] for u in moving]
    assert done_counts == sorted(done_counts), f"bytes_done went back: {done_counts}"
    assert len({n for n in done_counts if 0 < n < generated_file.size}) >= 3, done_counts
    assert {u["bytes_total"] for u in moving} <= {None, generated_file.size}
    assert moving[-1]["bytes_total"] == generated_file.size
    rates = [u["bytes_per_second"] for u in moving if u["bytes_per_second"] is not None]
    assert rates, "no rate while uploading"
    assert rate / 4 <= statistics.median(rates) <= rate * 2, (rates, rate)
    assert {u["attempts"] for u in moving if u["bytes_done"] > 0} == {1}
    assert all(u["attempts"] <= 1 and u["finished_at"] is None for u in moving)
    assert done["status"] == "ready", done
    assert done["bytes_done"] == generated_file.size
    assert api.version(version_id)["file_info"]["sha"] == generated_file.sha256
    ready = api.ok(
        "models/list_uploads", {"workspace_id": upload_stack.workspace_id, "status": "ready"}
    )["uploads"]
    assert ready[0]["model_version_id"] == version_id, "list_uploads is not newest first"


def test_cancel_stops_the_transfer_and_keeps_nothing(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    api = upload_stack.api
    before = upload_stack.stored_files()
    fault_proxy.throttle(2 * MIB, prefix=generated_file.proxy_path)
    version_id = upload_stack.start(proxied_registry, generated_file.models_uri, "cancelled")
    api.wait_until(version_id, lambda u: u["bytes_done"] >= MIB, 30, "1 MiB in")
    assert upload_stack.stored_files() != before, "the bytes so far are not stored anywhere"

    answer = api.cancel(version_id)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == UPLOAD_KEYS
    assert answer.json()["status"] in ("uploading", "error")
    stopped = api.wait_until(version_id, ended, 5, "stopped within 5 s of the cancel")
    assert stopped["status"] == "error"
    assert f"cancelled by {upload_stack.email}" in stopped["error"]
    assert stopped["finished_at"]

    read = fault_proxy.wait_for(
        lambda s: s.path == generated_file.proxy_path and s.ended is not None,
        5,
        "end of the file's read after the cancel",
    )
    assert read.bytes_sent < generated_file.size
    settled = read.bytes_sent
    time.sleep(1)
    assert sum(s.bytes_sent for s in _file_reads(fault_proxy, generated_file)) == settled, (
        "bytes still flow after the cancel"
    )
    assert _wait_files(upload_stack, before) == before
    version = api.version(version_id)
    assert version["status"] == "error"
    assert not (upload_stack.artifacts_dir / version["file_info"]["version"]).exists()

    again = api.cancel(version_id)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == 409 and again.json()["msg"]


def test_missing_file_ends_in_error_naming_the_registry(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    api = upload_stack.api
    before = upload_stack.stored_files()
    missing = generated_file.proxy_path.rpartition("/")[0] + "/no-such-file.bin"
    path = f"models:/{generated_file.model_name}/{generated_file.version}/no-such-file.bin"
    version_id = upload_stack.start(proxied_registry, path, "ghost-weights")
    done = api.wait_ended(version_id, 30)
    assert done["status"] == "error", done
    assert f"'{REGISTRY_NAME}'" in done["error"] and "404" in done["error"], done["error"]
    assert REGISTRY_TOKEN not in done["error"]
    assert REGISTRY_TOKEN not in upload_stack.service.log_path.read_text(errors="replace")
    assert done["attempts"] == 1, "a file that does not exist was asked for again"
    assert done["finished_at"]
    reads = [s for s in fault_proxy.requests if s.path == missing]
    assert [(s.method, s.status) for s in reads] == [("GET", 404)], fault_proxy.describe()
    assert api.version(version_id)["status"] == "error"
    assert _wait_files(upload_stack, before) == before
