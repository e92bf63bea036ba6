"""API clients, their keys, and the digests of the tokens those keys were given."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keystore.models.base import Base, UTCDateTime, utcnow
from keystore.models.catalogue import Environment, Project, Role

if TYPE_CHECKING:
    from keystore.models.policies import Policy

KEY_STATES = ("active", "inactive", "revoked")

client_environments = Table(
    "client_environments",
    Base.metadata,
    Column("client_id", ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True),
)

client_projects = Table(
    "client_projects",
    Base.metadata,
    Column("client_id", ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
)


class LimitsMixin:
    """Rate limit and quotas; ``None`` means no limit at this level."""

    rate_limit: Mapped[int | None] = mapped_column(Integer)
    rate_window_seconds: Mapped[int | None] = mapped_column(Integer)
    quota_daily: Mapped[int | None] = mapped_column(Integer)
    quota_monthly: Mapped[int | None] = mapped_column(Integer)


class Client(LimitsMixin, Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    # SET NULL: deleting a role leaves its clients with no privileges at all.
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # RESTRICT: a policy in use is never deleted from under its clients (they would loosen).
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("policies.id", ondelete="RESTRICT"), index=True
    )
    # Bumping it invalidates every JWT issued to the client.
    jwt_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    role: Mapped[Role | None] = relationship()
    policy: Mapped[Policy | None] = relationship("Policy")
    environments: Mapped[list[Environment]] = relationship(
        secondary=client_environments, order_by=Environment.tag
    )
    projects: Mapped[list[Project]] = relationship(secondary=client_projects, order_by=Project.name)
    keys: Mapped[list[ApiKey]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(LimitsMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"state IN {KEY_STATES!r}", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    blocked_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("policies.id", ondelete="RESTRICT"), index=True
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="active")
    hint: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship(back_populates="keys")
    environment: Mapped[Environment] = relationship()
    policy: Mapped[Policy | None] = relationship("Policy")
    tokens: Mapped[list[KeyToken]] = relationship(
        back_populates="key", cascade="all, delete-orphan", passive_deletes=True
    )


class KeyToken(Base):
    """One token a key was given.  Only its keyed digest is stored.

    Regenerating a key adds a row and closes the previous one (``valid_until``),
    so a leaked old token is still recognised as ours but no longer accepted.
    """

    __tablename__ = "key_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    digest_version: Mapped[int] = mapped_column(Integer, default=1)
    hint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL while current; otherwise the moment it stopped (or stops, with grace) working.
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    key: Mapped[ApiKey] = relationship(back_populates="tokens")
