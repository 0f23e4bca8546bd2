"""Display rows for the view: sizes, stages, previewable files and the artifact tree."""

from __future__ import annotations

import json

from support.artifact_listing import artifact_listing

from wallaroo_registry_ui.panel import rows as view_rows


def test_display_rows() -> None:
    assert view_rows.human_size(None) == ""
    assert view_rows.human_size(512) == "512 B"
    assert view_rows.human_size(40 * 1024 * 1024) == "40.0 MiB"
    assert view_rows.is_previewable("MLmodel", 100)
    assert not view_rows.is_previewable("requirements.txt", 10**7)
    assert not view_rows.is_previewable("model.pkl", 10)
    assert view_rows.stage_text("None, Production") == "Production"
    assert view_rows.stage_text("None") == ""
    tree = view_rows.artifact_tree(artifact_listing(("b/c/d.txt", 3), ("a.txt", 1)))
    assert [(r["path"], r["depth"], r["is_dir"]) for r in tree] == [
        ("a.txt", 0, False),
        ("b", 0, True),
        ("b/c", 1, True),
        ("b/c/d.txt", 2, False),
    ]
    json.dumps(tree)
