"""Celery tasks: thin, idempotent, ids as arguments, bounded retries for transient failures."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from keystore.db import transaction
from keystore.services import repositories
from keystore.services.steps import retry_cap_seconds
from rotation import context, dispatch, response, scans
from rotation.mail import MailError
from rotation.metrics import TASK_RETRIES
from scanner import ScanError

log = logging.getLogger("keyward.rotation")
TRANSIENT = (MailError, OperationalError, ConnectionError)


class LeasedTask(Task):
    """A task on an incident's step lease; retries are Celery's (``autoretry_for``).

    ``max_retries`` and ``retry_backoff_max`` come from the settings (task annotations in
    ``rotation.celery_app``).  After the last retry the lease runs out and the sweeper
    starts over: long waits live in the database, not in the broker.
    """

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        TASK_RETRIES.labels(self.name.split(".")[-1], type(exc).__name__).inc()

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Out of retries: the sweeper starts over one retry cap from now."""
        log.error(
            "incident %s: %s gave up (%s); the sweeper will try again",
            args[0] if args else "?",
            self.name,
            type(exc).__name__,
        )
        if len(args) == 2 and isinstance(args[1], str):
            dispatch.defer(context.current(), incident_id=args[0], lease=args[1])


LEASED = {
    "bind": True,
    "base": LeasedTask,
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_jitter": True,
}


@shared_task(name="keyward.handle_incident", **LEASED)
def handle_incident(self, incident_id: int, lease: str | None = None) -> bool:
    """Stop the leaked key (revoke or regenerate), once; then hand over to the emails."""
    ctx = context.current()
    held = response.act_on_incident(ctx, incident_id, lease=lease)
    if held is not None:
        dispatch.send_step(ctx, notify_incident, incident_id, held)
    return True


@shared_task(name="keyward.notify_incident", **LEASED)
def notify_incident(self, incident_id: int, lease: str | None = None) -> bool:
    """Email the admins and the client's contact about an incident, once each."""
    ctx = context.current()
    progress = response.notify_incident(ctx, incident_id, lease=lease)
    if not progress.done:
        # Another worker holds an email claim: look again when its claim ends.
        TASK_RETRIES.labels("notify_incident", "claimed_elsewhere").inc()
        raise self.retry(countdown=min(progress.retry_in, retry_cap_seconds(ctx.settings)))
    return True


@shared_task(name="keyward.sweep_incidents", acks_late=True)
def sweep_incidents() -> int:
    """Hand each open incident whose step lease ran out (or was never taken) to a new task."""
    sent = dispatch.sweep(context.current())
    if sent:
        log.info("sweeper re-enqueued %s incident(s)", sent)
    return sent


@shared_task(bind=True, name="keyward.scan_repository", acks_late=True, max_retries=3)
def scan_repository(self, repository_id: int, trigger: str = "schedule") -> int:
    """Scan one watched repository for what is new; findings of ours become incidents."""
    try:
        return scans.run_scan(context.current(), repository_id, trigger=trigger)
    except ScanError as exc:
        # A remote that is down is worth a later try; the run records the failure anyway.
        if exc.reason == "clone_failed" and self.request.retries < self.max_retries:
            TASK_RETRIES.labels("scan_repository", exc.reason).inc()
            cap = retry_cap_seconds(context.current().settings)  # never past the visibility
            raise self.retry(countdown=min(60 * 2**self.request.retries, cap), exc=exc) from None
        raise


@shared_task(name="keyward.schedule_scans", acks_late=True)
def schedule_scans() -> int:
    """Enqueue every watched repository whose scan is due (Celery beat, every minute)."""
    ctx = context.current()
    now = datetime.now(UTC)
    with transaction(ctx.sessions) as session:
        due = [
            repo_id
            for repo_id in repositories.due_repositories(session, now=now)
            if repositories.claim_due(session, repo_id, now=now)
        ]
    for repo_id in due:
        dispatch.enqueue(scan_repository, repo_id, "schedule")
    return len(due)


@shared_task(name="keyward.flush_usage", acks_late=True)
def flush_usage() -> int:
    """Move buffered usage counts into the database."""
    ctx = context.current()
    with transaction(ctx.sessions) as session:
        return ctx.usage.flush(session)
