"""Incident bookkeeping for the leak response: lock one, find the ones no task holds.

Recording reports (the intake) lives in :mod:`rotation.intake`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from keystore.models import Incident


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
