"""The test command touches only what is its own, and says what that is.

An inner ``pytest`` run, pointed at databases named for it, must leave no database
behind, touch no other, and refuse to start on a Redis database that holds data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from keystore.db import make_engine
from tests.conftest import REDIS_URL
from tests.databases import create_database, sibling_name

ROOT = Path(__file__).resolve().parent.parent
# One test on both databases, one with the Redis fixture: quick, and all three services.
INNER = [
    "tests/keystore/test_migrations.py::test_migrations_build_exactly_the_models",
    "tests/keystore/test_usage.py::test_flushes_add_up",
]


def inner_run(postgres_url: str, redis_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KEYWARD_TEST_POSTGRES_URL": postgres_url,
        "KEYWARD_TEST_REDIS_URL": redis_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *INNER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def databases(url: str) -> set[str]:
    engine = make_engine(make_url(url).set(database="postgres"))
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def test_a_run_drops_the_databases_it_made_and_no_other(postgres_url, redis_client):
    inner = make_url(postgres_url).set(database=sibling_name(postgres_url, "inner"))
    inner_url = inner.render_as_string(hide_password=False)
    bystander = create_database(
        make_url(postgres_url)
        .set(database=sibling_name(postgres_url, "bystander"))
        .render_as_string(hide_password=False),
        migrate=False,
    )
    engine = make_engine(bystander)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE precious (x int)"))
    before = databases(postgres_url)

    done = inner_run(inner_url, REDIS_URL)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "passed" in done.stdout
    assert "skipped" not in done.stdout  # every service was there
    after = databases(postgres_url)
    assert after == before  # the inner run's database and its siblings are gone
    assert inner.database not in after
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM precious")).scalar() == 0
    engine.dispose()


def test_a_run_refuses_a_redis_database_that_holds_data(postgres_url, redis_client):
    redis_client.set("somebody-elses", "data")
    done = inner_run(postgres_url + "_unused", REDIS_URL)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    assert "KEYWARD_TEST_REDIS_URL" in done.stdout + done.stderr
    assert redis_client.get("somebody-elses") == b"data"


def test_the_defaults_name_the_suites_own_database():
    """Not ``test``, a name anybody may use: without overrides the suite makes ``keyward_test``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KEYWARD_TEST_POSTGRES_URL", "KEYWARD_TEST_REDIS_URL")
    }
    done = subprocess.run(
        [sys.executable, "-c", "from tests.conftest import POSTGRES_URL as u; print(u)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert make_url(done.stdout.strip()).database == "keyward_test"
