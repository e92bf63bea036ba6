"""Bring a database to the newest schema with Alembic (``keyward migrate``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine


def alembic_config(database_url: str) -> Config:
    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the migrations package is not installed")
    config = Config()
    config.set_main_option("script_location", str(Path(spec.submodule_search_locations[0])))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration in one transaction."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, step, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection, _foreign_keys_deferred(connection), connection.begin():
        config.attributes["connection"] = connection
        step(config, revision)
        _check_foreign_keys(connection)


@contextmanager
def _foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite rebuilds a table to change it: dropping the old one must neither fail on
    nor cascade to the rows that reference it.  Enforcement is switched off around the
    migration (SQLite ignores the switch inside a transaction, hence the raw connection,
    before SQLAlchemy begins one) and every reference is checked before the commit."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken reference(s): {broken[:5]}")


def pending(engine: Engine) -> bool:
    """Whether the database is behind the newest migration."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current != head


def prepare(engine: Engine) -> int:
    """Everything a database needs before use: the schema, then the builtin endpoints.

    Returns how many builtin endpoints were added (a newer Keyward may declare more).
    """
    from keystore.db import make_session_factory, transaction
    from keystore.services.catalogue import ensure_builtin_endpoints

    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        return ensure_builtin_endpoints(session)
