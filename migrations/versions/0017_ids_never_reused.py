"""ids are never reused: SQLite tables with an integer id get AUTOINCREMENT

SQLite without AUTOINCREMENT hands out max(id) + 1, so deleting the newest client
and creating another gave the new one the old id: its usage, its audit trail and
its incidents mixed two clients.  AUTOINCREMENT never hands out an id twice.
SQLite cannot change a primary key in place: each table is rebuilt by SQLite's own
recipe (create the new table, copy, drop, rename, recreate its indexes and triggers)
with foreign-key enforcement off (``keystore.migrate`` does that for SQLite and
checks every foreign key before committing).  The counters start above the highest
id in the table and above every id the audit trail names for that kind of object,
so ids of objects deleted before this migration are not handed out again either.
PostgreSQL's sequences never reuse a value: nothing to do there.

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-29 19:00:00
"""

import re

from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

# The audit trail's object types and the tables their ids come from.
AUDITED = {
    "admin": "admins",
    "client": "clients",
    "endpoint": "endpoints",
    "environment": "environments",
    "incident": "incidents",
    "issuer": "trusted_issuers",
    "key": "api_keys",
    "portal_user": "portal_users",
    "project": "projects",
    "repository": "watched_repositories",
    "role": "roles",
    "webhook": "webhooks",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in _integer_id_tables():
        _rebuild(table, column, autoincrement=True)
    _seed_from_audit()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in _integer_id_tables():
        _rebuild(table, column, autoincrement=False)


def _integer_id_tables() -> list[tuple[str, str]]:
    """Tables whose primary key is one INTEGER column (the ones SQLite numbers)."""
    bind = op.get_bind()
    names = bind.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version' ORDER BY name"
    ).scalars()
    found = []
    for name in list(names):
        keys = [
            row
            for row in bind.exec_driver_sql(f'PRAGMA table_info("{name}")')
            if row.pk  # (cid, name, type, notnull, default, pk)
        ]
        if len(keys) == 1 and keys[0].type.upper() == "INTEGER":
            found.append((name, keys[0].name))
    return found


def _rebuild(table: str, column: str, *, autoincrement: bool) -> None:
    bind = op.get_bind()
    create = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    if autoincrement and "AUTOINCREMENT" in create.upper():
        return  # already numbered that way (created so by its own migration)
    rewritten = _with_autoincrement(create, column) if autoincrement else _without(create, column)
    if rewritten == create:
        return
    # Indexes and triggers go with the table: keep their exact text to recreate them.
    extras = (
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL ORDER BY type",
            (table,),
        )
        .scalars()
        .all()
    )
    staging = f"_rebuild_{table}"
    bind.exec_driver_sql(_renamed(rewritten, table, staging))
    # Names from sqlite_master, not from input.
    bind.exec_driver_sql(f'INSERT INTO "{staging}" SELECT * FROM "{table}"')  # noqa: S608
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    # Legacy mode: the rename must not re-check triggers of other tables that name the
    # table just dropped (they resolve again once it is back under its name).
    bind.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    bind.exec_driver_sql(f'ALTER TABLE "{staging}" RENAME TO "{table}"')
    bind.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
    for statement in extras:
        bind.exec_driver_sql(statement)


_PRIMARY_KEY = r",\s*CONSTRAINT (\w+) PRIMARY KEY \((\w+)\)"


def _with_autoincrement(create: str, column: str) -> str:
    match = re.search(_PRIMARY_KEY, create)
    if match is None or match.group(2) != column:
        raise RuntimeError(f"unexpected primary key in: {create}")
    name = match.group(1)
    body = create[: match.start()] + create[match.end() :]
    definition = re.compile(rf"(\n\s*{column} INTEGER NOT NULL)(?=,|\n)")
    if len(definition.findall(body)) != 1:
        raise RuntimeError(f"unexpected column {column} in: {create}")
    return definition.sub(rf"\1 CONSTRAINT {name} PRIMARY KEY AUTOINCREMENT", body)


def _without(create: str, column: str) -> str:
    match = re.search(
        rf"\n(\s*){column} INTEGER NOT NULL CONSTRAINT (\w+) PRIMARY KEY AUTOINCREMENT", create
    )
    if match is None:
        return create
    indent, name = match.group(1), match.group(2)
    body = create.replace(f" CONSTRAINT {name} PRIMARY KEY AUTOINCREMENT", "", 1)
    closing = body.rstrip().rindex(")")
    return body[:closing].rstrip() + f", \n{indent}CONSTRAINT {name} PRIMARY KEY ({column})\n)"


def _renamed(create: str, table: str, new_name: str) -> str:
    prefix = re.match(rf'CREATE TABLE "?{re.escape(table)}"?', create)
    if prefix is None:
        raise RuntimeError(f"unexpected table definition: {create[:60]}")
    return f'CREATE TABLE "{new_name}"' + create[prefix.end() :]


def _seed_from_audit() -> None:
    """Start each counter above every id the audit trail names for its kind of object."""
    bind = op.get_bind()
    for object_type, table in AUDITED.items():
        highest = bind.exec_driver_sql(
            "SELECT max(CAST(object_id AS INTEGER)) FROM audit_events "
            "WHERE object_type = ? AND object_id != '' AND object_id NOT GLOB '*[^0-9]*' "
            "AND length(object_id) <= 10",
            (object_type,),
        ).scalar()
        if highest is None:
            continue
        updated = bind.exec_driver_sql(
            "UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?",
            (highest, table, highest),
        ).rowcount
        exists = bind.exec_driver_sql(
            "SELECT count(*) FROM sqlite_sequence WHERE name = ?", (table,)
        ).scalar()
        if not updated and not exists:
            bind.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest)
            )
