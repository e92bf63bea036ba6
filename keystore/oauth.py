"""OAuth 2.0 client credentials (RFC 6749 §4.4): a key's id and token buy an access token.

The client authenticates with ``client_id`` = the key's id (as the API shows
it) and ``client_secret`` = its Keyward token.  Every way of failing — no such
key, a wrong or revoked token, an inactive key, a disabled client — is the same
``invalid_client``: the answer never tells whether the key id exists, and the
work done is the same (one lookup by the token's digest, then a comparison).

The access token is a Keyward JWT (:func:`keystore.jwt_access.issue_jwt`): it
is tied to the token row, so revoking, deactivating or regenerating the key or
disabling the client stops it on the next request.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import ipnets, jwt_access, tokens
from keystore.config import Settings
from keystore.errors import KeywardError, ValidationError
from keystore.models import ApiKey, KeyToken

GRANT_TYPE = "client_credentials"
MAX_SCOPE_LENGTH = 4096
MAX_SCOPE_NAMES = 200
# RFC 6749 scope-token: printable ASCII without space, quote or backslash.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}")
_KEY_ID = re.compile(r"[1-9][0-9]{0,9}")


class OAuthError(KeywardError):
    """An error of RFC 6749 §5.2: ``error`` is the RFC's code, ``reason`` the same."""

    def __init__(self, error: str, message: str, *, status: int = 400) -> None:
        super().__init__(message, reason=error)
        self.error = error
        self.status = status


def invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "client authentication failed", status=401)


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    scope: str

    def as_response(self) -> dict:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


def parse_key_id(raw) -> int | None:
    """The key id in ``client_id``, or None (which later fails like a wrong secret)."""
    if isinstance(raw, str) and _KEY_ID.fullmatch(raw) and int(raw) <= jwt_access.MAX_ID:
        return int(raw)
    return None


def client_credentials(
    session: Session,
    settings: Settings,
    *,
    client_id,
    client_secret,
    scope: str | None,
    address: str | None = None,
) -> AccessToken:
    """Authenticate the key, check its IP rules and the scope, and mint the access token.

    The key's IP rules are checked here too: a gateway that verifies the token offline
    never sees them, so a token is only handed out where the key may be used.
    """
    key = authenticate(session, settings, client_id=client_id, client_secret=client_secret)
    if _ip_refused(key, address):
        raise OAuthError("unauthorized_client", "this key may not be used from this address")
    granted = [endpoint.name for endpoint in key.client.role.granted_endpoints]
    requested = parse_scope(scope)
    if requested is not None and not requested <= set(granted):
        raise OAuthError("invalid_scope", "the scope names endpoints this client is not granted")
    narrowed = None if requested is None else tuple(sorted(requested))
    token, expires = jwt_access.issue_jwt(
        session,
        settings,
        actor=f"client:{key.client_id}",
        key_id=key.id,
        scope=narrowed,
        audit_action="key.oauth_token",
    )
    lifetime = max(1, int((expires - datetime.now(UTC)).total_seconds()))
    shown = " ".join(narrowed if narrowed is not None else granted)
    return AccessToken(access_token=token, expires_in=lifetime, scope=shown)


def authenticate(session: Session, settings: Settings, *, client_id, client_secret) -> ApiKey:
    """The live key these credentials name, or :func:`invalid_client`."""
    key_id = parse_key_id(client_id)
    try:
        tokens.parse(client_secret, prefix=settings.token_prefix)
    except tokens.TokenFormatError:
        raise invalid_client() from None
    row = session.scalar(
        select(KeyToken).where(
            KeyToken.digest == tokens.digest(client_secret, settings.pepper_bytes)
        )
    )
    # Compared in constant time, though a key id is no secret: the habit costs nothing.
    if row is None or key_id is None or not hmac.compare_digest(str(row.key_id), str(key_id)):
        raise invalid_client()
    if not _usable(row, datetime.now(UTC)):
        raise invalid_client()
    return row.key


def _ip_refused(key: ApiKey, address: str | None) -> bool:
    # The same rules as the decision: the key's, its policy's and its client's policy's.
    policies = [p for p in (key.policy, key.client.policy) if p is not None]
    allowed = [key.allowed_ips, *(p.allowed_ips for p in policies)]
    blocked = [key.blocked_ips, *(p.blocked_ips for p in policies)]
    if not any(allowed) and not any(blocked):
        return False
    try:
        parsed = None if address is None else ipnets.parse_address(address)
    except ValidationError:
        parsed = None
    return ipnets.refusal(parsed, allowed=allowed, blocked=blocked) is not None


def _usable(row: KeyToken, now: datetime) -> bool:
    key = row.key
    return (
        row.valid_until is None
        and key.state == "active"
        and (key.expires_at is None or key.expires_at > now)
        and key.client.enabled
        and key.client.role is not None
    )


def parse_scope(scope) -> frozenset[str] | None:
    """Space-separated endpoint names (None: no narrowing); odd shapes are invalid_scope."""
    if scope is None:
        return None
    if not isinstance(scope, str) or len(scope) > MAX_SCOPE_LENGTH:
        raise OAuthError("invalid_scope", f"scope must be at most {MAX_SCOPE_LENGTH} characters")
    names = scope.split(" ")
    if len(names) > MAX_SCOPE_NAMES or not all(_SCOPE_TOKEN.fullmatch(n) for n in names):
        raise OAuthError("invalid_scope", "scope must be endpoint names separated by one space")
    return frozenset(names)
