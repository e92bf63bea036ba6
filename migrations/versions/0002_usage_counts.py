"""usage counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign keys: usage history outlives deleted keys and clients.
    op.create_table(
        "usage_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_counts")),
        sa.UniqueConstraint(
            "client_id", "key_id", "bucket", "outcome", name=op.f("uq_usage_counts_client_id")
        ),
    )
    with op.batch_alter_table("usage_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_counts_bucket"), ["bucket"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_counts_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_counts_key_id"))
        batch_op.drop_index(batch_op.f("ix_usage_counts_bucket"))
    op.drop_table("usage_counts")
