"""API keys: issue, regenerate, change state, revoke and delete.

A token is returned exactly once, by :func:`issue_key` or :func:`regenerate_key`;
only its keyed digest and its hint are stored.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import privileges, serialize, tokens, validate
from keystore.config import Settings
from keystore.errors import LimitError, NotFoundError, StateError, ValidationError
from keystore.ipnets import normalise_rules
from keystore.models import ApiKey, Client, KeyToken
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller
from keystore.services import audit
from keystore.services.catalogue import get_environment, get_project
from keystore.services.clients import apply_limits, get_client
from keystore.services.roles import UNSET

MAX_KEYS_PER_CLIENT = 10
MAX_GRACE = timedelta(hours=24)
# Digests per IN (...) list: far below every driver's parameter limit.
LOOKUP_CHUNK = 500


def get_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(f"no key {key_id}", reason="key_not_found")
    return key


def list_keys(session: Session, *, client_ref: int | str, page: PageRequest | None = None) -> Page:
    """A client's keys in creation order; everything, or one ``page`` (keystore.paging)."""
    client = get_client(session, client_ref)
    query = select(ApiKey).where(ApiKey.client_id == client.id)
    return fetch_page(session, query, (SortKey(ApiKey.id),), page)


def issue_key(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    client_ref: int | str,
    name: str,
    environment: str,
    allowed_ips: list[str] = (),
    blocked_ips: list[str] = (),
    expires_at=None,
    limits: dict | None = None,
    caller: Caller = OPERATOR,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its token, which is never available again.

    Only for a client whose privileges the caller holds all of.
    """
    client = _lock_client(session, get_client(session, client_ref).id)
    privileges.require_may_act_on(caller, client)
    _require_room(session, client)
    env = get_environment(session, environment)
    if env not in client.environments:
        raise ValidationError(
            f"client {client.name!r} may not reach environment {env.tag!r}",
            field="environment",
            reason="environment_denied",
        )
    key = ApiKey(client=client, name=validate.name(name), environment=env, hint="")
    session.add(key)
    _apply_rules(key, allowed_ips=allowed_ips, blocked_ips=blocked_ips, expires_at=expires_at)
    apply_limits(key, limits or {})
    token = _new_token(session, settings, key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="key.create",
        object_type="key",
        object_id=key.id,
        summary=f"{key.hint} for client {client.name}",
        after=serialize.key(key),
    )
    return key, token


def update_key(
    session: Session, *, actor: str, key_id: int, caller: Caller = OPERATOR, **changes
) -> ApiKey:
    """Rename a key or change its address rules, expiry or limits (not on the caller's own)."""
    key = _live_key(session, key_id)
    privileges.require_may_act_on(caller, key.client)
    before = serialize.key(key)
    if changes.get("name", UNSET) is not UNSET:
        key.name = validate.name(changes.pop("name"))
    if changes.get("limits", UNSET) is not UNSET:
        apply_limits(key, changes.pop("limits"))
    rules = {k: v for k, v in changes.items() if v is not UNSET}
    unknown = set(rules) - {"allowed_ips", "blocked_ips", "expires_at"}
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    _apply_rules(key, **rules)
    privileges.require_not_own(
        caller, key.client_id, before, serialize.key(key), fields=("limits",)
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="key.update",
        object_type="key",
        object_id=key.id,
        summary=key.hint,
        before=before,
        after=serialize.key(key),
    )
    return key


def regenerate_key(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    key_id: int,
    grace_seconds: int = 0,
    caller: Caller = OPERATOR,
) -> tuple[ApiKey, str]:
    """Give a key a new token, same settings.  The old one stops now, or after the grace period."""
    key = _live_key(session, key_id)
    privileges.require_may_act_on(caller, key.client)
    if not isinstance(grace_seconds, int) or not 0 <= grace_seconds <= MAX_GRACE.total_seconds():
        raise ValidationError("grace_seconds must be from 0 to 86400", field="grace_seconds")
    old_hint = key.hint
    _close_tokens(key, at=datetime.now(UTC) + timedelta(seconds=grace_seconds))
    token = _new_token(session, settings, key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="key.regenerate",
        object_type="key",
        object_id=key.id,
        summary=f"{old_hint} -> {key.hint}, grace {grace_seconds}s",
        before={"hint": old_hint},
        after={"hint": key.hint, "grace_seconds": grace_seconds},
    )
    return key, token


def set_key_active(
    session: Session, *, actor: str, key_id: int, active: bool, caller: Caller = OPERATOR
) -> ApiKey:
    """Deactivate (reversible) or reactivate a key."""
    key = _live_key(session, key_id)
    privileges.require_may_act_on(caller, key.client)
    state = "active" if active else "inactive"
    if key.state != state:
        with privileges.keeping_an_admin(session, caller):
            key.state = state
        audit.record(
            session,
            actor=actor,
            action="key.activate" if active else "key.deactivate",
            object_type="key",
            object_id=key.id,
            summary=key.hint,
        )
    return key


def revoke_key(
    session: Session, *, actor: str, key_id: int, reason: str = "", caller: Caller = OPERATOR
) -> ApiKey:
    """Revoke a key for good.  Revoking a revoked key changes nothing (idempotent)."""
    key = get_key(session, key_id)
    privileges.require_may_act_on(caller, key.client)
    if key.state == "revoked":
        return key
    now = datetime.now(UTC)
    with privileges.keeping_an_admin(session, caller):
        key.state, key.revoked_at = "revoked", now
        _close_tokens(key, at=now)
    audit.record(
        session,
        actor=actor,
        action="key.revoke",
        object_type="key",
        object_id=key.id,
        summary=f"{key.hint}{'; ' + reason if reason else ''}",
    )
    return key


def revoke_client_keys(
    session: Session, *, actor: str, client_ref: int | str, caller: Caller = OPERATOR
) -> list[ApiKey]:
    """Revoke every key of one client; returns the keys that were revoked now."""
    client = get_client(session, client_ref)
    return _revoke_all(session, actor=actor, keys=client.keys, caller=caller)


def revoke_project_keys(
    session: Session, *, actor: str, project: str, caller: Caller = OPERATOR
) -> list[ApiKey]:
    """Revoke every key of every client of a project."""
    proj = get_project(session, project)
    keys = session.scalars(
        select(ApiKey).join(Client).where(Client.projects.contains(proj)).order_by(ApiKey.id)
    )
    return _revoke_all(session, actor=actor, keys=list(keys), caller=caller)


def delete_key(session: Session, *, actor: str, key_id: int, caller: Caller = OPERATOR) -> None:
    """Delete a key; its tokens are unknown from the next request on."""
    key = get_key(session, key_id)
    privileges.require_may_act_on(caller, key.client)
    before = serialize.key(key)
    with privileges.keeping_an_admin(session, caller):
        session.delete(key)
    audit.record(
        session,
        actor=actor,
        action="key.delete",
        object_type="key",
        object_id=before["id"],
        summary=before["hint"],
        before=before,
    )


def token_owners(session: Session, digests: set[str]) -> dict[str, tuple]:
    """digest -> (token id, key id, client id, hint) of the tokens we issued, in any state.

    The leak intake's lookup: an old regenerated or revoked token is still ours.
    """
    found: dict[str, tuple] = {}
    ordered = sorted(digests)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(KeyToken.digest, KeyToken.id, KeyToken.key_id, ApiKey.client_id, KeyToken.hint)
            .join(ApiKey, ApiKey.id == KeyToken.key_id)
            .where(KeyToken.digest.in_(chunk))
        )
        found.update({row[0]: tuple(row[1:]) for row in rows})
    return found


def _revoke_all(session: Session, *, actor: str, keys, caller: Caller) -> list[ApiKey]:
    live = [key for key in keys if key.state != "revoked"]
    for key in keys:
        privileges.require_may_act_on(caller, key.client)
    # One last-admin judgement for the whole batch, not one per key.
    with privileges.keeping_an_admin(session, caller):
        for key in live:
            revoke_key(session, actor=actor, key_id=key.id, caller=replace(caller, force=True))
    return live


def _new_token(session: Session, settings: Settings, key: ApiKey) -> str:
    token = tokens.generate(settings.token_prefix, key.environment.tag)
    key.hint = tokens.hint_of(token)
    key.tokens.append(
        KeyToken(
            digest=tokens.digest(token, settings.pepper_bytes),
            digest_version=tokens.DIGEST_VERSION,
            hint=key.hint,
        )
    )
    return token


def _close_tokens(key: ApiKey, *, at: datetime) -> None:
    # A token already set to stop earlier (an earlier grace) keeps its earlier end.
    for row in key.tokens:
        if row.valid_until is None or row.valid_until > at:
            row.valid_until = at


def _apply_rules(key: ApiKey, **rules) -> None:
    if "allowed_ips" in rules:
        key.allowed_ips = normalise_rules(rules["allowed_ips"], field="allowed_ips")
    if "blocked_ips" in rules:
        key.blocked_ips = normalise_rules(rules["blocked_ips"], field="blocked_ips")
    if "expires_at" in rules:
        key.expires_at = validate.future_datetime(rules["expires_at"])


def _live_key(session: Session, key_id: int) -> ApiKey:
    key = get_key(session, key_id)
    if key.state == "revoked":
        raise StateError(
            f"key {key.id} ({key.hint}) is revoked; revocation is final", reason="key_revoked"
        )
    return key


def _lock_client(session: Session, client_id: int) -> Client:
    # Row lock on PostgreSQL so two concurrent issues cannot both take the 10th slot.
    return session.scalars(select(Client).where(Client.id == client_id).with_for_update()).one()


def _require_room(session: Session, client: Client) -> None:
    live = [key for key in client.keys if key.state != "revoked"]
    if len(live) >= MAX_KEYS_PER_CLIENT:
        raise LimitError(
            f"client {client.name!r} has {MAX_KEYS_PER_CLIENT} keys already, the most allowed; "
            "revoke or delete one first",
            reason="key_limit",
        )
