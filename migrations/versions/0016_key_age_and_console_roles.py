"""periodic key refresh (maximum key age, reminders) and console people roles

Existing console people become ``admin``: before roles, the console let everyone do
everything.

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-29 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("environments", "roles"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("max_key_age_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="admin", nullable=False)
        )
        batch_op.create_check_constraint("role", "role IN ('viewer', 'operator', 'admin')")
    op.create_table(
        "key_age_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_key_age_reminders_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["key_tokens.id"],
            name=op.f("fk_key_age_reminders_token_id_key_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_age_reminders")),
        sa.UniqueConstraint("token_id", "recipient", name=op.f("uq_key_age_reminders_token_id")),
    )
    op.create_index(
        op.f("ix_key_age_reminders_key_id"), "key_age_reminders", ["key_id"], unique=False
    )
    op.create_index(
        op.f("ix_key_age_reminders_state"), "key_age_reminders", ["state"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_key_age_reminders_state"), table_name="key_age_reminders")
    op.drop_index(op.f("ix_key_age_reminders_key_id"), table_name="key_age_reminders")
    op.drop_table("key_age_reminders")
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_constraint("role", type_="check")
        batch_op.drop_column("role")
    for table in ("roles", "environments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("max_key_age_days")
