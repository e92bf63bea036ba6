"""Client-signed JWTs: a client registers a key, then signs its own short-lived JWTs.

The key is a public key (ES256 on P-256, or RS256 of 2048+ bits; PEM or JWK)
or an HS256 secret Keyward generates, shows once and keeps sealed (it must be
recoverable to verify).  A JWT is accepted when ``iss`` is the client's id,
its signature verifies with one of the client's keys *using that key's
algorithm* (never the header's), ``exp`` is present and at most 24 hours
ahead, and its ``jti``, if any, was not seen before within its lifetime.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keystore import jwks, sealing
from keystore.client_auth import allowed_header, decide_for_client
from keystore.config import Settings
from keystore.decision import Decision, Request
from keystore.decision_cache import DecisionCache, cached
from keystore.errors import ConfigError, LimitError, NotFoundError, ValidationError
from keystore.models import JWT_KEY_ALGORITHMS, ClientJwtKey, JwtReplay
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller, require_may_act_on
from keystore.serialize import iso
from keystore.services import audit
from keystore.services.clients import get_client

MAX_KEYS_PER_CLIENT = 5
MAX_LIFETIME_SECONDS = 24 * 3600
LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 128
MAX_PUBLIC_KEY_CHARS = 8192
SWEEP_EVERY = 64
CREDENTIAL = "client_jwt"


# ---- registering keys -------------------------------------------------------------------


def add_key(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    client_ref,
    algorithm,
    public_key=None,
    caller: Caller = OPERATOR,
) -> tuple[ClientJwtKey, str | None]:
    """Register a key; returns it and, for HS256, the secret (shown this once)."""
    client = get_client(session, client_ref)
    require_may_act_on(caller, client)  # a key signs JWTs that stand for the client
    if algorithm not in JWT_KEY_ALGORITHMS:
        raise ValidationError(
            f"algorithm must be one of {', '.join(JWT_KEY_ALGORITHMS)}", field="algorithm"
        )
    count = len(
        session.scalars(select(ClientJwtKey.id).where(ClientJwtKey.client_id == client.id)).all()
    )
    if count >= MAX_KEYS_PER_CLIENT:
        raise LimitError(
            f"a client has at most {MAX_KEYS_PER_CLIENT} JWT keys", reason="too_many_keys"
        )
    row = ClientJwtKey(client_id=client.id, algorithm=algorithm, created_by=actor, fingerprint="")
    secret = None
    if algorithm == "HS256":
        if public_key is not None:
            raise ValidationError(
                "HS256 takes no public_key: Keyward generates the secret", field="public_key"
            )
        secret = secrets.token_urlsafe(32)
        row.fingerprint = f"hs256-{secrets.token_hex(8)}"
    else:
        public = parse_public_key(public_key, algorithm)
        row.public_pem = public.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        row.fingerprint = public.kid
    session.add(row)
    session.flush()
    if secret is not None:
        row.secret_sealed = sealing.seal(
            secret, pepper=settings.pepper_bytes, context=_context(row)
        )
        session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.jwt_key_add",
        object_type="client",
        object_id=client.id,
        summary=f"{client.name}: {algorithm} key {row.id} ({row.fingerprint})",
    )
    return row, secret


def list_keys(session: Session, client_ref, *, page: PageRequest | None = None) -> Page:
    """A client's JWT keys in creation order; everything, or one ``page`` (keystore.paging)."""
    client = get_client(session, client_ref)
    query = select(ClientJwtKey).where(ClientJwtKey.client_id == client.id)
    return fetch_page(session, query, (SortKey(ClientJwtKey.id),), page)


def delete_key(
    session: Session, *, actor: str, client_ref, key_id: int, caller: Caller = OPERATOR
) -> None:
    """Remove a key: JWTs it signed fail on the next request."""
    client = get_client(session, client_ref)
    require_may_act_on(caller, client)
    row = session.get(ClientJwtKey, key_id)
    if row is None or row.client_id != client.id:
        raise NotFoundError(
            f"no JWT key {key_id} for client {client.name}", reason="jwt_key_not_found"
        )
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.jwt_key_delete",
        object_type="client",
        object_id=client.id,
        summary=f"{client.name}: {row.algorithm} key {key_id} ({row.fingerprint})",
    )


def parse_public_key(value, algorithm: str) -> jwks.PublicKey:
    """A PEM text or a JWK (object or JSON text) holding a public key for ``algorithm``."""
    if (
        isinstance(value, str)
        and len(value) <= MAX_PUBLIC_KEY_CHARS
        and value.lstrip().startswith("{")
    ):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad_key("public_key is not valid JSON") from None
    try:
        key = _load(value)
        public = jwks.public_key(key)
    except (ValueError, TypeError, jwt.PyJWTError, ConfigError, UnicodeError):
        raise _bad_key(
            "public_key must be a PEM or JWK public key (P-256 EC or 2048+ bit RSA)"
        ) from None
    if public.algorithm != algorithm:
        raise _bad_key(f"this key is for {public.algorithm}, not {algorithm}")
    return public


def _load(value):
    if isinstance(value, dict):
        if "d" in value or value.get("kty") not in ("EC", "RSA"):
            raise ValueError("only a public EC or RSA JWK")
        return jwt.PyJWK(value).key
    if isinstance(value, str) and len(value) <= MAX_PUBLIC_KEY_CHARS:
        return serialization.load_pem_public_key(value.encode("ascii"))
    raise ValueError("a PEM text or a JWK object")


def serialize_key(row: ClientJwtKey) -> dict:
    """What the API, CLI and console show of a key (never the secret)."""
    return {
        "id": row.id,
        "client_id": row.client_id,
        "algorithm": row.algorithm,
        "kid": str(row.id),
        "fingerprint": row.fingerprint,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
    }


def _bad_key(message: str) -> ValidationError:
    return ValidationError(message, reason="bad_public_key", field="public_key")


def _context(row: ClientJwtKey) -> str:
    return f"client-jwt-key:{row.client_id}:{row.id}"


# ---- deciding on a client's JWT --------------------------------------------------------


def decide(
    session: Session,
    settings: Settings,
    credential: str,
    request: Request,
    client_id: int,
    cache: DecisionCache | None = None,
) -> Decision:
    """Verify a client's own JWT (one read for its keys), then the client's checks."""
    # Refused before any read; for the others, the key's algorithm is used, never this one.
    header = allowed_header(credential, JWT_KEY_ALGORITHMS)
    if header is None:
        return Decision(False, "malformed", credential=CREDENTIAL)
    keys = cached(
        cache, session, ("client-jwt-keys", client_id), lambda: _keys(session, settings, client_id)
    )
    claims = _verified(settings, credential, keys, client_id, header.get("kid"))
    if isinstance(claims, str):
        return Decision(False, claims, credential=CREDENTIAL)
    if not _first_use(session, client_id, claims):
        return Decision(False, "replayed", credential=CREDENTIAL)
    return decide_for_client(session, request, client_id, credential_kind=CREDENTIAL, cache=cache)


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A registered key as verification needs it: parsed (or unsealed) once, when read."""

    id: int
    algorithm: str
    key: object


def _keys(session: Session, settings: Settings, client_id: int) -> tuple[VerifyingKey, ...]:
    rows = session.scalars(select(ClientJwtKey).where(ClientJwtKey.client_id == client_id))
    return tuple(VerifyingKey(r.id, r.algorithm, _verifier(settings, r)) for r in rows)


def _verified(settings: Settings, credential: str, keys, client_id: int, kid) -> dict | str:
    chosen = [k for k in keys if str(k.id) == kid] or keys
    reason = "bad_signature"
    for key in chosen:
        try:
            claims = jwt.decode(
                credential,
                key.key,
                algorithms=[key.algorithm],
                issuer=str(client_id),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError:
            return "expired"
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
            reason = "malformed"
            continue
        return _checked(settings, claims)
    return reason


def _checked(settings: Settings, claims: dict) -> dict | str:
    exp, jti, aud = claims["exp"], claims.get("jti"), claims.get("aud")
    latest = datetime.now(UTC).timestamp() + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS
    if type(exp) not in (int, float) or exp > latest:
        return "malformed"  # a "short-lived" JWT may live 24 hours at most
    if jti is not None and not _good_jti(jti):
        return "malformed"
    if aud is not None and settings.public_url not in (aud if isinstance(aud, list) else [aud]):
        return "malformed"  # meant for someone else
    return claims


def _good_jti(jti) -> bool:
    # Printable excludes NUL and lone surrogates, which the database would refuse.
    return isinstance(jti, str) and 1 <= len(jti) <= MAX_JTI_LENGTH and jti.isprintable()


def _verifier(settings: Settings, row: ClientJwtKey):
    if row.algorithm == "HS256":
        return sealing.unseal(
            row.secret_sealed, pepper=settings.pepper_bytes, context=_context(row)
        ).encode()
    return serialization.load_pem_public_key(row.public_pem.encode())


def _first_use(session: Session, client_id: int, claims: dict) -> bool:
    """Record the jti atomically; False if it is in use (an expired record is taken over).

    INSERT ... ON CONFLICT DO UPDATE ... WHERE expired RETURNING: one statement, so two
    gateways presenting the same JWT at once cannot both win.  Expired records are
    swept now and then (1 in SWEEP_EVERY uses), not on every request.
    """
    jti = claims.get("jti")
    if jti is None:
        return True
    now = datetime.now(UTC)
    table = JwtReplay.__table__
    if secrets.randbelow(SWEEP_EVERY) == 0:
        session.execute(delete(table).where(table.c.expires_at < now))
    expires = datetime.fromtimestamp(claims["exp"], UTC) + timedelta(seconds=LEEWAY_SECONDS)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(client_id=client_id, jti=jti, expires_at=expires)
    statement = insert.on_conflict_do_update(
        index_elements=["client_id", "jti"],
        set_={"expires_at": insert.excluded.expires_at},
        where=table.c.expires_at < now,
    ).returning(table.c.id)
    # RETURNING, not rowcount: psycopg reports -1 for this statement.
    return session.execute(statement).first() is not None
