"""The suite's own PostgreSQL databases: made by name, dropped at the end of the run.

``KEYWARD_TEST_POSTGRES_URL`` names the suite's database (``keyward_test`` by default);
the suite creates it (dropping a leftover of an interrupted run), and its siblings
``<that name>_<purpose>`` for tests that need committed data, and drops them all when
the run ends.  It never touches another database: creating and dropping go through
the server's ``postgres`` maintenance database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from keystore.db import make_engine
from keystore.migrate import prepare

# URLs of the databases this run made, dropped by :func:`drop_created`.
_created: dict[str, None] = {}


def sibling_name(base_url: str, name: str) -> str:
    """``name`` under the suite database's own name, so runs against other bases never collide."""
    return f"{make_url(base_url).database}_{name}"


def create_database(url: str, *, migrate: bool = True) -> str:
    """Drop and create the database ``url`` names; return ``url``, migrated."""
    name = make_url(url).database
    _drop(url)
    with _maintenance(url) as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    _created[url] = None
    if migrate:
        migrated = make_engine(url)
        prepare(migrated)
        migrated.dispose()
    return url


def recreate_database(base_url: str, name: str, *, migrate: bool = True) -> str:
    """A fresh sibling ``name`` of the suite's database; return its URL, migrated."""
    url = make_url(base_url).set(database=sibling_name(base_url, name))
    return create_database(url.render_as_string(hide_password=False), migrate=migrate)


def drop_database(base_url: str, name: str) -> None:
    """Drop what :func:`recreate_database` made under ``name`` (the benchmarks clean up with it)."""
    url = make_url(base_url).set(database=sibling_name(base_url, name))
    _drop(url.render_as_string(hide_password=False))


def drop_created() -> None:
    """Drop every database this run made, the suite's own last."""
    for url in reversed(list(_created)):
        _drop(url)


def _drop(url: str) -> None:
    name = make_url(url).database
    with _maintenance(url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    _created.pop(url, None)


@contextmanager
def _maintenance(url: str) -> Iterator:
    """An autocommit connection to the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    engine = make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
