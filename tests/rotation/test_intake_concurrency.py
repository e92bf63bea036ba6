"""Concurrent intakes of the same tokens on PostgreSQL, committed for real: no deadlock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.db import make_engine
from keystore.models import Incident, Occurrence, Role
from rotation.intake import Report, record_reports
from tests.conftest import TEST_PEPPER
from tests.databases import drop_database, recreate_database
from tests.integration.stack import new_client, seed

NAME = "keyward_intake_concurrency"


@pytest.fixture
def committed(postgres_url):
    """A database of its own, where every intake commits as in production."""
    url = recreate_database(postgres_url, NAME)
    seed(url, TEST_PEPPER)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(postgres_url, NAME)


@pytest.mark.parametrize("policy", ["notify_only", "regenerate"])
def test_batches_naming_the_same_tokens_in_any_order_never_deadlock(committed, policy):
    url, engine = committed
    first = new_client(url, TEST_PEPPER, "one", environment="prod")[1]
    second = new_client(url, TEST_PEPPER, "two", environment="prod")[1]
    with Session(engine) as session, session.begin():
        session.execute(update(Role).values(leak_action=policy))
    settings = Settings.from_env({}, database_url=url, pepper=TEST_PEPPER, redis_url="redis://x")

    def intake(index: int) -> None:
        pair = [first, second] if index % 2 else [second, first]
        with Session(engine) as session, session.begin():
            record_reports(
                session, settings, origin="github", reports=[Report(token=t) for t in pair]
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(intake, range(60)))  # a deadlock would raise here
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 2
        assert session.scalar(select(func.count()).select_from(Occurrence)) == 120
        refused = session.scalar(select(func.count()).where(Incident.refused_at.is_not(None)))
    assert refused == (0 if policy == "notify_only" else 2)
