"""The artifact store: staging files that outlive a process and resume, hashed whole, locked to
one writer, committed only when complete, and swept without touching uploads in flight."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest

from wallaroo_registry_ui.server.artifacts import ArtifactStore, KnownVersions, StagingBusy

MIB = 1 << 20


def test_staging_file_is_hashed_and_committed(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    reused = bytearray(b"c" * 500)
    chunks = [b"a" * 1000, b"", bytearray(b"b" * 24), memoryview(reused)[:300]]
    with store.open_staging("v-1") as staging:
        for chunk in chunks:
            staging.write(chunk)
        reused[:] = b"d" * 500
        assert staging.size == 1324
        sha256 = staging.finish()
        final = store.commit(staging, "v-1/model.pkl")
    expected = b"a" * 1000 + b"b" * 24 + b"c" * 300
    assert sha256 == hashlib.sha256(expected).hexdigest()
    assert final.read_bytes() == expected
    assert not store.staging_path("v-1").exists()


def test_a_reopened_staging_file_resumes_and_is_hashed_whole(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    first, rest = os.urandom(3 * MIB + 17), os.urandom(2 * MIB + 5)
    with store.open_staging("v-2") as staging:
        staging.write(first)
    with store.open_staging("v-2") as staging:
        assert staging.size == len(first)
        staging.write(rest)
        assert staging.finish() == hashlib.sha256(first + rest).hexdigest()


def test_restart_drops_the_bytes_kept(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    with store.open_staging("v-3") as staging:
        staging.write(os.urandom(MIB))
    with store.open_staging("v-3") as staging:
        staging.restart()
        assert staging.size == 0
        staging.write(b"whole file again")
        assert staging.finish() == hashlib.sha256(b"whole file again").hexdigest()
    assert store.staging_path("v-3").read_bytes() == b"whole file again"


def test_one_writer_at_a_time(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    staging = store.open_staging("v-4")
    staging.write(b"mine")
    with pytest.raises(StagingBusy):
        store.open_staging("v-4")
    assert store.remove_idle_staging("v-4") is False
    assert store.staging_path("v-4").exists()
    staging.close()
    assert store.remove_idle_staging("v-4") is True
    assert not store.staging_path("v-4").exists()


def test_a_writer_that_removes_its_file_leaves_the_name_free(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    staging = store.open_staging("v-5")
    staging.write(b"cancelled")
    staging.remove()
    with store.open_staging("v-5") as again:
        assert again.size == 0


def test_sweep_keeps_uploads_in_flight_and_recorded_versions(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    for name in ("recorded", "never-recorded"):
        with store.open_staging(name) as staging:
            staging.write(name.encode())
            staging.finish()
            store.commit(staging, f"{name}/model.pkl")
    for name in ("in-flight", "failed", "held"):
        with store.open_staging(name) as staging:
            staging.write(b"partial")
    (store.root / ".incoming-0123456789abcdef0123456789abcdef").write_bytes(b"old release")
    held = store.open_staging("held")
    known = KnownVersions(
        versions={"recorded", "in-flight", "failed", "held"}, uploading={"in-flight"}
    )
    try:
        assert store.sweep(lambda: known) == 3
    finally:
        held.close()
    assert sorted(p.name for p in store.root.iterdir()) == [
        ".incoming-held",
        ".incoming-in-flight",
        "recorded",
    ]
    assert (store.root / "recorded" / "model.pkl").read_bytes() == b"recorded"
    assert store.staging_path("in-flight").read_bytes() == b"partial"


def test_sweep_reads_the_database_after_listing(tmp_path):
    """A version recorded and stored while the sweep runs is not mistaken for a leftover."""
    store = ArtifactStore(tmp_path / "artifacts")

    def known() -> KnownVersions:
        with store.open_staging("late") as staging:
            staging.write(b"new")
            staging.finish()
            store.commit(staging, "late/model.pkl")
        return KnownVersions(versions={"late"}, uploading=set())

    assert store.sweep(known) == 0
    assert (store.root / "late" / "model.pkl").read_bytes() == b"new"


def test_memory_stays_flat_in_the_file_size(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    chunk = os.urandom(MIB)
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with store.open_staging("v-big") as staging:
            for _ in range(64):
                staging.write(chunk)
                digest.update(chunk)
            sha256 = staging.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sha256 == digest.hexdigest()
    assert peak < 12 * MIB, f"{peak / MIB:.1f} MiB held while storing 64 MiB"


def test_keys_cannot_escape_the_store(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(ValueError):
        store.path_of("../outside")
    with pytest.raises(ValueError):
        store.staging_path("../../outside")
