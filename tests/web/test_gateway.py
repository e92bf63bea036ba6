import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest

from keystore import tokens
from keystore.jwt_access import issue_jwt
from keystore.services import catalogue, clients, keys
from tests.worlds import ACTOR


def verify(client, token, **request):
    body = {"token": token, "endpoint": "orders.list", **request}
    response = client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.json
    return response.json


def test_verify_allows_and_names_the_client_and_key(client, issue, world):
    key, token = issue()
    verdict = verify(client, token, environment="prod", project="shop", address="10.1.1.1")
    assert verdict["allowed"] is True
    assert verdict["reason"] == "allowed"
    assert (verdict["client_id"], verdict["key_id"], verdict["key_hint"]) == (
        world.client.id,
        key.id,
        key.hint,
    )


@pytest.mark.parametrize(
    ("setup", "request_", "reason"),
    [
        (lambda s, st, k: None, {"endpoint": "orders.create"}, "endpoint_denied"),
        (lambda s, st, k: None, {"project": "billing"}, "project_denied"),
        (lambda s, st, k: None, {"environment": "dev"}, "environment_denied"),
        (
            lambda s, st, k: keys.update_key(
                s, actor=ACTOR, key_id=k.id, allowed_ips=["10.0.0.0/8"]
            ),
            {"address": "192.0.2.1"},
            "ip_not_allowed",
        ),
        (
            lambda s, st, k: keys.update_key(
                s, actor=ACTOR, key_id=k.id, blocked_ips=["192.0.2.0/24"]
            ),
            {"address": "192.0.2.1"},
            "ip_blocked",
        ),
        (
            lambda s, st, k: keys.set_key_active(s, actor=ACTOR, key_id=k.id, active=False),
            {},
            "key_inactive",
        ),
        (
            lambda s, st, k: clients.set_enabled(s, actor=ACTOR, ref=k.client_id, enabled=False),
            {},
            "client_disabled",
        ),
        (
            lambda s, st, k: setattr(k, "expires_at", datetime.now(UTC) - timedelta(seconds=1)),
            {},
            "expired",
        ),
        (lambda s, st, k: keys.revoke_key(s, actor=ACTOR, key_id=k.id), {}, "revoked"),
        (lambda s, st, k: keys.delete_key(s, actor=ACTOR, key_id=k.id), {}, "unknown"),
    ],
)
def test_verify_reports_every_deny_reason(
    client, session, settings, issue, setup, request_, reason
):
    key, token = issue()
    setup(session, settings, key)
    session.flush()
    verdict = verify(client, token, **{"address": "10.0.0.1", **request_})
    assert verdict["allowed"] is False
    assert verdict["reason"] == reason


def test_verify_malformed_and_jwt_reasons(client, session, settings, issue):
    assert verify(client, "kw_prod_" + "A" * 36)["reason"] == "malformed"
    assert verify(client, tokens.generate("kw", "prod"))["reason"] == "unknown"
    key, _ = issue()
    good, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    assert verify(client, good)["credential"] == "jwt"
    assert verify(client, good)["allowed"] is True
    claims = pyjwt.decode(good, options={"verify_signature": False})
    forged = pyjwt.encode(claims, "not-the-secret-" * 3, algorithm="HS256")
    assert verify(client, forged)["reason"] == "bad_signature"


def test_a_regenerated_token_is_refused_on_the_very_next_request(client, session, settings, issue):
    key, old = issue()
    assert verify(client, old)["allowed"]
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    session.flush()
    assert verify(client, old)["reason"] == "revoked"
    assert verify(client, new)["allowed"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"endpoint": "orders.list"}, 422, "missing_field"),
        ({"token": "x"}, 422, "missing_field"),
        ({"token": 5, "endpoint": "orders.list"}, 422, "wrong_type"),
        ({"token": "x", "endpoint": "orders.list", "address": "nope"}, 422, "bad_format"),
        ({"token": "x", "endpoint": "e", "extra": 1}, 422, "unknown_field"),
    ],
)
def test_verify_input_errors(client, world, body, status, reason):
    response = client.post("/v1/verify", json=body)
    assert (response.status_code, response.json["reason"]) == (status, reason)


def auth(client, token=None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get("/v1/auth", headers=headers)


def test_nginx_auth_request_maps_the_original_uri(client, issue, world, session):
    catalogue.declare_endpoint(
        session, actor=ACTOR, name="orders.get", method="GET", path="/orders/{id}"
    )
    session.flush()
    _, token = issue()
    allowed = auth(
        client, token, **{"X-Original-URI": "/orders/list?x=1", "X-Original-Method": "GET"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["X-Keyward-Client-Id"] == str(world.client.id)
    denied = auth(client, token, **{"X-Original-URI": "/orders/42", "X-Original-Method": "GET"})
    assert (denied.status_code, denied.headers["X-Keyward-Reason"]) == (403, "endpoint_denied")
    unmapped = auth(client, token, **{"X-Original-URI": "/nowhere"})
    assert unmapped.status_code == 403
    assert "X-Keyward-Client-Id" not in unmapped.headers


def test_nginx_auth_statuses(client, issue):
    _, token = issue()
    assert auth(client, token, **{"X-Keyward-Endpoint": "orders.list"}).status_code == 200
    missing = auth(client, **{"X-Keyward-Endpoint": "orders.list"})
    assert (missing.status_code, missing.headers["X-Keyward-Reason"]) == (401, "missing")
    assert auth(client, "garbage", **{"X-Keyward-Endpoint": "orders.list"}).status_code == 401
    assert auth(client, token).status_code == 422


def test_forwarded_addresses_are_trusted_only_from_trusted_proxies(app, client, issue, session):
    _key, token = issue(allowed_ips=["198.51.100.0/24"])
    headers = {"X-Keyward-Endpoint": "orders.list", "X-Forwarded-For": "198.51.100.7, 10.0.0.2"}
    # The test client's remote address is 127.0.0.1, a trusted proxy by default;
    # 10.0.0.2 is not trusted, so it is the client, and it is not allowed.
    assert auth(client, token, **headers).headers["X-Keyward-Reason"] == "ip_not_allowed"
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(
        runtime.settings, trusted_proxies=("127.0.0.1/32", "10.0.0.0/8")
    )
    assert auth(client, token, **headers).status_code == 200
    runtime.settings = dataclasses.replace(runtime.settings, trusted_proxies=())
    assert auth(client, token, **headers).headers["X-Keyward-Reason"] == "ip_not_allowed"


def test_the_gateway_token_guards_verification_when_set(app, client, issue):
    _, token = issue()
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, gateway_token="g" * 40)
    refused = client.post("/v1/verify", json={"token": token, "endpoint": "orders.list"})
    assert (refused.status_code, refused.json["reason"]) == (401, "gateway_unauthenticated")
    ok = client.post(
        "/v1/verify",
        json={"token": token, "endpoint": "orders.list"},
        headers={"X-Keyward-Gateway-Token": "g" * 40},
    )
    assert ok.json["allowed"] is True


def test_health_and_metrics(client, issue):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json == {
        "status": "ok",
        "verification": "full",
        "database": "ok",
        "redis": "not configured",
    }
    _, token = issue()
    verify(client, token)
    verify(client, "kw_prod_bad")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'keyward_decisions_total{reason="allowed",surface="verify"}' in text
    assert 'keyward_decisions_total{reason="malformed",surface="verify"}' in text
    assert "keyward_decision_seconds_bucket" in text
    assert 'keyward_incidents{state="received"} 0.0' in text


def test_no_token_in_any_log_line(client, issue, caplog, admin):
    caplog.set_level(logging.DEBUG)
    key, token = issue()
    verify(client, token)
    client.get(f"/v1/verify?token={token}")
    auth(client, token, **{"X-Keyward-Endpoint": "orders.list"})
    regenerated = admin("POST", f"/api/v1/keys/{key.id}/regenerate", json={})
    logging.getLogger("keyward.test").info("echo %s", regenerated.json["token"])
    assert token not in caplog.text
    assert regenerated.json["token"] not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_request_ids_are_echoed_or_made(client):
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32


def test_the_access_log_names_the_outcome_by_reason_and_ids(client, issue, caplog, world):
    caplog.set_level(logging.INFO, logger="keyward.access")
    key, token = issue()
    verify(client, token)
    fields = [r.fields for r in caplog.records if r.name == "keyward.access"][-1]
    assert (fields["path"], fields["status"], fields["reason"]) == ("/v1/verify", 200, "allowed")
    assert (fields["client_id"], fields["key_id"]) == (world.client.id, key.id)
    assert isinstance(fields["ms"], float)
