"""What the decision cache of an embedded (SQLite) deployment watches for changes."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from keystore.models.base import Base


class DecisionEpoch(Base):
    """One row whose ``value`` SQLite triggers bump on every change a decision depends on.

    SQLite has no ``NOTIFY``: a process compares this number with the one its cache
    was filled under (see :mod:`keystore.cache_freshness`).  PostgreSQL notifies
    instead and leaves this row alone, so its writers never queue on one row.
    """

    __tablename__ = "decision_epoch"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
