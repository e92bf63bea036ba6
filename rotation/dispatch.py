"""Enqueueing after commit, with a broker (Celery on Redis) or in-process (embedded mode)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from rotation.metrics import ENQUEUE_FAILURES

log = logging.getLogger("keyward.rotation")
_local_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()
_pending: list[Future] = []
# Tests run in-process tasks in the calling thread, right after the commit, to stay deterministic.
run_inline = False


def use_broker() -> bool:
    from rotation import context

    return context.current().settings.redis_url is not None


def enqueue_incident(incident_id: int) -> None:
    """Call only after the transaction that recorded the incident has committed."""
    from rotation import tasks

    enqueue(tasks.handle_incident, incident_id)


def enqueue(task, *args) -> None:
    """Send a task (or run it in-process in the embedded mode), after the caller's commit.

    A failure to enqueue is logged, never raised: what the task works on is stored,
    and the sweeper or the next schedule tick picks it up once the broker is back.
    """
    if not use_broker():
        _run_locally(task, *args)
        return
    try:
        task.apply_async(args=list(args), retry=False)
    except Exception as exc:  # any broker failure: the sweeper covers it
        ENQUEUE_FAILURES.inc()
        log.warning(
            "could not enqueue %s%s (%s); it will be retried later",
            task.name,
            tuple(args),
            type(exc).__name__,
        )


def _run_locally(task, *args) -> None:
    from rotation.celery_app import queue_of

    if run_inline:
        _safely(task, *args)
        return
    queue = queue_of(task.name)
    with _lock:
        if queue not in _local_pools:
            # One thread per queue, like one worker per queue: a slow scan never delays a leak.
            _local_pools[queue] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"keyward-{queue}"
            )
        _pending.append(_local_pools[queue].submit(_safely, task, *args))


def _safely(task, *args) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        log.exception("in-process task %s failed; the sweeper will retry", task.name)


def drain(timeout: float = 30.0) -> None:
    """Wait for in-process tasks and for the tasks they enqueue in turn (CLI, tests, shutdown)."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            waiting, _pending[:] = list(_pending), []
        if not waiting:
            return
        for future in waiting:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
