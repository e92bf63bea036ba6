"""/v1/auth as each common gateway calls it: nginx, Traefik ForwardAuth, Envoy ext_authz.

The headers and paths are the ones those proxies send (Traefik's X-Forwarded-Method/-Uri/-Host,
Envoy's original method with the original path appended to the configured ``path_prefix``).
"""

import dataclasses

import pytest

from keystore.config import Settings
from keystore.errors import ConfigError
from keystore.services import catalogue
from tests.worlds import ACTOR


@pytest.fixture
def orders(session, world):
    catalogue.declare_endpoint(
        session, actor=ACTOR, name="orders.get", method="GET", path="/orders/{id}"
    )
    session.flush()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_traefik_forward_auth_headers_are_matched(client, issue, world, orders):
    _, token = issue()
    traefik = {
        **bearer(token),
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
        "X-Forwarded-Uri": "/orders/list?page=2",
        "X-Forwarded-For": "203.0.113.9",
    }
    allowed = client.get("/v1/auth", headers=traefik)
    assert allowed.status_code == 200
    assert allowed.headers["X-Keyward-Client-Id"] == str(world.client.id)
    denied = client.get("/v1/auth", headers={**traefik, "X-Forwarded-Uri": "/orders/42"})
    assert (denied.status_code, denied.headers["X-Keyward-Reason"]) == (403, "endpoint_denied")
    wrong_method = client.get("/v1/auth", headers={**traefik, "X-Forwarded-Method": "DELETE"})
    assert wrong_method.headers["X-Keyward-Reason"] == "endpoint_denied"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_envoy_ext_authz_appends_the_original_path(client, issue, world, orders, method):
    _, token = issue()
    allowed = client.open("/v1/auth/orders/list?page=2", method=method, headers=bearer(token))
    assert allowed.status_code == 200
    assert allowed.headers["X-Keyward-Key-Id"]
    denied = client.open("/v1/auth/orders/42", method=method, headers=bearer(token))
    assert (denied.status_code, denied.headers["X-Keyward-Reason"]) == (403, "endpoint_denied")


def test_envoy_sends_the_original_method(client, issue, orders):
    # Envoy forwards the client's method: a POST to a GET-only endpoint matches nothing.
    _, token = issue()
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = client.open("/v1/auth/orders/list", method=method, headers=bearer(token))
        assert (answer.status_code, answer.headers["X-Keyward-Reason"]) == (403, "endpoint_denied")
    assert client.open("/v1/auth/orders/list", method="POST").status_code == 401


def test_two_descriptions_that_disagree_are_refused(client, issue, orders):
    _, token = issue()
    # A client's own X-Original-URI that a gateway (here Traefik) passed through unchanged.
    spoofed = client.get(
        "/v1/auth",
        headers={
            **bearer(token),
            "X-Original-URI": "/orders/list",
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/orders/42",
        },
    )
    assert (spoofed.status_code, spoofed.json["reason"]) == (400, "ambiguous_request")
    envoy = client.get("/v1/auth/orders/42", headers={**bearer(token), "X-Original-URI": "/x"})
    assert (envoy.status_code, envoy.json["reason"]) == (400, "ambiguous_request")
    agreeing = client.get(
        "/v1/auth/orders/list", headers={**bearer(token), "X-Forwarded-Uri": "/orders/list"}
    )
    assert agreeing.status_code == 200


def test_the_credential_may_come_in_the_api_key_header(app, client, issue, orders):
    _, token = issue()
    path = {"X-Original-URI": "/orders/list"}
    assert client.get("/v1/auth", headers={"X-API-Key": token, **path}).status_code == 200
    both = client.get("/v1/auth", headers={"X-API-Key": token, **bearer(token), **path})
    assert both.status_code == 200
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, api_key_header="X-Token")
    assert client.get("/v1/auth", headers={"X-Token": token, **path}).status_code == 200
    old = client.get("/v1/auth", headers={"X-API-Key": token, **path})
    assert (old.status_code, old.headers["X-Keyward-Reason"]) == (401, "missing")
    runtime.settings = dataclasses.replace(runtime.settings, api_key_header="")
    off = client.get("/v1/auth", headers={"X-Token": token, **path})
    assert off.headers["X-Keyward-Reason"] == "missing"


def test_two_different_credentials_are_a_clear_400(client, issue, orders):
    _, token = issue()
    _, other = issue(name="second")
    answer = client.get(
        "/v1/auth",
        headers={"X-API-Key": other, **bearer(token), "X-Original-URI": "/orders/list"},
    )
    assert (answer.status_code, answer.json["reason"]) == (400, "ambiguous_credential")
    assert token not in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-API-Key": "kw_prod_\x00abc"}, 422),
        ({"X-API-Key": "k" * 9000}, 431),
        ({"X-API-Key": "k" * 5000}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"X-Forwarded-Uri": "/orders/list", "X-Forwarded-Method": "GE T"}, 422),
        ({"X-Keyward-Gateway": "haproxy"}, 422),
    ],
)
def test_hostile_gateway_headers_are_4xx(client, orders, headers, status):
    answer = client.get("/v1/auth", headers={"X-Original-URI": "/orders/list", **headers})
    assert answer.status_code == status


def test_nginx_callers_get_429_as_403_with_the_true_status(client, issue):
    _, token = issue(limits={"rate_limit": 1, "rate_window_seconds": 60})
    headers = {**bearer(token), "X-Keyward-Endpoint": "orders.list", "X-Keyward-Gateway": "nginx"}
    first = client.get("/v1/auth", headers=headers)
    assert (first.status_code, first.headers["X-Keyward-Status"]) == (200, "200")
    limited = client.get("/v1/auth", headers=headers)
    assert (limited.status_code, limited.headers["X-Keyward-Status"]) == (403, "429")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Every other caller still gets the 429 itself.
    traefik = client.get("/v1/auth", headers={**headers, "X-Keyward-Gateway": ""})
    assert (traefik.status_code, traefik.headers["X-Keyward-Status"]) == (429, "429")
    unknown = client.get("/v1/auth", headers={"X-Keyward-Endpoint": "orders.list"})
    assert (unknown.status_code, unknown.headers["X-Keyward-Status"]) == (401, "401")


@pytest.mark.parametrize("name", ["Authorization", "X Key", "x-keyward-gateway-token", "a" * 70])
def test_the_api_key_header_setting_is_checked(name):
    with pytest.raises(ConfigError):
        Settings.from_env({"KEYWARD_API_KEY_HEADER": name})
