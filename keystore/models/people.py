"""Workspace admins: the people who run Keyward, sign in to the console and receive leak
notifications; each has a console role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow

# What a person may do in the console, weakest first: read; manage clients, keys and
# incidents; everything, including people and settings.
CONSOLE_ROLES = ("viewer", "operator", "admin")


class Admin(Base):
    __tablename__ = "admins"
    __table_args__ = (CheckConstraint(f"role IN {CONSOLE_ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    notify_leaks: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    # Set when the admin chooses a password for the console; a memory-hard hash, never the password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
