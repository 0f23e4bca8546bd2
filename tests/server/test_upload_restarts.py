"""Uploads outlive the process that runs them: a service killed with SIGKILL finishes its
upload once restarted, of two processes on one PostgreSQL the survivor takes over the
upload of the one killed, with only one of them transferring the file at any time, and a
second process started on the data dir of a live one leaves its upload in flight alone."""

from __future__ import annotations

import itertools
import os
import re
import signal
import time

from support.fault_proxy import FaultProxy
from support.postgres_stack import new_database
from support.registry_helpers import file_sha256
from support.socket_owners import group_with_local_port
from support.upload_api import UploadApi
from support.upload_stack import LEASE_SECONDS, open_stack, start_upload_service

MIB = 1024 * 1024
RANGE = re.compile(r"bytes=(\d+)-")
TAKEOVER_SLACK_SECONDS = 3.0


def _kill(service) -> None:
    """SIGKILL to the service's whole process group: nothing gets to clean up."""
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=10)


def _assert_resumed(reads, killed_at: float) -> None:
    """The first read after the kill asks for the rest of the file, from a point no further
    than the bytes sent before it."""
    before = [s for s in reads if s.started <= killed_at]
    after = [s for s in reads if s.started > killed_at]
    assert before and after, [(s.range, s.bytes_sent) for s in reads]
    match = RANGE.fullmatch(after[0].range or "")
    assert match, f"the read after the kill asked for {after[0].range!r}, not the rest"
    assert 0 < int(match.group(1)) <= sum(s.bytes_sent for s in before)
    assert after[0].status == 206


def _assert_ready_with_its_bytes(stack, api, version_id, generated_file) -> None:
    version = api.version(version_id)
    assert version["status"] == "ready"
    assert version["file_info"]["sha"] == generated_file.sha256
    assert version["file_info"]["size"] == generated_file.size
    assert file_sha256(stack.stored_file(version)) == generated_file.sha256


def test_sigkill_mid_upload_and_a_restart_finish_it(tmp_path, upload_mlflow, generated_file):
    data_dir = tmp_path / "service"
    with FaultProxy(upload_mlflow.url) as proxy:
        service = start_upload_service(data_dir)
        try:
            stack = open_stack(service, "restarts@example.com")
            registry = stack.connect(proxy.url)
            proxy.throttle(4 * MIB, prefix=generated_file.proxy_path)
            version_id = stack.start(registry, generated_file.models_uri, "killed-weights")
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= 6 * MIB, 30, "6 MiB in")
            killed_at = time.monotonic()
            _kill(service)
        finally:
            service.stop()

        restarted = start_upload_service(data_dir)
        try:
            with UploadApi(restarted.url, stack.api.token) as api:
                done = api.wait_ended(version_id, 60)
                assert done["status"] == "ready", (done, proxy.describe())
                reads = [s for s in proxy.requests if s.path == generated_file.proxy_path]
                _assert_resumed(reads, killed_at)
                _assert_ready_with_its_bytes(stack, api, version_id, generated_file)
        finally:
            restarted.stop()


def test_two_processes_on_postgres_the_survivor_takes_over(
    tmp_path, postgres_url, upload_mlflow, generated_file
):
    database_url = new_database(postgres_url, "uploads")
    data_dir = tmp_path / "shared"
    path = generated_file.proxy_path
    with FaultProxy(upload_mlflow.url) as proxy:
        services = [start_upload_service(data_dir, database_url=database_url)]
        try:
            services.append(start_upload_service(data_dir, database_url=database_url))
            by_group = {service.process.pid: service for service in services}
            stack = open_stack(services[0], "takeover@example.com")
            registry = stack.connect(proxy.url)
            proxy.hold(prefix=path)
            proxy.throttle(4 * MIB, prefix=path)
            version_id = stack.start(registry, generated_file.models_uri, "shared-weights")

            first = proxy.wait_for(lambda s: s.path == path, 15, "read of the file")
            holder = group_with_local_port(first.client_port, by_group)
            assert holder is not None, "no service process holds the file's connection"
            survivor = next(s for pid, s in by_group.items() if pid != holder)
            proxy.release(prefix=path)
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= 6 * MIB, 30, "6 MiB in")
            killed_at = time.monotonic()
            _kill(by_group[holder])

            takeover = proxy.wait_for(
                lambda s: s.path == path and s.started > killed_at,
                LEASE_SECONDS + 30,
                "read of the file after the kill",
            )
            taken_in = takeover.started - killed_at
            assert taken_in <= LEASE_SECONDS + TAKEOVER_SLACK_SECONDS, (
                f"taken over {taken_in:.1f} s after the kill (lease {LEASE_SECONDS} s)"
            )
            with UploadApi(survivor.url, stack.api.token) as api:
                done = api.wait_ended(version_id, 60)
                assert done["status"] == "ready", (done, proxy.describe())
                _assert_ready_with_its_bytes(stack, api, version_id, generated_file)

            reads = sorted((s for s in proxy.requests if s.path == path), key=lambda s: s.started)
            for earlier, later in itertools.pairwise(reads):
                assert earlier.ended is not None and earlier.ended <= later.started, (
                    f"two transfers of the file overlapped: {proxy.describe()}"
                )
        finally:
            for service in services:
                service.stop()


def test_a_second_process_on_the_data_dir_leaves_an_upload_in_flight_alone(
    tmp_path, upload_mlflow, generated_file
):
    data_dir = tmp_path / "shared-dir"
    path = generated_file.proxy_path
    with FaultProxy(upload_mlflow.url) as proxy:
        services = [start_upload_service(data_dir)]
        try:
            stack = open_stack(services[0], "shared-dir@example.com")
            registry = stack.connect(proxy.url)
            proxy.throttle(4 * MIB, prefix=path)
            version_id = stack.start(registry, generated_file.models_uri, "shared-dir-weights")
            stack.api.wait_until(version_id, lambda u: u["bytes_done"] >= 2 * MIB, 30, "2 MiB in")
            staged = [p for p in stack.stored_files() if p.name.startswith(".incoming-")]
            assert len(staged) == 1, staged

            services.append(start_upload_service(data_dir))
            assert staged[0].exists(), "the second process removed the live upload's bytes"
            assert stack.api.upload(version_id)["status"] == "uploading"
            with UploadApi(services[1].url, stack.api.token) as api:
                done = api.wait_ended(version_id, 60)
                assert done["status"] == "ready", (done, proxy.describe())
                _assert_ready_with_its_bytes(stack, api, version_id, generated_file)
            reads = [s for s in proxy.requests if s.path == path]
            assert len(reads) == 1, f"the file was read again: {proxy.describe()}"
        finally:
            for service in services:
                service.stop()
