"""Client-signed JWTs through the API: register a key, sign, and be accepted everywhere."""

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keystore.privileges import operator
from keystore.services import clients
from tests.autocommit import autocommit_reads
from tests.worlds import ACTOR
from web.inputs import INPUTS

MAX_TOKEN_CHARS = INPUTS["VerifyInput"]["properties"]["token"]["maxLength"]

__all__ = ["autocommit_reads"]


def claims_for(client_id, **changes):
    now = int(time.time())
    base = {"iss": str(client_id), "exp": now + 300, "jti": uuid.uuid4().hex}
    return {k: v for k, v in (base | changes).items() if v is not ...}


def verify(client, token, endpoint="orders.list"):
    response = client.post("/v1/verify", json={"token": token, "endpoint": endpoint})
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("kind", ["ES256", "RS256"])
def test_a_registered_public_key_signs_jwts_the_gateway_accepts(
    admin, client, world, kind, autocommit_reads
):
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = f"/api/v1/clients/{world.client.id}/jwt-keys"
    created = admin("POST", path, json={"algorithm": kind, "public_key": pem.decode()})
    assert created.status_code == 201, created.json
    assert created.json["secret"] is None
    listed = admin("GET", path).json
    assert [k["id"] for k in listed] == [created.json["id"]]
    token = jwt.encode(claims_for(world.client.id), private, algorithm=kind)
    verdict = verify(client, token)
    assert (verdict["allowed"], verdict["credential"]) == (True, "client_jwt")
    replay = verify(client, token)
    assert (replay["allowed"], replay["reason"], replay["client_id"]) == (False, "replayed", None)
    fresh = jwt.encode(claims_for(world.client.id), private, algorithm=kind)
    nginx = client.get(
        "/v1/auth",
        headers={"Authorization": f"Bearer {fresh}", "X-Keyward-Endpoint": "orders.list"},
    )
    assert (nginx.status_code, nginx.headers["X-Keyward-Client-Id"]) == (200, str(world.client.id))
    deleted = admin("DELETE", f"{path}/{created.json['id']}")
    assert deleted.status_code == 200
    assert (
        verify(client, jwt.encode(claims_for(world.client.id), private, algorithm=kind))["reason"]
        == "bad_signature"
    )


def test_an_hs256_secret_is_shown_once_and_works_on_the_admin_api(
    admin, client, admin_token, session
):
    root = clients.get_client(session, "root")
    path = f"/api/v1/clients/{root.id}/jwt-keys"
    created = admin("POST", path, json={"algorithm": "HS256"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    secret = created.json["secret"]
    assert len(secret) >= 40
    assert all(secret not in json.dumps(k) for k in admin("GET", path).json)
    own = jwt.encode(claims_for(root.id), secret, algorithm="HS256")
    response = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {own}"})
    assert response.status_code == 200
    # A client disabled is refused at once.
    # (root is the only full admin: disabling it takes the operator's explicit force)
    clients.set_enabled(
        session, actor=ACTOR, ref=root.id, enabled=False, caller=operator(force=True)
    )
    session.flush()
    fresh = jwt.encode(claims_for(root.id), secret, algorithm="HS256")
    refused = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {fresh}"})
    assert refused.status_code == 403


HOSTILE = [
    {"algorithm": "none"},
    {"algorithm": "HS256", "public_key": "x"},
    {"algorithm": "ES256", "public_key": "[" * 5000},
    {"algorithm": "ES256", "public_key": {"kty": "EC", "crv": "P-256", "x": [], "y": {}}},
    {"algorithm": "ES256", "public_key": "\u0000\ud800"},
    {"algorithm": "RS256", "public_key": "-----BEGIN PUBLIC KEY-----\n" + "A" * 100_000},
    {"algorithm": 1},
    {"algorithm": "ES256", "extra": True},
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_key_registrations_are_a_4xx(admin, world, body):
    path = f"/api/v1/clients/{world.client.id}/jwt-keys"
    response = admin("POST", path, json=body)
    assert 400 <= response.status_code < 500, response.json
    assert admin("GET", path).json == []


def test_unknown_clients_and_keys_are_404(admin, world):
    assert admin("GET", "/api/v1/clients/99999999999999999999/jwt-keys").status_code == 404
    assert admin("GET", "/api/v1/clients/2147483000/jwt-keys").status_code == 404
    path = f"/api/v1/clients/{world.client.id}/jwt-keys/2147483000"
    assert admin("DELETE", path).status_code == 404


def _hostile_claims(client_id: int) -> list[dict]:
    base = claims_for(client_id)
    return [
        {**base, "jti": "a\u0000b"},
        {**base, "jti": "\ud800"},
        {**base, "jti": {"nested": ["x"] * 10}},
        {**base, "jti": "x" * 10_000},
        {**base, "iss": "https://idp.example/\u0000"},
        {**base, "iss": "https://\ud800.example/"},
        {**base, "iss": "https://idp.example/" + "a" * 5000},
        {**base, "iss": str(2**40)},
        {**base, "iss": "0" + str(client_id)},
        {**base, "exp": float("inf")},
        {**base, "exp": "tomorrow"},
        {**base, "aud": [["nested"]]},
    ]


def test_hostile_claims_in_foreign_jwts_are_refused_never_a_5xx(
    admin, client, world, autocommit_reads
):
    path = f"/api/v1/clients/{world.client.id}/jwt-keys"
    secret = admin("POST", path, json={"algorithm": "HS256"}).json["secret"]
    for claims in _hostile_claims(world.client.id):
        token = jwt.encode(claims, secret, algorithm="HS256")
        if _too_long_for_verify(client, token):
            continue
        verdict = verify(client, token)
        assert not verdict["allowed"], claims
        assert verdict["client_id"] is None, claims
    for header in ({"kid": {"a": 1}}, {"kid": "x" * 5000}, {"alg": "none"}, {"crit": ["exp"]}):
        token = _signed_by_hand(claims_for(world.client.id), secret.encode(), header)
        if not _too_long_for_verify(client, token):
            assert verify(client, token)["client_id"] in (None, world.client.id)


def _too_long_for_verify(client, token: str) -> bool:
    """Longer than /v1/verify's documented token: refused at the door (a 422), not judged."""
    if len(token) <= MAX_TOKEN_CHARS:
        return False
    answer = client.post("/v1/verify", json={"token": token, "endpoint": "orders.list"})
    assert (answer.status_code, answer.json["reason"]) == (422, "too_long")
    return True


def _signed_by_hand(claims: dict, secret: bytes, header: dict) -> str:
    """HS256 with any header (PyJWT refuses to write odd ones)."""
    import base64
    import hashlib
    import hmac

    def part(data) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', **header})}.{part(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
