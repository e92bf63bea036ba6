"""decision cache: a change to what decisions read notifies (PostgreSQL) or bumps an epoch (SQLite)

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-29 19:00:00

The trigger list is a snapshot of the tables decisions read when this ran; a later
migration that adds such a table (or recreates one: SQLite's batch mode drops its
triggers) creates the same triggers for it.  tests/keystore/test_decision_cache.py
checks that every table of ``keystore.decision_cache.WATCHED_TABLES`` has them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = (
    "key_tokens",
    "api_keys",
    "clients",
    "roles",
    "role_endpoints",
    "endpoints",
    "environments",
    "projects",
    "client_environments",
    "client_projects",
    "client_jwt_keys",
    "trusted_issuers",
    "trusted_issuer_clients",
)
CHANNEL = "keyward_decisions"
# Recording a use (usage flush) touches only these columns of api_keys: no decision changes.
USE_COLUMNS = ("last_used_at", "last_used_ip", "updated_at")

PG_FUNCTION = f"""
CREATE FUNCTION keyward_decision_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'api_keys'
     AND (to_jsonb(OLD) - '{{{",".join(USE_COLUMNS)}}}'::text[])
       = (to_jsonb(NEW) - '{{{",".join(USE_COLUMNS)}}}'::text[]) THEN
    RETURN NULL;
  END IF;
  -- Delivered at commit, to every listening process; duplicates in one transaction fold.
  PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "decision_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_epoch")),
    )
    op.execute("INSERT INTO decision_epoch (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute(PG_FUNCTION)
    for table in TABLES:
        # Row level for api_keys only, to skip the usage flush's updates; one call per
        # statement elsewhere.
        level = "ROW" if table == "api_keys" else "STATEMENT"
        op.execute(
            f"CREATE TRIGGER keyward_decision_{table} AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH {level} EXECUTE FUNCTION keyward_decision_changed()"
        )
        op.execute(
            f"CREATE TRIGGER keyward_decision_{table}_truncate AFTER TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION keyward_decision_changed()"
        )


def _sqlite_triggers() -> None:
    for table in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            when = ""
            if table == "api_keys" and event == "UPDATE":
                when = "WHEN OLD.last_used_at IS NEW.last_used_at "
            # Names from the constant TABLES above, never from input.
            name = f"keyward_decision_{table}_{event.lower()}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}"  # noqa: S608
                "BEGIN UPDATE decision_epoch SET value = value + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS keyward_decision_{table} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS keyward_decision_{table}_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS keyward_decision_changed()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS keyward_decision_{table}_{event}")
    op.drop_table("decision_epoch")
