"""Celery tasks: thin, idempotent, ids as arguments, bounded retries for transient failures."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy.exc import OperationalError

from keystore.db import transaction
from keystore.errors import NotFoundError
from keystore.services.incidents import stuck_incidents
from rotation import context, dispatch, intake, response, scans
from rotation.mail import MailError
from rotation.metrics import TASK_RETRIES

log = logging.getLogger("keyward.rotation")
TRANSIENT = (MailError, OperationalError, ConnectionError)


@shared_task(bind=True, name="keyward.handle_incident", acks_late=True, max_retries=12)
def handle_incident(self, incident_id: int) -> bool:
    """Stop the leaked key (revoke or regenerate), once; then hand over to the emails."""
    ctx = context.current()
    try:
        pending = response.act_on_incident(ctx, incident_id)
    except TRANSIENT as exc:
        _retry_or_give_up(self, ctx, incident_id, exc)
    if pending:
        dispatch.enqueue(notify_incident, incident_id)
    return True


@shared_task(bind=True, name="keyward.notify_incident", acks_late=True, max_retries=12)
def notify_incident(self, incident_id: int) -> bool:
    """Email the admins and the client's contact about an incident, once each."""
    ctx = context.current()
    try:
        progress = response.notify_incident(ctx, incident_id)
    except TRANSIENT as exc:
        _retry_or_give_up(self, ctx, incident_id, exc)
    if not progress.done:
        # Another worker holds an email claim: look again when its lease ends.
        TASK_RETRIES.labels("notify_incident", "claimed_elsewhere").inc()
        raise self.retry(countdown=progress.retry_in)
    return True


def _retry_or_give_up(task, ctx, incident_id: int, exc: Exception):
    """Back off 5 s, 10 s, ... up to 10 min; after the last retry the sweeper takes over."""
    if task.request.retries >= min(ctx.settings.task_max_retries, task.max_retries):
        log.error(
            "incident %s: %s gave up after %s retries; the sweeper will try again",
            incident_id,
            task.name,
            task.request.retries,
        )
        raise exc
    TASK_RETRIES.labels(task.name.split(".")[-1], type(exc).__name__).inc()
    raise task.retry(countdown=min(600, 2**task.request.retries * 5), exc=exc) from None


@shared_task(name="keyward.sweep_incidents", acks_late=True)
def sweep_incidents() -> int:
    """Re-enqueue incidents left unfinished (a broker outage, a worker that gave up)."""
    ctx = context.current()
    older_than = timedelta(seconds=ctx.settings.sweep_after_seconds)
    with transaction(ctx.sessions) as session:
        ids = stuck_incidents(session, older_than=older_than)
        unmatched = intake.unmatched_public(session, older_than=older_than)
    for incident_id in ids:
        dispatch.enqueue_incident(incident_id)
    if ids:
        log.info("sweeper re-enqueued %s incident(s)", len(ids))
    if unmatched:  # public submissions whose matching task was lost
        dispatch.enqueue(match_public_reports, None)
    return len(ids)


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


@shared_task(name="keyward.flush_usage", acks_late=True)
def flush_usage() -> int:
    """Move buffered usage counts into the database."""
    ctx = context.current()
    with transaction(ctx.sessions) as session:
        return ctx.usage.flush(session)
