"""The embedded mode's stand-in for Celery beat: a thread in the serving process.

Each tick folds buffered usage into the database, re-enqueues stuck incidents,
every ``KEYWARD_SCAN_SCHEDULE_SECONDS`` enqueues the watched repositories that are
due and every ``KEYWARD_KEY_REFRESH_CHECK_SECONDS`` sends the key-age reminders that
fell due (``keyward.remind_key_refresh``).  Scans then run on their own in-process
thread (see ``rotation.dispatch``), so a slow remote never delays the leak response.
:meth:`EmbeddedSchedule.stop` ends the loop between two ticks.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("keyward.web")


class EmbeddedSchedule:
    def __init__(
        self,
        *,
        interval_seconds: float,
        scan_interval_seconds: float,
        refresh_interval_seconds: float = 3600.0,
    ) -> None:
        self.interval_seconds = interval_seconds
        # Tasks (by name in rotation.tasks) that run less often than every tick.
        self.periodic = {
            "schedule_scans": scan_interval_seconds,
            "remind_key_refresh": refresh_interval_seconds,
        }
        self._stop = threading.Event()
        self._next_run = dict.fromkeys(self.periodic, 0.0)
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
        now = time.monotonic()
        for name, every in self.periodic.items():
            if now >= self._next_run[name]:
                self._next_run[name] = now + every
                due.append(getattr(tasks, name))
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
        refresh_interval_seconds=float(settings.key_refresh_check_seconds),
    ).start()
