"""Key-age reminders: N days before a key reaches its maximum age, tell its client's contact,
the admins and every webhook — once per key and clock.

A scheduled round (``keyward.remind_key_refresh``: Celery beat, or ``keyward serve``'s
schedule thread) does three short steps, so no SMTP conversation or webhook POST ever
holds a database lock:

1. **record** one ``key_age_reminders`` row per recipient for every current token that
   entered its reminder window (``KEYWARD_KEY_REFRESH_REMIND_DAYS`` before it expires by
   age).  The row is unique per token and recipient: the durable claim that makes the
   reminder once per clock however many schedulers run, and a regeneration (a new token)
   starts a new clock;
2. **claim** the unsent rows for ``KEYWARD_MAIL_LEASE_SECONDS`` (a worker that died
   mid-send is replaced once its claim runs out, as for leak notifications);
3. **deliver** each, then mark it sent, or pending again for the next round after a
   transient failure, or failed after ``webhook_attempts`` tries or a final refusal.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keystore import key_age
from keystore.db import transaction
from keystore.models import ApiKey, Client, Environment, KeyAgeReminder, KeyToken, Webhook
from keystore.services import webhooks
from rotation import outbound, refresh_notes
from rotation.context import TaskContext
from rotation.mail import MailError, send
from rotation.messages import message_host
from rotation.notifications import (
    mark_failed,
    mark_sent,
    mark_skipped,
    recipients_of_key,
    release,
)
from rotation.refresh_notes import DueKey
from rotation.response import webhook_attempts

log = logging.getLogger("keyward.rotation")


@dataclass(frozen=True)
class Reminder:
    """One claimed reminder with what sending it needs (read in the claim transaction)."""

    reminder_id: int
    recipient: str
    channel: str
    message_id: str
    attempts: int
    due: DueKey
    hook_kind: str | None = None
    hook_url: str | None = field(default=None, repr=False)
    hook_secret: str | None = field(default=None, repr=False)


def remind(ctx: TaskContext, *, now: datetime | None = None) -> int:
    """One round: record what fell due, claim what is unsent, deliver it.  Returns how many
    reminders were delivered or settled this round."""
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as session:
        recorded = record_due(session, ctx.settings, now=now)
    if recorded:
        log.info("key refresh: %s reminder(s) recorded", recorded)
    with transaction(ctx.sessions) as session:
        work = claim(session, ctx.settings, now=now)
    for item in work:
        _deliver(ctx, item)
    return len(work)


def record_due(session: Session, settings, *, now: datetime) -> int:
    """Add the reminder rows of every current token inside its window; returns how many."""
    ahead = timedelta(days=settings.key_refresh_remind_days)
    added = 0
    for token_id, key_id, issued_at, days in _unreminded_tokens(session):
        expires_at = key_age.expiry(issued_at, days)
        if expires_at - ahead <= now < expires_at:
            added += _add_rows(session, settings, token_id, key_id, expires_at)
    return added


def _unreminded_tokens(session: Session):
    days = key_age.max_age_column(
        role_id=Client.role_id, environment_days=Environment.max_key_age_days
    )
    return session.execute(
        select(KeyToken.id, KeyToken.key_id, KeyToken.created_at, days)
        .join(ApiKey, KeyToken.key_id == ApiKey.id)
        .join(Client, ApiKey.client_id == Client.id)
        .join(Environment, ApiKey.environment_id == Environment.id)
        .where(
            KeyToken.valid_until.is_(None),
            ApiKey.state != "revoked",
            days.is_not(None),
            ~exists().where(KeyAgeReminder.token_id == KeyToken.id),
        )
    ).all()


def _add_rows(session: Session, settings, token_id: int, key_id: int, expires_at) -> int:
    key = session.get(ApiKey, key_id)
    rows = [
        KeyAgeReminder(
            key_id=key_id,
            token_id=token_id,
            recipient=recipient,
            channel=channel,
            state="pending",
            attempts=0,
            expires_at=expires_at,
            message_id=f"<key-age-{token_id}-{uuid.uuid4().hex}@{message_host(settings)}>",
        )
        for recipient, channel in recipients_of_key(session, key)
    ]
    try:
        # A concurrent round recorded this clock first: its rows stand, these go.
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        return 0
    return len(rows)


def claim(session: Session, settings, *, now: datetime) -> list[Reminder]:
    """Claim the unsent reminders (pending, or claimed by a worker whose lease ran out)."""
    lease = timedelta(seconds=settings.mail_lease_seconds)
    rows = session.scalars(
        select(KeyAgeReminder)
        .where(
            or_(
                KeyAgeReminder.state == "pending",
                (KeyAgeReminder.state == "sending") & (KeyAgeReminder.claimed_at <= now - lease),
            )
        )
        .order_by(KeyAgeReminder.id)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        due = _still_due(session, row)
        if due is None:
            mark_skipped(row, "the key was regenerated, revoked or lost its maximum age since")
            continue
        row.state, row.claimed_at, row.attempts = "sending", now, row.attempts + 1
        claimed.append(_reminder(session, settings, row, due))
    session.flush()
    return claimed


def _still_due(session: Session, row: KeyAgeReminder) -> DueKey | None:
    """The key's facts if this reminder's clock is still the key's and still runs out."""
    key = session.get(ApiKey, row.key_id)
    token = session.get(KeyToken, row.token_id)
    if key is None or token is None or key.state == "revoked" or token.valid_until is not None:
        return None
    age = key_age.of_key(key)
    if age.expires_at is None:
        return None
    return DueKey(
        key_id=key.id,
        key_name=key.name,
        key_hint=token.hint,
        environment=key.environment.tag,
        client_id=key.client_id,
        client_name=key.client.name,
        max_age_days=age.max_age_days,
        expires_at=age.expires_at,
    )


def _reminder(session: Session, settings, row: KeyAgeReminder, due: DueKey) -> Reminder:
    base = {
        "reminder_id": row.id,
        "recipient": row.recipient,
        "channel": row.channel,
        "message_id": row.message_id,
        "attempts": row.attempts,
        "due": due,
    }
    if row.channel != "webhook":
        return Reminder(**base)
    hook = session.get(Webhook, int(row.recipient.partition(":")[2]))
    if hook is None or not hook.enabled:
        return Reminder(**base)  # removed since: skipped when delivered
    return Reminder(
        **base,
        hook_kind=hook.kind,
        hook_url=webhooks.open_url(hook, settings),
        hook_secret=webhooks.open_secret(hook, settings),
    )


def _deliver(ctx: TaskContext, item: Reminder) -> None:
    """Send one reminder and record the outcome; a transient failure leaves it for the next
    round, the last allowed attempt or a final refusal records it as failed."""
    try:
        skipped = _post(ctx, item) if item.channel == "webhook" else _mail(ctx, item)
    except (MailError, outbound.WebhookError) as exc:
        error = f"{exc.reason}: {exc.message}"
        transient = getattr(exc, "transient", True)
        final = not transient or item.attempts >= webhook_attempts(ctx.settings)
        log.warning("key refresh reminder %s not delivered: %s", item.reminder_id, error)
        _update(ctx, item, lambda r: (mark_failed if final else release)(r, error))
        return
    _update(ctx, item, (lambda r: mark_skipped(r, skipped)) if skipped else mark_sent)


def _mail(ctx: TaskContext, item: Reminder) -> str | None:
    """Send the email; or say why it was skipped."""
    settings = ctx.settings
    if settings.smtp_host is None:
        return "KEYWARD_SMTP_HOST not set"
    message = refresh_notes.email(
        item.due,
        recipient=item.recipient,
        audience=item.channel,
        message_id=item.message_id,
        settings=settings,
    )
    send(message, settings)
    return None


def _post(ctx: TaskContext, item: Reminder) -> str | None:
    """POST to the webhook; or say why it was skipped."""
    if item.hook_url is None:
        return "the webhook was removed or disabled"
    settings = ctx.settings
    body, headers = refresh_notes.webhook_request(
        item.due,
        kind=item.hook_kind,
        delivery_id=item.message_id.strip("<>"),
        secret=item.hook_secret,
        settings=settings,
    )
    target = outbound.resolve(item.hook_url, settings)
    outbound.post(
        target, body=body, headers=headers, timeout=settings.notify_webhook_timeout_seconds
    )
    return None


def _update(ctx: TaskContext, item: Reminder, change) -> None:
    with transaction(ctx.sessions) as session:
        change(session.get(KeyAgeReminder, item.reminder_id))
