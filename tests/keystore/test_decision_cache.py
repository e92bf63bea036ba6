"""The decision cache: its rules, its triggers, other processes' changes and the fail-safe."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from keystore import cache_freshness
from keystore.cache_freshness import PostgresListener, make_decision_cache
from keystore.db import make_engine, make_read_session_factory, make_session_factory, transaction
from keystore.decision import Request, decide
from keystore.decision_cache import WATCHED_TABLES, DecisionCache
from keystore.migrate import prepare
from keystore.services import catalogue, clients, keys, roles
from tests.conftest import TEST_PEPPER
from tests.databases import drop_database, recreate_database
from tests.worlds import ACTOR

REQUEST = Request(endpoint="orders.list", environment="prod", address="198.51.100.4")
KEYWARD = Path(sys.executable).with_name("keyward")


class Generations:
    """A freshness source the test moves by hand."""

    def __init__(self) -> None:
        self.value: int | None = 1

    def generation(self, _session) -> int | None:
        return self.value


class Loads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value="facts"):
        self.count += 1
        return value


def test_answers_are_kept_per_generation_and_never_without_one():
    source, loads = Generations(), Loads()
    cache = DecisionCache(source, max_entries=100)
    assert [cache.get(None, "k", loads) for _ in range(3)] == ["facts"] * 3
    assert loads.count == 1
    source.value = 2  # a change was heard
    cache.get(None, "k", loads)
    assert loads.count == 2
    source.value = None  # not sure to hear changes: every answer from the database
    for _ in range(3):
        cache.get(None, "k", loads)
    assert loads.count == 5
    source.value = 3
    cache.get(None, "k", loads)
    cache.invalidate()  # this process wrote
    cache.get(None, "k", loads)
    assert loads.count == 7


def test_a_read_that_raced_a_change_is_not_kept():
    source, loads = Generations(), Loads()
    cache = DecisionCache(source, max_entries=100)

    def read_then_change_heard():
        source.value += 1  # the change's notice arrives while the old row is in hand
        return loads("old")

    assert cache.get(None, "k", read_then_change_heard) == "old"
    assert cache.get(None, "k", lambda: loads("new")) == "new"
    assert cache.get(None, "k", lambda: loads("never")) == "new"

    def read_then_own_write():
        cache.invalidate()
        return "old"

    cache.get(None, "j", read_then_own_write)
    assert cache.get(None, "j", lambda: "fresh") == "fresh"


def test_negative_answers_are_kept_and_the_size_is_bounded():
    loads = Loads()
    cache = DecisionCache(Generations(), max_entries=100)
    assert cache.get(None, "unknown", lambda: loads(None)) is None
    assert cache.get(None, "unknown", lambda: loads(None)) is None
    assert loads.count == 1
    for n in range(250):
        cache.get(None, n, lambda: "x")
    assert len(cache) == 100


def test_every_watched_table_has_its_triggers(db_engine):
    with db_engine.connect() as connection:
        if db_engine.dialect.name == "postgresql":
            rows = connection.execute(
                text(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE t.tgname LIKE 'keyward_decision_%'"
                )
            ).scalars()
            per_table = dict.fromkeys(WATCHED_TABLES, 2)  # changes, truncate
        else:
            rows = connection.execute(
                text(
                    "SELECT tbl_name FROM sqlite_master "
                    "WHERE type = 'trigger' AND name LIKE 'keyward_decision_%'"
                )
            ).scalars()
            per_table = dict.fromkeys(WATCHED_TABLES, 3)  # insert, update, delete
        found: dict[str, int] = {}
        for table in rows:
            found[table] = found.get(table, 0) + 1
    assert found == per_table


# ---- committed data: other processes, raw SQL, the fail-safe ------------------------------


@dataclasses.dataclass
class Deployment:
    settings: object
    engine: object
    key_id: int
    token: str

    def decide(self, cache):
        with make_read_session_factory(self.engine)() as session:
            return decide(
                session, self.settings, credential=self.token, request=REQUEST, cache=cache
            )

    def cli(self, *args: str) -> None:
        env = {
            **os.environ,
            "KEYWARD_DATABASE_URL": self.settings.database_url,
            "KEYWARD_PEPPER": TEST_PEPPER,
            "KEYWARD_DATA_DIR": str(self.settings.data_dir),
        }
        env.pop("KEYWARD_REDIS_URL", None)
        subprocess.run([str(KEYWARD), *args], env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request, tmp_path, settings):
    if request.param == "sqlite":
        yield from _deployed(f"sqlite:///{tmp_path / 'keyward.db'}", settings)
        return
    base = request.getfixturevalue("postgres_url")
    yield from _deployed(recreate_database(base, "decision_cache", migrate=False), settings)
    drop_database(base, "decision_cache")


@pytest.fixture
def postgres_deployment(postgres_url, settings):
    yield from _deployed(recreate_database(postgres_url, "decision_cache", migrate=False), settings)
    drop_database(postgres_url, "decision_cache")


def _deployed(url: str, settings):
    local = dataclasses.replace(settings, database_url=url)
    engine = make_engine(url)
    prepare(engine)
    with transaction(make_session_factory(engine)) as session:
        key_id, token = _world(session, local)
    yield Deployment(settings=local, engine=engine, key_id=key_id, token=token)
    engine.dispose()


def _world(session: Session, settings) -> tuple[int, str]:
    catalogue.declare_endpoint(session, actor=ACTOR, name="orders.list", section="Orders")
    roles.create_role(session, actor=ACTOR, name="reader", endpoints=["orders.list"])
    clients.create_client(session, actor=ACTOR, name="acme", role="reader", environments=["prod"])
    key, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref="acme", name="main", environment="prod"
    )
    session.flush()
    return key.id, token


def ready(cache, engine) -> None:
    deadline = time.monotonic() + 10
    with make_read_session_factory(engine)() as session:
        while cache.freshness.generation(session) is None:
            assert time.monotonic() < deadline, "the cache never trusted its source"
            time.sleep(0.02)


def reads(engine) -> list[str]:
    seen: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement)
    )
    return seen


def refused_within(deployment, cache, reason: str, seconds: float = 5.0) -> None:
    """The other process's change is heard: a bounded wait, then the refusal."""
    deadline = time.monotonic() + seconds
    while deployment.decide(cache).reason != reason:
        assert time.monotonic() < deadline, f"still not {reason} after {seconds} s"
        time.sleep(0.01)


def test_a_change_made_by_another_process_reaches_this_ones_cache(deployment):
    cache = make_decision_cache(deployment.settings)
    ready(cache, deployment.engine)
    statements = reads(deployment.engine)
    assert deployment.decide(cache).allowed
    filled = len(statements)
    assert deployment.decide(cache).allowed
    assert [s for s in statements[filled:] if "decision_epoch" not in s] == []  # from the cache
    deployment.cli("key", "deactivate", str(deployment.key_id))  # another process: the CLI
    refused_within(deployment, cache, "key_inactive")
    deployment.cli("key", "reactivate", str(deployment.key_id))
    refused_within(deployment, cache, "allowed")


def test_raw_sql_from_outside_empties_the_cache_too(deployment):
    cache = make_decision_cache(deployment.settings)
    ready(cache, deployment.engine)
    assert deployment.decide(cache).allowed
    _raw(deployment, "UPDATE clients SET enabled = false")
    refused_within(deployment, cache, "client_disabled")


def _raw(deployment, statement: str) -> None:
    """A write no SQLAlchemy hook of this process sees, as psql or sqlite3 would make it."""
    url = make_url(deployment.settings.database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as connection:
            connection.execute(statement)
        return
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(statement)


def test_a_lost_listener_means_deciding_from_the_database_until_resynchronised(
    postgres_deployment, monkeypatch
):
    deployment = postgres_deployment
    cache = make_decision_cache(deployment.settings)
    listener = cache.freshness
    assert isinstance(listener, PostgresListener)
    ready(cache, deployment.engine)
    assert deployment.decide(cache).allowed
    monkeypatch.setattr(listener, "reconnect_seconds", (1.5,))
    _raw(deployment, f"SELECT pg_terminate_backend({listener.backend_pid})")
    deadline = time.monotonic() + 5
    while listener.generation() is not None:
        assert time.monotonic() < deadline, "the lost connection went unnoticed"
        time.sleep(0.01)
    statements = reads(deployment.engine)
    _raw(deployment, "UPDATE api_keys SET state = 'inactive'")  # missed by the listener
    assert deployment.decide(cache).reason == "key_inactive"  # read from the database
    assert deployment.decide(cache).reason == "key_inactive"
    assert len(statements) == 2  # no cache while deaf
    ready(cache, deployment.engine)  # reconnected: a new generation, nothing kept
    assert deployment.decide(cache).reason == "key_inactive"
    _raw(deployment, "UPDATE api_keys SET state = 'active'")
    refused_within(deployment, cache, "allowed")


def test_a_late_heartbeat_means_deciding_from_the_database(postgres_deployment, monkeypatch):
    deployment = postgres_deployment
    cache = make_decision_cache(deployment.settings)
    ready(cache, deployment.engine)
    assert deployment.decide(cache).allowed
    # Every heartbeat counts as late: the listener may be connected, but is not trusted.
    monkeypatch.setattr(cache_freshness, "STALE_AFTER_SECONDS", -1.0)
    assert cache.freshness.generation() is None
    statements = reads(deployment.engine)
    assert deployment.decide(cache).allowed
    assert deployment.decide(cache).allowed
    assert len(statements) == 2
