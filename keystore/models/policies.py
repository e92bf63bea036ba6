"""Named policies: limits and address rules that clients and keys take by reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow
from keystore.models.clients import LimitsMixin


class Policy(LimitsMixin, Base):
    """Rate limit, quotas and address rules shared by every client and key naming it.

    What applies to a request is the strictest of the policy and the holder's own
    settings (see :mod:`keystore.decision`), read fresh on every request.
    """

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    blocked_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
