"""scan safety: the host a repository's credentials are bound to, why a run failed, runs by status

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watched_repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials_host", sa.String(length=255), nullable=True))
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_scan_runs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_runs_status"))
        batch_op.drop_column("reason")
    with op.batch_alter_table("watched_repositories", schema=None) as batch_op:
        batch_op.drop_column("credentials_host")
