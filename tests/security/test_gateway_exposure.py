"""Finding 2 (second half) and 7 of issue 10: who may ask the gateway endpoints and /metrics.

Production refuses to start with the gateway open to anyone unless told to, and warns
about an open /metrics.  Each test runs on SQLite and PostgreSQL (``db_engine``).
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import sessionmaker

from keystore.errors import ConfigError
from tests.conftest import TEST_PEPPER
from tests.security.test_gateway_oracle import verify
from tests.web.conftest import DocumentedClient
from web import create_app
from web.cli import main

GATEWAY_TOKEN = "gateway-token-for-the-tests-0123456789"


@pytest.fixture
def make_app(db_engine, connection, settings):
    """Build an app with settings changed, its units of work inside the test's transaction."""
    made = []

    def build(**changes):
        changed = dataclasses.replace(
            settings, database_url=str(db_engine.url), log_format="text", **changes
        )
        app = create_app(changed)
        runtime = app.extensions["keyward"]
        runtime.sessions = runtime.read_sessions = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        made.append(runtime)
        return DocumentedClient(app)

    yield build
    for runtime in made:
        runtime.engine.dispose()


class Warnings(logging.Handler):
    """The web layer's warnings (its logger does not propagate to pytest's handler)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def warnings_logged():
    handler = Warnings()
    logging.getLogger("keyward.web").addHandler(handler)
    yield handler.lines
    logging.getLogger("keyward.web").removeHandler(handler)


def test_production_refuses_to_start_with_an_open_gateway_unless_asked(make_app, warnings_logged):
    with pytest.raises(ConfigError, match="KEYWARD_GATEWAY_TOKEN is required in production"):
        make_app(mode="production")
    assert not any("KEYWARD_GATEWAY_OPEN" in line for line in warnings_logged)
    make_app(mode="production", gateway_open=True)
    assert any("KEYWARD_GATEWAY_OPEN=true" in line for line in warnings_logged)


def test_production_gateway_endpoints_require_the_gateway_token(make_app, issue):
    client = make_app(mode="production", gateway_token=GATEWAY_TOKEN)
    _, token = issue()
    body = {"token": token, "endpoint": "orders.list"}
    for headers in ({}, {"X-Keyward-Gateway-Token": "x"}, {"X-Keyward-Gateway-Token": ""}):
        refused = client.post("/v1/verify", json=body, headers=headers)
        assert (refused.status_code, refused.json["reason"]) == (401, "gateway_unauthenticated")
        assert "client_id" not in refused.json
        nginx = client.get(
            "/v1/auth",
            headers={**headers, "Authorization": f"Bearer {token}", "X-Keyward-Endpoint": "e"},
        )
        assert nginx.status_code == 401
    good = {"X-Keyward-Gateway-Token": GATEWAY_TOKEN}
    assert verify(client, token, headers=good)["allowed"] is True
    nginx = client.get(
        "/v1/auth",
        headers={**good, "Authorization": f"Bearer {token}", "X-Keyward-Endpoint": "orders.list"},
    )
    assert nginx.status_code == 200
    # The embedded mode keeps working without one.
    assert verify(make_app(), token)["allowed"] is True


def test_keyward_serve_refuses_an_open_production_gateway_in_one_line(db_engine, monkeypatch):
    def must_not_start(*args, **kwargs):
        raise AssertionError("the server started")

    monkeypatch.setattr("web.serve_command.serve", must_not_start)
    env = {
        "KEYWARD_MODE": "production",
        "KEYWARD_PEPPER": TEST_PEPPER,
        "KEYWARD_DATABASE_URL": db_engine.url.render_as_string(hide_password=False),
        "KEYWARD_GATEWAY_TOKEN": "",
        "KEYWARD_REDIS_URL": "",
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: KEYWARD_GATEWAY_TOKEN is required in production")
    assert "Traceback" not in result.output


def test_metrics_require_the_metrics_token_when_set(app, client, make_app, warnings_logged):
    assert client.get("/metrics").status_code == 200  # embedded, unset: open
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, metrics_token="m" * 40)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "m" * 40}):
        refused = client.get("/metrics", headers=headers)
        assert (refused.status_code, refused.json["reason"]) == (401, "metrics_unauthenticated")
        assert "keyward_" not in refused.get_data(as_text=True)
    shown = client.get("/metrics", headers={"Authorization": f"Bearer {'m' * 40}"})
    assert "keyward_decisions_total" in shown.get_data(as_text=True)
    make_app(mode="production", gateway_token=GATEWAY_TOKEN)
    assert "KEYWARD_METRICS_TOKEN is not set: /metrics answers anyone" in warnings_logged
    warnings_logged.clear()
    make_app(mode="production", gateway_token=GATEWAY_TOKEN, metrics_token="m" * 40)
    assert warnings_logged == []
