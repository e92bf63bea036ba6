"""The access decision: may this credential call this endpoint, here, now?

Checks run in this order; the first that fails is the reason:

 1. ``malformed``           not a Keyward token (shape, prefix or checksum) nor a
                            well-formed Keyward JWT — decided without any database read
 2. ``bad_signature``       (JWT only) the signature does not verify — also decided
                            before any read: no claim of a JWT is believed unsigned
 3. ``unknown``             no key owns the token (or the JWT's token), e.g. a deleted key
 4. ``revoked``             the key is revoked, or the token was replaced by a regeneration
                            and its grace period is over, or the client's JWTs were reset
 5. ``expired``             the key's expiry (or the JWT's ``exp``) has passed, or its
                            token is older than the maximum key age of the client's role
                            or, without one, of the key's environment (``keystore.key_age``)
 6. ``client_disabled``     the client is disabled
 7. ``key_inactive``        the key is deactivated
 8. ``ip_blocked``          the address is in the key's blocked ranges (blocked wins)
 9. ``ip_not_allowed``      the key has allowed ranges and the address is in none of them,
                            or no address was given
10. ``environment_denied``  the request names another environment than the key's, or the
                            client may no longer reach the key's environment
11. ``project_denied``      a project was named that the client does not belong to
12. ``endpoint_denied``     the client's role does not grant the endpoint (no role, unknown
                            endpoint, or a dev-only endpoint outside a dev environment)

Everything is read in one query per decision, or taken from the process's
:class:`~keystore.decision_cache.DecisionCache` of what such queries answered
(emptied by every change, see there), so edits, revocations and deletions apply
to the very next request; the checks themselves run every time, against the
clock of the request.  Writes (usage,
last use) are the caller's business: the decision itself never writes.  For
checks 1-5 the caller has not shown a live credential: :meth:`Decision.disclosed`
is what it may be told, and :attr:`Decision.authenticated` says whether to count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from keystore import ipnets, key_age, tokens
from keystore.config import Settings
from keystore.decision_cache import DecisionCache, cached
from keystore.models import ApiKey, Client, Endpoint, Environment, KeyToken, Project
from keystore.models.catalogue import role_endpoints
from keystore.models.clients import client_environments, client_projects

REASONS = (
    "allowed",
    "malformed",
    "unknown",
    "bad_signature",
    "revoked",
    "expired",
    "client_disabled",
    "key_inactive",
    "ip_blocked",
    "ip_not_allowed",
    "environment_denied",
    "project_denied",
    "endpoint_denied",
    "replayed",
)
# "Who are you?" reasons: the caller has not shown a live credential, so it learns
# nothing about the key its credential names, and nothing is counted against that key.
UNAUTHENTICATED = frozenset(
    {"missing", "malformed", "unknown", "bad_signature", "revoked", "expired", "replayed"}
)


@dataclass(frozen=True, slots=True)
class Limits:
    rate_limit: int | None = None
    rate_window_seconds: int | None = None
    quota_daily: int | None = None
    quota_monthly: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.rate_limit or self.quota_daily or self.quota_monthly)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    credential: str = "token"
    client_id: int | None = None
    key_id: int | None = None
    key_hint: str | None = None
    environment: str | None = None
    client_limits: Limits = Limits()
    key_limits: Limits = Limits()

    @property
    def authenticated(self) -> bool:
        """The credential is live: an outcome past the "who are you?" checks."""
        return self.reason not in UNAUTHENTICATED

    def disclosed(self) -> Decision:
        """What the caller may be told: no client, key, hint or environment unless authenticated.

        A revoked token still names its key (and a regenerated one its replacement's
        hint); a stranger holding one must not learn them.
        """
        if self.authenticated:
            return self
        return Decision(False, self.reason, credential=self.credential)


@dataclass(frozen=True, slots=True)
class Request:
    endpoint: str
    environment: str | None = None
    project: str | None = None
    address: str | None = None


def _facts_statement(where):
    t, k, c = KeyToken.__table__, ApiKey.__table__, Client.__table__
    e, ep, p = Environment.__table__, Endpoint.__table__, Project.__table__
    re_, ce, cp = role_endpoints, client_environments, client_projects
    endpoint = bindparam("endpoint")
    return (
        select(
            t.c.id.label("token_id"),
            t.c.valid_until,
            t.c.created_at.label("token_issued_at"),
            k.c.id.label("key_id"),
            k.c.state,
            k.c.hint,
            k.c.expires_at,
            k.c.allowed_ips,
            k.c.blocked_ips,
            c.c.id.label("client_id"),
            c.c.enabled,
            c.c.jwt_version,
            e.c.tag.label("env_tag"),
            e.c.allows_dev_only,
            key_age.max_age_column(
                role_id=c.c.role_id, environment_days=e.c.max_key_age_days
            ).label("max_key_age_days"),
            exists()
            .where(ce.c.client_id == c.c.id, ce.c.environment_id == k.c.environment_id)
            .label("env_granted"),
            exists()
            .where(
                cp.c.client_id == c.c.id,
                cp.c.project_id == p.c.id,
                p.c.name == bindparam("project"),
            )
            .label("project_granted"),
            exists()
            .where(
                re_.c.role_id == c.c.role_id, re_.c.endpoint_id == ep.c.id, ep.c.name == endpoint
            )
            .label("endpoint_granted"),
            select(ep.c.dev_only)
            .where(ep.c.name == endpoint)
            .scalar_subquery()
            .label("endpoint_dev_only"),
            *(k.c[f].label(f"key_{f}") for f in _LIMIT_FIELDS),
            *(c.c[f].label(f"client_{f}") for f in _LIMIT_FIELDS),
        )
        .select_from(
            t.join(k, t.c.key_id == k.c.id)
            .join(c, k.c.client_id == c.c.id)
            .join(e, k.c.environment_id == e.c.id)
        )
        .where(where)
    )


_LIMIT_FIELDS = ("rate_limit", "rate_window_seconds", "quota_daily", "quota_monthly")
FACTS_BY_DIGEST = _facts_statement(KeyToken.__table__.c.digest == bindparam("digest"))
FACTS_BY_TOKEN_ID = _facts_statement(KeyToken.__table__.c.id == bindparam("token_id"))


def decide(
    session: Session,
    settings: Settings,
    *,
    credential: str,
    request: Request,
    cache: DecisionCache | None = None,
) -> Decision:
    """Decide on an API token or a Keyward JWT.  Raises ValidationError for a bad address.

    ``session`` is only read when ``cache`` (if any) does not know the answer.
    """
    address = None if request.address in (None, "") else ipnets.parse_address(request.address)
    if isinstance(credential, str) and credential.count(".") == 2:
        # Imported here: jwt_access builds on this module.
        from keystore import jwt_access

        return jwt_access.decide_jwt(session, settings, credential, request, address, cache)
    try:
        tokens.parse(credential, prefix=settings.token_prefix)
    except tokens.TokenFormatError:
        return Decision(False, "malformed")
    digest = tokens.digest(credential, settings.pepper_bytes)
    facts = load_facts(session, request, cache, digest=digest)
    if facts is None:
        return Decision(False, "unknown")
    return judge(facts, request, address, credential_kind="token")


def load_facts(session: Session, request: Request, cache: DecisionCache | None = None, **where):
    """The row of facts for one token (by ``digest`` or ``token_id``); None if none owns it."""
    ((column, value),) = where.items()
    statement = FACTS_BY_DIGEST if column == "digest" else FACTS_BY_TOKEN_ID
    params = {"endpoint": request.endpoint, "project": request.project, column: value}
    return cached(
        cache,
        session,
        ("facts", column, value, request.endpoint, request.project),
        lambda: session.execute(statement, params).one_or_none(),
    )


def judge(facts, request: Request, address, *, credential_kind: str, now=None) -> Decision:
    """Apply checks 4 to 12 to what :func:`load_facts` read."""
    now = now or datetime.now(UTC)
    reason = _first_failure(facts, request, address, now)
    return Decision(
        allowed=reason is None,
        reason=reason or "allowed",
        credential=credential_kind,
        client_id=facts.client_id,
        key_id=facts.key_id,
        key_hint=facts.hint,
        environment=facts.env_tag,
        client_limits=Limits(*(getattr(facts, f"client_{f}") for f in _LIMIT_FIELDS)),
        key_limits=Limits(*(getattr(facts, f"key_{f}") for f in _LIMIT_FIELDS)),
    )


def _first_failure(facts, request: Request, address, now: datetime) -> str | None:
    if facts.state == "revoked" or (facts.valid_until is not None and facts.valid_until <= now):
        return "revoked"
    if facts.expires_at is not None and facts.expires_at <= now:
        return "expired"
    if _too_old(facts, now):
        return "expired"
    if not facts.enabled:
        return "client_disabled"
    if facts.state != "active":
        return "key_inactive"
    ip_reason = _ip_failure(facts, address)
    if ip_reason:
        return ip_reason
    if not facts.env_granted or request.environment not in (None, facts.env_tag):
        return "environment_denied"
    if request.project is not None and not facts.project_granted:
        return "project_denied"
    if not facts.endpoint_granted or (facts.endpoint_dev_only and not facts.allows_dev_only):
        return "endpoint_denied"
    return None


def _too_old(facts, now: datetime) -> bool:
    days = facts.max_key_age_days
    return days is not None and facts.token_issued_at + timedelta(days=days) <= now


def _ip_failure(facts, address) -> str | None:
    blocked, allowed = tuple(facts.blocked_ips or ()), tuple(facts.allowed_ips or ())
    if not (blocked or allowed):
        return None
    if address is None:
        return "ip_not_allowed"
    if blocked and ipnets.matches(address, blocked):
        return "ip_blocked"
    if allowed and not ipnets.matches(address, allowed):
        return "ip_not_allowed"
    return None
