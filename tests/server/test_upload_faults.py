"""Faults during an upload, injected by the proxy in front of the real MLflow server: a cut
mid-body is resumed with a Range request, and 503 then 429 with Retry-After are waited out."""

from __future__ import annotations

import re

from support.registry_helpers import file_sha256
from support.upload_stack import REGISTRY_TOKEN

MIB = 1024 * 1024
RANGE = re.compile(r"bytes=(\d+)-")


def _file_reads(proxy, generated_file):
    return [seen for seen in proxy.requests if seen.path == generated_file.proxy_path]


def _assert_stored_whole(upload_stack, version_id, generated_file):
    version = upload_stack.api.version(version_id)
    assert version["status"] == "ready"
    assert version["file_info"]["sha"] == generated_file.sha256
    assert version["file_info"]["size"] == generated_file.size
    assert file_sha256(upload_stack.stored_file(version)) == generated_file.sha256


def test_a_cut_mid_body_is_resumed_from_the_bytes_stored(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    cut_at = 12 * MIB + 12345
    fault_proxy.cut_after(cut_at, prefix=generated_file.proxy_path)
    version_id = upload_stack.start(proxied_registry, generated_file.models_uri, "cut-weights")
    done = upload_stack.api.wait_ended(version_id, 90)
    assert done["status"] == "ready", (done, fault_proxy.describe())
    assert done["attempts"] > 1
    assert done["bytes_done"] == generated_file.size

    first, *later = _file_reads(fault_proxy, generated_file)
    assert (first.range, first.fault, first.bytes_sent) == (None, "cut", cut_at)
    resumed = [seen for seen in later if seen.range is not None]
    assert resumed, f"no Range request after the cut: {fault_proxy.describe()}"
    match = RANGE.fullmatch(resumed[0].range)
    assert match, resumed[0].range
    offset = int(match.group(1))
    assert 0 < offset <= cut_at
    assert resumed[0].status == 206
    assert resumed[0].bytes_sent == generated_file.size - offset
    sent = sum(seen.bytes_sent for seen in [first, *later])
    assert sent < generated_file.size + cut_at, "the file was fetched again from its start"
    _assert_stored_whole(upload_stack, version_id, generated_file)


def test_503_then_429_with_retry_after_are_retried(
    upload_stack, fault_proxy, proxied_registry, generated_file
):
    fault_proxy.fail_first(503, prefix=generated_file.proxy_path)
    fault_proxy.fail_first(429, retry_after=2, prefix=generated_file.proxy_path)
    version_id = upload_stack.start(proxied_registry, generated_file.models_uri, "busy-weights")
    done = upload_stack.api.wait_ended(version_id, 60)
    assert done["status"] == "ready", (done, fault_proxy.describe())

    reads = _file_reads(fault_proxy, generated_file)
    assert [seen.status for seen in reads] == [503, 429, 200], fault_proxy.describe()
    waited = reads[2].started - reads[1].ended
    assert waited >= 1.9, f"asked again {waited:.2f} s after a 429 with Retry-After: 2"
    assert reads[2].bytes_sent == generated_file.size
    _assert_stored_whole(upload_stack, version_id, generated_file)
    assert REGISTRY_TOKEN not in upload_stack.service.log_path.read_text(errors="replace")
