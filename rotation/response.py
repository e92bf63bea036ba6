"""Handling one incident end to end: act on the key, then notify each recipient once.

Three short transactions, so an action is committed before any message goes out
and a slow SMTP server or webhook receiver never holds a database lock.  Every
recipient (an admin's or the client contact's email, a webhook) has its own
notifications row, claimed before sending and marked after: exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from keystore.db import transaction
from keystore.models import ApiKey, Notification, PortalUser, Webhook
from keystore.services import webhooks
from rotation import hooks, notifications, outbound, policy, steps
from rotation.context import TaskContext
from rotation.incidents import lock_incident
from rotation.mail import MailError, compose, send
from rotation.messages import MAX_LISTED_OCCURRENCES, LeakFacts, message_host
from rotation.metrics import RECEIPT_TO_ACTION, RECEIPT_TO_NOTIFIED

log = logging.getLogger("keyward.rotation")


@dataclass(frozen=True)
class Progress:
    done: bool
    retry_in: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """One claimed notification, with what sending it needs (read in the claim transaction)."""

    notification_id: int
    recipient: str
    channel: str
    message_id: str
    attempts: int = 1
    hook_kind: str | None = None
    hook_url: str | None = field(default=None, repr=False)
    hook_secret: str | None = field(default=None, repr=False)


def act_on_incident(ctx: TaskContext, incident_id: int, *, lease: str | None = None) -> str | None:
    """Revoke or regenerate once; returns the lease to notify under, or None.

    None: nothing remains, or another task holds the incident's lease.  Kept apart from
    the notifications so that, in a burst of leaks, every key is stopped before the
    first slow SMTP conversation starts.
    """
    with transaction(ctx.sessions) as session:
        incident = lock_incident(session, incident_id)
        if incident is None or incident.state == "notified":
            return None
        held = steps.hold(incident, lease, ttl=steps.lease_ttl(ctx.settings))
        if held is None:
            return None
        first_action = incident.state == "received"
        incident.attempts += 1
        policy.act(session, ctx.settings, incident)
        received_at, acted_at = incident.received_at, incident.acted_at
    if first_action:
        RECEIPT_TO_ACTION.observe((acted_at - received_at).total_seconds())
    return held


def notify_incident(ctx: TaskContext, incident_id: int, *, lease: str | None = None) -> Progress:
    """Notify every recipient not yet notified; idempotent (claims, then marks).

    A task whose lease was taken over stops at once: the new holder does the work.
    """
    with transaction(ctx.sessions) as session:
        incident = lock_incident(session, incident_id)
        if incident is None or incident.state == "notified":
            return Progress(done=True)
        if steps.hold(incident, lease, ttl=steps.lease_ttl(ctx.settings)) is None:
            return Progress(done=True)
        if incident.state == "received":
            policy.act(session, ctx.settings, incident)  # never notify before acting
        claimed, wait = notifications.claim_notifications(
            session,
            incident,
            lease=timedelta(seconds=ctx.settings.mail_lease_seconds),
            message_host=message_host(ctx.settings),
        )
        facts = _facts(session, incident)
        work = [_delivery(session, ctx, note) for note in claimed]
    failures = [error for item in work if (error := _deliver(ctx, facts, item))]
    if failures:
        # Every recipient was tried; the failed ones are pending again for the retry.
        raise MailError(
            f"{len(failures)} notification(s) not delivered: {failures[0]}",
            reason="delivery_failed",
        )
    return _finish(ctx, incident_id, wait=wait)


def _delivery(session, ctx: TaskContext, note: Notification) -> Delivery:
    base = Delivery(note.id, note.recipient, note.channel, note.message_id, note.attempts)
    if note.channel != "webhook":
        return base
    hook = session.get(Webhook, _webhook_id(note.recipient))
    if hook is None or not hook.enabled:
        return base  # deleted since: skipped when delivered
    return Delivery(
        note.id,
        note.recipient,
        note.channel,
        note.message_id,
        note.attempts,
        hook_kind=hook.kind,
        hook_url=webhooks.open_url(hook, ctx.settings),
        hook_secret=webhooks.open_secret(hook, ctx.settings),
    )


def _deliver(ctx: TaskContext, facts: LeakFacts, item: Delivery) -> str | None:
    """Send one notification; a transient failure releases its claim and returns the error."""
    if item.channel == "webhook":
        return _deliver_webhook(ctx, facts, item)
    return _deliver_email(ctx, facts, item)


def _deliver_email(ctx: TaskContext, facts: LeakFacts, item: Delivery) -> str | None:
    settings = ctx.settings
    if settings.smtp_host is None:
        _update(ctx, item, lambda n: notifications.mark_skipped(n, "KEYWARD_SMTP_HOST not set"))
        log.warning(
            "mail is not configured; leak email for incident %s not sent", facts.incident_id
        )
        return None
    message = compose(
        facts,
        recipient=item.recipient,
        audience=item.channel,
        message_id=item.message_id,
        settings=settings,
    )
    try:
        send(message, settings)
    except MailError as exc:
        error = exc.message
        _update(ctx, item, lambda n: notifications.release(n, error))
        return error
    _update(ctx, item, notifications.mark_sent)
    return None


def _deliver_webhook(ctx: TaskContext, facts: LeakFacts, item: Delivery) -> str | None:
    if item.hook_url is None:
        gone = "the webhook was removed or disabled"
        _update(ctx, item, lambda n: notifications.mark_skipped(n, gone))
        return None
    settings = ctx.settings
    body, headers = hooks.request_for(
        item.hook_kind,
        facts,
        delivery_id=item.message_id.strip("<>"),
        secret=item.hook_secret,
        settings=settings,
    )
    try:
        target = outbound.resolve(item.hook_url, settings)
        outbound.post(
            target, body=body, headers=headers, timeout=settings.notify_webhook_timeout_seconds
        )
    except outbound.WebhookError as exc:
        error = f"{exc.reason}: {exc.message}"
        log.warning("webhook delivery for incident %s failed: %s", facts.incident_id, error)
        if not exc.transient or item.attempts >= webhook_attempts(settings):
            # A receiver down for good must not keep every incident open (and the sweeper busy).
            _update(ctx, item, lambda n: notifications.mark_failed(n, error))
            return None
        _update(ctx, item, lambda n: notifications.release(n, error))
        return error
    _update(ctx, item, notifications.mark_sent)
    return None


def webhook_attempts(settings) -> int:
    """Deliveries tried per webhook before it is recorded as failed (about an hour of backoff)."""
    return max(3, settings.task_max_retries + 1)


def _webhook_id(recipient: str) -> int:
    return int(recipient.partition(":")[2])


def _update(ctx: TaskContext, item: Delivery, change) -> None:
    with transaction(ctx.sessions) as session:
        change(session.get(Notification, item.notification_id))


def _finish(ctx: TaskContext, incident_id: int, *, wait: float) -> Progress:
    with transaction(ctx.sessions) as session:
        incident = lock_incident(session, incident_id)
        if not notifications.finish(session, incident):
            return Progress(done=incident.state == "notified", retry_in=max(wait, 1.0))
        steps.close(incident)
        elapsed = (incident.notified_at - incident.received_at).total_seconds()
    RECEIPT_TO_NOTIFIED.observe(elapsed)
    return Progress(done=True)


def _facts(session, incident) -> LeakFacts:
    key = session.get(ApiKey, incident.key_id)
    client = key.client if key else None
    contact = (client.contact_email or "").lower() if client else ""
    listed = incident.occurrences[-MAX_LISTED_OCCURRENCES:]
    return LeakFacts(
        incident_id=incident.id,
        client_id=incident.client_id,
        client_name=client.name if client else f"client {incident.client_id} (deleted)",
        key_id=incident.key_id,
        key_name=key.name if key else "(deleted key)",
        key_hint=incident.token_hint,
        environment=key.environment.tag if key else "?",
        action=incident.action or "none",
        action_detail=incident.action_detail,
        replacement_hint=incident.replacement_hint,
        replacement_waiting=incident.replacement_sealed is not None,
        contact_email=contact,
        contact_has_portal=bool(contact) and _has_portal_account(session, incident, contact),
        occurrences=tuple((o.origin, o.source, o.url) for o in listed),
        occurrence_count=len(incident.occurrences),
    )


def _has_portal_account(session, incident, email: str) -> bool:
    return (
        session.scalar(
            select(PortalUser.id).where(
                PortalUser.email == email,
                PortalUser.client_id == incident.client_id,
                PortalUser.password_hash.is_not(None),
            )
        )
        is not None
    )
