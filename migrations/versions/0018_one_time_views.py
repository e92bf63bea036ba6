"""one-time views: what a console or portal form produced, kept sealed for one page view

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "one_time_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("view_digest", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_views")),
        sa.UniqueConstraint("view_digest", name=op.f("uq_one_time_views_view_digest")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_one_time_views_expires_at"), "one_time_views", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_one_time_views_expires_at"), table_name="one_time_views")
    op.drop_table("one_time_views")
