"""The decision cache through the app: every kind of change is refused on the very next request.

Each test first shows the answer is served from the cache (no decision query on the
second call), then changes something through the admin API, the CLI's services or
raw SQL in the same process, and asks again at once.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import jwt
import pytest
from sqlalchemy import event, text

from keystore import tokens
from keystore.models import KeyToken
from keystore.services import keys
from tests.worlds import ACTOR
from web import create_app

ADDRESS = "198.51.100.4"


def verify(client, token, **request):
    body = {"token": token, "endpoint": "orders.list", "address": ADDRESS, **request}
    response = client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.json
    return response.json


class Statements:
    """Counts the reads (not the SQLite epoch's) sent on the test's connection."""

    def __init__(self, connection) -> None:
        self.count = 0
        event.listen(connection, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args) -> None:
        if statement.startswith("SELECT") and "decision_epoch" not in statement:
            self.count += 1


@pytest.fixture
def statements(app, connection, session):
    listening(app.extensions["keyward"].decision_cache, session)
    return Statements(connection)


def listening(cache, session) -> None:
    """Wait until the process hears changes (PostgreSQL's listener starts on first use)."""
    deadline = time.monotonic() + 10
    while cache.freshness.generation(session) is None:
        assert time.monotonic() < deadline, "the decision listener did not start"
        time.sleep(0.02)


def cached_and_allowed(client, statements, token, **request) -> None:
    assert verify(client, token, **request)["allowed"]
    before = statements.count
    assert verify(client, token, **request)["allowed"]
    assert statements.count == before, "the second decision was not served from the cache"


CHANGES = {
    "revoke": (lambda k, w: ("POST", f"/api/v1/keys/{k.id}/revoke", None), "revoked"),
    "deactivate": (lambda k, w: ("POST", f"/api/v1/keys/{k.id}/deactivate", None), "key_inactive"),
    "delete key": (lambda k, w: ("DELETE", f"/api/v1/keys/{k.id}", None), "unknown"),
    "regenerate": (lambda k, w: ("POST", f"/api/v1/keys/{k.id}/regenerate", {}), "revoked"),
    "disable client": (
        lambda k, w: ("POST", f"/api/v1/clients/{w.client.id}/disable", None),
        "client_disabled",
    ),
    "revoke client keys": (
        lambda k, w: ("POST", f"/api/v1/clients/{w.client.id}/revoke-keys", None),
        "revoked",
    ),
    "delete client": (lambda k, w: ("DELETE", f"/api/v1/clients/{w.client.id}", None), "unknown"),
    "role edit": (
        lambda k, w: ("PATCH", f"/api/v1/roles/{w.role.id}", {"endpoints": ["debug.dump"]}),
        "endpoint_denied",
    ),
    "endpoint deleted": (
        lambda k, w: ("DELETE", "/api/v1/endpoints/orders.list", None),
        "endpoint_denied",
    ),
    "ip rules": (
        lambda k, w: ("PATCH", f"/api/v1/keys/{k.id}", {"allowed_ips": ["10.0.0.0/8"]}),
        "ip_not_allowed",
    ),
    "environment binding": (
        lambda k, w: ("PATCH", f"/api/v1/clients/{w.client.id}", {"environments": ["dev"]}),
        "environment_denied",
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_through_the_api_is_refused_on_the_next_request(
    admin, client, issue, world, statements, change
):
    key, token = issue()
    cached_and_allowed(client, statements, token)
    build, reason = CHANGES[change]
    method, path, body = build(key, world)
    answer = admin(method, path, **({} if body is None else {"json": body}))
    assert answer.status_code in (200, 204), answer.json
    verdict = verify(client, token)
    assert (verdict["allowed"], verdict["reason"]) == (False, reason)


def test_project_binding_and_limits_apply_on_the_next_request(
    admin, client, issue, world, statements
):
    key, token = issue()
    cached_and_allowed(client, statements, token, project="shop")
    assert verify(client, token, project="shop")["rate_limit"] is None
    limits = {"limits": {"rate_limit": 1, "rate_window_seconds": 60}}
    assert admin("PATCH", f"/api/v1/keys/{key.id}", json=limits).status_code == 200
    assert verify(client, token, project="shop")["rate_limit"]["limit"] == 1
    assert verify(client, token, project="shop")["reason"] == "rate_limited"
    changed = admin("PATCH", f"/api/v1/clients/{world.client.id}", json={"projects": []})
    assert changed.status_code == 200, changed.json
    assert verify(client, token, project="shop")["reason"] == "project_denied"


def test_a_service_call_and_raw_sql_in_the_process_are_refused_next(
    client, session, issue, statements
):
    first, first_token = issue(name="a")
    second, second_token = issue(name="b")
    cached_and_allowed(client, statements, first_token)
    cached_and_allowed(client, statements, second_token)
    keys.revoke_key(session, actor=ACTOR, key_id=first.id)  # what the CLI calls
    session.flush()
    assert verify(client, first_token)["reason"] == "revoked"
    session.execute(
        text("UPDATE api_keys SET state = 'inactive' WHERE id = :id"), {"id": second.id}
    )
    assert verify(client, second_token)["reason"] == "key_inactive"


def test_an_unknown_token_is_cached_until_a_key_takes_it(
    client, session, settings, issue, statements
):
    key, _ = issue()
    stranger = tokens.generate(settings.token_prefix, "prod")
    assert verify(client, stranger)["reason"] == "unknown"
    before = statements.count
    assert verify(client, stranger)["reason"] == "unknown"
    assert statements.count == before  # a flood of unknown tokens costs no query
    session.add(
        KeyToken(
            key_id=key.id,
            digest=tokens.digest(stranger, settings.pepper_bytes),
            hint=tokens.hint_of(stranger),
        )
    )
    session.flush()
    assert verify(client, stranger)["allowed"]


def test_keyward_jwts_and_oauth_tokens_follow_their_key(admin, client, issue, statements):
    key, _ = issue()
    minted = admin("POST", f"/api/v1/keys/{key.id}/jwt", json={})
    assert minted.status_code == 201, minted.json
    token = minted.json["jwt"]
    cached_and_allowed(client, statements, token)
    assert admin("POST", f"/api/v1/keys/{key.id}/deactivate").status_code == 200
    assert verify(client, token)["reason"] == "key_inactive"


def test_a_client_jwt_key_removed_is_refused_next(admin, client, world, statements):
    path = f"/api/v1/clients/{world.client.id}/jwt-keys"
    created = admin("POST", path, json={"algorithm": "HS256"})
    assert created.status_code == 201, created.json
    secret = created.json["secret"]

    def signed():
        claims = {"iss": str(world.client.id), "exp": int(time.time()) + 300}
        return jwt.encode(
            claims, secret, algorithm="HS256", headers={"kid": str(created.json["id"])}
        )

    token = signed()  # no jti: may be presented again
    cached_and_allowed(client, statements, token)
    removed = admin("DELETE", f"{path}/{created.json['id']}")
    assert removed.status_code in (200, 204), removed.json
    assert verify(client, token)["reason"] == "bad_signature"


def test_the_catalogue_for_original_uris_is_cached_and_follows_changes(
    admin, client, issue, statements
):
    _, token = issue()
    headers = {"Authorization": f"Bearer {token}", "X-Original-URI": "/orders/list"}
    assert client.get("/v1/auth", headers=headers).status_code == 200
    before = statements.count
    assert client.get("/v1/auth", headers=headers).status_code == 200
    assert statements.count == before
    moved = admin("DELETE", "/api/v1/endpoints/orders.list")
    assert moved.status_code in (200, 204), moved.json
    assert client.get("/v1/auth", headers=headers).status_code == 403


def test_with_the_cache_off_every_decision_reads_the_database(
    db_engine, connection, settings, session, issue, statements
):
    from sqlalchemy.orm import sessionmaker

    off = dataclasses.replace(
        settings, database_url=str(db_engine.url), log_format="text", decision_cache=False
    )
    app = create_app(off)
    runtime = app.extensions["keyward"]
    assert runtime.decision_cache is None
    runtime.sessions = runtime.read_sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    _, token = issue(name=f"off-{uuid.uuid4().hex[:6]}")
    web = app.test_client()
    before = statements.count
    for _ in range(3):
        body = {"token": token, "endpoint": "orders.list", "address": ADDRESS}
        assert web.post("/v1/verify", json=body).json["allowed"]
    assert statements.count - before == 3
    runtime.engine.dispose()
