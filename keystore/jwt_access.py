"""JWT access: a key's holder exchanges its token for a short-lived signed JWT.

The JWT names the client and the exact token it was minted from (``tid``), so
everything that stops the token — revocation, regeneration, deleting the key
or client, disabling the client — stops its JWTs on the very next request.

Signing: HS256 with a per-client secret derived from the pepper and the
client's ``jwt_version`` (no secret is stored; bumping the version voids all
the client's JWTs), or ES256/RS256 with the operator's private key
(``KEYWARD_JWT_PRIVATE_KEY_FILE``).  The algorithm comes from configuration,
never from the JWT's header, so algorithm confusion is impossible.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.decision import Decision, Request, judge, load_facts
from keystore.errors import ConfigError, StateError, ValidationError
from keystore.services import audit
from keystore.services.keys import get_key
from keystore.validate import MAX_ID

ISSUER = "keyward"
MAX_TTL_SECONDS = 24 * 3600


def issue_jwt(
    session: Session, settings: Settings, *, actor: str, key_id: int, ttl_seconds: int | None = None
) -> tuple[str, datetime]:
    """Mint a JWT for a key's current token; returns it with its expiry."""
    ttl = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    if not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise ValidationError(f"ttl must be from 1 to {MAX_TTL_SECONDS} seconds", field="ttl")
    key = get_key(session, key_id)
    current = [t for t in key.tokens if t.valid_until is None]
    if key.state != "active" or not current or not key.client.enabled:
        raise StateError(
            f"key {key.id} ({key.hint}) cannot get a JWT in its state", reason="key_not_usable"
        )
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl)
    claims = {
        "iss": ISSUER,
        "sub": f"client:{key.client_id}",
        "kid": key.id,
        "tid": current[0].id,
        "ver": key.client.jwt_version,
        "env": key.environment.tag,
        "iat": now,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    signer, algorithm = _signing_key(settings, key.client_id, key.client.jwt_version)
    audit.record(
        session,
        actor=actor,
        action="key.jwt",
        object_type="key",
        object_id=key.id,
        summary=f"{key.hint}; expires {expires.isoformat()}",
    )
    return jwt.encode(claims, signer, algorithm=algorithm), expires


def decide_jwt(
    session: Session, settings: Settings, credential: str, request: Request, address
) -> Decision:
    """Checks 1-4 for a JWT, then the shared checks of :func:`keystore.decision.judge`."""
    try:
        unverified = jwt.decode(credential, options={"verify_signature": False})
        token_id = int(unverified["tid"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return Decision(False, "malformed", credential="jwt")
    if not 1 <= token_id <= MAX_ID:  # no token row has such an id; the database would overflow
        return Decision(False, "malformed", credential="jwt")
    facts = load_facts(session, request, token_id=token_id)
    if facts is None:
        return Decision(False, "unknown", credential="jwt")
    failure = _verify(settings, credential, facts)
    if failure:
        return Decision(
            False,
            failure,
            credential="jwt",
            client_id=facts.client_id,
            key_id=facts.key_id,
            key_hint=facts.hint,
        )
    return judge(facts, request, address, credential_kind="jwt")


def _verify(settings: Settings, credential: str, facts) -> str | None:
    verifier, algorithm = _verifying_key(settings, facts.client_id, facts.jwt_version)
    try:
        claims = jwt.decode(
            credential,
            verifier,
            algorithms=[algorithm],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "tid", "ver"]},
        )
    except jwt.ExpiredSignatureError:
        return "expired"
    except jwt.InvalidSignatureError:
        return "bad_signature"
    except jwt.InvalidTokenError:
        return "malformed"
    if claims["sub"] != f"client:{facts.client_id}":
        return "malformed"
    if claims["ver"] != facts.jwt_version:
        return "revoked"
    return None


def reset_client_jwts(session: Session, *, actor: str, client) -> None:
    """Void every JWT the client holds, without touching its keys."""
    client.jwt_version += 1
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.jwt_reset",
        object_type="client",
        object_id=client.id,
        summary=client.name,
    )


def _signing_key(settings: Settings, client_id: int, version: int):
    if settings.jwt_private_key_file:
        return _private_key(settings.jwt_private_key_file)
    return _client_secret(settings, client_id, version), "HS256"


def _verifying_key(settings: Settings, client_id: int, version: int):
    if settings.jwt_private_key_file:
        private, algorithm = _private_key(settings.jwt_private_key_file)
        return private.public_key(), algorithm
    return _client_secret(settings, client_id, version), "HS256"


def _client_secret(settings: Settings, client_id: int, version: int) -> bytes:
    message = f"keyward-jwt:{client_id}:{version}".encode()
    return hmac.new(settings.pepper_bytes, message, hashlib.sha256).digest()


@lru_cache(maxsize=4)
def _private_key(path: str):
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"KEYWARD_JWT_PRIVATE_KEY_FILE cannot be read: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "ES256"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key, "RS256"
    raise ConfigError("KEYWARD_JWT_PRIVATE_KEY_FILE must hold a P-256 EC or a 2048+ bit RSA key")
