"""The Celery application: Redis broker, late acks, bounded retries, the beat schedule."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from celery import Celery

from keystore.config import Settings
from rotation.steps import retry_cap_seconds

# Tasks that work on an incident under its step lease (rotation.steps).
LEASED_TASKS = ("keyward.handle_incident", "keyward.notify_incident")

# Leak response first: it has the default queue and its own worker.  Scans fetch from
# servers Keyward does not control, so they have their own queue and worker, and a
# stalled fetch never holds a process that should be revoking a leaked key.
LEAKS_QUEUE, SCANS_QUEUE = "leaks", "scans"
TASK_QUEUES = {"keyward.scan_repository": SCANS_QUEUE}


def queue_of(task_name: str) -> str:
    """The queue a task is sent to (and, in the embedded mode, the thread it runs on)."""
    return TASK_QUEUES.get(task_name, LEAKS_QUEUE)


def make_celery(settings: Settings) -> Celery:
    """Configure Celery from the one settings object (embedded mode: never sends to a broker)."""
    app = Celery("keyward", broker=settings.redis_url or "memory://", include=["rotation.tasks"])
    app.conf.update(
        task_acks_late=True,
        # A worker killed mid-task gets the message back on the queue.
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=LEAKS_QUEUE,
        task_routes={name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        task_annotations=_retry_annotations(settings),
        **_broker_options(settings),
        beat_schedule={
            "sweep-incidents": {
                "task": "keyward.sweep_incidents",
                "schedule": float(settings.sweep_interval_seconds),
            },
            "flush-usage": {"task": "keyward.flush_usage", "schedule": 10.0},
            "schedule-scans": {
                "task": "keyward.schedule_scans",
                "schedule": float(settings.scan_schedule_seconds),
            },
            "remind-key-refresh": {
                "task": "keyward.remind_key_refresh",
                "schedule": float(settings.key_refresh_check_seconds),
            },
        },
        timezone="UTC",
    )
    return app


def _retry_annotations(settings: Settings) -> dict:
    """Celery's own retries, bounded: countdowns stay far below the visibility timeout.

    In-process (embedded) tasks don't retry in place: an eager retry would run again at
    once, so a failure leaves the incident to its lease and the embedded sweeper.
    """
    retries = 0 if settings.embedded else settings.task_max_retries
    options = {"max_retries": retries, "retry_backoff_max": retry_cap_seconds(settings)}
    return {name: dict(options) for name in LEASED_TASKS}


def _broker_options(settings: Settings) -> dict:
    """Every broker wait is bounded; a worker outlives any outage; publishing never retries.

    What could not be sent is in the database (the incident and its lease); the sweeper
    sends it once the broker is back.
    """
    timeout = settings.broker_timeout_seconds
    options = {
        "broker_connection_timeout": timeout,
        "broker_connection_retry": True,
        "broker_connection_retry_on_startup": True,
        # Never give up reconnecting: a worker that exits after an outage stops the leak response.
        "broker_connection_max_retries": None,
        # A running task finishes and records what it did; its late ack may be lost with the
        # connection, and the redelivery then finds the step done.  Cancelling it mid-SMTP
        # could send an email twice.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_publish_retry": False,
        "broker_transport_options": {
            "visibility_timeout": settings.task_visibility_seconds,
            "socket_connect_timeout": timeout,
            # Above the 1 s BRPOP the worker polls with.
            "socket_timeout": timeout + 1,
            # kombu's connect-on-publish retries (2 s apart) would hold the webhook.
            "max_retries": 0,
        },
    }
    if settings.redis_url:
        options["broker_transport"] = "rotation.broker:Transport"
        if urlsplit(settings.redis_url).scheme == "rediss":
            # Naming the transport class bypasses kombu's rediss:// detection.
            options["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options
