"""The embedded mode's stand-in for Celery beat: a daemon thread in the serving process."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("keyward.web")


def start_embedded_schedule(interval_seconds: float) -> threading.Thread:
    """Every interval: fold buffered usage into the database, re-enqueue stuck incidents."""
    from rotation import tasks

    def loop(stop: threading.Event) -> None:
        while not stop.wait(interval_seconds):
            for task in (tasks.flush_usage, tasks.sweep_incidents):
                try:
                    task.apply(throw=True)
                except Exception:
                    log.exception("embedded schedule: %s failed", task.name)

    thread = threading.Thread(
        target=loop, args=(threading.Event(),), daemon=True, name="keyward-schedule"
    )
    thread.start()
    return thread
