"""Engines and sessions.  Sessions are opened at the edge (request, task, CLI
command); services receive one and never commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 10
T = TypeVar("T")


def make_engine(database_url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and real transactions."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it would add a round trip to every gateway request. Connections are
    # recycled instead, and one broken by a server restart is invalidated on first use
    # (the pool with it) and the read retried once: see :func:`retrying_read`.
    kwargs.setdefault("pool_recycle", 1800)
    # A server that does not answer must not hold a request (or a worker) forever.
    kwargs.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    return create_engine(url, **kwargs)


def retrying_read(read: Callable[[], T]) -> T:
    """Run a read; if it failed on a connection that a server restart broke, run it once more.

    SQLAlchemy invalidates the whole pool on such a disconnect, so the second try gets a
    fresh connection and the first request after a restart succeeds.  Only for reads:
    a write may or may not have reached the server.
    """
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return read()


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling skips BEGIN before SELECT and breaks
    # SAVEPOINT; SQLAlchemy's documented recipe hands control back to us.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            # IMMEDIATE: take the write lock up front.  Two deferred transactions that
            # both read, then both write, deadlock, and SQLite answers "database is
            # locked" at once instead of waiting out the busy timeout.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for one-statement reads (the access decision): autocommit, so no BEGIN and
    no ROLLBACK round trips; a single statement sees a consistent snapshot anyway."""
    return sessionmaker(bind=engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work at the edge: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


class SessionOnDemand:
    """A session made by ``factory`` at its first use, if any, and closed with the block.

    For the gate: a decision the decision cache answers never reads, so it should not
    pay for building and closing a session either.
    """

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None

    def __getattr__(self, name: str):
        if self._session is None:
            self._session = self._factory().__enter__()
        return getattr(self._session, name)

    def __enter__(self) -> SessionOnDemand:
        return self

    def __exit__(self, kind, value, traceback):
        if self._session is not None:
            return self._session.__exit__(kind, value, traceback)
        return None
