"""The response policy: what a leak does to a key (revoke, regenerate, notify only), done once.

:func:`choose_action` decides; :func:`refuse_reported` stops a reported token in the
intake's own transaction; :func:`act` revokes or regenerates the key through the
keystore's key operations.  Every function is idempotent: it looks at the incident's
state first, so a redelivered task or a second report changes nothing already done.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import sealing
from keystore.config import Settings
from keystore.models import ApiKey, Incident, KeyToken
from keystore.privileges import LEAK_RESPONSE
from keystore.services import audit, keys

ACTOR = "leak-response"
# The policies that stop a token the moment it is reported.
STOPPING = ("revoke", "regenerate")
IN_CHUNK = 500


def choose_action(key: ApiKey) -> str:
    """The client's role overrides the environment's default."""
    role = key.client.role
    if role is not None and role.leak_action:
        return role.leak_action
    return key.environment.leak_action


def refuse_reported(session: Session, incident_ids: list[int], *, at: datetime) -> list[int]:
    """Stop the reported tokens whose policy is revoke or regenerate, in the caller's transaction.

    Called by the intake in the transaction that stores the report, so a leaked token is
    refused from the next request on, even with every worker down.  Only the token row is
    closed (``valid_until``, so the gateway says ``revoked``); the task still revokes or
    regenerates the key, audits and notifies.  Incidents already acted on are the task's
    business and are left alone.  Incidents are locked before tokens, in id order, as the
    task does, so concurrent intakes and tasks never deadlock.  Returns the refused ids.
    """
    refused = []
    ordered = sorted(set(incident_ids))
    for start in range(0, len(ordered), IN_CHUNK):
        incidents = session.scalars(
            select(Incident)
            .where(
                Incident.id.in_(ordered[start : start + IN_CHUNK]),
                Incident.state == "received",
                Incident.refused_at.is_(None),
            )
            .order_by(Incident.id)
            .with_for_update()
        ).all()
        refused += [i.id for i in incidents if _refuse(session, i, at=at)]
    session.flush()
    return refused


def _refuse(session: Session, incident: Incident, *, at: datetime) -> bool:
    key = session.get(ApiKey, incident.key_id)
    token_row = session.get(KeyToken, incident.token_id)
    if key is None or token_row is None or choose_action(key) not in STOPPING:
        return False
    if not _works(key, token_row, at):
        return False
    token_row.valid_until = at
    incident.refused_at = at
    return True


def _works(key: ApiKey, token_row: KeyToken, now: datetime) -> bool:
    return key.state != "revoked" and (token_row.valid_until is None or token_row.valid_until > now)


def act(session: Session, settings: Settings, incident: Incident) -> None:
    """Revoke, regenerate or only note the leak — once; moves the incident to ``acted``."""
    if incident.state != "received":
        return
    now = datetime.now(UTC)
    key = session.get(ApiKey, incident.key_id)
    token_row = session.get(KeyToken, incident.token_id)
    incident.owner_found_at = incident.owner_found_at or now
    if key is None or token_row is None:
        incident.action, incident.action_detail = "none", "the key was deleted before the leak"
    else:
        _apply(session, settings, incident, key, token_row, choose_action(key))
    incident.state, incident.acted_at = "acted", now
    session.flush()


def _apply(session, settings, incident, key, token_row, action: str) -> None:
    now = datetime.now(UTC)
    # A token the intake refused was working when it was reported: finish what it began.
    refused = incident.refused_at is not None
    still_works = key.state != "revoked" and (refused or _works(key, token_row, now))
    reason = f"leaked (incident {incident.id})"
    if action == "notify_only" and not refused:
        incident.action = "notify_only"
        incident.action_detail = "policy is notify only: the key was left working"
    elif not still_works:
        incident.action = "none"
        incident.action_detail = "the token had already stopped working"
    elif action == "revoke":
        # A leaked token stops working even if it is the last admin's.
        keys.revoke_key(session, actor=ACTOR, key_id=key.id, reason=reason, caller=LEAK_RESPONSE)
        incident.action, incident.action_detail = "revoke", "the key was revoked"
    elif any(other.id > token_row.id for other in key.tokens):
        # A token in its grace period after a regeneration: end the grace, keep the new one.
        token_row.valid_until = min(token_row.valid_until or now, now)
        incident.action = "regenerate"
        incident.action_detail = "the token was already replaced; its grace period ended now"
    else:
        # Also when the policy became notify_only after the intake refused the token:
        # the refusal stands, so the client needs a replacement.
        _regenerate(session, settings, incident, key)
    if refused and incident.action != "none":
        incident.action_detail += " (the leaked token was refused when the report arrived)"


def _regenerate(session, settings, incident, key) -> None:
    _, token = keys.regenerate_key(
        session, settings, actor=ACTOR, key_id=key.id, caller=LEAK_RESPONSE
    )
    incident.action = "regenerate"
    incident.action_detail = "the key got a new token; pick it up once in Keyward"
    incident.replacement_hint = key.hint
    incident.replacement_sealed = sealing.seal(
        token, pepper=settings.pepper_bytes, context=f"incident:{incident.id}"
    )
    audit.record(
        session,
        actor=ACTOR,
        action="incident.regenerate",
        object_type="incident",
        object_id=incident.id,
        summary=f"{incident.token_hint} -> {key.hint}",
    )
