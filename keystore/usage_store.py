"""The database side of usage figures: applying flushed buffers, and reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keystore.errors import ValidationError
from keystore.models import ApiKey, UsageCount
from keystore.paging import Page, PageRequest, slice_page

GRANULARITIES = ("hour", "day")

# (client_id, key_id, hour since the epoch, outcome) -> count
Counts = Mapping[tuple[int, int, int, str], int]
# key_id -> (epoch seconds, address)
LastUse = Mapping[int, tuple[float, str | None]]


def apply(session: Session, *, counts: Counts, last_use: LastUse) -> int:
    """Add buffered counts and last uses to the database; return the rows offered."""
    if counts:
        _upsert_counts(session, counts=counts)
    if last_use:
        _advance_last_use(session, last_use=last_use)
    return len(counts) + len(last_use)


def _upsert_counts(session: Session, *, counts: Counts) -> None:
    table = UsageCount.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["client_id", "key_id", "bucket", "outcome"],
        set_={"count": table.c["count"] + statement.excluded["count"]},
    )
    # Sorted, so concurrent flushers would lock rows in the same order.
    rows = [
        {"client_id": c, "key_id": k, "bucket": hour_start(h), "outcome": o, "count": n}
        for (c, k, h, o), n in sorted(counts.items())
    ]
    session.execute(statement, rows)


def _advance_last_use(session: Session, *, last_use: LastUse) -> None:
    keys = ApiKey.__table__
    statement = (
        update(keys)
        .where(
            keys.c.id == bindparam("key"),
            or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < bindparam("at")),
        )
        # Use is not an edit: keep updated_at (its onupdate would otherwise bump it).
        .values(last_used_at=bindparam("at"), last_used_ip=bindparam("ip"))
        .values(updated_at=keys.c.updated_at)
    )
    rows = [
        {"key": key_id, "at": datetime.fromtimestamp(ts, UTC), "ip": address}
        for key_id, (ts, address) in sorted(last_use.items())
    ]
    session.execute(statement, rows)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def usage_report(
    session: Session,
    *,
    client_id: int | None = None,
    key_id: int | None = None,
    granularity: str = "hour",
    since: datetime | None = None,
    until: datetime | None = None,
    page: PageRequest | None = None,
) -> Page:
    """Counts per bucket and outcome for hours starting in ``[since, until)``, or one ``page``.

    ``granularity="day"`` adds up the hours of each UTC day.  Sorted by bucket
    (ISO 8601: ``2026-11-23T19:00:00+00:00`` or ``2026-11-23``), then outcome.
    """
    if granularity not in GRANULARITIES:
        raise ValidationError(
            "granularity must be hour or day", reason="invalid_granularity", field="granularity"
        )
    query = _report_query(client_id=client_id, key_id=key_id, since=since, until=until)
    totals: Counter[tuple[str, str]] = Counter()
    for bucket, outcome, count in session.execute(query):
        label = bucket.date().isoformat() if granularity == "day" else bucket.isoformat()
        totals[(label, outcome)] += int(count)
    rows = [{"bucket": b, "outcome": o, "count": n} for (b, o), n in sorted(totals.items())]
    return slice_page(rows, key=_bucket_outcome, kinds=(str, str), page=page)


def _bucket_outcome(row: dict) -> tuple[str, str]:
    return row["bucket"], row["outcome"]


def _report_query(*, client_id, key_id, since, until):
    t = UsageCount
    query = select(t.bucket, t.outcome, func.sum(t.count)).group_by(t.bucket, t.outcome)
    if client_id is not None:
        query = query.where(t.client_id == client_id)
    if key_id is not None:
        query = query.where(t.key_id == key_id)
    if since is not None:
        query = query.where(t.bucket >= since)
    if until is not None:
        query = query.where(t.bucket < until)
    return query
