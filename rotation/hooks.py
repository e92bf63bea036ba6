"""Webhook payloads: Slack's incoming-webhook format, and a signed generic JSON body.

The JSON kind is signed like Stripe's and Slack's own requests: the header
``X-Keyward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
the webhook's secret; a receiver recomputes it, compares in constant time and
rejects timestamps older than a few minutes (replays).  ``X-Keyward-Delivery`` is
stable across retries of one notification, so a receiver can drop a duplicate.
Neither kind ever carries a token: keys are named by hint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

from keystore.config import Settings
from rotation import outbound
from rotation.messages import LeakFacts, console_link, summary

SIGNATURE_HEADER = "X-Keyward-Signature"
DELIVERY_HEADER = "X-Keyward-Delivery"
EVENT = "incident.leak"


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def request_for(
    kind: str, facts: LeakFacts, *, delivery_id: str, secret: str | None, settings: Settings
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one delivery of ``kind`` ``slack`` or ``json``."""
    if kind == "slack":
        payload = slack_payload(facts, settings)
    else:
        payload = json_payload(facts, delivery_id=delivery_id, settings=settings)
    return encode(payload, event=EVENT, delivery_id=delivery_id, secret=secret)


def encode(
    payload: dict, *, event: str, delivery_id: str, secret: str | None
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one delivery: compact ASCII JSON, signed when there is a secret."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    headers = {DELIVERY_HEADER: delivery_id, "X-Keyward-Event": event}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, body, timestamp=int(time.time()))
    return body, headers


def json_payload(facts: LeakFacts, *, delivery_id: str, settings: Settings) -> dict:
    return {
        "event": EVENT,
        "delivery_id": delivery_id,
        "sent_at": datetime.now(UTC).isoformat(),
        "summary": summary(facts),
        "incident": {
            "id": facts.incident_id,
            "url": console_link(settings, facts.incident_id),
            "action": facts.action,
            "action_detail": facts.action_detail,
            "token_hint": facts.key_hint,
            "replacement_hint": facts.replacement_hint,
            "replacement_waiting": facts.replacement_waiting,
            "report_count": facts.occurrence_count,
            "reports": [
                {"origin": origin, "source": source, "url": url}
                for origin, source, url in facts.occurrences
            ],
        },
        "key": {"id": facts.key_id, "name": facts.key_name, "environment": facts.environment},
        "client": {"id": facts.client_id, "name": facts.client_name},
    }


def slack_payload(facts: LeakFacts, settings: Settings) -> dict:
    """``text`` is the notification's fallback; ``blocks`` the message people see."""
    link = console_link(settings, facts.incident_id)
    headline = f":rotating_light: {slack_escape(summary(facts))}"
    places = "\n".join(
        f"• {slack_escape(url or '(no url given)')} ({slack_escape(origin)})"
        for origin, _, url in facts.occurrences[:5]
    )
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Client*\n{slack_escape(facts.client_name)}"},
                {"type": "mrkdwn", "text": f"*Key*\n{slack_escape(facts.key_name)}"},
                {"type": "mrkdwn", "text": f"*Action*\n{slack_escape(facts.action)}"},
                {"type": "mrkdwn", "text": f"*Reports*\n{facts.occurrence_count}"},
            ],
        },
    ]
    if places:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": places[:2900]}})
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"<{link}|Open incident {facts.incident_id}>"},
        }
    )
    return {
        "text": f"{slack_escape(summary(facts))} <{link}|incident {facts.incident_id}>",
        "blocks": blocks,
    }


def slack_escape(text: str) -> str:
    """Slack's three control characters; a name or URL can never become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:1000]


def ping_for(
    kind: str, *, webhook_id: int, name: str, delivery_id: str, secret: str | None
) -> tuple[bytes, dict[str, str]]:
    """A test delivery: proves the URL, and for the JSON kind the signature, work."""
    if kind == "slack":
        text = f"Keyward test message for webhook {slack_escape(name)}: this channel works."
        payload: dict = {"text": text}
    else:
        payload = {
            "event": "ping",
            "delivery_id": delivery_id,
            "sent_at": datetime.now(UTC).isoformat(),
            "webhook": {"id": webhook_id, "name": name},
        }
    return encode(
        payload, event=payload.get("event", "ping"), delivery_id=delivery_id, secret=secret
    )


def ping(settings: Settings, *, webhook_id: int, kind: str, name: str, url: str, secret) -> None:
    """Send a test delivery now; raises :class:`rotation.outbound.WebhookError` if it fails."""
    body, headers = ping_for(
        kind, webhook_id=webhook_id, name=name, delivery_id=uuid.uuid4().hex, secret=secret
    )
    target = outbound.resolve(url, settings)
    outbound.post(
        target, body=body, headers=headers, timeout=settings.notify_webhook_timeout_seconds
    )
