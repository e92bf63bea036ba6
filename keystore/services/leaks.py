"""The leak response on the store: choose the action, apply it once, track the emails.

Every function is idempotent: it looks at the incident's state first, so a
redelivered task or a second report changes nothing that was already done.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import sealing
from keystore.config import Settings
from keystore.models import ApiKey, Incident, KeyToken, Notification
from keystore.privileges import LEAK_RESPONSE
from keystore.services import audit, keys, webhooks
from keystore.services.admins import leak_recipients

ACTOR = "leak-response"


def lock_incident(session: Session, incident_id: int) -> Incident | None:
    """The incident, locked against a concurrent handler (PostgreSQL; SQLite serialises writes)."""
    return session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).one_or_none()


def choose_action(key: ApiKey) -> str:
    """The client's role overrides the environment's default."""
    role = key.client.role
    if role is not None and role.leak_action:
        return role.leak_action
    return key.environment.leak_action


def act(session: Session, settings: Settings, incident: Incident) -> None:
    """Revoke, regenerate or only note the leak — once; moves the incident to ``acted``."""
    if incident.state != "received":
        return
    now = datetime.now(UTC)
    key = session.get(ApiKey, incident.key_id)
    token_row = session.get(KeyToken, incident.token_id)
    incident.owner_found_at = incident.owner_found_at or now
    if key is None or token_row is None:
        incident.action, incident.action_detail = "none", "the key was deleted before the leak"
    else:
        _apply(session, settings, incident, key, token_row, choose_action(key))
    incident.state, incident.acted_at = "acted", now
    session.flush()


def _apply(session, settings, incident, key, token_row, action: str) -> None:
    still_works = key.state != "revoked" and (
        token_row.valid_until is None or token_row.valid_until > datetime.now(UTC)
    )
    reason = f"leaked (incident {incident.id})"
    if action == "notify_only":
        incident.action = "notify_only"
        incident.action_detail = "policy is notify only: the key was left working"
    elif not still_works:
        incident.action = "none"
        incident.action_detail = "the token had already stopped working"
    elif action == "revoke":
        # A leaked token stops working even if it is the last admin's.
        keys.revoke_key(session, actor=ACTOR, key_id=key.id, reason=reason, caller=LEAK_RESPONSE)
        incident.action, incident.action_detail = "revoke", "the key was revoked"
    elif token_row.valid_until is not None:
        # A token in its grace period after a regeneration: end the grace, keep the new one.
        token_row.valid_until = datetime.now(UTC)
        incident.action = "regenerate"
        incident.action_detail = "the token was already replaced; its grace period ended now"
    else:
        _regenerate(session, settings, incident, key)


def _regenerate(session, settings, incident, key) -> None:
    _, token = keys.regenerate_key(
        session, settings, actor=ACTOR, key_id=key.id, caller=LEAK_RESPONSE
    )
    incident.action = "regenerate"
    incident.action_detail = "the key got a new token; pick it up once in Keyward"
    incident.replacement_hint = key.hint
    incident.replacement_sealed = sealing.seal(
        token, pepper=settings.pepper_bytes, context=f"incident:{incident.id}"
    )
    audit.record(
        session,
        actor=ACTOR,
        action="incident.regenerate",
        object_type="incident",
        object_id=incident.id,
        summary=f"{incident.token_hint} -> {key.hint}",
    )


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
    """(recipient, channel) pairs: each admin, the client's contact, each enabled webhook.

    An admin who is also the contact gets the admin email only (it says more).
    """
    found = {admin.email.lower(): "admin" for admin in leak_recipients(session)}
    key = session.get(ApiKey, incident.key_id)
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
