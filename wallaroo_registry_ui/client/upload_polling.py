"""Following an upload job until it ends: how often to ask, and whom to tell what changed.

An upload runs on the service; the client only asks where it stands. It asks often while
bytes move (so a bar moves smoothly and the end is seen soon after it happens) and less often
while nothing changes (a transfer waiting its turn, a registry being retried), so a long wait
costs the service little.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wallaroo_registry_ui.client.records import UploadProgress

POLL_START_SECONDS = 0.2
POLL_MAX_SECONDS = 2.0
POLL_GROWTH = 1.5

ProgressCallback = Callable[[UploadProgress], None]


class PollSchedule:
    """The pause before the next poll: short after a change, growing while nothing changes."""

    def __init__(
        self,
        start: float = POLL_START_SECONDS,
        ceiling: float = POLL_MAX_SECONDS,
        growth: float = POLL_GROWTH,
    ) -> None:
        self._start = start
        self._ceiling = ceiling
        self._growth = growth
        self._delay = start

    def next_delay(self, changed: bool) -> float:
        """The pause after a poll that did (or did not) show something new."""
        if changed:
            self._delay = self._start
        else:
            self._delay = min(self._ceiling, self._delay * self._growth)
        return self._delay


def _what_changes(progress: UploadProgress) -> tuple[object, ...]:
    """What a watcher is told about when it changes: the rate and times alone are not news."""
    return (
        progress.status,
        progress.bytes_done,
        progress.bytes_total,
        progress.attempts,
        progress.error,
    )


def _still_going(progress: UploadProgress, model_version_id: int, timeout: float) -> str:
    done = f"{progress.bytes_done} bytes"
    if progress.bytes_total is not None:
        done += f" of {progress.bytes_total}"
    return (
        f"the upload of model version {model_version_id} is still {progress.status} after "
        f"{timeout:g} s ({done}); it goes on in the service"
    )


def poll_until_done(
    poll: Callable[[], UploadProgress],
    model_version_id: int,
    *,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> UploadProgress:
    """Poll until the upload has ended and return how it ended, ready or error.

    ``on_progress`` hears the first answer and every one that changed something, the last
    included. After ``timeout`` seconds it raises TimeoutError naming the model version; the
    upload itself goes on.
    """
    deadline = None if timeout is None else clock() + max(0.0, timeout)
    schedule = PollSchedule()
    told: tuple[object, ...] | None = None
    while True:
        progress = poll()
        news = _what_changes(progress)
        changed = news != told
        if changed and on_progress is not None:
            on_progress(progress)
        told = news
        if progress.done:
            return progress
        delay = schedule.next_delay(changed)
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                raise TimeoutError(_still_going(progress, model_version_id, float(timeout or 0)))
            delay = min(delay, left)
        sleep(delay)
