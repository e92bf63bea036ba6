"""Leak intake: record every reported occurrence, open the incident of each token we own,
and stop the token at once where the policy says so.

Called by the partner webhooks, the repository scanner and the console, inside
the transaction that is committed *before* they answer; the incident ids
returned are enqueued only after that commit.  The public revocation endpoint
stores its submissions first (:func:`store_public`) and matches them after its
answer (:func:`match_public`), so its answer takes the same time for any input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from keystore import tokens
from keystore.config import Settings
from keystore.db import transaction
from keystore.models import Incident, Occurrence
from keystore.services import keys
from rotation import dispatch
from rotation.context import TaskContext
from rotation.metrics import REFUSED, REPORTS
from rotation.policy import refuse_reported

IN_CHUNK = 500
PUBLIC_SOURCE = "public_revocation"


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
    # Incidents whose token this intake stopped (policy revoke or regenerate).
    refused_ids: list[int] = field(default_factory=list)


def receive(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    origin: str,
    reports: list[Report],
    keep_unknown: bool = True,
) -> list[bool]:
    """Record reports in one committed transaction, then enqueue; returns which were ours."""
    with transaction(sessions) as session:
        intake = record_reports(
            session, settings, origin=origin, reports=reports, keep_unknown=keep_unknown
        )
    after_commit(origin, intake)
    return intake.owned


def receive_public(sessions: sessionmaker[Session], settings: Settings, credentials) -> None:
    """Store a public submission (constant work: no key is looked up) and hand the matching on.

    The submission is stored before the answer, so a lost task is finished by the sweeper.
    """
    entries = public_entries(settings, credentials)
    if not entries:
        return
    with transaction(sessions) as session:
        ids = store_public(session, entries)
    dispatch.enqueue_public_match(ids)


def finish_public(ctx: TaskContext, occurrence_ids: list[int] | None) -> int:
    """Match stored public submissions (given ones, or the sweeper's leftovers); enqueue ours."""
    older_than = timedelta(seconds=ctx.settings.sweep_after_seconds)
    with transaction(ctx.sessions) as session:
        intake = match_public(session, occurrence_ids=occurrence_ids, older_than=older_than)
    after_commit("public", intake)
    return len(intake.incident_ids)


def after_commit(origin: str, intake: Intake) -> None:
    """Enqueue the open incidents and count what was received (the commit is done)."""
    for incident_id in intake.incident_ids:
        dispatch.enqueue_incident(incident_id)
    for mine in intake.owned:
        REPORTS.labels(origin, "true_positive" if mine else "false_positive").inc()
    if intake.refused_ids:
        REFUSED.labels(origin).inc(len(intake.refused_ids))


def record_reports(
    session: Session,
    settings: Settings,
    *,
    origin: str,
    reports: list[Report],
    keep_unknown: bool = True,
) -> Intake:
    """Store the occurrences, create or join incidents and refuse the tokens the policy stops.

    Returns which reports were ours, the open incidents to enqueue, and those refused now.
    """
    digests = [tokens.digest(report.token, settings.pepper_bytes) for report in reports]
    owners = keys.token_owners(
        session, {d for d, r in zip(digests, reports, strict=True) if tokens.is_token(r.token)}
    )
    incident_of = _ensure_incidents(session, owners, origin=origin)
    now = datetime.now(UTC)
    # Before the occurrences: their foreign keys share-lock the incidents, and two intakes
    # holding share locks would deadlock upgrading them to the refusal's row locks.
    refused = refuse_reported(session, list(incident_of.values()), at=now)
    rows = [
        _occurrence(report, digest, incident_of.get(digest), origin=origin, at=now)
        for report, digest in zip(reports, digests, strict=True)
        if keep_unknown or digest in incident_of
    ]
    if rows:
        session.execute(Occurrence.__table__.insert(), rows)
    open_ids = _open_incidents(session, set(incident_of.values()))
    return Intake(owned=[d in owners for d in digests], incident_ids=open_ids, refused_ids=refused)


def public_entries(settings: Settings, credentials: list[str]) -> list[tuple[str, str]]:
    """(digest, hint) of each well-formed token: the same work for a live token and any other.

    Whether a string is well formed is no secret (the checksum is public); whether it
    is live is decided later, by :func:`match_public`, after the answer.
    """
    return [
        (tokens.digest(c, settings.pepper_bytes), tokens.hint_of(c))
        for c in dict.fromkeys(credentials)
        if tokens.is_token(c)
    ]


def store_public(session: Session, entries: list[tuple[str, str]]) -> list[int]:
    """Store a public submission as unmatched occurrences: one insert, no lookup of any key."""
    if not entries:
        return []
    now = datetime.now(UTC)
    rows = [
        {
            "incident_id": None,
            "token_digest": digest,
            "token_hint": hint,
            "origin": "public",
            "token_type": "",
            "url": "",
            "source": PUBLIC_SOURCE,
            "received_at": now,
        }
        for digest, hint in entries
    ]
    return list(session.scalars(Occurrence.__table__.insert().returning(Occurrence.id), rows))


def match_public(
    session: Session, *, occurrence_ids: list[int] | None, older_than: timedelta | None = None
) -> Intake:
    """Join stored public submissions to incidents; forget the tokens that are not ours.

    ``occurrence_ids`` None means every unmatched submission older than ``older_than``
    (the sweeper's way of finishing what a lost task left).
    """
    pending = _pending_public(session, occurrence_ids, older_than)
    owners = keys.token_owners(session, {digest for _, digest in pending})
    incident_of = _ensure_incidents(session, owners, origin="public")
    # Before linking the occurrences, for the reason given in record_reports.
    refused = refuse_reported(session, list(incident_of.values()), at=datetime.now(UTC))
    for digest, incident_id in incident_of.items():
        ids = [i for i, d in pending if d == digest]
        session.execute(
            update(Occurrence).where(Occurrence.id.in_(ids)).values(incident_id=incident_id)
        )
    # Unknown tokens from anyone are not kept: a public endpoint must not fill the database.
    strangers = [i for i, d in pending if d not in incident_of]
    for start in range(0, len(strangers), IN_CHUNK):
        session.execute(
            delete(Occurrence).where(Occurrence.id.in_(strangers[start : start + IN_CHUNK]))
        )
    return Intake(
        owned=[d in owners for _, d in pending],
        incident_ids=_open_incidents(session, set(incident_of.values())),
        refused_ids=refused,
    )


def unmatched_public(session: Session, *, older_than: timedelta) -> bool:
    """Whether a stored public submission has waited longer than ``older_than`` for matching."""
    cutoff = datetime.now(UTC) - older_than
    return (
        session.scalar(
            select(Occurrence.id)
            .where(
                Occurrence.origin == "public",
                Occurrence.incident_id.is_(None),
                Occurrence.received_at < cutoff,
            )
            .limit(1)
        )
        is not None
    )


def _pending_public(session, occurrence_ids, older_than) -> list[tuple[int, str]]:
    query = select(Occurrence.id, Occurrence.token_digest).where(
        Occurrence.origin == "public", Occurrence.incident_id.is_(None)
    )
    if occurrence_ids is not None:
        query = query.where(Occurrence.id.in_(occurrence_ids))
    else:
        cutoff = datetime.now(UTC) - (older_than or timedelta(0))
        query = query.where(Occurrence.received_at < cutoff).order_by(Occurrence.id).limit(1000)
    # Two matchers (a task and the sweeper) never take the same rows (PostgreSQL).
    return [tuple(row) for row in session.execute(query.with_for_update(skip_locked=True))]


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
        # In token order, so concurrent batches wait on each other instead of deadlocking.
        for t, k, c, h in sorted(owners.values())
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
