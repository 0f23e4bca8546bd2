"""Uploads do not slow the other calls: listing a registry's models during two large
transfers takes about as long as without them.

The machine is shared, so its load drifts over seconds; the quiet and busy phases therefore
alternate (quiet, busy, quiet, busy, quiet) and each side's median is taken over all its
phases, so a drift cannot pass for a slowdown or hide one.
"""

from __future__ import annotations

import statistics
import time

MIB = 1024 * 1024
ROUNDS = 2
CALLS_PER_PHASE = 15
WARM_UP_CALLS = 5
SLOWDOWN_ALLOWED = 1.5


def _listing_seconds(api, registry_id: str, calls: int) -> list[float]:
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        api.ok("models/list_registry_models", {"registry_id": registry_id})
        durations.append(time.perf_counter() - started)
    return durations


def _busy_phase(upload_stack, registry_id, generated_file, listed_registry, phase) -> list[float]:
    """Listing durations while two throttled uploads run; both are cancelled afterwards."""
    api = upload_stack.api
    uploads = [
        upload_stack.start(registry_id, generated_file.models_uri, f"busy-{phase}-{index}")
        for index in range(2)
    ]
    for version_id in uploads:
        api.wait_until(version_id, lambda u: u["bytes_done"] > 0, 30, "moving")
    durations = _listing_seconds(api, listed_registry, CALLS_PER_PHASE)
    for version_id in uploads:
        upload = api.upload(version_id)
        assert upload["status"] == "uploading", f"an upload ended before the listing: {upload}"
        assert upload["bytes_done"] < generated_file.size
    for version_id in uploads:
        api.cancel(version_id)
    for version_id in uploads:
        api.wait_ended(version_id, 15)
    return durations


def test_listing_keeps_its_speed_during_two_uploads(
    upload_stack, fault_proxy, proxied_registry, generated_file, upload_mlflow
):
    api = upload_stack.api
    direct = upload_stack.connect(upload_mlflow.url, name="direct mlflow")
    fault_proxy.throttle(3 * MIB, prefix=generated_file.proxy_path)
    _listing_seconds(api, direct, WARM_UP_CALLS)
    quiet = _listing_seconds(api, direct, CALLS_PER_PHASE)
    busy: list[float] = []
    for phase in range(ROUNDS):
        busy += _busy_phase(upload_stack, proxied_registry, generated_file, direct, phase)
        quiet += _listing_seconds(api, direct, CALLS_PER_PHASE)

    quiet_median, busy_median = statistics.median(quiet), statistics.median(busy)
    assert busy_median <= SLOWDOWN_ALLOWED * quiet_median, (
        f"median listing {busy_median * 1000:.1f} ms during two uploads, "
        f"{quiet_median * 1000:.1f} ms without"
    )
