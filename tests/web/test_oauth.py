"""OAuth 2.0 client credentials end to end: /oauth/token, offline verification, revocation."""

import base64
import json
from urllib.parse import quote

import jwt as pyjwt
import pytest
from werkzeug.datastructures import MultiDict

from keystore.services import clients, keys, roles
from tests.worlds import ACTOR

GRANT = {"grant_type": "client_credentials"}


def basic(key_id, secret) -> dict:
    raw = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def fetch(client, key, token, **form):
    body = {"grant_type": "client_credentials", **form}
    return client.post("/oauth/token", data=body, headers=basic(key.id, token))


def verify(client, token, endpoint="orders.list"):
    response = client.post("/v1/verify", json={"token": token, "endpoint": endpoint})
    assert response.status_code == 200, response.json
    return response.json


def offline(client, access_token) -> dict:
    """What a gateway does: fetch the JWKS once, pick the key by kid, verify with PyJWT."""
    document = client.get("/.well-known/jwks.json").json
    jwk_set = pyjwt.PyJWKSet.from_dict(document)
    kid = pyjwt.get_unverified_header(access_token)["kid"]
    key = next(k for k in jwk_set.keys if k.key_id == kid)
    issuer = client.get("/.well-known/openid-configuration").json["issuer"]
    return pyjwt.decode(access_token, key.key, algorithms=[key.algorithm_name], issuer=issuer)


def test_a_token_verifies_offline_then_fails_at_once_after_revocation(
    client, session, issue, world
):
    key, token = issue()
    response = fetch(client, key, token)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json
    assert answer["token_type"] == "Bearer"
    assert 0 < answer["expires_in"] <= 3600
    assert answer["scope"].split() == ["debug.dump", "orders.list"]
    claims = offline(client, answer["access_token"])
    assert claims["sub"] == f"client:{world.client.id}"
    assert verify(client, answer["access_token"])["allowed"] is True
    nginx = client.get(
        "/v1/auth",
        headers={
            "Authorization": f"Bearer {answer['access_token']}",
            "X-Keyward-Endpoint": "orders.list",
        },
    )
    assert (nginx.status_code, nginx.headers["X-Keyward-Key-Id"]) == (200, str(key.id))
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    session.flush()
    assert verify(client, answer["access_token"])["reason"] == "revoked"
    # Offline, the gateway still accepts it until exp: what it gives up by not asking.
    assert offline(client, answer["access_token"])["exp"] == claims["exp"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda s, st, k, w: keys.set_key_active(s, actor=ACTOR, key_id=k.id, active=False),
            "key_inactive",
        ),
        (lambda s, st, k, w: keys.regenerate_key(s, st, actor=ACTOR, key_id=k.id), "revoked"),
        (
            lambda s, st, k, w: clients.set_enabled(s, actor=ACTOR, ref=w.client.id, enabled=False),
            "client_disabled",
        ),
    ],
    ids=["deactivated", "regenerated", "client_disabled"],
)
def test_everything_that_stops_the_key_stops_its_access_token(
    client, session, settings, issue, world, change, reason
):
    key, token = issue()
    access = fetch(client, key, token).json["access_token"]
    change(session, settings, key, world)
    session.flush()
    assert verify(client, access)["reason"] == reason
    # And the key's token can no longer buy a new one.
    refused = fetch(client, key, token)
    assert (refused.status_code, refused.json["error"]) == (401, "invalid_client")


def test_scope_narrows_and_never_widens(client, session, issue):
    both = ["orders.list", "orders.create"]
    roles.update_role(session, actor=ACTOR, ref="reader", endpoints=both)
    session.flush()
    key, token = issue()
    narrowed = fetch(client, key, token, scope="orders.list")
    assert narrowed.status_code == 200
    assert narrowed.json["scope"] == "orders.list"
    access = narrowed.json["access_token"]
    assert verify(client, access, "orders.list")["allowed"] is True
    assert verify(client, access, "orders.create")["reason"] == "endpoint_denied"
    # A role change still applies to a narrowed token: the scope cannot keep what the role lost.
    roles.update_role(session, actor=ACTOR, ref="reader", endpoints=["orders.create"])
    session.flush()
    assert verify(client, access, "orders.list")["reason"] == "endpoint_denied"
    for scope in ("orders.list", "orders.create billing.admin", "keyward.keys.write", "a  b"):
        refused = fetch(client, key, token, scope=scope)
        assert (refused.status_code, refused.json["error"]) == (400, "invalid_scope"), scope


def test_form_credentials_work_and_every_failure_is_the_same_invalid_client(client, issue):
    key, token = issue()
    _, other_token = issue(name="other")
    form = {"grant_type": "client_credentials", "client_id": str(key.id), "client_secret": token}
    assert client.post("/oauth/token", data=form).status_code == 200
    failures = [
        {**form, "client_secret": other_token},  # a real token of another key
        {**form, "client_id": "999999"},  # no such key
        {**form, "client_secret": token[:-1] + ("a" if token[-1] != "a" else "b")},
        {**form, "client_secret": "not-a-token"},
        {"grant_type": "client_credentials", "client_id": str(key.id)},
    ]
    bodies = set()
    for body in failures:
        response = client.post("/oauth/token", data=body)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.json["error"] == "invalid_client"
        bodies.add(json.dumps(response.json) if body is not failures[-1] else "")
    # Wrong secret and unknown key id are indistinguishable.
    assert len(bodies - {""}) == 1


INVALID = "invalid_request"


def test_request_errors_follow_rfc_6749(client, issue):
    key, token = issue()
    cases = [
        ({"grant_type": "password"}, basic(key.id, token), "unsupported_grant_type"),
        ({}, basic(key.id, token), "invalid_request"),
        (
            {"grant_type": "client_credentials", "client_id": str(key.id)},
            basic(key.id, token),
            "invalid_request",
        ),
        (MultiDict([("grant_type", "client_credentials")] * 2), basic(key.id, token), INVALID),
    ]
    for form, headers, error in cases:
        response = client.post("/oauth/token", data=form, headers=headers)
        assert (response.status_code, response.json["error"]) == (400, error), form
    as_json = client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(key.id, token)
    )
    assert (as_json.status_code, as_json.json["error"]) == (400, "invalid_request")


HOSTILE = [
    ("\x00", "kw_\x00"),
    ("1" * 20, "x"),
    ("-1", "x" * 100_000),
    ("\udcff", "\ud800"),
    ("1:2", "::::"),
    ("%00", "%ZZ"),
]


@pytest.mark.parametrize(("client_id", "secret"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_credentials_are_a_401_never_a_5xx(client, client_id, secret):
    def encoded(value: str) -> str:
        return quote(value.encode("utf-8", "surrogatepass"), safe="")

    form = f"grant_type=client_credentials&client_id={encoded(client_id)}"
    form += f"&client_secret={encoded(secret)}"
    kind = "application/x-www-form-urlencoded"
    response = client.post("/oauth/token", data=form, content_type=kind)
    # 401 invalid_client; text no field may hold (NUL) is a 400 invalid_request.
    assert response.status_code in (401, 400)
    raw = f"{client_id}:{secret}".encode("utf-8", "surrogatepass")
    weird = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=weird)
    assert response.status_code in (401, 400)


def test_odd_bodies_and_headers_are_4xx(client, issue):
    key, token = issue()
    response = client.post("/oauth/token", data=GRANT, headers={"Authorization": "Basic !!!"})
    assert response.status_code == 401
    huge_header = {"Authorization": "Basic " + "A" * 10_001}
    oversized = client.post("/oauth/token", data=GRANT, headers=huge_header)
    assert (oversized.status_code, oversized.json["error"]) == (400, "invalid_request")
    huge = fetch(client, key, token, scope="a " * 5000)
    assert (huge.status_code, huge.json["error"]) == (400, "invalid_scope")
    nul = fetch(client, key, token, scope="orders.list\x00")
    assert (nul.status_code, nul.json["error"]) == (400, "invalid_request")
    form = "application/x-www-form-urlencoded"
    garbled = client.post("/oauth/token", data="%" * 50_000, content_type=form)
    assert garbled.status_code == 401


def test_brute_force_on_a_key_id_is_throttled(client, issue):
    key, token = issue()
    form = {"grant_type": "client_credentials", "client_id": str(key.id)}
    statuses = [
        client.post("/oauth/token", data={**form, "client_secret": f"kw_guess{n}"}).status_code
        for n in range(31)
    ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429
    # Even the right secret waits now: guessing it is no faster.
    assert fetch(client, key, token).status_code == 429


def test_a_key_bound_to_addresses_gets_a_token_only_from_them(client, session, issue):
    key, token = issue(allowed_ips=["10.9.0.0/16"])
    inside = client.post(
        "/oauth/token",
        data=GRANT,
        headers={**basic(key.id, token), "X-Forwarded-For": "10.9.1.2"},
    )
    assert inside.status_code == 200
    outside = client.post(
        "/oauth/token",
        data=GRANT,
        headers={**basic(key.id, token), "X-Forwarded-For": "192.0.2.1"},
    )
    assert (outside.status_code, outside.json["error"]) == (400, "unauthorized_client")
