"""What a key-age reminder says: an email (admins, the client's contact) or a webhook body.

Built from :class:`DueKey`, read in the claiming transaction; a reminder names the key
by its hint and never carries a token (the new one comes from a regeneration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from keystore.config import Settings
from keystore.serialize import iso
from rotation import hooks
from rotation.mail import envelope

EVENT = "key.refresh_due"


@dataclass(frozen=True)
class DueKey:
    key_id: int
    key_name: str
    key_hint: str
    environment: str
    client_id: int
    client_name: str
    max_age_days: int
    expires_at: datetime


def subject(due: DueKey) -> str:
    return f"[Keyward] API key {due.key_hint} of {due.client_name} expires {_day(due)}"


def summary(due: DueKey) -> str:
    return (
        f"API key {due.key_hint} ({due.key_name}, {due.environment}) of {due.client_name} "
        f"reaches its maximum age of {due.max_age_days} days on {_when(due)} and stops "
        "working then: regenerate it and deploy the new token before that."
    )


def email(
    due: DueKey, *, recipient: str, audience: str, message_id: str, settings: Settings
) -> EmailMessage:
    """The reminder for ``audience`` ``admin`` (console link) or ``client`` (portal link)."""
    message = envelope(
        subject=subject(due), recipient=recipient, message_id=message_id, settings=settings
    )
    where = (
        f"{settings.public_url}/console/keys/{due.key_id}"
        if audience == "admin"
        else f"{settings.public_url}/portal/"
    )
    message.set_content(
        "\n".join(
            [
                summary(due),
                "",
                f"Client: {due.client_name}",
                f"Key: {due.key_name} ({due.key_hint}, environment {due.environment})",
                f"Expires by age: {_when(due)}",
                "What to do: regenerate the key (optionally with a grace period, so the old "
                "token keeps working while you deploy) and replace the token wherever it is used.",
                f"Where: {where}",
            ]
        )
        + "\n"
    )
    return message


def webhook_request(
    due: DueKey, *, kind: str, delivery_id: str, secret: str | None, settings: Settings
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a reminder for a Slack or a signed JSON receiver."""
    link = f"{settings.public_url}/console/keys/{due.key_id}"
    if kind == "slack":
        text = f":hourglass: {hooks.slack_escape(summary(due))} <{link}|key {due.key_id}>"
        payload: dict = {"text": text}
    else:
        payload = {
            "event": EVENT,
            "delivery_id": delivery_id,
            "sent_at": datetime.now(UTC).isoformat(),
            "summary": summary(due),
            "key": {
                "id": due.key_id,
                "name": due.key_name,
                "hint": due.key_hint,
                "environment": due.environment,
                "url": link,
                "max_key_age_days": due.max_age_days,
                "expires_by_age_at": iso(due.expires_at),
            },
            "client": {"id": due.client_id, "name": due.client_name},
        }
    return hooks.encode(payload, event=EVENT, delivery_id=delivery_id, secret=secret)


def _when(due: DueKey) -> str:
    return due.expires_at.strftime("%Y-%m-%d %H:%M UTC")


def _day(due: DueKey) -> str:
    return due.expires_at.strftime("%Y-%m-%d")
