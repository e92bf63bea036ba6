"""API collections (named groups of endpoints roles grant) and named policies

Revision ID: 0015
Revises: 0016
Create Date: 2026-11-29 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0016"

# Decisions read these new tables, so they notify the decision cache like the others (0014);
# SQLite's batch mode below rebuilds clients and api_keys, dropping their triggers: made again.
NEW_WATCHED = ("policies", "api_collections", "collection_endpoints", "role_collections")
REBUILT = ("clients", "api_keys")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_collections")),
        sa.UniqueConstraint("name", name=op.f("uq_api_collections_name")),
    )
    op.create_table(
        "collection_endpoints",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["api_collections.id"],
            name=op.f("fk_collection_endpoints_collection_id_api_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoints.id"],
            name=op.f("fk_collection_endpoints_endpoint_id_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "collection_id", "endpoint_id", name=op.f("pk_collection_endpoints")
        ),
    )
    op.create_table(
        "role_collections",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["api_collections.id"],
            name=op.f("fk_role_collections_collection_id_api_collections"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.id"],
            name=op.f("fk_role_collections_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "collection_id", name=op.f("pk_role_collections")),
    )
    op.create_index(
        op.f("ix_role_collections_collection_id"),
        "role_collections",
        ["collection_id"],
        unique=False,
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("allowed_ips", sa.JSON(), nullable=False),
        sa.Column("blocked_ips", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("rate_limit", sa.Integer(), nullable=True),
        sa.Column("rate_window_seconds", sa.Integer(), nullable=True),
        sa.Column("quota_daily", sa.Integer(), nullable=True),
        sa.Column("quota_monthly", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_policies_name")),
    )
    for table in ("clients", "api_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_policy_id"), ["policy_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_policy_id_policies"),
                "policies",
                ["policy_id"],
                ["id"],
                ondelete="RESTRICT",
            )

    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_WATCHED:
            for suffix, events, level in (
                ("", "INSERT OR UPDATE OR DELETE", "STATEMENT"),
                ("_truncate", "TRUNCATE", "STATEMENT"),
            ):
                op.execute(
                    f"CREATE TRIGGER keyward_decision_{table}{suffix} AFTER {events} "
                    f"ON {table} FOR EACH {level} EXECUTE FUNCTION keyward_decision_changed()"
                )
    else:
        _sqlite_triggers((*NEW_WATCHED, *REBUILT))


def _sqlite_triggers(tables) -> None:
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            # A use (last_used_at) is no change to a decision (as in 0014).
            when = ""
            if table == "api_keys" and event == "UPDATE":
                when = "WHEN OLD.last_used_at IS NEW.last_used_at "
            name = f"keyward_decision_{table}_{event.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}"  # noqa: S608
                "BEGIN UPDATE decision_epoch SET value = value + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS keyward_decision_{table} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS keyward_decision_{table}_truncate ON {table}")
    for table in ("api_keys", "clients"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_policy_id_policies"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_policy_id"))
            batch_op.drop_column("policy_id")
    op.drop_table("policies")
    op.drop_index(op.f("ix_role_collections_collection_id"), table_name="role_collections")
    op.drop_table("role_collections")
    op.drop_table("collection_endpoints")
    op.drop_table("api_collections")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers(REBUILT)  # batch mode dropped them again
