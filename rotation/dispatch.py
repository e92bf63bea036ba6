"""Enqueueing after commit, with a broker (Celery on Redis) or in-process (embedded mode)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from rotation.metrics import ENQUEUE_FAILURES

log = logging.getLogger("keyward.rotation")
_local_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_pending: list[Future] = []
# Tests run in-process tasks in the calling thread, right after the commit, to stay deterministic.
run_inline = False


def use_broker() -> bool:
    from rotation import context

    return context.current().settings.redis_url is not None


def enqueue_incident(incident_id: int) -> None:
    """Call only after the transaction that recorded the incident has committed.

    A failure to enqueue is logged, never raised: the incident is stored and the
    sweeper re-enqueues it once the broker is back.
    """
    from rotation import tasks

    if not use_broker():
        _run_locally(tasks.handle_incident, incident_id)
        return
    try:
        tasks.handle_incident.apply_async(args=[incident_id], retry=False)
    except Exception as exc:  # any broker failure: the sweeper covers it
        ENQUEUE_FAILURES.inc()
        log.warning(
            "could not enqueue incident %s (%s); the sweeper will", incident_id, type(exc).__name__
        )


def _run_locally(task, *args) -> None:
    global _local_pool
    if run_inline:
        _safely(task, *args)
        return
    with _lock:
        if _local_pool is None:
            # One thread: in-process tasks run one at a time, like a single worker.
            _local_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyward-task")
        _pending.append(_local_pool.submit(_safely, task, *args))


def _safely(task, *args) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        log.exception("in-process task %s failed; the sweeper will retry", task.name)


def drain(timeout: float = 30.0) -> None:
    """Wait for in-process tasks (tests and shutdown)."""
    with _lock:
        waiting, _pending[:] = list(_pending), []
    for future in waiting:
        future.result(timeout=timeout)
