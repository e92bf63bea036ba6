"""Key actions shared by the console and the portal: the form in, the keystore service called.

Callers decide *which* key or client may be acted on (the portal checks
ownership first) and say who acts (``caller``, for the keystore's containment
rule); these only translate the submitted form.
"""

from __future__ import annotations

from keystore.privileges import Caller
from keystore.services import keys
from web.forms import expiry, lines, optional_int, text
from web.runtime import runtime

KEY_FIELDS = ("name", "environment", "allowed_ips", "blocked_ips", "expires_at", "policy")
STATE_CHANGES = ("deactivate", "reactivate", "revoke")


def issue_from_form(
    session, *, actor: str, caller: Caller, client_id: int, policy: str | None = None
) -> dict:
    """Issue a key from the submitted form (and ``policy``, the console's choice); the result
    carries the one-time token."""
    key, token = keys.issue_key(
        session,
        runtime().settings,
        actor=actor,
        caller=caller,
        client_ref=client_id,
        name=text("name"),
        environment=text("environment"),
        allowed_ips=lines("allowed_ips"),
        blocked_ips=lines("blocked_ips"),
        expires_at=expiry("expires_at"),
        policy=policy,
    )
    return _issued(key, token)


def regenerate_from_form(session, *, actor: str, caller: Caller, key_id: int) -> dict:
    """A new token for the key, the old one ending after the submitted grace (default now)."""
    key, token = keys.regenerate_key(
        session,
        runtime().settings,
        actor=actor,
        caller=caller,
        key_id=key_id,
        grace_seconds=optional_int("grace_seconds") or 0,
    )
    return _issued(key, token)


def change_state(session, *, actor: str, caller: Caller, key_id: int, change: str):
    """Deactivate, reactivate or revoke a key."""
    if change == "revoke":
        return keys.revoke_key(session, actor=actor, caller=caller, key_id=key_id)
    active = change == "reactivate"
    return keys.set_key_active(session, actor=actor, caller=caller, key_id=key_id, active=active)


def _issued(key, token: str) -> dict:
    return {"hint": key.hint, "name": key.name, "token": token, "client_id": key.client_id}
