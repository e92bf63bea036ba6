"""browser sessions: server-side console and portal sessions, sign-in throttles

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _person_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{table}.id"],
        name=op.f(f"fk_browser_sessions_{column}_{table}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("portal_user_id", sa.Integer(), nullable=True),
        sa.Column("credential_stamp", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(admin_id IS NULL) <> (portal_user_id IS NULL)",
            name=op.f("ck_browser_sessions_one_person"),
        ),
        _person_fk("admin_id", "admins"),
        _person_fk("portal_user_id", "portal_users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("id_digest", name=op.f("uq_browser_sessions_id_digest")),
    )
    for column in ("admin_id", "portal_user_id", "last_seen_at"):
        op.create_index(op.f(f"ix_browser_sessions_{column}"), "browser_sessions", [column])
    op.create_table(
        "sign_in_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_digest", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttles")),
        sa.UniqueConstraint("scope_digest", name=op.f("uq_sign_in_throttles_scope_digest")),
    )
    op.create_index(
        op.f("ix_sign_in_throttles_last_failure_at"), "sign_in_throttles", ["last_failure_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_throttles_last_failure_at"), table_name="sign_in_throttles")
    op.drop_table("sign_in_throttles")
    for column in ("last_seen_at", "portal_user_id", "admin_id"):
        op.drop_index(op.f(f"ix_browser_sessions_{column}"), table_name="browser_sessions")
    op.drop_table("browser_sessions")
