"""Leak incidents: one per leaked token, with every report of it and every email about it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keystore.models.base import Base, UTCDateTime, utcnow

INCIDENT_STATES = ("received", "acted", "notified")
ORIGINS = ("github", "gitlab", "public", "scan", "manual")


class Incident(Base):
    """A leaked token of ours.  ``token_id`` is unique: every report joins the same incident."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys to keys/clients: the incident outlives their deletion.
    token_id: Mapped[int] = mapped_column(Integer, unique=True)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    client_id: Mapped[int] = mapped_column(Integer, index=True)
    token_hint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="received", index=True)
    first_origin: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    owner_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the intake stopped the token, in the transaction that stored the report (the
    # policy said revoke or regenerate); the task then finishes the action.
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # revoke | regenerate | notify_only | none (the token had already stopped working)
    action: Mapped[str | None] = mapped_column(String(16))
    action_detail: Mapped[str] = mapped_column(Text, default="")
    replacement_hint: Mapped[str | None] = mapped_column(String(64))
    # The replacement token, encrypted (AES-GCM, key derived from the pepper) until picked up.
    replacement_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    replacement_picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The step lease: the one task allowed to work on this incident, until next_attempt_at;
    # after that the sweeper may hand the incident to a new task (rotation.steps).
    lease_id: Mapped[str | None] = mapped_column(String(32))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    occurrences: Mapped[list[Occurrence]] = relationship(
        back_populates="incident", order_by="Occurrence.id"
    )
    notifications: Mapped[list[Notification]] = relationship(
        back_populates="incident", order_by="Notification.id"
    )


class Occurrence(Base):
    """One report of a token somewhere.  Only its keyed digest is kept, never the token."""

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), index=True)
    token_hint: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))
    token_type: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident | None] = relationship(back_populates="occurrences")


class Notification(Base):
    """One message about one incident to one recipient; the unique pair makes sending idempotent.

    ``channel`` says who it is for: ``admin`` and ``client`` are emails (``recipient`` is
    the address), ``webhook`` a POST to webhook ``recipient`` = ``webhook:<id>``.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("incident_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    # pending -> sending (claimed by one worker until claimed_at + lease) -> sent | skipped,
    # or failed (a receiver that refuses for good, e.g. a 4xx: retrying cannot help).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="notifications")
