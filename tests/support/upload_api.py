"""The upload calls as raw HTTP, and bounded waits on an upload's state.

The upload tests check the wire (``models/get_upload``, ``models/cancel_upload``,
``models/get_version``) rather than the client, so a client bug cannot hide a service bug.
Every wait has a deadline and fails saying what it waited for and what it saw last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

__all__ = ["UploadApi", "ended", "upload_body"]

CALL_TIMEOUT = 30.0
POLL_SECONDS = 0.1


def ended(upload: dict) -> bool:
    """Whether an upload has left ``uploading``."""
    return upload["status"] != "uploading"


def upload_body(registry_id: str, workspace_id: int, path: str, name: str) -> dict:
    """An ``upload_from_registry`` body for a custom-framework file."""
    return {
        "registry_id": registry_id,
        "name": name,
        "path": path,
        "visibility": "private",
        "workspace_id": workspace_id,
        "conversion": {"framework": "custom", "requirements": []},
    }


@dataclass
class UploadApi:
    """One user's calls to one service at ``url``."""

    url: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, call: str, body: object) -> requests.Response:
        """``POST /v1/api/<call>`` with the user's token."""
        return self.session.post(
            f"{self.url}/v1/api/{call}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=CALL_TIMEOUT,
        )

    def ok(self, call: str, body: object) -> dict:
        """The JSON answer of a call that must succeed."""
        response = self.post(call, body)
        assert response.status_code == 200, f"{call}: HTTP {response.status_code} {response.text}"
        return response.json()

    def connect_registry(self, name: str, url: str, token: str, workspace_id: int) -> str:
        """A new MLflow registry at ``url``, attached to ``workspace_id``: its id."""
        body = {"name": name, "url": url, "token": token, "workspace_id": workspace_id}
        return self.ok("models/create_registry", {**body, "kind": "mlflow"})["id"]

    def start(self, registry_id: str, workspace_id: int, path: str, name: str) -> int:
        """Ask for an upload; the new model version's id."""
        answer = self.ok(
            "models/upload_from_registry", upload_body(registry_id, workspace_id, path, name)
        )
        assert set(answer) == {"model_id"}, answer
        return answer["model_id"]

    def upload(self, version_id: int) -> dict:
        """``models/get_upload``."""
        return self.ok("models/get_upload", {"model_version_id": version_id})

    def cancel(self, version_id: int) -> requests.Response:
        """``models/cancel_upload``, whatever it answers."""
        return self.post("models/cancel_upload", {"model_version_id": version_id})

    def version(self, version_id: int) -> dict:
        """``models/get_version``'s ``model_version`` object."""
        return self.ok("models/get_version", {"model_version_id": version_id})["model_version"]

    def wait_until(
        self,
        version_id: int,
        condition: Callable[[dict], bool],
        timeout: float,
        what: str,
        *,
        seen: list[dict] | None = None,
    ) -> dict:
        """The first ``get_upload`` answer that meets ``condition``, polled every 0.1 s;
        each answer is appended to ``seen`` when given."""
        deadline = time.monotonic() + timeout
        while True:
            upload = self.upload(version_id)
            if seen is not None:
                seen.append(upload)
            if condition(upload):
                return upload
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"upload {version_id} was not {what} within {timeout:g} s; last: {upload}"
                )
            time.sleep(POLL_SECONDS)

    def wait_ended(self, version_id: int, timeout: float) -> dict:
        """The upload once it is ``ready`` or ``error``."""
        return self.wait_until(version_id, ended, timeout, "ended")

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> UploadApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
