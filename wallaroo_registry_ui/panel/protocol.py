"""The custom messages between the panel's view and the kernel.

State the view shows travels as synced traits; actions travel as one-off requests
``{"id", "type", ...args}`` that the kernel answers with ``{"type": "reply", "id", "ok",
"result" | "error"}``, so the view can match each answer to the control that asked. The
connect-registry request is the only way a registry token reaches the kernel: it is never
stored in a trait and never part of an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUEST_TYPES = frozenset(
    {
        "connect_registry",
        "attach_registry",
        "detach_registry",
        "load_more",
        "preview",
        "upload",
        "cancel_upload",
        "refresh",
    }
)
MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class ViewRequest:
    """One action asked for by the view."""

    id: str
    type: str
    args: dict[str, Any]

    @classmethod
    def parse(cls, content: Any) -> ViewRequest:
        """Check the shape of a message from the view; ValueError names what is wrong."""
        if not isinstance(content, dict):
            raise ValueError("a request must be a JSON object")
        request_id = content.get("id")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID_LENGTH:
            raise ValueError("a request needs a string id")
        kind = content.get("type")
        if kind not in REQUEST_TYPES:
            raise ValueError(f"unknown request type {kind!r}")
        args = {k: v for k, v in content.items() if k not in ("id", "type")}
        return cls(request_id, kind, args)

    def text(self, key: str, default: str = "") -> str:
        """A string argument (anything else counts as missing)."""
        value = self.args.get(key, default)
        return value if isinstance(value, str) else default

    def integer(self, key: str) -> int:
        """A whole-number argument (a number, or a string of digits); ValueError otherwise."""
        value = self.args.get(key)
        if isinstance(value, str) and value.isdecimal():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be a whole number")
        return value


def reply(request_id: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A successful answer."""
    return {"type": "reply", "id": request_id, "ok": True, "result": result or {}}


def failure(request_id: str, message: str) -> dict[str, Any]:
    """A failed answer; ``message`` must already be free of secrets."""
    return {"type": "reply", "id": request_id, "ok": False, "error": message}
