"""Shared fixtures: settings, and a real database per dialect with per-test rollback.

Under CI (``CI`` set) a missing service fails the run; on a developer machine
the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.db import make_engine
from keystore.migrate import prepare

POSTGRES_URL = os.environ.get(
    "KEYWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("KEYWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_PEPPER = "test-pepper-0123456789abcdefghijklmnopqrstuvwxyz"


def service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            # A clean schema for the run: Alembic builds everything from nothing.
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except OperationalError as exc:
        service_missing("PostgreSQL", exc)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(request, tmp_path_factory):
    """A migrated database of each dialect, shared by the tests of a run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'keyward.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(db_engine):
    """One connection in a transaction that is rolled back after the test."""
    connection = db_engine.connect()
    outer = connection.begin()
    yield connection
    outer.rollback()
    connection.close()


@pytest.fixture
def session(connection):
    """A session whose work, commits included, is rolled back after the test."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, pepper=TEST_PEPPER)


@pytest.fixture
def redis_client():
    """A real Redis (database 15 by default), emptied before and after each test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        service_missing("Redis", exc)
    yield client
    client.flushdb()
    client.close()


def unreachable_redis():
    """A client for a port nobody listens on, without redis-py's retries and backoff."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
