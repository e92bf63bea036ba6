"""The access decision for credentials that stand for a whole client, not one of its keys.

A client's own JWT and an identity provider's token name a client, so the
key-level checks (token row, key state, the key's IP rules, the key's environment)
do not apply; the client's enabled state, its policy's address rules, environments,
projects, role (with its collections) and limits (its own and its policy's) do, read
in one query (or from the process's decision cache), as for keys.
"""

from __future__ import annotations

import jwt
from sqlalchemy import bindparam, exists, literal, select
from sqlalchemy.orm import Session

from keystore import ipnets
from keystore.decision import Decision, Request, endpoint_granted, limits_of, policy_columns
from keystore.decision_cache import DecisionCache, cached
from keystore.models import Client, Endpoint, Environment, Policy, Project
from keystore.models.clients import client_environments, client_projects

_LIMIT_FIELDS = ("rate_limit", "rate_window_seconds", "quota_daily", "quota_monthly")


def allowed_header(credential: str, algorithms) -> dict | None:
    """A JWT's (unverified) header if it names one of ``algorithms``, else None: checked before
    any read, so "none", HS256 against a public key and malformed headers cost no database work."""
    try:
        header = jwt.get_unverified_header(credential)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        return None
    return header if header.get("alg") in algorithms else None


def _statement():
    c, e, p, ep = Client.__table__, Environment.__table__, Project.__table__, Endpoint.__table__
    ce, cp = client_environments, client_projects
    policy = Policy.__table__.alias("cpol")
    endpoint, environment = bindparam("endpoint"), bindparam("environment")
    project = bindparam("project")
    return (
        select(
            c.c.id.label("client_id"),
            c.c.enabled,
            exists()
            .where(ce.c.client_id == c.c.id, ce.c.environment_id == e.c.id, e.c.tag == environment)
            .label("env_granted"),
            select(e.c.allows_dev_only)
            .where(e.c.tag == environment)
            .scalar_subquery()
            .label("dev"),
            exists()
            .where(cp.c.client_id == c.c.id, cp.c.project_id == p.c.id, p.c.name == project)
            .label("project_granted"),
            endpoint_granted(c.c.role_id, endpoint).label("endpoint_granted"),
            select(ep.c.dev_only).where(ep.c.name == endpoint).scalar_subquery().label("dev_only"),
            literal(True).label("present"),
            *(c.c[f].label(f"client_{f}") for f in _LIMIT_FIELDS),
            *policy_columns(policy, "cpol"),
        )
        .select_from(c.outerjoin(policy, policy.c.id == c.c.policy_id))
        .where(c.c.id == bindparam("client_id"))
    )


FACTS_BY_CLIENT = _statement()


def load_client_facts(
    session: Session, request: Request, client_id: int, cache: DecisionCache | None = None
):
    params = {
        "client_id": client_id,
        "endpoint": request.endpoint,
        "environment": request.environment,
        "project": request.project,
    }
    return cached(
        cache,
        session,
        ("client", *params.values()),
        lambda: session.execute(FACTS_BY_CLIENT, params).one_or_none(),
    )


def judge_client(facts, request: Request, *, credential_kind: str) -> Decision:
    """Checks 6 and 8-12 of :mod:`keystore.decision` for a client-wide credential."""
    reason = _first_failure(facts, request)
    return Decision(
        allowed=reason is None,
        reason=reason or "allowed",
        credential=credential_kind,
        client_id=facts.client_id,
        environment=request.environment,
        client_limits=limits_of(facts, "client"),
        client_policy_limits=limits_of(facts, "cpol"),
    )


def _first_failure(facts, request: Request) -> str | None:
    if not facts.enabled:
        return "client_disabled"
    # decide() has checked the address's shape already.
    address = None if request.address in (None, "") else ipnets.parse_address(request.address)
    ip_reason = ipnets.refusal(
        address, allowed=(facts.cpol_allowed_ips,), blocked=(facts.cpol_blocked_ips,)
    )
    if ip_reason:
        return ip_reason
    if request.environment is not None and not facts.env_granted:
        return "environment_denied"
    if request.project is not None and not facts.project_granted:
        return "project_denied"
    # A dev-only endpoint needs a named environment that allows it: no key names one here.
    if not facts.endpoint_granted or (facts.dev_only and not facts.dev):
        return "endpoint_denied"
    return None


def decide_for_client(
    session: Session,
    request: Request,
    client_id: int,
    *,
    credential_kind: str,
    cache: DecisionCache | None = None,
) -> Decision:
    facts = load_client_facts(session, request, client_id, cache)
    if facts is None:
        return Decision(False, "unknown", credential=credential_kind)
    return judge_client(facts, request, credential_kind=credential_kind)
