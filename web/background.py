"""The embedded mode's stand-in for Celery beat: a thread in the serving process.

Each tick folds buffered usage into the database, re-enqueues stuck incidents and,
every ``KEYWARD_SCAN_SCHEDULE_SECONDS``, enqueues the watched repositories that are
due.  Scans then run on their own in-process thread (see ``rotation.dispatch``), so a
slow remote never delays the leak response.  :meth:`EmbeddedSchedule.stop` ends the
loop between two ticks.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("keyward.web")


class EmbeddedSchedule:
    def __init__(self, *, interval_seconds: float, scan_interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self.scan_interval_seconds = scan_interval_seconds
        self._stop = threading.Event()
        self._next_scan_check = 0.0
        self._thread = threading.Thread(target=self._loop, daemon=True, name="keyward-schedule")

    def start(self) -> EmbeddedSchedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the loop to end and wait for the tick in progress; True once it has ended."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def tick(self) -> None:
        """One round of the schedule; a failing task is logged and the others still run."""
        from rotation import tasks

        due = [tasks.flush_usage, tasks.sweep_incidents]
        if time.monotonic() >= self._next_scan_check:
            self._next_scan_check = time.monotonic() + self.scan_interval_seconds
            due.append(tasks.schedule_scans)
        for task in due:
            if self._stop.is_set():
                return
            try:
                task.apply(throw=True)
            except Exception:
                log.exception("embedded schedule: %s failed", task.name)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.tick()


def start_embedded_schedule(settings) -> EmbeddedSchedule:
    """Start the schedule thread for the embedded mode's settings."""
    return EmbeddedSchedule(
        interval_seconds=min(10.0, settings.sweep_interval_seconds),
        scan_interval_seconds=float(settings.scan_schedule_seconds),
    ).start()
