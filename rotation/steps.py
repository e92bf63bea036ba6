"""Incident step leases: at most one pending task per incident.

The task working on an incident (acting on the key, then notifying) holds the
incident's lease (``lease_id``) until ``next_attempt_at``.  Enqueueing claims the
lease first, so duplicate reports, redeliveries and sweeps never stack tasks; a
task whose lease was taken over does nothing; the sweeper hands an incident to a
new task only once its lease has run out.  The broker may lose a message, hold a
retry or be down: the incident row stays the source of truth.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.models import Incident


def retry_cap_seconds(settings: Settings) -> int:
    """The longest countdown a task retry may wait in the broker.

    Well below the visibility timeout: a message held longer than that is redelivered
    as a duplicate.  Longer waits belong to the lease and the sweeper.
    """
    return max(
        1, min(settings.task_retry_backoff_max_seconds, settings.task_visibility_seconds // 4)
    )


def lease_ttl(settings: Settings) -> timedelta:
    """How long a claimed step may stay pending: a retry's countdown plus one run at most."""
    return timedelta(seconds=retry_cap_seconds(settings) + settings.task_visibility_seconds)


def claim(session: Session, incident_id: int, *, ttl: timedelta, now=None) -> str | None:
    """Take a new lease on an open incident nobody holds (or whose lease ran out).

    Returns the lease id for the task to carry, or None when another task holds it.
    One conditional UPDATE, so two claimers never both win.
    """
    now = now or datetime.now(UTC)
    lease = uuid.uuid4().hex
    result = session.execute(
        update(Incident)
        .where(
            Incident.id == incident_id,
            Incident.state != "notified",
            or_(Incident.next_attempt_at.is_(None), Incident.next_attempt_at <= now),
        )
        .values(lease_id=lease, next_attempt_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return lease if result.rowcount == 1 else None


def hold(incident: Incident, lease: str | None, *, ttl: timedelta, now=None) -> str | None:
    """In the task's locked transaction: renew the lease it carries, or None if taken over.

    ``lease=None`` (a direct call, or a message sent before leases existed) takes the
    incident over: the task that held it finds its lease gone and stops.
    """
    now = now or datetime.now(UTC)
    if lease is not None and incident.lease_id != lease:
        return None
    incident.lease_id = lease or uuid.uuid4().hex
    incident.next_attempt_at = now + ttl
    return incident.lease_id


def release(session: Session, incident_id: int, lease: str, *, at=None) -> None:
    """No task is pending under ``lease`` any more (it was never sent, or it gave up):
    the incident is due for the sweeper at ``at`` (default now), not when the lease ends."""
    session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.lease_id == lease)
        .values(next_attempt_at=at or datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )


def close(incident: Incident) -> None:
    """Every step is done: no lease, nothing for the sweeper."""
    incident.lease_id, incident.next_attempt_at = None, None
