"""Outgoing webhooks: the receivers of leak notifications besides email.

A receiver's URL is a credential (a Slack incoming-webhook URL is enough to post)
and the JSON kind's signing secret must be recoverable to sign, so both are sealed
with the pepper; the secret is shown once, when the webhook is created.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import public_net, sealing, validate
from keystore.config import Settings
from keystore.errors import LimitError, NotFoundError, ValidationError
from keystore.models import WEBHOOK_KINDS, Webhook
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.services import audit

MAX_URL_LENGTH = 2000
MAX_WEBHOOKS = 50


def create_webhook(
    session: Session, settings: Settings, *, actor: str, name, kind, url
) -> tuple[Webhook, str | None]:
    """Register a receiver; returns it with its signing secret (JSON kind), shown only now."""
    name, kind = check_fields(name=name, kind=kind)
    url = check_url(url, settings)
    if len(list_webhooks(session)) >= MAX_WEBHOOKS:
        raise LimitError(f"at most {MAX_WEBHOOKS} webhooks", reason="webhook_limit")
    hook = Webhook(
        name=name,
        kind=kind,
        url_display=display_url(url),
        url_sealed=b"",
        enabled=True,
        created_by=actor,
    )
    session.add(hook)
    session.flush()
    hook.url_sealed = sealing.seal(url, pepper=settings.pepper_bytes, context=_context(hook, "url"))
    secret = None
    if kind == "json":
        secret = "whsec_" + secrets.token_urlsafe(32)
        hook.secret_sealed = sealing.seal(
            secret, pepper=settings.pepper_bytes, context=_context(hook, "secret")
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.create",
        object_type="webhook",
        object_id=hook.id,
        summary=f"{hook.name} ({hook.kind}) -> {hook.url_display}",
    )
    return hook, secret


def check_fields(*, name, kind) -> tuple[str, str]:
    """The name and kind, checked (callers check them before the slower URL resolution)."""
    # Names follow the rule of every other name (pages escape what they render).
    return validate.name(name), validate.choice(kind, WEBHOOK_KINDS, field="kind")


def list_webhooks(session: Session, *, page: PageRequest | None = None) -> Page:
    """In creation order; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Webhook), (SortKey(Webhook.id),), page)


def enabled_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.enabled).order_by(Webhook.id)))


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFoundError(f"no webhook {webhook_id}", reason="webhook_not_found")
    return hook


def delete_webhook(session: Session, *, actor: str, webhook_id: int) -> None:
    """Remove a receiver; notifications still pending for it are skipped when claimed."""
    hook = get_webhook(session, webhook_id)
    audit.record(
        session,
        actor=actor,
        action="webhook.delete",
        object_type="webhook",
        object_id=hook.id,
        summary=f"{hook.name} ({hook.kind}) -> {hook.url_display}",
    )
    session.delete(hook)
    session.flush()


def open_url(hook: Webhook, settings: Settings) -> str:
    return sealing.unseal(
        hook.url_sealed, pepper=settings.pepper_bytes, context=_context(hook, "url")
    )


def open_secret(hook: Webhook, settings: Settings) -> str | None:
    if hook.secret_sealed is None:
        return None
    return sealing.unseal(
        hook.secret_sealed, pepper=settings.pepper_bytes, context=_context(hook, "secret")
    )


def recipient_of(webhook_id: int) -> str:
    """The notifications row's ``recipient`` for a webhook (never an email: no ``@``)."""
    return f"webhook:{webhook_id}"


def check_url(url, settings: Settings) -> str:
    """An https URL with a host and nothing that hides where it goes (no user info).

    Addresses are checked again on every delivery, after DNS resolution; here only an
    IP literal can be judged.  ``http://127.0.0.1`` is accepted only under the test-only
    ``KEYWARD_NOTIFY_WEBHOOK_ALLOW_LOOPBACK``.
    """
    return public_net.check_url(
        url,
        field="url",
        max_length=MAX_URL_LENGTH,
        allow_loopback=settings.notify_webhook_allow_loopback,
    )


def check_target(url, settings: Settings) -> str:
    """For a new webhook: a well-formed https URL whose host resolves to public addresses only.

    Checked again on every delivery (DNS can change); here so a mistake is refused at once.
    Call it before the transaction: resolving a name may take a while.
    """
    url = check_url(url, settings)
    try:
        receiver_address(url, settings)
    except public_net.AddressRefused as exc:
        reason, message = refusal(exc)
        raise ValidationError(f"url: {message}", reason=reason, field="url") from None
    return url


def receiver_address(url: str, settings: Settings) -> public_net.Target:
    """Where a delivery to ``url`` connects: the address checked now (DNS can change)."""
    host, port = public_net.host_and_port(url)
    if public_net.loopback_allowed(host, settings.notify_webhook_allow_loopback):
        return public_net.unpinned(url)
    if urlsplit(url).scheme != "https":
        raise public_net.AddressRefused("scheme_not_allowed")
    address = public_net.resolve_public(host, port, timeout=settings.notify_webhook_timeout_seconds)
    return public_net.pin(url, address)


def refusal(exc: public_net.AddressRefused) -> tuple[str, str]:
    """The reason code and message of a receiver refused at resolution."""
    if exc.reason == "not_public":
        return "target_not_public", "receiver resolves to a private, loopback or reserved address"
    if exc.reason == "scheme_not_allowed":
        return "scheme_not_allowed", "receiver must use https"
    return "unresolvable", "could not resolve the receiver's host"


def display_url(url: str) -> str:
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}"
    return shown + ("/…" if parts.path.strip("/") or parts.query else "")


def _context(hook: Webhook, what: str) -> str:
    return f"webhook:{hook.id}:{what}"
