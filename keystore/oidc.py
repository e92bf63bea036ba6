"""OpenID Connect: tokens from a trusted external identity provider stand for a client.

The operator registers the issuer (its ``iss``, JWKS URL and the audience its
tokens must carry), the claim whose value names the Keyward client, and the
clients it may name (by name or id) — an issuer can never speak for a client
that was not listed.  A token is verified (signature with the JWKS key its
``kid`` names, using that key's algorithm; ``iss``, ``aud``, ``exp``, ``nbf``
with the configured clock skew) before any of its claims is believed; then the
client's enabled state, environments, projects, role and limits apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import remote_jwks, serialize
from keystore.client_auth import allowed_header, decide_for_client
from keystore.config import Settings
from keystore.decision import Decision, Request
from keystore.decision_cache import DecisionCache, cached
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import TrustedIssuer
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller, require_may_act_on
from keystore.services import audit
from keystore.services.clients import get_client

CREDENTIAL = "oidc"
ALGORITHMS = ("ES256", "RS256")
MAX_CLIENTS = 100
MAX_ID = 2**31 - 1
_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")


# ---- registering issuers ----------------------------------------------------------------


def add_issuer(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    name,
    issuer,
    jwks_url,
    audience,
    clients,
    client_claim="sub",
    caller: Caller = OPERATOR,
) -> TrustedIssuer:
    """Trust an identity provider for the listed clients (each within the caller's privileges:
    the issuer's tokens will stand for them)."""
    named = _clients(session, clients)
    for client in named:
        require_may_act_on(caller, client)
    row = TrustedIssuer(
        name=_checked_name(name),
        issuer=remote_jwks.check_url(issuer, settings, field="issuer"),
        jwks_url=remote_jwks.check_url(jwks_url, settings, field="jwks_url"),
        audience=_text(audience, "audience", 300),
        client_claim=_checked_claim(client_claim),
        clients=named,
        created_by=actor,
    )
    for column, value in (("name", row.name), ("issuer", row.issuer)):
        if session.scalar(select(TrustedIssuer.id).where(getattr(TrustedIssuer, column) == value)):
            raise ConflictError(f"an issuer with this {column} exists", reason="issuer_exists")
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="issuer.add",
        object_type="issuer",
        object_id=row.id,
        summary=f"{row.name}: {row.issuer}",
        after=serialize_issuer(row),
    )
    return row


def list_issuers(session: Session, *, page: PageRequest | None = None) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    order = (SortKey(TrustedIssuer.name), SortKey(TrustedIssuer.id))
    return fetch_page(session, select(TrustedIssuer), order, page)


def get_issuer(session: Session, issuer_id: int) -> TrustedIssuer:
    row = session.get(TrustedIssuer, issuer_id)
    if row is None:
        raise NotFoundError(f"no issuer {issuer_id}", reason="issuer_not_found")
    return row


def set_enabled(
    session: Session, *, actor: str, issuer_id: int, enabled, caller: Caller = OPERATOR
) -> TrustedIssuer:
    if not isinstance(enabled, bool):
        raise ValidationError("enabled must be true or false", field="enabled")
    row = get_issuer(session, issuer_id)
    _require_over_issuer(caller, row)
    row.enabled = enabled
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="issuer.enable" if enabled else "issuer.disable",
        object_type="issuer",
        object_id=row.id,
        summary=row.name,
    )
    return row


def delete_issuer(
    session: Session, *, actor: str, issuer_id: int, caller: Caller = OPERATOR
) -> None:
    row = get_issuer(session, issuer_id)
    _require_over_issuer(caller, row)
    before = serialize_issuer(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="issuer.delete",
        object_type="issuer",
        object_id=issuer_id,
        summary=before["name"],
        before=before,
    )


def serialize_issuer(row: TrustedIssuer) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "issuer": row.issuer,
        "jwks_url": row.jwks_url,
        "audience": row.audience,
        "client_claim": row.client_claim,
        "clients": [c.name for c in row.clients],
        "enabled": row.enabled,
        "created_by": row.created_by,
        "created_at": serialize.iso(row.created_at),
    }


def _checked_name(name) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError("name must be 1-100 letters, digits, spaces, . _ -", field="name")
    return name


def _checked_claim(claim) -> str:
    if not isinstance(claim, str) or not _CLAIM.fullmatch(claim):
        raise ValidationError(
            "client_claim must be a claim name like sub or azp", field="client_claim"
        )
    return claim


def _text(value, field: str, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable():
        raise ValidationError(
            f"{field} must be printable text of 1-{limit} characters", field=field
        )
    return value


def _client_ref(value) -> bool:
    if isinstance(value, str):
        return 1 <= len(value) <= 100 and value.isprintable()
    return type(value) is int and 1 <= value <= MAX_ID


def _clients(session: Session, refs) -> list:
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_CLIENTS:
        raise ValidationError(f"clients must list 1-{MAX_CLIENTS} clients", field="clients")
    if not all(_client_ref(r) for r in refs):
        raise ValidationError("clients are names or ids", field="clients")
    found = {}
    for reference in refs:
        client = get_client(session, reference)
        found[client.id] = client
    return list(found.values())


# ---- deciding on a token ----------------------------------------------------------------


def decide(
    session: Session,
    settings: Settings,
    credential: str,
    request: Request,
    iss: str,
    cache: DecisionCache | None = None,
) -> Decision:
    """Verify a provider's token, map it to a client it may name, then the client's checks."""
    header = allowed_header(credential, ALGORITHMS)
    if header is None:
        return Decision(False, "malformed", credential=CREDENTIAL)  # "none", HS256: no read
    row = cached(cache, session, ("issuer", iss), lambda: _enabled_issuer(session, iss))
    if row is None:
        return Decision(False, "unknown", credential=CREDENTIAL)
    claims = _verified(settings, credential, row, header.get("kid"))
    if isinstance(claims, str):
        return Decision(False, claims, credential=CREDENTIAL)
    named = claims.get(row.client_claim)
    client_id = next(
        (i for i, name in row.clients if isinstance(named, str) and named in (name, str(i))), None
    )
    if client_id is None:
        return Decision(False, "unknown", credential=CREDENTIAL)
    return decide_for_client(session, request, client_id, credential_kind=CREDENTIAL, cache=cache)


@dataclass(frozen=True, slots=True)
class IssuerFacts:
    """What deciding on an issuer's token needs of its row (kept apart from the session)."""

    issuer: str
    jwks_url: str
    audience: str
    client_claim: str
    clients: tuple[tuple[int, str], ...]


def _enabled_issuer(session: Session, iss: str) -> IssuerFacts | None:
    row = session.scalar(
        select(TrustedIssuer).where(TrustedIssuer.issuer == iss, TrustedIssuer.enabled.is_(True))
    )
    if row is None:
        return None
    return IssuerFacts(
        issuer=row.issuer,
        jwks_url=row.jwks_url,
        audience=row.audience,
        client_claim=row.client_claim,
        clients=tuple((c.id, c.name) for c in row.clients),
    )


def _verified(settings: Settings, credential: str, row: IssuerFacts, kid) -> dict | str:
    key = remote_jwks.CACHE.key(row.jwks_url, kid, settings)
    if key is None:
        return "bad_signature"
    try:
        return jwt.decode(
            credential,
            key.key,
            algorithms=[key.algorithm],
            audience=row.audience,
            issuer=row.issuer,
            leeway=settings.oidc_clock_skew_seconds,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        return "expired"
    except jwt.InvalidSignatureError:
        return "bad_signature"
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
        return "malformed"


def _require_over_issuer(caller: Caller, row: TrustedIssuer) -> None:
    # Re-enabling (or removing) an issuer that speaks for a client the caller could not
    # act on would be acting on that client.
    for client in row.clients:
        require_may_act_on(caller, client)
