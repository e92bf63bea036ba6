"""Server-side sessions for people signed in to the console or the portal.

The browser's cookie carries only a random session id; the database keeps its
keyed digest, who signed in, and when.  A session ends when its person signs
out, changes password, or is deleted (the foreign keys cascade), after
``session_idle_seconds`` without a request, and ``session_max_seconds`` after
sign-in, whichever comes first.  Expired rows are deleted when they are next
presented, and a bounded batch of them at every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.models import Admin, BrowserSession, PortalUser, utcnow

# Who can hold a session, and the column that names them.
KINDS = {"admin": (Admin, "admin_id"), "portal_user": (PortalUser, "portal_user_id")}
# last_seen_at is written at most this often (or a tenth of the idle timeout, if shorter),
# so browsing does not write on every page; the idle timeout is exact to within that.
TOUCH_EVERY = timedelta(seconds=30)
PRUNE_BATCH = 200


def new_session_id() -> str:
    """A fresh id for a browser's cookie: 256 random bits."""
    return secrets.token_urlsafe(32)


def id_digest(settings: Settings, session_id: str) -> str:
    """What the database stores for a cookie's id (never the id itself)."""
    message = session_id.encode("utf-8", "surrogatepass")
    return hmac.new(_key(settings, b"session-id"), message, hashlib.sha256).hexdigest()


def csrf_token(settings: Settings, session_id: str) -> str:
    """The CSRF token bound to a session id: forms must carry it back."""
    message = session_id.encode("utf-8", "surrogatepass")
    return hmac.new(_key(settings, b"csrf"), message, hashlib.sha256).hexdigest()


def start(
    session: Session, settings: Settings, *, kind: str, person, now: datetime | None = None
) -> str:
    """Record a new session for ``person`` signed in as ``kind``; returns the cookie's id."""
    now = now or utcnow()
    prune(session, settings, now=now)
    session_id = new_session_id()
    _, column = KINDS[kind]
    record = BrowserSession(
        id_digest=id_digest(settings, session_id),
        credential_stamp=credential_stamp(settings, person),
        created_at=now,
        last_seen_at=now,
        **{column: person.id},
    )
    session.add(record)
    session.flush()
    return session_id


def resolve(
    session: Session, settings: Settings, *, kind: str, session_id: str, now: datetime | None = None
):
    """The person a live session of ``kind`` belongs to, or None; ends it if it has expired."""
    now = now or utcnow()
    record = session.scalar(
        select(BrowserSession)
        .where(BrowserSession.id_digest == id_digest(settings, session_id))
        .execution_options(populate_existing=True)
    )
    model, column = KINDS[kind]
    if record is None or getattr(record, column) is None:
        return None
    person = session.get(model, getattr(record, column))
    this = BrowserSession.id == record.id
    # Statements rather than ORM changes: a parallel request (a sign-out in another tab)
    # may have deleted the row meanwhile, which must not become an error.
    if (
        person is None
        or _expired(record, settings, now)
        or not _same_password(record, person, settings)
    ):
        session.execute(delete(BrowserSession).where(this))
        return None
    if now - record.last_seen_at >= _touch_every(settings):
        session.execute(update(BrowserSession).where(this).values(last_seen_at=now))
    return person


def end(session: Session, settings: Settings, *, session_id: str) -> None:
    """Sign out: the id is worthless from now on, wherever its cookie was copied."""
    digest = id_digest(settings, session_id)
    session.execute(delete(BrowserSession).where(BrowserSession.id_digest == digest))


def end_all(session: Session, *, kind: str, person_id: int) -> int:
    """End every session of one person (password change, removal); returns how many."""
    _, column = KINDS[kind]
    result = session.execute(
        delete(BrowserSession).where(getattr(BrowserSession, column) == person_id)
    )
    return result.rowcount or 0


def prune(session: Session, settings: Settings, *, now: datetime) -> int:
    """Delete up to PRUNE_BATCH expired sessions, so the table stays as small as its use."""
    idle_since = now - timedelta(seconds=settings.session_idle_seconds)
    born_before = now - timedelta(seconds=settings.session_max_seconds)
    expired = (
        select(BrowserSession.id)
        .where(
            or_(BrowserSession.last_seen_at < idle_since, BrowserSession.created_at < born_before)
        )
        .limit(PRUNE_BATCH)
    )
    ids = list(session.scalars(expired))
    if not ids:
        return 0
    session.execute(delete(BrowserSession).where(BrowserSession.id.in_(ids)))
    return len(ids)


def credential_stamp(settings: Settings, person) -> str:
    """Changes whenever the person's password does."""
    stored = (person.password_hash or "").encode("utf-8")
    return hmac.new(_key(settings, b"credential"), stored, hashlib.sha256).hexdigest()


def _expired(record: BrowserSession, settings: Settings, now: datetime) -> bool:
    idle = now - record.last_seen_at >= timedelta(seconds=settings.session_idle_seconds)
    old = now - record.created_at >= timedelta(seconds=settings.session_max_seconds)
    return idle or old


def _touch_every(settings: Settings) -> timedelta:
    return min(TOUCH_EVERY, timedelta(seconds=settings.session_idle_seconds / 10))


def _same_password(record: BrowserSession, person, settings: Settings) -> bool:
    return hmac.compare_digest(record.credential_stamp, credential_stamp(settings, person))


def _key(settings: Settings, purpose: bytes) -> bytes:
    """A key per purpose, derived from the pepper, so no new secret must be configured."""
    return hmac.new(settings.pepper_bytes, b"keyward/browser/" + purpose, hashlib.sha256).digest()
