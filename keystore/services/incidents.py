"""Leak intake: record every reported occurrence and the incident of each token we own.

Called by the webhooks, the public revocation endpoint and the repository
scanner, inside the transaction that is committed *before* they answer; the
incident ids returned are enqueued only after that commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keystore import sealing, tokens
from keystore.config import Settings
from keystore.errors import NotFoundError, StateError
from keystore.models import ApiKey, Incident, KeyToken, Occurrence
from keystore.services import audit

IN_CHUNK = 500


@dataclass(frozen=True)
class Report:
    """One reported token, as a partner or scanner saw it."""

    token: str = field(repr=False)
    token_type: str = ""
    url: str = ""
    source: str = ""


@dataclass
class Intake:
    owned: list[bool]
    incident_ids: list[int]


def record_reports(
    session: Session,
    settings: Settings,
    *,
    origin: str,
    reports: list[Report],
    keep_unknown: bool = True,
) -> Intake:
    """Store the occurrences and create or join incidents.  Returns which reports were ours."""
    digests = [tokens.digest(report.token, settings.pepper_bytes) for report in reports]
    owners = _owners(
        session, {d for d, r in zip(digests, reports, strict=True) if tokens.is_token(r.token)}
    )
    incident_of = _ensure_incidents(session, owners, origin=origin)
    now = datetime.now(UTC)
    rows = [
        _occurrence(report, digest, incident_of.get(digest), origin=origin, at=now)
        for report, digest in zip(reports, digests, strict=True)
        if keep_unknown or digest in incident_of
    ]
    if rows:
        session.execute(Occurrence.__table__.insert(), rows)
    open_ids = _open_incidents(session, set(incident_of.values()))
    return Intake(owned=[d in owners for d in digests], incident_ids=open_ids)


def _hint(token: str) -> str:
    try:
        return tokens.hint_of(token)
    except tokens.TokenFormatError:
        return "(not a Keyward token)"


def _occurrence(report: Report, digest: str, incident_id, *, origin: str, at) -> dict:
    return {
        "incident_id": incident_id,
        "token_digest": digest,
        "token_hint": _hint(report.token),
        "origin": origin,
        "token_type": report.token_type[:100],
        "url": report.url[:4000],
        "source": report.source[:100],
        "received_at": at,
    }


def _owners(session: Session, digests: set[str]) -> dict[str, tuple]:
    """digest -> (token id, key id, client id, hint) for the tokens we issued."""
    found: dict[str, tuple] = {}
    ordered = sorted(digests)
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        rows = session.execute(
            select(KeyToken.digest, KeyToken.id, KeyToken.key_id, ApiKey.client_id, KeyToken.hint)
            .join(ApiKey, ApiKey.id == KeyToken.key_id)
            .where(KeyToken.digest.in_(chunk))
        )
        found.update({row[0]: tuple(row[1:]) for row in rows})
    return found


def _ensure_incidents(session: Session, owners: dict[str, tuple], *, origin: str) -> dict:
    """digest -> incident id; concurrent reports of one token meet in one row (unique token_id)."""
    if not owners:
        return {}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    values = [
        {
            "token_id": t,
            "key_id": k,
            "client_id": c,
            "token_hint": h,
            "state": "received",
            "first_origin": origin,
            "received_at": now,
            "updated_at": now,
            "attempts": 0,
            "action_detail": "",
        }
        for t, k, c, h in owners.values()
    ]
    statement = dialect.insert(Incident).on_conflict_do_nothing(index_elements=["token_id"])
    session.execute(statement, values)
    by_token = dict(
        session.execute(
            select(Incident.token_id, Incident.id).where(
                Incident.token_id.in_([owner[0] for owner in owners.values()])
            )
        ).all()
    )
    return {digest: by_token[owner[0]] for digest, owner in owners.items()}


def _open_incidents(session: Session, ids: set[int]) -> list[int]:
    if not ids:
        return []
    return sorted(
        session.scalars(
            select(Incident.id).where(Incident.id.in_(ids), Incident.state != "notified")
        )
    )


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


def pick_up_replacement(
    session: Session, settings: Settings, *, actor: str, incident_id: int
) -> tuple[Incident, str]:
    """Hand out the replacement token once; the sealed copy is destroyed in the same step."""
    incident = session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).one_or_none()
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}", reason="incident_not_found")
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
