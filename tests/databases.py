"""Throwaway PostgreSQL databases next to the test database (for committed-data tests)."""

from __future__ import annotations

from sqlalchemy import text

from keystore.db import make_engine
from keystore.migrate import prepare


def sibling_name(base_url: str, name: str) -> str:
    """``name`` under the test database's own name, so runs against other bases never collide."""
    return f"{base_url.rsplit('/', 1)[1]}_{name}"


def recreate_database(base_url: str, name: str, *, migrate: bool = True) -> str:
    """Drop and create ``name`` on the server of ``base_url``; return its URL, migrated."""
    name = sibling_name(base_url, name)
    _drop(base_url, name)
    engine = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        migrated = make_engine(url)
        prepare(migrated)
        migrated.dispose()
    return url


def _drop(base_url: str, name: str) -> None:
    engine = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


def drop_database(base_url: str, name: str) -> None:
    """Drop what :func:`recreate_database` made (the benchmarks clean up after themselves)."""
    _drop(base_url, sibling_name(base_url, name))
