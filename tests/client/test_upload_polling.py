"""Following an upload with a fake clock: the pauses between polls, what the watcher hears,
and the deadline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wallaroo_registry_ui.client.records import UploadProgress
from wallaroo_registry_ui.client.upload_polling import PollSchedule, poll_until_done


def at(done: int, status: str = "uploading", attempts: int = 1) -> UploadProgress:
    return UploadProgress(7, status, done, 100, None, attempts, None, None, None)


class FakeTime:
    """A clock that moves only when the poller sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(round(seconds, 4))
        self.now += seconds


def answers(*progress: UploadProgress) -> Callable[[], UploadProgress]:
    """Each poll takes the next answer; the last one repeats."""
    queue = list(progress)

    def poll() -> UploadProgress:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return poll


def test_the_pause_grows_to_two_seconds_and_starts_over_on_a_change() -> None:
    schedule = PollSchedule()
    quiet = [round(schedule.next_delay(changed=False), 4) for _ in range(8)]
    assert quiet == [0.3, 0.45, 0.675, 1.0125, 1.5188, 2.0, 2.0, 2.0]
    assert schedule.next_delay(changed=True) == 0.2
    assert schedule.next_delay(changed=False) == pytest.approx(0.3)


def test_the_watcher_hears_the_first_answer_each_change_and_the_end() -> None:
    fake = FakeTime()
    heard: list[UploadProgress] = []
    ended = poll_until_done(
        answers(at(0), at(0), at(0), at(50), at(50, attempts=2), at(100, "ready")),
        7,
        on_progress=heard.append,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert ended == at(100, "ready")
    assert heard == [at(0), at(50), at(50, attempts=2), at(100, "ready")]
    assert fake.pauses == [0.2, 0.3, 0.45, 0.2, 0.2]


def test_an_upload_that_ends_in_error_is_returned_not_raised() -> None:
    fake = FakeTime()
    ended = poll_until_done(answers(at(10), at(0, "error")), 7, sleep=fake.sleep, clock=fake.clock)
    assert ended.status == "error"


def test_the_deadline_gets_one_last_poll_then_raises() -> None:
    fake = FakeTime()
    polls: list[float] = []

    def poll() -> UploadProgress:
        polls.append(fake.now)
        return at(40)

    with pytest.raises(TimeoutError) as caught:
        poll_until_done(poll, 7, timeout=1.0, sleep=fake.sleep, clock=fake.clock)
    assert polls == pytest.approx([0.0, 0.2, 0.5, 0.95, 1.0])
    assert fake.now == pytest.approx(1.0)
    assert str(caught.value) == (
        "the upload of model version 7 is still uploading after 1 s (40 bytes of 100); "
        "it goes on in the service"
    )


def test_a_zero_timeout_polls_once() -> None:
    fake = FakeTime()
    with pytest.raises(TimeoutError, match="model version 7"):
        poll_until_done(answers(at(0)), 7, timeout=0, sleep=fake.sleep, clock=fake.clock)
    assert fake.pauses == []
    assert poll_until_done(answers(at(100, "ready")), 7, timeout=0).status == "ready"
