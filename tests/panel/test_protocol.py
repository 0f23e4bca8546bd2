"""The view's request and reply messages: what a request must carry and the two reply shapes."""

from __future__ import annotations

import pytest

from wallaroo_registry_ui.panel.protocol import ViewRequest, failure, reply


def test_protocol_shapes() -> None:
    request = ViewRequest.parse({"id": "1", "type": "preview", "path": "MLmodel"})
    assert (request.type, request.text("path"), request.text("missing")) == (
        "preview",
        "MLmodel",
        "",
    )
    for bad in (None, {"type": "preview"}, {"id": "1", "type": "rm -rf"}, {"id": 3, "type": "x"}):
        with pytest.raises(ValueError):
            ViewRequest.parse(bad)
    assert reply("1", {"a": 1}) == {"type": "reply", "id": "1", "ok": True, "result": {"a": 1}}
    assert failure("1", "no") == {"type": "reply", "id": "1", "ok": False, "error": "no"}


def test_whole_number_arguments() -> None:
    request = ViewRequest.parse(
        {"id": "1", "type": "cancel_upload", "model_version_id": 12, "text": "7", "no": True}
    )
    assert request.integer("model_version_id") == 12
    assert request.integer("text") == 7
    for bad in ("no", "missing"):
        with pytest.raises(ValueError, match=bad):
            request.integer(bad)
    with pytest.raises(ValueError):
        ViewRequest.parse({"id": "1", "type": "cancel_upload", "x": "1.5"}).integer("x")
