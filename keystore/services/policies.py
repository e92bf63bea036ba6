"""Named policies: one set of limits and address rules that clients and keys name.

A client and a key may each name one policy.  What applies to a request is the
strictest of the policy and the holder's own settings: the smallest of each limit
(every rate window enforced), the intersection of the allowed address lists, the
union of the blocked ones (:mod:`keystore.decision`, :mod:`keystore.ratelimit`).
Editing a policy reaches every holder on its next request.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import privileges, serialize, validate
from keystore.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from keystore.ipnets import normalise_rules
from keystore.models import ApiKey, Client, Policy
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller
from keystore.services import audit
from keystore.services.roles import UNSET

LIMIT_FIELDS = ("rate_limit", "rate_window_seconds", "quota_daily", "quota_monthly")
RULE_FIELDS = ("allowed_ips", "blocked_ips")


def list_policies(session: Session, *, page: PageRequest | None = None) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Policy), (SortKey(Policy.name), SortKey(Policy.id)), page)


def get_policy(session: Session, ref: int | str) -> Policy:
    """A policy by id or by name."""
    column = Policy.id if isinstance(ref, int) else Policy.name
    policy = session.scalar(select(Policy).where(column == ref))
    if policy is None:
        raise NotFoundError(f"no policy {ref!r}", reason="policy_not_found")
    return policy


def resolve_policy(session: Session, ref) -> Policy | None:
    """The policy a client or key names (None: none); an unknown one is a 422 on ``policy``."""
    if ref is None:
        return None
    if not isinstance(ref, int | str) or isinstance(ref, bool):
        raise ValidationError("policy must be a policy's name or id, or null", field="policy")
    try:
        return get_policy(session, ref)
    except NotFoundError as exc:
        raise ValidationError(exc.message, field="policy", reason="unknown_policy") from None


def create_policy(
    session: Session, *, actor: str, name: str, description: str = "", **settings
) -> Policy:
    """Create a policy; nobody is under it until a client or key names it."""
    name = validate.name(name)
    _require_unique(session, name)
    policy = Policy(name=name, description=validate.text(description))
    _apply(policy, settings)
    session.add(policy)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="policy.create",
        object_type="policy",
        object_id=policy.id,
        summary=policy.name,
        after=serialize.policy(policy),
    )
    return policy


def update_policy(
    session: Session, *, actor: str, ref: int | str, caller: Caller = OPERATOR, **changes
) -> Policy:
    """Change a policy; every client and key under it sees the change on its next request.

    It changes the limits of everyone under it, so only a caller that may act on each of
    their clients, and never a client that is itself under it (its own limits).
    """
    policy = get_policy(session, ref)
    _require_may_change(session, caller, policy)
    before = serialize.policy(policy)
    given = {field: value for field, value in changes.items() if value is not UNSET}
    if given.get("name") is not None and given["name"] != policy.name:
        new_name = validate.name(given["name"])
        _require_unique(session, new_name)
        policy.name = new_name
    given.pop("name", None)
    if "description" in given:
        policy.description = validate.text(given.pop("description"))
    _apply(policy, given)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="policy.update",
        object_type="policy",
        object_id=policy.id,
        summary=policy.name,
        before=before,
        after=serialize.policy(policy),
    )
    return policy


def holders(session: Session, policy: Policy) -> tuple[list[Client], list[ApiKey]]:
    """The clients and the keys that name the policy."""
    clients = session.scalars(
        select(Client).where(Client.policy_id == policy.id).order_by(Client.name)
    )
    keys = session.scalars(select(ApiKey).where(ApiKey.policy_id == policy.id).order_by(ApiKey.id))
    return list(clients), list(keys)


def delete_policy(session: Session, *, actor: str, ref: int | str) -> None:
    """Delete a policy nobody names.  In use: 409 ``policy_in_use`` naming its holders
    (deleting it would silently loosen them); move them to another policy first."""
    policy = get_policy(session, ref)
    clients, keys = holders(session, policy)
    if clients or keys:
        named = [f"client {c.name!r}" for c in clients] + [f"key {k.id} ({k.hint})" for k in keys]
        raise ConflictError(
            f"policy {policy.name!r} is in use by {', '.join(named[:20])}"
            + (f" and {len(named) - 20} more" if len(named) > 20 else "")
            + "; give them another policy (or none) first",
            reason="policy_in_use",
        )
    before = serialize.policy(policy)
    session.delete(policy)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="policy.delete",
        object_type="policy",
        object_id=before["id"],
        summary=before["name"],
        before=before,
    )


def apply_limits(obj, limits: dict) -> None:
    """Set rate limit and quotas from a dict; ``None`` removes a limit."""
    if not isinstance(limits, dict):
        raise ValidationError("limits must be an object", field="limits")
    unknown = set(limits) - set(LIMIT_FIELDS)
    if unknown:
        raise ValidationError(f"unknown limit {sorted(unknown)[0]!r}", field="limits")
    for field, value in limits.items():
        setattr(obj, field, validate.positive_int(value, field=field))
    if (obj.rate_limit is None) != (obj.rate_window_seconds is None):
        raise ValidationError(
            "rate_limit and rate_window_seconds go together", field="rate_window_seconds"
        )


def _apply(policy: Policy, settings: dict) -> None:
    unknown = set(settings) - set(LIMIT_FIELDS) - set(RULE_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(f"unknown field {field!r}", field=field)
    apply_limits(policy, {f: settings[f] for f in LIMIT_FIELDS if f in settings})
    for field in RULE_FIELDS:
        if field in settings:
            setattr(policy, field, normalise_rules(settings[field], field=field))
        elif getattr(policy, field) is None:
            setattr(policy, field, [])


def _require_may_change(session: Session, caller: Caller, policy: Policy) -> None:
    clients, keys = holders(session, policy)
    affected = {c.id: c for c in [*clients, *(k.client for k in keys)]}
    for client in affected.values():
        privileges.require_may_act_on(caller, client)
    if caller.client_id is not None and caller.client_id in affected:
        raise ForbiddenError(
            "a client cannot change a policy it or its keys are under; another admin must",
            reason="own_privileges",
        )


def _require_unique(session: Session, name: str) -> None:
    if session.scalar(select(Policy.id).where(Policy.name == name)):
        raise ConflictError(f"a policy named {name!r} exists already", reason="duplicate")
