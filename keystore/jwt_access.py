"""JWT access: a key's holder exchanges its token for a short-lived signed JWT.

The JWT names the client and the exact token it was minted from (``tid``), so
everything that stops the token — revocation, regeneration, deleting the key
or client, disabling the client — stops its JWTs on the very next request.

Signing: ES256/RS256 with the key of :mod:`keystore.jwks` (the operator's
``KEYWARD_JWT_PRIVATE_KEY_FILE``, or an ES256 key created in the data
directory), named by a ``kid`` header and published at
``/.well-known/jwks.json`` so gateways can verify offline.  The ``kid`` picks
the key and the key fixes the algorithm: the header's ``alg`` is never used,
so algorithm confusion is impossible.  Bumping the client's ``jwt_version``
voids all the client's JWTs.

Before published keys, JWTs were HS256 with a per-client secret derived from
the pepper.  Such JWTs (no ``kid``) are still verified while no private key
file is configured, so the upgrade voids nothing; none are minted any more.

A JWT whose ``iss`` is not Keyward's is a client's own JWT or an identity
provider's token: :mod:`keystore.external_jwt` decides on it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from keystore import jwks
from keystore.config import Settings
from keystore.decision import Decision, Request, judge, load_facts
from keystore.decision_cache import DecisionCache
from keystore.errors import StateError, ValidationError
from keystore.privileges import OPERATOR, Caller, require_may_act_on
from keystore.services import audit
from keystore.services.keys import get_key
from keystore.validate import MAX_ID

# JWTs minted before the issuer became the public URL still name this one.
ISSUER = "keyward"
MAX_TTL_SECONDS = 24 * 3600
# Ours are under 1,000 characters; anything far longer is not worth parsing.
MAX_JWT_LENGTH = 4096
_SUBJECT = re.compile(r"client:([1-9][0-9]{0,9})")


def issuer(settings: Settings) -> str:
    """The ``iss`` of JWTs minted now: the public URL, as OpenID discovery expects."""
    return settings.public_url


def issue_jwt(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    key_id: int,
    ttl_seconds: int | None = None,
    scope: tuple[str, ...] | None = None,
    audit_action: str = "key.jwt",
    caller: Caller = OPERATOR,
) -> tuple[str, datetime]:
    """Mint a JWT for a key's current token (of a client within the caller's privileges).

    ``scope`` (endpoint names) narrows what the JWT may call: the role still has
    to grant each endpoint on every request, so a scope never widens anything.
    """
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
        "iss": issuer(settings),
        "sub": f"client:{key.client_id}",
        "kid": key.id,
        "tid": current[0].id,
        "ver": key.client.jwt_version,
        "env": key.environment.tag,
        "iat": now,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    if scope is not None:
        claims["scope"] = " ".join(scope)
    ring = jwks.keyring(settings)
    audit.record(
        session,
        actor=actor,
        action=audit_action,
        object_type="key",
        object_id=key.id,
        summary=f"{key.hint}; expires {expires.isoformat()}"
        + ("" if scope is None else f"; scope {claims['scope'] or '(none)'}"),
    )
    token = jwt.encode(
        claims,
        ring.signing_key,
        algorithm=ring.current.algorithm,
        headers={"kid": ring.current.kid},
    )
    return token, expires


def decide_jwt(
    session: Session,
    settings: Settings,
    credential: str,
    request: Request,
    address,
    cache: DecisionCache | None = None,
) -> Decision:
    """Checks 1-4 for a JWT, then the shared checks of :func:`keystore.decision.judge`.

    Nothing is read from the database, and no claim is believed, before the
    signature verifies: a forged JWT learns nothing and costs one HMAC.
    """
    if not _from_keyward(settings, credential):
        # Imported here: external_jwt builds on this module's neighbours.
        from keystore import external_jwt

        return external_jwt.decide(session, settings, credential, request, cache)
    claims = verified_claims(settings, credential)
    if isinstance(claims, str):
        return Decision(False, claims, credential="jwt")
    facts = load_facts(session, request, cache, token_id=claims.token_id)
    if facts is None:
        return Decision(False, "unknown", credential="jwt")
    if facts.client_id != claims.client_id:
        # Only a holder of the signing key could mint this: still, never trust it.
        return Decision(False, "malformed", credential="jwt")
    if facts.jwt_version != claims.version:
        return Decision(
            False, "revoked", credential="jwt", client_id=facts.client_id, key_id=facts.key_id
        )
    decision = judge(facts, request, address, credential_kind="jwt")
    if decision.allowed and claims.scope is not None and request.endpoint not in claims.scope:
        return replace(decision, allowed=False, reason="endpoint_denied")
    return decision


def _from_keyward(settings: Settings, credential: str) -> bool:
    """Whether the (unverified) ``iss`` is ours: it only picks which verifier runs."""
    if len(credential) > 2 * MAX_JWT_LENGTH:
        return True  # too long for anyone: our verifier calls it malformed
    try:
        claimed = jwt.decode(credential, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
        return True  # malformed: our verifier says so
    return claimed.get("iss") in (ISSUER, issuer(settings)) or "iss" not in claimed


@dataclass(frozen=True, slots=True)
class JwtClaims:
    client_id: int
    token_id: int
    version: int
    scope: frozenset[str] | None = None


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
            issuer=[ISSUER, issuer(settings)],
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
    kid = jwt.get_unverified_header(credential).get("kid")
    ring = jwks.keyring(settings, kid=kid)
    if kid is not None or settings.jwt_private_key_file:
        key = ring.find(kid) or ring.current
        return key.key, key.algorithm
    # A JWT without kid from before published keys: its HS256 secret depends on (client,
    # version); the unverified claims only pick which secret to try, the signature then
    # vouches for them.
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
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        return None
    return JwtClaims(
        client_id=client_id,
        token_id=token_id,
        version=version,
        scope=None if scope is None else frozenset(scope.split()),
    )


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


def _client_secret(settings: Settings, client_id: int, version: int) -> bytes:
    message = f"keyward-jwt:{client_id}:{version}".encode()
    return hmac.new(settings.pepper_bytes, message, hashlib.sha256).digest()
