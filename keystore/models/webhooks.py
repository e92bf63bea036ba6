"""Outgoing webhooks: where leak notifications go besides email (Slack, a signed JSON POST)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow

WEBHOOK_KINDS = ("slack", "json")


class Webhook(Base):
    """One receiver.  The URL and the signing secret are sealed: both are credentials."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    # scheme://host/… only: enough to recognise the receiver without revealing its secret path.
    url_display: Mapped[str] = mapped_column(String(300))
    url_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The HMAC key of the JSON kind; it must be recoverable to sign, hence sealed, not hashed.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
