"""Posting to a webhook receiver without becoming an SSRF tool.

Every delivery resolves the receiver's host itself, refuses any address that is not
on the public internet (loopback, private, link-local, multicast, reserved), and
then connects to exactly the address it checked (:mod:`keystore.public_net`: the
name still goes in the Host header and TLS SNI and is what the certificate is
verified against), so a DNS answer that changes between the check and the
connection cannot redirect the request.  Redirects are never followed; proxies from
the environment are never used.
"""

from __future__ import annotations

import os
import threading

import requests

from keystore import public_net
from keystore.config import Settings
from keystore.errors import KeywardError
from keystore.services import webhooks

USER_AGENT = "Keyward-Webhook/1"
# 408 Request Timeout, 425 Too Early, 429 Too Many Requests: the receiver asks to try later.
RETRY_STATUSES = frozenset({408, 425, 429})


class WebhookError(KeywardError):
    """A delivery failed.  ``transient`` failures are retried; the others are recorded."""

    status = 502
    error = "webhook_failed"

    def __init__(self, message: str, *, reason: str, transient: bool) -> None:
        super().__init__(message, reason=reason)
        self.transient = transient


_session_lock = threading.Lock()
_sessions: dict[int, requests.Session] = {}


def http_session() -> requests.Session:
    """This process's session (Celery forks: a child builds its own pool)."""
    with _session_lock:
        return _sessions.setdefault(os.getpid(), public_net.pinned_session())


def resolve(url: str, settings: Settings) -> public_net.Target:
    """The checked address to connect to, or a :class:`WebhookError` (never the socket error)."""
    try:
        return webhooks.receiver_address(url, settings)
    except public_net.AddressRefused as exc:
        reason, message = webhooks.refusal(exc)
        transient = exc.reason in ("resolve_timeout", "unresolvable")
        raise WebhookError(message, reason=reason, transient=transient) from None


def post(
    target: public_net.Target, *, body: bytes, headers: dict[str, str], timeout: float
) -> None:
    """POST once; success is a 2xx.  Raises :class:`WebhookError` saying whether to retry."""
    prepared = public_net.prepare(
        http_session(),
        "POST",
        target,
        data=body,
        headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        # stream=True: only the status is read, never a body the receiver chose to make huge.
        with http_session().send(
            prepared, timeout=(timeout, timeout), allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
    except requests.Timeout:
        raise WebhookError("receiver timed out", reason="timeout", transient=True) from None
    except requests.RequestException as exc:
        raise WebhookError(
            f"could not reach the receiver ({type(exc).__name__})",
            reason="unreachable",
            transient=True,
        ) from None
    _judge(status)


def _judge(status: int) -> None:
    if 200 <= status < 300:
        return
    if status >= 500 or status in RETRY_STATUSES:
        raise WebhookError(f"receiver answered {status}", reason="receiver_error", transient=True)
    why = "redirects are not followed" if 300 <= status < 400 else "the receiver refused it"
    raise WebhookError(
        f"receiver answered {status}: {why}", reason="receiver_refused", transient=False
    )
