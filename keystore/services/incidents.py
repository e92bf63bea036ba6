"""Leak incidents on the store: read them, hand out a replacement once.

Recording reports (the intake) lives in :mod:`rotation.intake`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import sealing
from keystore.config import Settings
from keystore.errors import NotFoundError, StateError
from keystore.models import Client, Incident
from keystore.privileges import OPERATOR, Caller, require_everything, require_may_act_on
from keystore.services import audit


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}", reason="incident_not_found")
    return incident


def list_incidents(
    session: Session,
    *,
    state: str | None = None,
    client_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Open incidents first, then newest first."""
    query = select(Incident).order_by((Incident.state == "notified"), Incident.id.desc())
    if state is not None:
        query = query.where(Incident.state == state)
    if client_id is not None:
        query = query.where(Incident.client_id == client_id)
    if before_id is not None:
        query = query.where(Incident.id < before_id)
    return list(session.scalars(query.limit(max(1, min(limit, 500)))))


def pick_up_replacement(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    incident_id: int,
    caller: Caller = OPERATOR,
) -> tuple[Incident, str]:
    """Hand out the replacement token once; the sealed copy is destroyed in the same step.

    The token is the client's credential: only a caller holding all the client holds gets it.
    """
    incident = session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).one_or_none()
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}", reason="incident_not_found")
    owner = session.get(Client, incident.client_id)
    if owner is None:
        require_everything(caller, what=f"the deleted client of incident {incident.id}")
    else:
        require_may_act_on(caller, owner)
    if incident.replacement_sealed is None:
        reason = "picked_up" if incident.replacement_picked_up_at else "no_replacement"
        raise StateError(
            f"incident {incident_id} has no replacement token to pick up "
            f"({reason.replace('_', ' ')})",
            reason=reason,
        )
    token = sealing.unseal(
        incident.replacement_sealed, pepper=settings.pepper_bytes, context=f"incident:{incident.id}"
    )
    incident.replacement_sealed = None
    incident.replacement_picked_up_at = datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action="incident.pickup",
        object_type="incident",
        object_id=incident.id,
        summary=f"replacement {incident.replacement_hint}",
    )
    return incident, token
