"""Celery tasks: thin, idempotent, ids as arguments, bounded retries for transient failures."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from keystore.db import transaction
from keystore.errors import NotFoundError
from rotation import context, dispatch, intake, key_refresh, response, scans
from rotation.mail import MailError
from rotation.metrics import TASK_RETRIES
from rotation.steps import retry_cap_seconds

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
    """Hand each open incident whose step lease ran out (or was never taken) to a new task;
    match public submissions whose matching task was lost."""
    ctx = context.current()
    sent = dispatch.sweep(ctx)
    if sent:
        log.info("sweeper re-enqueued %s incident(s)", sent)
    with transaction(ctx.sessions) as session:
        older_than = timedelta(seconds=ctx.settings.sweep_after_seconds)
        unmatched = intake.unmatched_public(session, older_than=older_than)
    if unmatched:
        dispatch.enqueue_public_match(None)
    return sent


@shared_task(name="keyward.match_public_reports", acks_late=True)
def match_public_reports(occurrence_ids: list[int] | None) -> int:
    """Match publicly reported tokens (stored before the answer); ours become incidents."""
    return intake.finish_public(context.current(), occurrence_ids)


# Acknowledged on receipt: a scan may outlast the broker's visibility timeout, and a lost
# one is simply due again on the next schedule (its run is ended by the stale-run sweep).
@shared_task(name="keyward.scan_repository", acks_late=False)
def scan_repository(repository_id: int, trigger: str = "schedule") -> int | None:
    """Scan one watched repository for what is new; findings of ours become incidents.

    A failed run is recorded with its reason and tried again on the next schedule, not
    retried here: a remote that stalls must not hold the scan queue twice.
    """
    try:
        return scans.run_scan(context.current(), repository_id, trigger=trigger)
    except NotFoundError:
        log.info("repository %s was deleted before its scan started", repository_id)
        return None


@shared_task(name="keyward.schedule_scans", acks_late=True)
def schedule_scans() -> int:
    """End lost runs; enqueue every watched repository whose scan is due (Celery beat)."""
    due = scans.claim_due_scans(context.current())
    for repo_id in due:
        dispatch.enqueue(scan_repository, repo_id, "schedule")
    return len(due)


# No Celery retries: the task runs on a schedule, and each round retries what the last left
# pending (at most webhook_attempts tries per reminder), so a lost run costs one interval.
@shared_task(name="keyward.remind_key_refresh", acks_late=True)
def remind_key_refresh() -> int:
    """Remind contacts, admins and webhooks of keys nearing their maximum age, once per clock."""
    return key_refresh.remind(context.current())


@shared_task(name="keyward.flush_usage", acks_late=True)
def flush_usage() -> int:
    """Move buffered usage counts into the database."""
    ctx = context.current()
    with transaction(ctx.sessions) as session:
        return ctx.usage.flush(session)
