"""Authentication of Keyward's own admin API: a Keyward token (or JWT) and a builtin privilege."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from keystore.decision import Request
from keystore.errors import KeywardError
from web.access import Outcome, check
from web.addresses import client_address
from web.runtime import runtime


class AccessDenied(KeywardError):
    """Carries the gate's outcome so the response gets the right status and headers."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(_MESSAGES.get(outcome.reason, "access denied"), reason=outcome.reason)
        self.outcome = outcome
        self.status = outcome.status
        self.error = {401: "unauthorized", 429: "too_many_requests"}.get(
            outcome.status, "forbidden"
        )


_MESSAGES = {
    "missing": "send your Keyward token as 'Authorization: Bearer <token>'",
    "malformed": "the credential is not a Keyward token",
    "unknown": "the credential is not known",
    "revoked": "the credential has been revoked",
    "expired": "the credential has expired",
    "bad_signature": "the JWT signature does not verify",
    "replayed": "this JWT's jti was already used",
    "endpoint_denied": "your role does not grant this operation",
    "rate_limited": "rate limit reached; retry later",
    "quota_exceeded": "quota exhausted; retry later",
}


def bearer_credential() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def requires(privilege: str):
    """Guard a view with a builtin endpoint privilege (``keyward.keys.write`` ...)."""

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            rt = runtime()
            outcome = check(
                rt,
                surface="admin",
                credential=bearer_credential(),
                request=Request(endpoint=privilege, address=client_address(rt.settings)),
            )
            g.outcome = outcome
            if not outcome.allowed:
                raise AccessDenied(outcome)
            g.actor = f"client:{outcome.decision.client_id}"
            return view(*args, **kwargs)

        guarded.privilege = privilege
        return guarded

    return decorate
