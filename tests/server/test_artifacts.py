"""The artifact store never shows a half-written file, and cleans up after a killed service."""

from __future__ import annotations

import hashlib

import pytest

from wallaroo_registry_ui.server.artifacts import ArtifactStore, IncompleteArtifact


def test_staged_file_is_hashed_and_committed(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    chunks = [b"a" * 1000, b"", b"b" * 24]
    staged = store.stage(iter(chunks), expected_size=1024)
    assert staged.size == 1024
    assert staged.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    final = store.commit(staged, "v-1/model.pkl")
    assert final.read_bytes() == b"".join(chunks)
    assert not staged.temp_path.exists()


def test_short_or_failing_stream_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(IncompleteArtifact):
        store.stage(iter([b"x" * 10]), expected_size=11)

    def breaking():
        yield b"x" * 10
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        store.stage(breaking())
    assert list(store.root.iterdir()) == []


def test_sweep_removes_leftovers_but_keeps_recorded_versions(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    kept = store.commit(store.stage(iter([b"kept"])), "recorded/model.pkl")
    store.commit(store.stage(iter([b"orphan"])), "never-recorded/model.pkl")
    (store.root / ".incoming-dead").write_bytes(b"partial")
    assert store.sweep({"recorded"}) == 2
    assert sorted(p.name for p in store.root.iterdir()) == ["recorded"]
    assert kept.read_bytes() == b"kept"


def test_keys_cannot_escape_the_store(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(ValueError):
        store.path_of("../outside")
