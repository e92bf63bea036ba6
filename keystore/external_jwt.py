"""JWTs Keyward did not sign: a client's own JWT, or an identity provider's token.

The unverified ``iss`` only picks which verifier runs, and which key material
to read: a client's registered keys (``iss`` = its id) or a trusted issuer's
published keys (``iss`` = a registered issuer URL).  Nothing else in the JWT is
believed before its signature verifies.
"""

from __future__ import annotations

import re

import jwt
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.decision import Decision, Request
from keystore.decision_cache import DecisionCache

MAX_EXTERNAL_JWT_LENGTH = 8192
CLIENT_ISSUER = re.compile(r"[1-9][0-9]{0,9}")
# Registered issuers are ASCII URLs of at most 300 characters (trusted_issuers.issuer).
MAX_ISSUER_LENGTH = 300


def decide(
    session: Session,
    settings: Settings,
    credential: str,
    request: Request,
    cache: DecisionCache | None = None,
) -> Decision:
    """Route a foreign JWT to its verifier; anything unroutable is malformed, without a read."""
    if len(credential) > MAX_EXTERNAL_JWT_LENGTH:
        return Decision(False, "malformed", credential="jwt")
    try:
        claimed = jwt.decode(credential, options={"verify_signature": False}).get("iss")
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
        return Decision(False, "malformed", credential="jwt")
    if isinstance(claimed, str) and CLIENT_ISSUER.fullmatch(claimed):
        from keystore import client_jwt

        return client_jwt.decide(session, settings, credential, request, int(claimed), cache)
    if _plausible_url(claimed):
        from keystore import oidc

        return oidc.decide(session, settings, credential, request, claimed, cache)
    return Decision(False, "malformed", credential="jwt")


def _plausible_url(claimed) -> bool:
    """An ``iss`` worth one lookup: anything else (NUL, surrogates, 10 kB) is malformed unread."""
    return (
        isinstance(claimed, str)
        and len(claimed) <= MAX_ISSUER_LENGTH
        and claimed.isascii()
        and claimed.isprintable()
        and claimed.startswith(("https://", "http://"))
    )
