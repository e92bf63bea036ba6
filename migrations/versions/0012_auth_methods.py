"""authentication methods: client JWT keys, trusted OpenID issuers, used jti values

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_jwt_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "algorithm IN ('ES256', 'RS256', 'HS256')", name=op.f("ck_client_jwt_keys_algorithm")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_jwt_keys_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_jwt_keys")),
    )
    op.create_index(
        op.f("ix_client_jwt_keys_client_id"), "client_jwt_keys", ["client_id"], unique=False
    )
    op.create_table(
        "trusted_issuers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("jwks_url", sa.String(length=500), nullable=False),
        sa.Column("audience", sa.String(length=300), nullable=False),
        sa.Column("client_claim", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_issuers")),
        sa.UniqueConstraint("issuer", name=op.f("uq_trusted_issuers_issuer")),
        sa.UniqueConstraint("name", name=op.f("uq_trusted_issuers_name")),
    )
    op.create_table(
        "trusted_issuer_clients",
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_trusted_issuer_clients_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["trusted_issuers.id"],
            name=op.f("fk_trusted_issuer_clients_issuer_id_trusted_issuers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issuer_id", "client_id", name=op.f("pk_trusted_issuer_clients")),
    )
    op.create_table(
        "jwt_replays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_jwt_replays_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jwt_replays")),
        sa.UniqueConstraint("client_id", "jti", name="uq_jwt_replays_client_jti"),
    )
    op.create_index(op.f("ix_jwt_replays_expires_at"), "jwt_replays", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_jwt_replays_expires_at"), table_name="jwt_replays")
    op.drop_table("jwt_replays")
    op.drop_table("trusted_issuer_clients")
    op.drop_table("trusted_issuers")
    op.drop_index(op.f("ix_client_jwt_keys_client_id"), table_name="client_jwt_keys")
    op.drop_table("client_jwt_keys")
