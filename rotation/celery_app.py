"""The Celery application: Redis broker, late acks, bounded retries, the beat schedule."""

from __future__ import annotations

from celery import Celery

from keystore.config import Settings

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
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.task_visibility_seconds},
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
        },
        timezone="UTC",
    )
    return app
