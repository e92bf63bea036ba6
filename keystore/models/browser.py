"""Console and portal sign-ins: server-side sessions and sign-in throttling.

Neither table holds a secret in the clear: a session is found by the keyed
digest of its cookie's random id, and a throttle by the keyed digest of what
it counts (an email, an address, or both), so typed emails are not stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow


class BrowserSession(Base):
    """One signed-in browser: an admin's (console) or a portal user's, never both."""

    __tablename__ = "browser_sessions"
    __table_args__ = (
        CheckConstraint("(admin_id IS NULL) <> (portal_user_id IS NULL)", name="one_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # Deleting the person deletes their sessions, in the database itself.
    admin_id: Mapped[int | None] = mapped_column(
        ForeignKey("admins.id", ondelete="CASCADE"), index=True
    )
    portal_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_users.id", ondelete="CASCADE"), index=True
    )
    # A digest of the password hash at sign-in: any later password change ends the session.
    credential_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SignInThrottle(Base):
    """Sign-in attempts counted for one scope: an account, an address, or the pair."""

    __tablename__ = "sign_in_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_digest: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OneTimeView(Base):
    """A page to be shown once to one browser session (a new token): sealed, short-lived."""

    __tablename__ = "one_time_views"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keyed digest of the view id and the browser session id: neither is stored.
    view_digest: Mapped[str] = mapped_column(String(64), unique=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
