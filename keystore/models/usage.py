"""Usage figures: how many requests each client and key made, per hour and outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base, UTCDateTime


class UsageCount(Base):
    """Requests of one key in one UTC hour with one outcome.

    No foreign keys on purpose: the history of a deleted key or client stays.
    """

    __tablename__ = "usage_counts"
    __table_args__ = (UniqueConstraint("client_id", "key_id", "bucket", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    # The start of the UTC hour.
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
