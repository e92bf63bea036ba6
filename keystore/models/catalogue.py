"""What clients may reach: environments, projects, the endpoint catalogue and roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keystore.models.base import Base, UTCDateTime, utcnow

LEAK_ACTIONS = ("revoke", "regenerate", "notify_only")

role_endpoints = Table(
    "role_endpoints",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
)


class Environment(Base):
    """A deployment stage such as dev, test or prod; its tag is part of every token."""

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Endpoints declared dev-only are refused in environments that do not allow them.
    allows_dev_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the leak response does to a key of this environment (a role may override it).
    leak_action: Mapped[str] = mapped_column(String(16), default="revoke")
    # Periodic refresh: a key whose current token is older than this is refused as expired
    # (a role may override it); None means keys never age out.
    max_key_age_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Endpoint(Base):
    """A named endpoint of the operator's API (or of Keyward's own admin API)."""

    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    section: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # Optional HTTP shape (e.g. GET /orders/{id}) for gateways that only know method and URI.
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(500))
    dev_only: Mapped[bool] = mapped_column(Boolean, default=False)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)


class Role(Base):
    """A set of endpoint privileges shared by clients."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    leak_action: Mapped[str | None] = mapped_column(String(16))
    # Overrides the environment's maximum key age for this role's clients (None: inherit).
    max_key_age_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    endpoints: Mapped[list[Endpoint]] = relationship(
        secondary=role_endpoints, order_by=Endpoint.name
    )
