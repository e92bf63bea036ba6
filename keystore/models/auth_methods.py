"""How a client may authenticate besides its keys: its own JWT keys, or an identity provider."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keystore.models.base import Base, UTCDateTime, utcnow
from keystore.models.clients import Client

JWT_KEY_ALGORITHMS = ("ES256", "RS256", "HS256")


class ClientJwtKey(Base):
    """A key a client signs its own JWTs with: a public key, or an HS256 secret (sealed)."""

    __tablename__ = "client_jwt_keys"
    __table_args__ = (CheckConstraint(f"algorithm IN {JWT_KEY_ALGORITHMS!r}", name="algorithm"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(8))
    public_pem: Mapped[str | None] = mapped_column(Text)
    # HS256: the secret must be recoverable to verify, hence sealed (bound to this row).
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship()


trusted_issuer_clients = Table(
    "trusted_issuer_clients",
    Base.metadata,
    Column("issuer_id", ForeignKey("trusted_issuers.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
)


class TrustedIssuer(Base):
    """An OpenID Connect provider whose tokens stand for the clients listed here, and only those."""

    __tablename__ = "trusted_issuers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    issuer: Mapped[str] = mapped_column(String(300), unique=True)
    jwks_url: Mapped[str] = mapped_column(String(500))
    audience: Mapped[str] = mapped_column(String(300))
    # The claim whose value names the Keyward client (its name or its id).
    client_claim: Mapped[str] = mapped_column(String(64), default="sub")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clients: Mapped[list[Client]] = relationship(
        secondary=trusted_issuer_clients, order_by=Client.name
    )


class JwtReplay(Base):
    """A ``jti`` already used, kept until its JWT expires (client-signed JWTs are single-use)."""

    __tablename__ = "jwt_replays"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_jwt_replays_client_jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
