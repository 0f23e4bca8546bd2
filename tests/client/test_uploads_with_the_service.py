"""The client's upload calls against the real service and a real MLflow server behind the fault
proxy: waiting with progress until the stored file hashes right, a cancel seen by the waiter,
and a missing file ending the wait in UploadFailed naming the registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from support.fault_proxy import FaultProxy
from support.generated_files import GeneratedFile
from support.upload_stack import UploadStack

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.errors import Conflict, UploadFailed
from wallaroo_registry_ui.client.records import UploadProgress

MIB = 1 << 20
WAIT_SECONDS = 120.0


@pytest.fixture
def client(upload_stack: UploadStack) -> Iterator[RegistryClient]:
    with RegistryClient(upload_stack.service.url, upload_stack.api.token) as registry_client:
        yield registry_client


def start(
    client: RegistryClient,
    stack: UploadStack,
    registry_id: str,
    path: str,
    name: str,
    *,
    wait: bool,
    on_progress: Callable[[UploadProgress], None] | None = None,
) -> int:
    """An upload of ``path`` into the stack's workspace through the client."""
    version_id = client.upload_from_registry(
        registry_id,
        name=name,
        path=path,
        workspace_id=stack.workspace_id,
        framework="custom",
        wait=wait,
        on_progress=on_progress,
    )
    stack.started.append(version_id)
    return version_id


def test_waiting_hears_the_bytes_arrive_and_ends_with_the_right_sha(
    client: RegistryClient,
    upload_stack: UploadStack,
    proxied_registry: str,
    fault_proxy: FaultProxy,
    generated_file: GeneratedFile,
) -> None:
    fault_proxy.throttle(8 * MIB, prefix=generated_file.proxy_path)
    heard: list[UploadProgress] = []
    started = time.monotonic()
    version_id = start(
        client,
        upload_stack,
        proxied_registry,
        generated_file.models_uri,
        "client-waits",
        wait=True,
        on_progress=heard.append,
    )
    took = time.monotonic() - started
    # 24 MiB at 8 MiB/s: about 3 s; the wait ends soon after the service is done.
    assert took >= 2.5
    assert heard[-1].status == "ready" and heard[-1].model_version_id == version_id
    in_flight = [p for p in heard if p.status == "uploading"]
    assert len(in_flight) >= 3, heard
    done = [p.bytes_done for p in heard]
    assert done == sorted(done), done
    assert any(0 < p.bytes_done < generated_file.size for p in in_flight), heard
    assert {p.bytes_total for p in in_flight if p.bytes_done} == {generated_file.size}
    stored = client.get_model_version(version_id)
    assert (stored.status, stored.sha, stored.size) == (
        "ready",
        generated_file.sha256,
        generated_file.size,
    )
    ended = client.get_upload(version_id)
    assert ended.done and ended.fraction == 1.0 and ended.elapsed_seconds is not None
    assert ended.elapsed_seconds <= took + 0.5


def test_a_cancel_ends_the_wait_of_another_caller(
    client: RegistryClient,
    upload_stack: UploadStack,
    proxied_registry: str,
    fault_proxy: FaultProxy,
    generated_file: GeneratedFile,
) -> None:
    fault_proxy.throttle(1 * MIB, prefix=generated_file.proxy_path)
    version_id = start(
        client,
        upload_stack,
        proxied_registry,
        generated_file.models_uri,
        "client-cancels",
        wait=False,
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while client.get_upload(version_id).bytes_done == 0:
        assert time.monotonic() < deadline, "no byte arrived"
        time.sleep(0.1)
    in_flight = client.list_uploads(upload_stack.workspace_id, status="uploading")
    assert version_id in [u.model_version_id for u in in_flight]
    frame = client.uploads_frame(upload_stack.workspace_id)
    assert version_id in frame["model_version_id"].tolist()

    cancelled = client.cancel_upload(version_id)
    assert cancelled.status == "error"
    assert cancelled.error is not None and f"cancelled by {upload_stack.email}" in cancelled.error
    with pytest.raises(UploadFailed) as caught:
        client.wait_for_upload(version_id, timeout=WAIT_SECONDS, on_progress=lambda _: None)
    assert caught.value.progress is not None and caught.value.progress.status == "error"
    assert f"cancelled by {upload_stack.email}" in str(caught.value)
    with pytest.raises(Conflict):
        client.cancel_upload(version_id)
    frame = client.uploads_frame(upload_stack.workspace_id)
    assert version_id not in frame["model_version_id"].tolist()


def test_a_missing_file_ends_the_wait_in_upload_failed(
    client: RegistryClient,
    upload_stack: UploadStack,
    proxied_registry: str,
    generated_file: GeneratedFile,
) -> None:
    missing = f"models:/{generated_file.model_name}/{generated_file.version}/no-such-file.bin"
    with pytest.raises(UploadFailed) as caught:
        start(
            client,
            upload_stack,
            proxied_registry,
            missing,
            "client-missing",
            wait=True,
            on_progress=lambda _: None,
        )
    failed = caught.value
    assert failed.progress is not None and failed.progress.status == "error"
    assert "proxied mlflow" in failed.message
    assert upload_stack.api.token not in str(failed)
    assert client.get_model_version(failed.progress.model_version_id).status == "error"
