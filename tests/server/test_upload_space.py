"""Uploads are checked against ``--max-upload-size`` and the artifact store's free space before
any byte is stored, and a disk that fills up is said in words.

The artifact store (and, for the database test, the whole data dir) is a small tmpfs mounted
for the test: a size the registry lists is refused with 507 and both numbers, nothing
recorded; a size only the download announces ends the upload ``error`` in the same words,
nothing kept; a disk filled mid-transfer ends it ``error`` "out of space"; SQLite on a full
disk answers 507, not 500; and each time the service works again once space is back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.fault_proxy import FaultProxy
from support.generated_files import PROXY, GeneratedFile, register_generated_file
from support.upload_stack import UploadStack, open_stack, start_upload_service

from wallaroo_registry_ui.demo.registry_service import RegistryService

MIB = 1 << 20
STORE_SIZE = 16 * MIB
MAX_UPLOAD = "20MiB"
WAIT_SECONDS = 60


def _mount_tmpfs(where: Path, size: int) -> None:
    """A tmpfs of ``size`` bytes at ``where``, or a skip saying why this machine cannot."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a full disk needs root; this run is not root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")


def _unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@contextlib.contextmanager
def small_disk(where: Path, size: int) -> Iterator[Path]:
    _mount_tmpfs(where, size)
    try:
        yield where
    finally:
        _unmount(where)


def fill(disk: Path, leave: int = 0) -> Path:
    """A file taking all of ``disk``'s free space but ``leave`` bytes."""
    filler = disk / f"filler-{uuid.uuid4().hex[:8]}"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb", buffering=0) as out:
        left = max(0, free - leave)
        try:
            while left > 0:
                left -= out.write(b"\0" * min(MIB, left))
            while leave == 0:
                out.write(b"\0" * 4096)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def store_files(disk: Path) -> set[str]:
    return {p.name for p in disk.rglob("*") if p.is_file() and not p.name.startswith("filler")}


@dataclass
class Store:
    disk: Path
    service: RegistryService
    stack: UploadStack


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A service whose artifact store is a 16 MiB tmpfs, taking files up to 20 MiB."""
    root = tmp_path_factory.mktemp("upload-space")
    with small_disk(root / "artifacts", STORE_SIZE) as disk:
        env = {
            "WALLAROO_REGISTRY_ARTIFACTS_DIR": str(disk),
            "WALLAROO_REGISTRY_MAX_UPLOAD_SIZE": MAX_UPLOAD,
        }
        service = start_upload_service(root / "data", env=env)
        try:
            yield Store(disk, service, open_stack(service, "space@example.com"))
        finally:
            service.stop()


@pytest.fixture(scope="module")
def eight_mib(upload_mlflow) -> GeneratedFile:
    return register_generated_file(upload_mlflow.url, 8 * MIB)


def _proxy_uri(file: GeneratedFile) -> str:
    """The file named by its artifact-proxy URI: no model version in it, so its size is
    known only once its download starts."""
    return "mlflow-artifacts:/" + file.proxy_path.removeprefix(f"{PROXY}/")


def _nothing_recorded(stack: UploadStack) -> None:
    uploads = stack.api.ok("models/list_uploads", {"workspace_id": stack.workspace_id})
    assert uploads["uploads"] == []


def test_a_listed_size_over_the_maximum_is_a_507_and_nothing_is_recorded(
    store, upload_mlflow, generated_file
):
    registry = store.stack.connect(upload_mlflow.url, "direct mlflow")
    body = {
        "registry_id": registry,
        "name": "too-big",
        "path": generated_file.models_uri,
        "visibility": "private",
        "workspace_id": store.stack.workspace_id,
        "conversion": {"framework": "custom", "requirements": []},
    }
    answer = store.stack.api.post("models/upload_from_registry", body)
    assert answer.status_code == 507, answer.text
    assert answer.json() == {
        "msg": "path: the file is 24.0 MiB; the service accepts at most 20.0 MiB "
        "(serve --max-upload-size)",
        "code": 507,
    }
    _nothing_recorded(store.stack)
    assert store_files(store.disk) == set()


def test_a_listed_size_over_the_free_space_is_a_507(store, upload_mlflow, eight_mib):
    registry = store.stack.connect(upload_mlflow.url, "direct mlflow")
    filler = fill(store.disk, leave=4 * MIB)
    try:
        answer = store.stack.api.post(
            "models/upload_from_registry",
            {
                "registry_id": registry,
                "name": "no-room",
                "path": eight_mib.models_uri,
                "visibility": "private",
                "workspace_id": store.stack.workspace_id,
                "conversion": {"framework": "custom", "requirements": []},
            },
        )
        assert answer.status_code == 507, answer.text
        message = answer.json()["msg"]
        assert message.startswith("path: the file is 8.0 MiB; there is ")
        assert message.endswith(" MiB free in the artifact store")
        _nothing_recorded(store.stack)
    finally:
        filler.unlink()
    version_id = store.stack.start(registry, eight_mib.models_uri, "room-again")
    assert store.stack.api.wait_ended(version_id, WAIT_SECONDS)["status"] == "ready"


def test_a_size_announced_by_the_download_ends_the_upload_in_error(
    store, upload_mlflow, generated_file
):
    registry = store.stack.connect(upload_mlflow.url, "direct mlflow")
    version_id = store.stack.start(registry, _proxy_uri(generated_file), "too-big-later")
    upload = store.stack.api.wait_ended(version_id, WAIT_SECONDS)
    assert upload["status"] == "error"
    assert upload["error"] == (
        "registry 'direct mlflow': the file is 24.0 MiB; the service accepts at most 20.0 MiB "
        "(serve --max-upload-size)"
    )
    assert upload["bytes_done"] == 0
    assert not any(name.startswith(".incoming-") for name in store_files(store.disk))


def test_a_disk_filled_mid_transfer_ends_the_upload_out_of_space(store, upload_mlflow, eight_mib):
    with FaultProxy(upload_mlflow.url) as proxy:
        registry = store.stack.connect(proxy.url, "slow mlflow")
        proxy.throttle(2 * MIB, prefix=eight_mib.proxy_path)
        version_id = store.stack.start(registry, eight_mib.models_uri, "filled-up")
        store.stack.api.wait_until(
            version_id, lambda u: u["bytes_done"] >= MIB, WAIT_SECONDS, "started"
        )
        filler = fill(store.disk)
        try:
            upload = store.stack.api.wait_ended(version_id, WAIT_SECONDS)
            assert upload["status"] == "error"
            assert upload["error"] == (
                "storing the file from registry 'slow mlflow' failed: "
                "the artifact store is out of space"
            )
            assert not any(name.startswith(".incoming-") for name in store_files(store.disk))
        finally:
            filler.unlink()
        proxy.reset()
        again = store.stack.start(registry, eight_mib.models_uri, "filled-up")
        assert store.stack.api.wait_ended(again, WAIT_SECONDS)["status"] == "ready"


def test_sqlite_on_a_full_disk_answers_507_and_recovers(tmp_path):
    with small_disk(tmp_path / "data", 32 * MIB) as disk:
        service = start_upload_service(disk)
        try:
            stack = open_stack(service, "full@example.com")
            filler = fill(disk)
            try:
                answers = []
                for n in range(300):
                    answer = stack.api.post("workspaces/create", {"workspace_name": f"w{n}"})
                    answers.append(answer.status_code)
                    if answer.status_code != 200:
                        break
                assert answer.status_code == 507, (answers, answer.text)
                assert answer.json() == {
                    "msg": "the service's disk is full: nothing was written; try again later",
                    "code": 507,
                }
                assert 500 not in answers
            finally:
                filler.unlink()
            again = stack.api.post("workspaces/create", {"workspace_name": "after"})
            assert again.status_code == 200, again.text
        finally:
            service.stop()
