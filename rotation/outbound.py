"""Posting to a webhook receiver without becoming an SSRF tool.

Every delivery resolves the receiver's host itself, refuses any address that is not
on the public internet (loopback, private, link-local, multicast, reserved), and
then connects to exactly the address it checked (the name still goes in the Host
header and TLS SNI and is what the certificate is verified against), so a DNS answer
that changes between the check and the connection cannot redirect the request.
Redirects are never followed; proxies from the environment are never used.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from keystore.config import Settings
from keystore.errors import KeywardError, ValidationError
from keystore.public_net import is_public, lookup
from keystore.services.webhooks import check_url, loopback_allowed

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


@dataclass(frozen=True)
class Target:
    url: str  # what is requested: the original URL with the host replaced by a checked address
    host_header: str
    server_name: str | None  # the TLS name to verify, for https


class _PinnedAdapter(HTTPAdapter):
    """Verifies TLS against the receiver's name while connecting to its checked address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        name = getattr(request, "keyward_server_name", None)
        if name and host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


def make_http_session() -> requests.Session:
    """The one session deliveries go through: no environment proxies or .netrc, pinned TLS."""
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", _PinnedAdapter())
    session.mount("http://", _PinnedAdapter())
    return session


_session_lock = threading.Lock()
_sessions: dict[int, requests.Session] = {}


def http_session() -> requests.Session:
    """This process's session (Celery forks: a child builds its own pool)."""
    with _session_lock:
        return _sessions.setdefault(os.getpid(), make_http_session())


def resolve(url: str, settings: Settings) -> Target:
    """The checked address to connect to, or a :class:`WebhookError` (never the socket error)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if loopback_allowed(settings, host):
        return Target(url=url, host_header=parts.netloc, server_name=None)
    if parts.scheme != "https":
        raise WebhookError("receiver must use https", reason="scheme_not_allowed", transient=False)
    addresses = lookup(host, port, timeout=settings.notify_webhook_timeout_seconds)
    if not addresses:
        raise WebhookError(
            "could not resolve the receiver's host", reason="unresolvable", transient=True
        )
    if not all(is_public(address) for address in addresses):
        raise WebhookError(
            "receiver resolves to a private, loopback or reserved address",
            reason="target_not_public",
            transient=False,
        )
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path, parts.query, ""))
    host_header = host if parts.port in (None, 443) else f"{host}:{port}"
    return Target(url=pinned, host_header=host_header, server_name=host)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST once; success is a 2xx.  Raises :class:`WebhookError` saying whether to retry."""
    request = requests.Request(
        "POST",
        target.url,
        data=body,
        headers={
            **headers,
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    prepared = http_session().prepare_request(request)
    prepared.keyward_server_name = target.server_name
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


def check_target(url, settings: Settings) -> str:
    """For a new webhook: a well-formed https URL whose host resolves to public addresses only.

    Checked again on every delivery (DNS can change); here so a mistake is refused at once.
    """
    url = check_url(url, settings)
    try:
        resolve(url, settings)
    except WebhookError as exc:
        raise ValidationError(f"url: {exc.message}", reason=exc.reason, field="url") from None
    return url
