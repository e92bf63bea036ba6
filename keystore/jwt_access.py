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
import re
import uuid
from dataclasses import dataclass
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
from keystore.privileges import OPERATOR, Caller, require_may_act_on
from keystore.services import audit
from keystore.services.keys import get_key
from keystore.validate import MAX_ID

ISSUER = "keyward"
MAX_TTL_SECONDS = 24 * 3600
# Ours are under 1,000 characters; anything far longer is not worth parsing.
MAX_JWT_LENGTH = 4096
_SUBJECT = re.compile(r"client:([1-9][0-9]{0,9})")


def issue_jwt(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    key_id: int,
    ttl_seconds: int | None = None,
    caller: Caller = OPERATOR,
) -> tuple[str, datetime]:
    """Mint a JWT for a key's current token (of a client within the caller's privileges)."""
    ttl = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    if not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise ValidationError(f"ttl must be from 1 to {MAX_TTL_SECONDS} seconds", field="ttl")
    key = get_key(session, key_id)
    require_may_act_on(caller, key.client)
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
    """Checks 1-4 for a JWT, then the shared checks of :func:`keystore.decision.judge`.

    Nothing is read from the database, and no claim is believed, before the
    signature verifies: a forged JWT learns nothing and costs one HMAC.
    """
    claims = verified_claims(settings, credential)
    if isinstance(claims, str):
        return Decision(False, claims, credential="jwt")
    facts = load_facts(session, request, token_id=claims.token_id)
    if facts is None:
        return Decision(False, "unknown", credential="jwt")
    if facts.client_id != claims.client_id:
        # Only a holder of the signing key could mint this: still, never trust it.
        return Decision(False, "malformed", credential="jwt")
    if facts.jwt_version != claims.version:
        return Decision(
            False, "revoked", credential="jwt", client_id=facts.client_id, key_id=facts.key_id
        )
    return judge(facts, request, address, credential_kind="jwt")


@dataclass(frozen=True, slots=True)
class JwtClaims:
    client_id: int
    token_id: int
    version: int


def verified_claims(settings: Settings, credential: str) -> JwtClaims | str:
    """The JWT's claims once its signature verifies, else the reason (no database read).

    The algorithm list is fixed by configuration, never taken from the header.
    """
    if len(credential) > MAX_JWT_LENGTH:
        return "malformed"
    try:
        verifier, algorithm = _verifier(settings, credential)
        claims = jwt.decode(
            credential,
            verifier,
            algorithms=[algorithm],
            issuer=ISSUER,
            options={"require": ["exp", "iss", "sub", "tid", "ver"]},
        )
    except jwt.ExpiredSignatureError:
        return "expired"
    except jwt.InvalidSignatureError:
        return "bad_signature"
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
        # Hostile shapes (Infinity as exp, deep nesting, odd types) are all just malformed.
        return "malformed"
    return _typed(claims) or "malformed"


def _verifier(settings: Settings, credential: str):
    if settings.jwt_private_key_file:
        return _public_key(settings.jwt_private_key_file)
    # The HS256 secret depends on (client, version): the unverified claims only pick
    # which secret to try; the signature then vouches for them.
    unverified = jwt.decode(credential, options={"verify_signature": False})
    subject = _client_of(unverified.get("sub"))
    version = unverified.get("ver")
    if subject is None or not _in_range(version, low=0):
        raise ValueError("no client or version to select a secret")
    return _client_secret(settings, subject, version), "HS256"


def _typed(claims: dict) -> JwtClaims | None:
    client_id, token_id, version = _client_of(claims["sub"]), claims["tid"], claims["ver"]
    if client_id is None or not _in_range(token_id, low=1) or not _in_range(version, low=0):
        return None
    return JwtClaims(client_id=client_id, token_id=token_id, version=version)


def _client_of(subject) -> int | None:
    match = _SUBJECT.fullmatch(subject) if isinstance(subject, str) else None
    return int(match[1]) if match and _in_range(int(match[1]), low=1) else None


def _in_range(value, *, low: int) -> bool:
    # type() rather than isinstance(): True is an int, and must not pass for one.
    return type(value) is int and low <= value <= MAX_ID


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


@lru_cache(maxsize=4)
def _public_key(path: str):
    private, algorithm = _private_key(path)
    return private.public_key(), algorithm


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
