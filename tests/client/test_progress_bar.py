"""The text bar: one line redrawn in place on a terminal, a line now and then into a log, the
outcome in words, and a note naming the upload when the wait stops before it ends."""

from __future__ import annotations

import io

from wallaroo_registry_ui.client.progress_bar import (
    TextProgressBar,
    byte_size,
    describe,
    duration,
)
from wallaroo_registry_ui.client.records import UploadProgress

MIB = 1 << 20


def at(done: int, status: str = "uploading", **fields: object) -> UploadProgress:
    values: dict[str, object] = {
        "model_version_id": 7,
        "status": status,
        "bytes_done": done,
        "bytes_total": 400 * MIB,
        "bytes_per_second": 20.0 * MIB if done else None,
        "attempts": 1,
        "error": None,
        "started_at": "2026-03-01T10:00:00+00:00",
        "finished_at": None if status == "uploading" else "2026-03-01T10:00:21+00:00",
    }
    values.update(fields)
    return UploadProgress(**values)  # type: ignore[arg-type]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sizes_and_durations_in_words() -> None:
    assert [byte_size(n) for n in (0, 1023, 1536, 300 * MIB, 3 << 30, 5 << 40, 1 << 52)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "300.0 MiB",
        "3.0 GiB",
        "5.0 TiB",
        "4096.0 TiB",
    ]
    assert [duration(s) for s in (0.2, 59.4, 75, 3600 + 125)] == [
        "1 s",
        "59 s",
        "1 min 15 s",
        "1 h 2 min",
    ]


def test_a_line_tells_bar_bytes_rate_time_left_and_retries() -> None:
    assert describe(at(100 * MIB)) == (
        "[######------------------]  25%  100.0 MiB of 400.0 MiB  20.0 MiB/s  15 s left"
    )
    assert describe(at(0, bytes_total=None)) == "0 B"
    assert describe(at(200 * MIB, attempts=3)).endswith("10 s left  attempt 3")


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    screen = Terminal()
    bar = TextProgressBar("big-model", screen)
    bar(at(0, bytes_total=None))
    bar(at(100 * MIB))
    bar(at(400 * MIB, "ready"))
    bar.close()
    drawn = screen.getvalue()
    assert drawn.count("\n") == 1 and drawn.endswith("\n")
    frames = drawn.rstrip("\n").split("\r")[1:]
    assert frames[0] == "big-model: 0 B"
    assert frames[1].startswith("big-model: [######")
    assert frames[2].rstrip() == "big-model: ready, 400.0 MiB in 21 s"
    # Each redraw covers what the longer line before it left on screen.
    assert len(frames[2]) >= len(frames[1])


def test_into_a_log_a_line_at_most_every_ten_seconds_and_the_end() -> None:
    log = io.StringIO()
    now = [0.0]
    bar = TextProgressBar("big-model", log, clock=lambda: now[0])
    for second, done in ((0, 0), (4, 10), (9, 20), (11, 30), (15, 40)):
        now[0] = second
        bar(at(done * MIB))
    bar(at(0, "error", error="registry 'team mlflow' answered 503 five times"))
    assert log.getvalue().splitlines() == [
        "big-model: [------------------------]   0%  0 B of 400.0 MiB",
        "big-model: [#-----------------------]   8%  30.0 MiB of 400.0 MiB  20.0 MiB/s  18 s left",
        "big-model: error: registry 'team mlflow' answered 503 five times",
    ]
    assert "\r" not in log.getvalue()


def test_a_wait_stopped_early_names_the_upload_once() -> None:
    log = io.StringIO()
    bar = TextProgressBar("big-model", log)
    bar.close()
    assert log.getvalue() == ""
    bar(at(5 * MIB))
    bar.close()
    bar.close()
    assert log.getvalue().splitlines()[-1] == (
        "big-model: still uploading in the service; "
        "wait_for_upload(7) follows it, cancel_upload(7) stops it"
    )
    assert log.getvalue().count("still uploading") == 1
