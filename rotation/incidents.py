"""Incident bookkeeping: read them, lock one, find the ones no task holds, hand out a
replacement token once.

Recording reports (the intake) lives in :mod:`rotation.intake`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from keystore import sealing
from keystore.config import Settings
from keystore.errors import NotFoundError, StateError
from keystore.models import Client, Incident
from keystore.paging import MAX_LIMIT, Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller, require_everything, require_may_act_on
from keystore.services import audit


def lock_incident(session: Session, incident_id: int) -> Incident | None:
    """The incident, locked against a concurrent handler (PostgreSQL; SQLite serialises writes)."""
    return session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).one_or_none()


def stuck_incidents(
    session: Session, *, older_than: timedelta, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Open incidents no task holds (for the sweeper).

    Either never claimed and untouched for ``older_than`` (the enqueue after the commit
    did not happen), or their step lease ran out (the task was lost, gave up its retries,
    or could not be sent).  A live lease means a task is pending: the sweeper leaves it.
    """
    now = now or datetime.now(UTC)
    cutoff = now - older_than
    return list(
        session.scalars(
            select(Incident.id)
            .where(
                Incident.state != "notified",
                or_(
                    and_(Incident.next_attempt_at.is_(None), Incident.updated_at < cutoff),
                    Incident.next_attempt_at <= now,
                ),
            )
            .order_by(Incident.id)
            .limit(limit)
        )
    )


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}", reason="incident_not_found")
    return incident


OPEN_FIRST = (SortKey(Incident.state == "notified"), SortKey(Incident.id, descending=True))


def list_incidents(
    session: Session,
    *,
    state: str | None = None,
    client_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
    page: PageRequest | None = None,
) -> Page:
    """Open incidents first, then newest first: ``page``, or the first ``limit``."""
    query = select(Incident)
    if state is not None:
        query = query.where(Incident.state == state)
    if client_id is not None:
        query = query.where(Incident.client_id == client_id)
    if before_id is not None:
        query = query.where(Incident.id < before_id)
    page = page or PageRequest(limit=max(1, min(limit, MAX_LIMIT)))
    return fetch_page(session, query, OPEN_FIRST, page)


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
    incident = lock_incident(session, incident_id)
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
