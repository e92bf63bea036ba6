"""Outages answer 503 with Retry-After, never 500; the first read after a restart succeeds."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from keystore import tokens
from keystore.db import make_engine
from keystore.services.bootstrap import bootstrap_admin
from tests.databases import recreate_database
from tests.worlds import ACTOR
from web import create_app


def _unreachable_url(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        (tmp_path / "db-is-a-directory").mkdir()
        return f"sqlite:///{tmp_path / 'db-is-a-directory'}"
    return "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_outage_is_a_503_with_retry_after(kind, settings, tmp_path):
    app = create_app(
        dataclasses.replace(
            settings, database_url=_unreachable_url(kind, tmp_path), log_format="text"
        )
    )
    client = app.test_client()
    malformed = "kw_prod_" + "0" * 36  # bad checksum: refused before any database read
    unknown = tokens.generate("kw", "prod")  # well-formed: needs the database
    answers = [
        client.get("/api/v1/clients", headers={"Authorization": f"Bearer {unknown}"}),
        client.post("/v1/verify", json={"token": unknown, "endpoint": "x"}),
        client.get("/healthz"),
    ]
    assert client.post("/v1/verify", json={"token": malformed, "endpoint": "x"}).status_code == 200
    for answer in answers:
        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert answer.headers["Retry-After"].isdigit()
    assert answers[0].json["reason"] == "database_unavailable"
    # Readiness says what is missing, and nothing an anonymous caller should not learn.
    assert answers[2].json == {
        "status": "unavailable",
        "verification": "none",
        "database": "unavailable",
        "redis": "not configured",
    }


@pytest.fixture
def committed_app(postgres_url, settings):
    """An app on its own committed PostgreSQL database (the test's rollback cannot help here)."""
    url = recreate_database(postgres_url, "keyward_outage")
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        _, token = bootstrap_admin(
            session,
            dataclasses.replace(settings, database_url=url),
            actor=ACTOR,
            client_name="root",
            environment="prod",
        )
    engine.dispose()
    app = create_app(dataclasses.replace(settings, database_url=url, log_format="text"))
    yield app, token, url
    app.extensions["keyward"].engine.dispose()


def _kill_other_connections(url: str) -> int:
    # What a PostgreSQL restart does to the app's pooled connections.
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return killed


def test_the_first_read_after_a_database_restart_succeeds(committed_app):
    app, token, url = committed_app
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/clients", headers=bearer).status_code == 200
    assert _kill_other_connections(url) >= 1
    assert client.get("/api/v1/clients", headers=bearer).status_code == 200
    assert _kill_other_connections(url) >= 1
    verdict = client.post("/v1/verify", json={"token": token, "endpoint": "keyward.clients.read"})
    assert verdict.status_code == 200
    assert verdict.json["allowed"] is True
