"""The app on each database, its client, and a check of every response against the OpenAPI doc."""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest
from sqlalchemy.orm import sessionmaker
from werkzeug.exceptions import HTTPException

from keystore.services.bootstrap import bootstrap_admin
from rotation import dispatch
from tests.worlds import ACTOR, issue, world
from web import create_app
from web.openapi import build_document, openapi_path

__all__ = ["issue", "world"]


@pytest.fixture
def app(db_engine, connection, settings, monkeypatch):
    app = create_app(
        dataclasses.replace(settings, database_url=str(db_engine.url), log_format="text")
    )
    runtime = app.extensions["keyward"]
    # The app's units of work become savepoints of the test's rolled-back transaction.
    runtime.sessions = runtime.read_sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    runtime.install_task_context()  # in-process tasks see the test's transaction too
    # ... in the test's own thread: a task thread would share the test's connection.
    monkeypatch.setattr(dispatch, "run_inline", True)
    yield app
    runtime.engine.dispose()


@pytest.fixture
def client(app):
    return DocumentedClient(app)


@pytest.fixture
def admin_token(session, settings):
    _, token = bootstrap_admin(
        session, settings, actor=ACTOR, client_name="root", environment="prod"
    )
    session.flush()
    return token


@pytest.fixture
def admin(client, admin_token):
    """Call the admin API as the bootstrap admin."""

    def call(method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {admin_token}", **kwargs.pop("headers", {})}
        return client.open(path, method=method, headers=headers, **kwargs)

    return call


class DocumentedClient:
    """A test client that checks every response it sees against the OpenAPI document."""

    def __init__(self, app) -> None:
        self._client = app.test_client()
        self._app = app
        self._document = build_document(app)
        self.checked = 0

    def open(self, path: str, **kwargs):
        response = self._client.open(path, **kwargs)
        self._check(path, kwargs.get("method", "GET"), response)
        return response

    def get(self, path, **kw):
        return self.open(path, method="GET", **kw)

    def post(self, path, **kw):
        return self.open(path, method="POST", **kw)

    def _check(self, path: str, method: str, response) -> None:
        adapter = self._app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
        except HTTPException:  # unrouted (404/405): nothing documented to check against
            return
        operation = self._document["paths"].get(openapi_path(rule.rule), {}).get(method.lower())
        if operation is None:
            return
        documented = operation["responses"]
        assert str(response.status_code) in documented, (
            f"{method} {rule.rule} answered {response.status_code}, documented {sorted(documented)}"
        )
        content = documented[str(response.status_code)].get("content")
        if content and response.is_json:
            schema = {
                **content["application/json"]["schema"],
                "components": self._document["components"],
            }
            jsonschema.validate(response.get_json(), schema)
            self.checked += 1
