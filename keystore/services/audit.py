"""The audit trail: append events, read them back filtered and paginated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore.models import AuditEvent
from keystore.paging import MAX_LIMIT, Page, PageRequest, SortKey, fetch_page

NEWEST_FIRST = (SortKey(AuditEvent.id, descending=True),)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event.  Callers name keys by id and hint, never by token."""
    event = AuditEvent(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
    page: PageRequest | None = None,
) -> Page:
    """Newest first: one ``page`` (keystore.paging), or the first ``limit``."""
    query = select(AuditEvent)
    filters = {
        AuditEvent.action: action,
        AuditEvent.object_type: object_type,
        AuditEvent.object_id: object_id,
        AuditEvent.actor: actor,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    page = page or PageRequest(limit=max(1, min(limit, MAX_LIMIT)))
    return fetch_page(session, query, NEWEST_FIRST, page)
