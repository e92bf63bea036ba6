"""Key-age reminders: one message per token clock and recipient, claimed before sending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime, utcnow


class KeyAgeReminder(Base):
    """ "This key reaches its maximum age soon", to one recipient, for one token.

    A key's clock is its current token: a regeneration issues a new token and so starts
    a new clock, with reminders of its own.  The unique pair makes the reminder durable
    and sent once however many schedulers run; the states are those of incident
    notifications (pending -> sending, claimed for a lease -> sent | skipped | failed).
    """

    __tablename__ = "key_age_reminders"
    __table_args__ = (UniqueConstraint("token_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("key_tokens.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(254))
    # admin | client (emails: recipient is the address) | webhook (recipient webhook:<id>)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    message_id: Mapped[str] = mapped_column(String(200))
    # When the key expires by age, as the reminder says it (the clock it belongs to).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
