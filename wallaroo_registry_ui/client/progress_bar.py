"""A text progress bar for an upload followed from a terminal or a plain script.

On a terminal the bar redraws one line in place; into a log or a pipe it writes a line now
and then, so a long upload leaves a readable trail instead of a wall of redraws. Inside a
Jupyter kernel there is no bar: the notebook panel shows uploads there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from wallaroo_registry_ui.client.records import READY, UploadProgress

BAR_WIDTH = 24
LOG_EVERY_SECONDS = 10.0
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def in_jupyter_kernel() -> bool:
    """This process is a Jupyter kernel (where the panel, not a text bar, shows progress)."""
    return "ipykernel" in sys.modules


def byte_size(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(count)
    power = 0
    while abs(value) >= 1024 and power < len(_UNITS) - 1:
        value /= 1024
        power += 1
    return f"{int(value)} B" if power == 0 else f"{value:.1f} {_UNITS[power]}"


def duration(seconds: float) -> str:
    """``75`` -> ``1 min 15 s``; under a minute in whole seconds, at least ``1 s``."""
    whole = max(1, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def describe(progress: UploadProgress) -> str:
    """One line of where an upload stands: bar, percent, bytes, rate, time left, attempts."""
    parts = []
    fraction = progress.fraction
    if fraction is not None:
        filled = int(fraction * BAR_WIDTH)
        parts.append(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}%")
    done = byte_size(progress.bytes_done)
    total = progress.bytes_total
    parts.append(done if total is None else f"{done} of {byte_size(total)}")
    if progress.bytes_per_second:
        parts.append(f"{byte_size(progress.bytes_per_second)}/s")
    left = progress.seconds_left
    if left is not None and not progress.done:
        parts.append(f"{duration(left)} left")
    if progress.attempts > 1:
        parts.append(f"attempt {progress.attempts}")
    return "  ".join(parts)


def outcome(progress: UploadProgress) -> str:
    """How an upload ended, in words."""
    if progress.status == READY:
        elapsed = progress.elapsed_seconds
        took = "" if elapsed is None else f" in {duration(elapsed)}"
        return f"ready, {byte_size(progress.bytes_done)}{took}"
    return f"{progress.status}: {progress.error or 'the service gives no reason'}"


class TextProgressBar:
    """An ``on_progress`` callback that draws on a text stream (standard error by default)."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._in_place = bool(getattr(self._stream, "isatty", lambda: False)())
        self._drawn = 0
        self._last_logged: float | None = None
        self._last: UploadProgress | None = None
        self._ended = False

    def __call__(self, progress: UploadProgress) -> None:
        self._last = progress
        if progress.done:
            self._finish(f"{self._label}: {outcome(progress)}")
            return
        line = f"{self._label}: {describe(progress)}"
        if self._in_place:
            self._stream.write("\r" + line.ljust(self._drawn))
            self._drawn = len(line)
        else:
            now = self._clock()
            if self._last_logged is not None and now - self._last_logged < LOG_EVERY_SECONDS:
                return
            self._last_logged = now
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line; an upload left running is named, so it can be followed again."""
        if self._ended or self._last is None:
            return
        which = self._last.model_version_id
        self._finish(
            f"{self._label}: still uploading in the service; "
            f"wait_for_upload({which}) follows it, cancel_upload({which}) stops it"
        )

    def _finish(self, line: str) -> None:
        if self._ended:
            return
        self._ended = True
        if self._in_place:
            self._stream.write("\r" + line.ljust(self._drawn) + "\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def terminal_progress_bar(label: str) -> TextProgressBar | None:
    """A bar on standard error for a terminal or a script; None inside a Jupyter kernel."""
    return None if in_jupyter_kernel() else TextProgressBar(label)
