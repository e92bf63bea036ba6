"""Enqueueing after commit, with a broker (Celery on Redis) or in-process (embedded mode).

The one way from the leak-response services to the tasks: the services call these
functions after their commit, and only this module names :mod:`rotation.tasks` (at call
time, since the tasks call the services in turn).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from keystore.db import transaction
from rotation import steps
from rotation.incidents import stuck_incidents
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
    """Call only after the transaction that recorded the incident has committed.

    Claims the incident's step lease first: when another task already holds it (a
    duplicate report, a pending retry), nothing more is sent.
    """
    from rotation import context

    ctx = context.current()
    try:
        with transaction(ctx.sessions) as session:
            lease = steps.claim(session, incident_id, ttl=steps.lease_ttl(ctx.settings))
    except SQLAlchemyError as exc:  # the incident is stored; the sweeper takes it later
        log.warning("could not claim incident %s (%s)", incident_id, type(exc).__name__)
        return
    if lease is not None:
        _send_incident(ctx, incident_id, lease)


def sweep(ctx) -> int:
    """Claim every incident whose lease ran out (or never was taken) and send it again."""
    with transaction(ctx.sessions) as session:
        ids = stuck_incidents(
            session, older_than=timedelta(seconds=ctx.settings.sweep_after_seconds)
        )
        ttl = steps.lease_ttl(ctx.settings)
        leases = [(i, steps.claim(session, i, ttl=ttl)) for i in ids]
    claimed = [(incident_id, lease) for incident_id, lease in leases if lease is not None]
    for incident_id, lease in claimed:
        _send_incident(ctx, incident_id, lease)
    return len(claimed)


def enqueue_public_match(occurrence_ids: list[int] | None) -> None:
    """Match stored public submissions after the commit (None: every leftover, for the sweeper)."""
    from rotation import tasks

    enqueue(tasks.match_public_reports, occurrence_ids)


def _send_incident(ctx, incident_id: int, lease: str) -> None:
    from rotation import tasks

    send_step(ctx, tasks.handle_incident, incident_id, lease)


def send_step(ctx, task, incident_id: int, lease: str) -> None:
    """Send the next step of an incident under its lease; if it can't be sent, the
    incident is due at the next sweep rather than when the lease would run out."""
    if enqueue(task, incident_id, lease):
        return
    with transaction(ctx.sessions) as session:
        steps.release(session, incident_id, lease)


def defer(ctx, *, incident_id: int, lease: str) -> None:
    """A task gave up its retries: due for the sweeper one retry cap from now."""
    at = datetime.now(UTC) + timedelta(seconds=steps.retry_cap_seconds(ctx.settings))
    try:
        with transaction(ctx.sessions) as session:
            steps.release(session, incident_id, lease, at=at)
    except SQLAlchemyError:  # the lease runs out on its own
        log.warning("could not defer incident %s", incident_id)


def enqueue(task, *args) -> bool:
    """Send a task (or run it in-process in the embedded mode), after the caller's commit.

    A failure to enqueue is logged, never raised, and returns False: what the task
    works on is stored, and the sweeper or the next schedule tick picks it up once the
    broker is back.  Sending is bounded (rotation.celery_app: connect and socket
    timeouts, no publish retries), so a broker outage never holds the caller.
    """
    if not use_broker():
        _run_locally(task, *args)
        return True
    try:
        task.apply_async(args=list(args), retry=False)
    except Exception as exc:  # any broker failure: the sweeper covers it
        ENQUEUE_FAILURES.inc()
        log.warning(
            "could not enqueue %s for %s (%s); it will be retried later",
            task.name,
            args[0] if args else "-",
            type(exc).__name__,
        )
        return False
    return True


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
