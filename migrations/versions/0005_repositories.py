"""repositories

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:47:07.854378
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("branches", sa.JSON(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("credentials_env", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("scan_state", sa.Text(), nullable=True),
        sa.Column("last_scan_at", sa.DateTime(), nullable=True),
        sa.Column("next_scan_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_repositories")),
        sa.UniqueConstraint("url", name=op.f("uq_watched_repositories_url")),
    )
    with op.batch_alter_table("watched_repositories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watched_repositories_next_scan_at"), ["next_scan_at"], unique=False
        )

    op.create_table(
        "scan_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("full_scan", sa.Boolean(), nullable=False),
        sa.Column("objects_read", sa.Integer(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("ours_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["watched_repositories.id"],
            name=op.f("fk_scan_runs_repository_id_watched_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_runs")),
    )
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scan_runs_repository_id"), ["repository_id"], unique=False
        )

    op.create_table(
        "scan_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("hint", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ours", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["scan_runs.id"],
            name=op.f("fk_scan_findings_run_id_scan_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_findings")),
    )
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_findings_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scan_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_findings_run_id"))

    op.drop_table("scan_findings")
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_runs_repository_id"))

    op.drop_table("scan_runs")
    with op.batch_alter_table("watched_repositories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watched_repositories_next_scan_at"))

    op.drop_table("watched_repositories")
