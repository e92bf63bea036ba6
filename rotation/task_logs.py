"""The Celery processes' logs: JSON lines like the web app's, each naming its task.

Connecting ``setup_logging`` makes Celery leave logging to us (no handler of its own on
the root logger), for workers and beat alike; the task signals bind the task's id (and
name) to every line logged while it runs, Celery's own "succeeded"/"raised" lines too.
"""

from __future__ import annotations

import logging
import os
import sys

from celery import signals
from celery.apps import worker as celery_worker

from keystore.config import Settings
from keystore.structured_logs import bind, configure, make_formatter, unbind

_bound: dict[str, object] = {}


def install(settings: Settings) -> None:
    # At once too: what Celery warns about before it sets up logging is a record as well.
    configure(settings.log_level, settings.log_format)

    def setup_logging(loglevel=None, **_):
        configure(loglevel or settings.log_level, settings.log_format)

    signals.setup_logging.connect(setup_logging, weak=False)
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_postrun.connect(_task_ended, weak=False)
    celery_worker.safe_say = _say_as_record(make_formatter(settings.log_format))


def _task_started(task_id=None, task=None, **_) -> None:
    _bound[task_id] = bind(task_id=task_id, task=getattr(task, "name", None))


def _task_ended(task_id=None, **_) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        unbind(token)


def _say_as_record(formatter: logging.Formatter):
    """Celery's signal handlers write a few lines ("worker: Warm shutdown") straight to a
    stream with os.write, never through logging (a signal handler must not take its locks):
    the same write, of a formatted record."""

    def say(message, stream=sys.__stderr__) -> None:
        record = logging.LogRecord(
            "celery.apps.worker", logging.WARNING, __file__, 0, str(message), None, None
        )
        os.write(stream.fileno(), (formatter.format(record) + "\n").encode())

    return say
