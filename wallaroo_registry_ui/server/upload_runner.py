"""The per-process upload runner: claims uploads in flight from the database and runs each on
a thread of a small pool of its own (``max_uploads`` threads).

One loop thread does the runner's database work while bytes move, in short transactions:
every ``PROGRESS_SECONDS`` it writes the running transfers' progress in one transaction, which
also tells it which were cancelled or taken over (those are interrupted at once, whatever the
registry is sending); every third of the lease it renews its leases; and while a thread is
free it claims the oldest waiting upload: at once when this process records one (``wake``),
every ``CLAIM_SECONDS`` otherwise, which finds uploads recorded by other processes, leases
that expired, and those of a process of this host that is gone. No transfer holds a database
session while it moves bytes, and the runner's sessions come from an engine of its own, so
uploads never take a connection or a thread from the routes. The service runs it in a
process of its own (``upload_process``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.settings import UploadSettings
from wallaroo_registry_ui.server.upload_space import UploadSpace
from wallaroo_registry_ui.server.uploads import OpenConnector, Outcome, StopReason, Transfer

log = logging.getLogger("wallaroo_registry_ui.server.upload_runner")

PROGRESS_SECONDS = 0.5
CLAIM_SECONDS = 1.0
BUSY_COOLDOWN_SECONDS = 5.0
DATABASE_RETRY_SECONDS = 2.0
RATE_WINDOW_SECONDS = 5.0
STOP_GRACE_SECONDS = 5.0


class RateWindow:
    """Bytes per second over the last few seconds of a transfer's progress samples."""

    def __init__(self, seconds: float = RATE_WINDOW_SECONDS) -> None:
        self._seconds = seconds
        self._samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, done: int) -> float | None:
        """The rate with the sample ``done`` at ``now`` added; None before any byte."""
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._seconds:
            self._samples.popleft()
        first_at, first_done = self._samples[0]
        if done == 0 or now <= first_at:
            return None
        return (done - first_done) / (now - first_at)


class _Running:
    def __init__(self, transfer: Transfer) -> None:
        self.transfer = transfer
        self.window = RateWindow()
        self.future: Future | None = None


class UploadRunner:
    """Runs this process's share of the uploads in flight; ``start`` and ``stop`` it once."""

    def __init__(
        self,
        sessions: sessionmaker,
        artifacts: ArtifactStore,
        open_connector: OpenConnector,
        settings: UploadSettings,
        holder: jobs.LeaseHolder | None = None,
        space: UploadSpace | None = None,
    ) -> None:
        self.holder = holder or jobs.LeaseHolder.for_this_process()
        self._sessions = sessions
        self._artifacts = artifacts
        self._open_connector = open_connector
        self._settings = settings
        self._space = space
        self._running: dict[int, _Running] = {}
        self._cooling: dict[int, float] = {}
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(settings.max_uploads, thread_name_prefix="upload")
        self._loop_thread = threading.Thread(target=self._loop, name="upload-runner", daemon=True)

    @property
    def running(self) -> set[int]:
        with self._lock:
            return set(self._running)

    def start(self) -> None:
        self._loop_thread.start()

    def wake(self) -> None:
        """Look for uploads to claim now (one was just recorded)."""
        self._woken.set()

    def interrupt(self, version_id: int) -> bool:
        """Stop this process's transfer of a cancelled upload; False when it runs none."""
        with self._lock:
            running = self._running.get(version_id)
        if running is None:
            return False
        running.transfer.interrupt(StopReason.CANCELLED)
        return True

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every transfer (their bytes stay to be resumed) and give the leases back."""
        self._stopping.set()
        self._woken.set()
        if self._loop_thread.is_alive():
            self._loop_thread.join(grace)
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.transfer.interrupt(StopReason.SHUTDOWN)
        futures = [item.future for item in running if item.future is not None]
        if futures:
            wait_for(futures, timeout=grace)
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            jobs.release(self._sessions, self.holder)
        except Exception as exc:
            log.warning("could not give the upload leases back: %s", type(exc).__name__)

    # -- the loop --

    def _loop(self) -> None:
        next_progress = next_renew = next_claim = 0.0
        renew_every = self._settings.lease_seconds / 3
        while not self._stopping.is_set():
            now = time.monotonic()
            try:
                if now >= next_progress:
                    next_progress = now + PROGRESS_SECONDS
                    self._write_progress(now)
                if now >= next_renew:
                    next_renew = now + renew_every
                    self._renew()
                if self._woken.is_set() or now >= next_claim:
                    self._woken.clear()
                    next_claim = now + CLAIM_SECONDS
                    self._claim()
            except SQLAlchemyError as exc:
                log.warning(
                    "the upload runner could not reach the database (%s); trying again",
                    type(exc).__name__,
                )
                self._stopping.wait(DATABASE_RETRY_SECONDS)
                continue
            except Exception:
                log.exception("the upload runner failed; trying again")
                self._stopping.wait(DATABASE_RETRY_SECONDS)
                continue
            soonest = min(next_progress, next_renew, next_claim)
            self._woken.wait(max(0.0, soonest - time.monotonic()))

    def _write_progress(self, now: float) -> None:
        with self._lock:
            running = list(self._running.items())
        if not running:
            return
        progress = {
            version_id: jobs.Progress(
                item.transfer.bytes_done,
                item.transfer.bytes_total,
                item.window.rate(now, item.transfer.bytes_done),
            )
            for version_id, item in running
        }
        for version_id in jobs.record_progress(self._sessions, self.holder, progress):
            self._interrupt_unheld(version_id)

    def _renew(self) -> None:
        ids = self.running
        held = jobs.renew(self._sessions, self.holder, ids, self._settings.lease_seconds)
        for version_id in ids - held:
            self._interrupt_unheld(version_id)

    def _interrupt_unheld(self, version_id: int) -> None:
        with self._lock:
            item = self._running.get(version_id)
        if item is not None:
            item.transfer.interrupt(item.transfer.reason_not_held())

    def _claim(self) -> None:
        now = time.monotonic()
        with self._lock:
            free = self._settings.max_uploads - len(self._running)
            self._cooling = {vid: until for vid, until in self._cooling.items() if until > now}
            skip = set(self._running) | set(self._cooling)
        if free <= 0 or self._stopping.is_set():
            return
        for version_id, generation in jobs.claimable(self._sessions, self.holder, free, skip):
            if jobs.claim(
                self._sessions, self.holder, version_id, generation, self._settings.lease_seconds
            ):
                self._launch(version_id)

    def _launch(self, version_id: int) -> None:
        transfer = Transfer(
            version_id,
            sessions=self._sessions,
            artifacts=self._artifacts,
            open_connector=self._open_connector,
            holder=self.holder,
            settings=self._settings,
            space=self._space,
        )
        item = _Running(transfer)
        with self._lock:
            self._running[version_id] = item
        try:
            item.future = self._pool.submit(self._run, transfer)
        except RuntimeError:
            with self._lock:
                self._running.pop(version_id, None)
            jobs.release(self._sessions, self.holder, [version_id])

    def _run(self, transfer: Transfer) -> None:
        outcome = Outcome.STOPPED
        try:
            outcome = transfer.run()
        except Exception:
            log.exception("upload %d: the transfer failed", transfer.version_id)
        finally:
            with self._lock:
                self._running.pop(transfer.version_id, None)
                if outcome is Outcome.BUSY:
                    self._cooling[transfer.version_id] = time.monotonic() + BUSY_COOLDOWN_SECONDS
            if outcome is not Outcome.ENDED:
                try:
                    jobs.release(self._sessions, self.holder, [transfer.version_id])
                except Exception as exc:
                    log.warning(
                        "upload %d: could not give its lease back (%s)",
                        transfer.version_id, type(exc).__name__,
                    )  # fmt: skip
            self._woken.set()
