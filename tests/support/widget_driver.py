"""Drive a RegistryBrowser the way a front-end does, and record what it sends back.

``ViewDriver`` feeds the widget the comm messages a browser would send (``update`` for a trait
the user changed, ``custom`` for an action) through ipywidgets' own ``_handle_msg``, and wraps
``_send`` so every message to the front-end (state updates, echoes, replies) is captured.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from wallaroo_registry_ui import RegistryBrowser

_ids = itertools.count(1)


@dataclass
class ViewDriver:
    widget: RegistryBrowser
    sent: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        def capture(msg: dict[str, Any], buffers: Any = None) -> None:
            self.sent.append(json.loads(json.dumps(msg, default=str)))

        self.widget._send = capture

    def set(self, **state: Any) -> None:
        """The user changed traits in the view (a select, a row click, the search box)."""
        data = {"method": "update", "state": state, "buffer_paths": []}
        self.widget._handle_msg({"content": {"data": data}, "buffers": []})

    def request(self, kind: str, **args: Any) -> dict[str, Any]:
        """The user pressed a button: send the request, wait, and return the reply to it."""
        request_id = f"req-{next(_ids)}"
        content = {"id": request_id, "type": kind, **args}
        data = {"method": "custom", "content": content}
        self.widget._handle_msg({"content": {"data": data}, "buffers": []})
        self.widget.wait_until_idle(300)
        replies = [r for r in self.replies() if r["id"] == request_id]
        assert len(replies) == 1, f"expected one reply to {request_id}, got {replies}"
        return replies[0]

    def replies(self) -> list[dict[str, Any]]:
        return [
            m["content"]
            for m in self.sent
            if m.get("method") == "custom" and m["content"].get("type") == "reply"
        ]

    def wait(self) -> None:
        self.widget.wait_until_idle(300)

    def sent_text(self) -> str:
        return json.dumps(self.sent)
