"""Leak notifications on the store: one row per recipient, claimed before sending, marked after.

Recipients are each admin who takes leak emails, the client's contact and each enabled
webhook.  A claim is a lease, so two workers never send the same message and a worker
that died mid-send is replaced; :func:`finish` closes the incident once none is pending.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from keystore.models import ApiKey, Incident, Notification
from keystore.services import audit, webhooks
from keystore.services.admins import leak_recipients
from rotation.policy import ACTOR


def claim_notifications(
    session: Session, incident: Incident, *, lease: timedelta, message_host: str = "keyward"
) -> tuple[list[Notification], float]:
    """Create the rows (admins, the client's contact, each webhook) once, then claim the unsent.

    A claim lasts ``lease``: two workers handling the same incident never send the same
    message, and a worker that died mid-send is replaced once its lease runs out.  Returns
    the claimed rows and, if others hold claims, the seconds until the first one expires.
    Message-IDs are made on ``message_host`` (the host of ``KEYWARD_PUBLIC_URL``).
    """
    existing = {n.recipient for n in incident.notifications}
    for recipient, channel in recipients(session, incident):
        if recipient not in existing:
            incident.notifications.append(
                Notification(
                    recipient=recipient,
                    channel=channel,
                    state="pending",
                    attempts=0,
                    message_id=f"<incident-{incident.id}-{uuid.uuid4().hex}@{message_host}>",
                )
            )
    now = datetime.now(UTC)
    claimed, wait = [], 0.0
    for note in incident.notifications:
        if note.state == "pending" or (note.state == "sending" and note.claimed_at + lease <= now):
            note.state, note.claimed_at = "sending", now
            note.attempts += 1
            claimed.append(note)
        elif note.state == "sending":
            remaining = (note.claimed_at + lease - now).total_seconds()
            wait = remaining if not wait else min(wait, remaining)
    session.flush()
    return claimed, wait


def recipients(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """(recipient, channel) pairs of an incident's key (see :func:`recipients_of_key`)."""
    return recipients_of_key(session, session.get(ApiKey, incident.key_id))


def recipients_of_key(session: Session, key: ApiKey | None) -> list[tuple[str, str]]:
    """(recipient, channel) pairs: each admin, the client's contact, each enabled webhook.

    An admin who is also the contact gets the admin email only (it says more).  Leak
    notifications and key-age reminders go to the same people.
    """
    found = {admin.email.lower(): "admin" for admin in leak_recipients(session)}
    if key is not None and key.client.contact_email:
        found.setdefault(key.client.contact_email.lower(), "client")
    pairs = list(found.items())
    pairs += [
        (webhooks.recipient_of(hook.id), "webhook") for hook in webhooks.enabled_webhooks(session)
    ]
    return pairs


def mark_sent(notification: Notification) -> None:
    notification.state, notification.sent_at = "sent", datetime.now(UTC)


def mark_skipped(notification: Notification, why: str) -> None:
    notification.state, notification.last_error = "skipped", why[:500]


def mark_failed(notification: Notification, why: str) -> None:
    """A receiver that refused for good (retrying cannot help): recorded, not retried."""
    notification.state, notification.last_error = "failed", why[:500]


def release(notification: Notification, why: str) -> None:
    """A delivery that failed for now: pending again, for the next attempt."""
    notification.state, notification.last_error = "pending", why[:500]


def finish(session: Session, incident: Incident) -> bool:
    """Move to ``notified`` when no notification is pending; returns whether it did."""
    if incident.state == "notified":
        return False
    if any(n.state in ("pending", "sending") for n in incident.notifications):
        return False
    incident.state, incident.notified_at = "notified", datetime.now(UTC)
    audit.record(
        session,
        actor=ACTOR,
        action="incident.notified",
        object_type="incident",
        object_id=incident.id,
        summary=f"{incident.token_hint}: {incident.action}; "
        f"{len(incident.notifications)} notification(s)",
    )
    session.flush()
    return True
