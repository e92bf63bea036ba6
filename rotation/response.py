"""Handling one incident end to end: act on the key, then email each recipient once.

Three short transactions, so an action is committed before any email goes out
and a slow SMTP server never holds a database lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from keystore.db import transaction
from keystore.models import ApiKey, Notification
from keystore.services import leaks, steps
from rotation.context import TaskContext
from rotation.mail import MAX_LISTED_OCCURRENCES, LeakFacts, MailError, compose, send
from rotation.metrics import RECEIPT_TO_ACTION, RECEIPT_TO_NOTIFIED

log = logging.getLogger("keyward.rotation")


@dataclass(frozen=True)
class Progress:
    done: bool
    retry_in: float = 0.0


def act_on_incident(ctx: TaskContext, incident_id: int, *, lease: str | None = None) -> str | None:
    """Revoke or regenerate once; returns the lease to send the emails under, or None.

    None: nothing remains, or another task holds the incident's lease.  Kept apart from
    the emails so that, in a burst of leaks, every key is stopped before the first slow
    SMTP conversation starts.
    """
    with transaction(ctx.sessions) as session:
        incident = leaks.lock_incident(session, incident_id)
        if incident is None or incident.state == "notified":
            return None
        held = steps.hold(incident, lease, ttl=steps.lease_ttl(ctx.settings))
        if held is None:
            return None
        first_action = incident.state == "received"
        incident.attempts += 1
        leaks.act(session, ctx.settings, incident)
        received_at, acted_at = incident.received_at, incident.acted_at
    if first_action:
        RECEIPT_TO_ACTION.observe((acted_at - received_at).total_seconds())
    return held


def notify_incident(ctx: TaskContext, incident_id: int, *, lease: str | None = None) -> Progress:
    """Email every recipient not yet emailed; idempotent (claims, then marks).

    A task whose lease was taken over stops at once: the new holder does the work.
    """
    with transaction(ctx.sessions) as session:
        incident = leaks.lock_incident(session, incident_id)
        if incident is None or incident.state == "notified":
            return Progress(done=True)
        if steps.hold(incident, lease, ttl=steps.lease_ttl(ctx.settings)) is None:
            return Progress(done=True)
        if incident.state == "received":
            leaks.act(session, ctx.settings, incident)  # never email before acting
        claimed, wait = leaks.claim_notifications(
            session, incident, lease=timedelta(seconds=ctx.settings.mail_lease_seconds)
        )
        facts = _facts(session, incident)
        work = [(n.id, n.recipient, n.message_id) for n in claimed]
    failures = [
        error
        for notification_id, recipient, message_id in work
        if (
            error := _deliver(
                ctx,
                facts,
                notification_id=notification_id,
                recipient=recipient,
                message_id=message_id,
            )
        )
    ]
    if failures:
        # Every recipient was tried; the failed ones are pending again for the retry.
        raise MailError(
            f"{len(failures)} email(s) not delivered: {failures[0]}", reason="smtp_unavailable"
        )
    return _finish(ctx, incident_id, wait=wait)


def handle_incident(ctx: TaskContext, incident_id: int) -> Progress:
    """Both steps in one go (tests and tools); the tasks run them as two tasks."""
    lease = act_on_incident(ctx, incident_id)
    if lease is None:
        return Progress(done=True)
    return notify_incident(ctx, incident_id, lease=lease)


def _deliver(
    ctx: TaskContext, facts: LeakFacts, *, notification_id: int, recipient: str, message_id: str
) -> str | None:
    """Send one email; on failure release its claim at once and return the error."""
    settings = ctx.settings
    if settings.smtp_host is None:
        _update(ctx, notification_id, lambda n: leaks.mark_skipped(n, "KEYWARD_SMTP_HOST not set"))
        log.warning(
            "mail is not configured; leak email for incident %s not sent", facts.incident_id
        )
        return None
    try:
        send(
            compose(facts, recipient=recipient, message_id=message_id, settings=settings), settings
        )
    except MailError as exc:
        error = exc.message
        _update(ctx, notification_id, lambda n: _release(n, error))
        return error
    _update(ctx, notification_id, leaks.mark_sent)
    return None


def _release(notification: Notification, error: str) -> None:
    notification.state, notification.last_error = "pending", error[:500]


def _update(ctx: TaskContext, notification_id: int, change) -> None:
    with transaction(ctx.sessions) as session:
        change(session.get(Notification, notification_id))


def _finish(ctx: TaskContext, incident_id: int, *, wait: float) -> Progress:
    with transaction(ctx.sessions) as session:
        incident = leaks.lock_incident(session, incident_id)
        if not leaks.finish(session, incident):
            return Progress(done=incident.state == "notified", retry_in=max(wait, 1.0))
        steps.close(incident)
        elapsed = (incident.notified_at - incident.received_at).total_seconds()
    RECEIPT_TO_NOTIFIED.observe(elapsed)
    return Progress(done=True)


def _facts(session, incident) -> LeakFacts:
    key = session.get(ApiKey, incident.key_id)
    listed = incident.occurrences[-MAX_LISTED_OCCURRENCES:]
    return LeakFacts(
        incident_id=incident.id,
        client_name=key.client.name if key else f"client {incident.client_id} (deleted)",
        key_name=key.name if key else "(deleted key)",
        key_hint=incident.token_hint,
        environment=key.environment.tag if key else "?",
        action=incident.action or "none",
        action_detail=incident.action_detail,
        replacement_hint=incident.replacement_hint,
        occurrences=tuple((o.origin, o.source, o.url) for o in listed),
        occurrence_count=len(incident.occurrences),
    )
