"""Shared fixtures: settings, and a real database per dialect with per-test rollback.

Under CI (``CI`` set) a missing service fails the run; on a developer machine
the tests that need it are skipped with the reason.

What the suite touches (README, "Tests and benchmarks"): on PostgreSQL only the
databases it creates under the name ``KEYWARD_TEST_POSTGRES_URL`` gives (default
``keyward_test``) and that name's ``_<purpose>`` siblings, all dropped at the end;
on Redis the database ``KEYWARD_TEST_REDIS_URL`` names (default 15), which must be
empty when the run starts (the run stops otherwise) and is emptied around each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.db import make_engine
from keystore.migrate import prepare
from tests.databases import create_database, drop_created

POSTGRES_URL = os.environ.get(
    "KEYWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/keyward_test"
)
REDIS_URL = os.environ.get("KEYWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_PEPPER = "test-pepper-0123456789abcdefghijklmnopqrstuvwxyz"


def service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The suite's own database, created for this run and dropped (with its siblings) after."""
    try:
        url = create_database(POSTGRES_URL, migrate=False)
    except OperationalError as exc:
        service_missing("PostgreSQL", exc)
    yield url
    drop_created()


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
    """The test Redis database (15 by default), emptied before and after each test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        client.close()
        service_missing("Redis", exc)
    yield client
    client.flushdb()
    client.close()


def pytest_sessionstart(session) -> None:
    """Refuse to run against a Redis database that holds data: the tests would empty it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        held = client.dbsize()
    except redis.RedisError:
        return  # the tests that need Redis say so (and fail under CI)
    finally:
        client.close()
    if held:
        pytest.exit(
            f"Redis {REDIS_URL} holds {held} key(s) and the tests empty it: point "
            "KEYWARD_TEST_REDIS_URL at an empty database (after an interrupted run, "
            "empty it yourself: redis-cli -n N flushdb)",
            returncode=4,
        )


def unreachable_redis():
    """A client for a port nobody listens on, without redis-py's retries and backoff."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
