"""OpenID Connect end to end: a local identity provider serving its JWKS on loopback."""

import dataclasses

import pytest

from keystore import remote_jwks
from keystore.services import clients
from tests.idp import idp
from tests.worlds import ACTOR

__all__ = ["idp"]


@pytest.fixture
def settings(settings):
    # Test-only: the local identity provider listens on 127.0.0.1 over http.
    return dataclasses.replace(settings, oidc_allow_loopback=True, partner_refetch_seconds=3600)


@pytest.fixture(autouse=True)
def _fresh_jwks_cache():
    remote_jwks.CACHE.forget()
    yield
    remote_jwks.CACHE.forget()


def register(admin, idp, **changes):
    body = {
        "name": "corp-sso",
        "issuer": idp.issuer,
        "jwks_url": idp.jwks_url,
        "audience": "keyward",
        "client_claim": "sub",
        "clients": ["acme"],
        **changes,
    }
    return admin("POST", "/api/v1/issuers", json=body)


def verify(client, token, endpoint="orders.list", **request):
    response = client.post("/v1/verify", json={"token": token, "endpoint": endpoint, **request})
    assert response.status_code == 200, response.json
    return response.json


def test_an_identity_providers_token_stands_for_its_client(admin, client, session, idp, world):
    created = register(admin, idp)
    assert created.status_code == 201, created.json
    assert created.json["clients"] == ["acme"]
    for kid in ("rsa-1", "ec-1"):
        verdict = verify(client, idp.token(kid=kid), project="shop", environment="prod")
        assert (verdict["allowed"], verdict["credential"], verdict["client_id"]) == (
            True,
            "oidc",
            world.client.id,
        )
    assert verify(client, idp.token(), "orders.create")["reason"] == "endpoint_denied"
    # The JWKS was fetched once and cached, not per token.
    assert idp.fetches == 1
    clients.set_enabled(session, actor=ACTOR, ref=world.client.id, enabled=False)
    session.flush()
    assert verify(client, idp.token())["reason"] == "client_disabled"


def test_every_claim_is_checked(admin, client, idp, world):
    register(admin, idp)
    cases = {
        "wrong_audience": (idp.token(audience="someone-else"), "malformed"),
        "no_audience": (idp.token(audience=...), "malformed"),
        "expired": (idp.token(exp=1_000_000), "expired"),
        "not_yet": (idp.token(nbf=2**33), "malformed"),
        "no_exp": (idp.token(exp=...), "malformed"),
        "unlisted_client": (idp.token(sub="root"), "unknown"),
        "claim_not_text": (idp.token(sub=[world.client.id]), "malformed"),
        "claim_not_text_elsewhere": (idp.token(azp=["acme"]), "allowed"),
        "unknown_kid": (idp.token(header_kid="rsa-9"), "bad_signature"),
        "other_keys_kid": (idp.token(header_kid="ec-1"), "malformed"),
    }
    for name, (token, reason) in cases.items():
        verdict = verify(client, token)
        assert verdict["reason"] == reason, name
        if reason != "allowed":
            assert verdict["client_id"] is None, name
    # The client may be named by id too.
    assert verify(client, idp.token(sub=str(world.client.id)))["allowed"]


def test_skew_is_tolerated_within_the_setting(admin, client, idp, world):
    import time

    register(admin, idp)
    assert verify(client, idp.token(exp=int(time.time()) - 30))["allowed"]
    assert verify(client, idp.token(exp=int(time.time()) - 120))["reason"] == "expired"


def test_a_disabled_or_deleted_issuer_is_no_longer_trusted(admin, client, idp, world):
    issuer_id = register(admin, idp).json["id"]
    token = idp.token()
    assert verify(client, token)["allowed"]
    assert (
        admin("PATCH", f"/api/v1/issuers/{issuer_id}", json={"enabled": False}).status_code == 200
    )
    assert verify(client, token)["reason"] == "unknown"
    assert admin("DELETE", f"/api/v1/issuers/{issuer_id}").status_code == 200
    assert verify(client, token)["reason"] == "unknown"
    events = admin("GET", "/api/v1/audit").json["events"]
    actions = {event["action"] for event in events}
    assert {"issuer.add", "issuer.disable", "issuer.delete"} <= actions


def test_symmetric_and_mislabelled_keys_in_a_jwks_are_ignored(admin, client, idp, world):
    import base64

    import jwt

    secret = b"shared-secret-published-by-mistake"
    idp.extra_jwks.append(
        {"kty": "oct", "kid": "hs", "k": base64.urlsafe_b64encode(secret).decode().rstrip("=")}
    )
    register(admin, idp)
    forged = jwt.encode(
        {"iss": idp.issuer, "aud": "keyward", "sub": "acme", "exp": 2**32},
        secret,
        algorithm="HS256",
        headers={"kid": "hs"},
    )
    assert verify(client, forged)["reason"] == "malformed"


def test_forged_kids_do_not_hammer_the_identity_provider(admin, client, idp, world):
    register(admin, idp)
    assert verify(client, idp.token())["allowed"]
    for n in range(20):
        token = idp.token(header_kid=f"forged-{n}")
        assert not verify(client, token)["allowed"]
    assert idp.fetches <= 2


HOSTILE = [
    {"jwks_url": "http://10.0.0.1/jwks"},
    {"jwks_url": "https://10.0.0.1/jwks"},
    {"jwks_url": "https://169.254.169.254/latest"},
    {"jwks_url": "https://[::1]/jwks"},
    {"jwks_url": "https://localhost/jwks"},
    {"jwks_url": "file:///etc/passwd"},
    {"jwks_url": "https://user@example.com/jwks"},
    {"jwks_url": "https://exa\u0000mple.com/"},
    {"jwks_url": "https://example.com/" + "a" * 600},
    {"issuer": "https://idp.example\ud800"},
    {"issuer": 12},
    {"audience": ""},
    {"audience": "x" * 301},
    {"client_claim": "sub\n"},
    {"clients": []},
    {"clients": ["nobody"]},
    {"clients": [99999999999999999999]},
    {"clients": "acme"},
    {"clients": [["acme"]]},
    {"clients": ["ac\u0000me"]},
    {"clients": ["\ud800"]},
    {"audience": "key\u0000ward"},
    {"client_claim": "\ud800"},
    {"name": ""},
    {"name": "[" * 5000},
    {"extra": 1},
]


@pytest.mark.parametrize("changes", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_registrations_are_a_4xx_and_change_nothing(admin, idp, world, changes):
    response = register(admin, idp, **changes)
    assert 400 <= response.status_code < 500, response.json
    assert {"error", "reason", "message"} <= set(response.json)
    assert admin("GET", "/api/v1/issuers").json == []


def test_outside_tests_loopback_jwks_urls_are_refused(app, admin, idp, world):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, oidc_allow_loopback=False)
    response = register(admin, idp)
    assert response.status_code == 422
    assert response.json["field"] == "issuer"


def test_keys_embedded_in_the_token_header_are_never_used(admin, client, idp, world):
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    register(admin, idp)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    claims = {"iss": idp.issuer, "aud": "keyward", "sub": "acme", "exp": 2**32}
    for header in (
        {"kid": "rsa-1", "jwk": public},
        {"kid": "rsa-1", "jku": "https://attacker.example/jwks"},
        {"jwk": public},
    ):
        forged = jwt.encode(claims, attacker, algorithm="RS256", headers=header)
        verdict = verify(client, forged)
        assert (verdict["allowed"], verdict["client_id"]) == (False, None), header


def test_an_identity_providers_token_works_on_the_admin_api(admin, client, idp, session):
    created = register(admin, idp, name="ops-sso", clients=["root"])
    assert created.status_code == 201
    token = idp.token(sub="root")
    listed = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    other = idp.token(sub="root", audience="another-service")
    refused = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 401
