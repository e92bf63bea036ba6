"""Workspace admins: the people who run Keyward and receive leak notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow


class Admin(Base):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    notify_leaks: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when the admin chooses a password for the console; a memory-hard hash, never the password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
