"""Finding 2 of issue 10: the gateway endpoints are no oracle for strangers.

Each test replays one attack on SQLite and PostgreSQL (the ``db_engine`` fixture); who may
ask at all (the gateway and metrics tokens) is in ``test_gateway_exposure.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import event

from keystore.jwt_access import _client_secret, issue_jwt, reset_client_jwts
from keystore.models import ApiKey
from keystore.services import keys
from tests.worlds import ACTOR
from web.inputs import INPUTS

MAX_TOKEN_CHARS = INPUTS["VerifyInput"]["properties"]["token"]["maxLength"]

IDENTITY = ("client_id", "key_id", "key_hint", "environment")
LATER = datetime.now(UTC) + timedelta(hours=1)


def verify(client, credential, headers=None):
    body = {"token": credential, "endpoint": "orders.list", "address": "203.0.113.9"}
    response = client.post("/v1/verify", json=body, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def assert_refused(client, credential, reason):
    """Refused as a stranger; one longer than /v1/verify's documented token takes is a 422."""
    if len(credential) > MAX_TOKEN_CHARS:
        body = {"token": credential, "endpoint": "orders.list"}
        response = client.post("/v1/verify", json=body)
        assert (response.status_code, response.json["reason"]) == (422, "too_long")
        assert "client_id" not in response.json
        if len(credential) < 8000:  # what a header may carry: /v1/auth reads it as a JWT
            answer = client.get(
                "/v1/auth",
                headers={"Authorization": f"Bearer {credential}", "X-Keyward-Endpoint": "x"},
            )
            assert (answer.status_code, answer.headers["X-Keyward-Reason"]) == (401, reason)
            assert "X-Keyward-Client-Id" not in answer.headers
        return
    assert_stranger(verify(client, credential), reason)


def assert_stranger(verdict, reason):
    """Refused for the reason given, and not one word about any client or key."""
    assert (verdict["allowed"], verdict["reason"]) == (False, reason), verdict
    assert {name: verdict[name] for name in IDENTITY} == dict.fromkeys(IDENTITY)


class Selects(list):
    """SELECT statements run on the test's connection while ``watching``."""

    watching = False

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.watching and statement.lstrip().upper().startswith("SELECT"):
            self.append(statement)


@pytest.fixture
def selects(connection):
    """Set ``selects.watching`` once the test's own setup has read what it needs."""
    recorder = Selects()
    event.listen(connection, "before_cursor_execute", recorder)
    yield recorder
    event.remove(connection, "before_cursor_execute", recorder)


def claims_for(key, **changes):
    claims = {"iss": "keyward", "sub": f"client:{key.client_id}", "kid": key.id}
    claims |= {"tid": key.tokens[0].id, "ver": 1, "exp": LATER, "iat": datetime.now(UTC)}
    return {name: value for name, value in (claims | changes).items() if value is not ...}


def hs256(claims: dict | str, secret: bytes, header: dict | None = None) -> str:
    """Sign by hand (claims as a dict or raw JSON): PyJWT refuses a PEM key as an HMAC secret."""

    def part(data) -> str:
        raw = data if isinstance(data, str) else json.dumps(data, default=_seconds)
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    signing_input = f"{part(header or {'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _seconds(at: datetime) -> int:
    return int(at.timestamp())


def test_an_unsigned_jwt_naming_any_token_learns_nothing_and_reads_nothing(client, issue, selects):
    key, _ = issue()
    credentials = [
        pyjwt.encode(claims, None, algorithm="none")
        for claims in (claims_for(key), {"tid": key.tokens[0].id})
    ]
    selects.watching = True
    for unsigned in credentials:
        assert_stranger(verify(client, unsigned), "malformed")
        nginx = client.get(
            "/v1/auth",
            headers={"Authorization": f"Bearer {unsigned}", "X-Keyward-Endpoint": "orders.list"},
        )
        assert (nginx.status_code, nginx.headers["X-Keyward-Reason"]) == (401, "malformed")
        assert not {"X-Keyward-Client-Id", "X-Keyward-Key-Id"} & set(nginx.headers.keys())
    assert selects == []


def test_a_forged_jwt_naming_a_victims_token_fails_on_its_signature_before_any_read(
    client, issue, selects
):
    key, _ = issue()
    forged = pyjwt.encode(claims_for(key), "guessed-secret-" * 3, algorithm="HS256")
    selects.watching = True
    assert_stranger(verify(client, forged), "bad_signature")
    assert selects == []


HOSTILE_CLAIMS = [
    {"tid": "123456789012345678901234567890"},
    {"tid": 10**30},
    {"tid": 2**31},
    {"tid": 1.0},
    {"tid": [1]},
    {"tid": {"id": 1}},
    {"tid": True},
    {"tid": None},
    {"tid": -1},
    {"tid": ...},
    {"sub": ...},
    {"ver": ...},
    {"exp": ...},
    {"iss": ...},
    {"sub": "client:01"},
    {"sub": "client:99999999999"},
    {"sub": "client:1\n"},
    {"sub": "client:\u0000"},
    {"sub": "client:\ud800"},
    {"sub": 1},
    {"ver": "1"},
    {"ver": 1.5},
    {"ver": 2**40},
    {"ver": False},
    {"exp": "soon"},
    {"exp": float("inf")},
    {"exp": [1]},
    {"iss": "someone-else"},
    {"tid": json.loads("[" * 50 + "]" * 50)},
    {"tid": {"a": {"b": {"c": [1, 2, {"d": None}]}}}},
    {"extra": "[" * 1500 + "]" * 1500},
]


@pytest.mark.parametrize("changes", HOSTILE_CLAIMS, ids=range(len(HOSTILE_CLAIMS)))
def test_odd_claims_are_malformed_even_when_signed_never_a_5xx_nor_a_read(
    app, client, issue, selects, changes
):
    key, _ = issue()
    settings = app.extensions["keyward"].settings
    # Signed with the victim's real secret: only the pepper's holder could do this.
    signed = hs256(claims_for(key, **changes), _client_secret(settings, key.client_id, 1))
    unsigned = pyjwt.encode(claims_for(key, **changes), None, algorithm="none")
    selects.watching = True
    assert_refused(client, signed, "malformed")
    assert_refused(client, unsigned, "malformed")
    assert selects == []


def test_deep_nesting_and_huge_jwts_are_malformed_without_a_read(app, client, issue, selects):
    key, _ = issue()
    secret = _client_secret(app.extensions["keyward"].settings, key.client_id, 1)
    fields = json.dumps(claims_for(key, tid=...), default=_seconds)[1:-1]
    deep = hs256(f'{{{fields}, "tid": {"[" * 1400}{"]" * 1400}}}', secret)
    padded = hs256(claims_for(key, pad="x" * 500_000), secret)
    selects.watching = True
    for credential in (deep, padded, "e30." * 2 + "A" * 900_000):
        assert_refused(client, credential, "malformed")
    assert selects == []


@pytest.mark.parametrize("kind", ["ES256", "RS256"])
def test_with_an_asymmetric_key_confusion_and_none_are_malformed_without_a_read(
    app, client, issue, session, selects, tmp_path, kind
):
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    (tmp_path / "jwt.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(
        runtime.settings, jwt_private_key_file=str(tmp_path / "jwt.pem")
    )
    key, _ = issue()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = claims_for(key)
    selects.watching = True
    assert_stranger(verify(client, hs256(claims, public_pem)), "malformed")
    assert_stranger(verify(client, pyjwt.encode(claims, None, algorithm="none")), "malformed")
    other = ec.generate_private_key(ec.SECP256R1()) if kind == "ES256" else None
    if other is not None:
        assert_stranger(
            verify(client, pyjwt.encode(claims, other, algorithm="ES256")), "bad_signature"
        )
    assert selects == []
    good, _ = issue_jwt(session, runtime.settings, actor=ACTOR, key_id=key.id)
    session.flush()
    assert verify(client, good)["allowed"] is True


def test_an_old_regenerated_token_shows_neither_its_key_nor_the_replacements_hint(
    client, session, settings, issue
):
    key, old = issue()
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    session.flush()
    verdict = verify(client, old)
    assert_stranger(verdict, "revoked")
    assert key.hint not in json.dumps(verdict)
    nginx = client.get(
        "/v1/auth", headers={"Authorization": f"Bearer {old}", "X-Keyward-Endpoint": "orders.list"}
    )
    assert (nginx.status_code, nginx.headers["X-Keyward-Reason"]) == (401, "revoked")
    assert "X-Keyward-Client-Id" not in nginx.headers
    assert verify(client, new)["key_hint"] == key.hint


def strangers_credentials(session, settings, issue) -> tuple[list[ApiKey], list[str]]:
    """Keys and credentials of every unauthenticated kind, each naming a real key."""
    regenerated, old = issue(name="regenerated")
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=regenerated.id)
    revoked, revoked_token = issue(name="revoked")
    keys.revoke_key(session, actor=ACTOR, key_id=revoked.id)
    expired, expired_token = issue(name="expired")
    expired.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    reset, _ = issue(name="reset")
    stale_jwt, _ = issue_jwt(session, settings, actor=ACTOR, key_id=reset.id)
    reset_client_jwts(session, actor=ACTOR, client=reset.client)
    session.flush()
    forged = pyjwt.encode(claims_for(revoked), "guessed-secret-" * 3, algorithm="HS256")
    unsigned = pyjwt.encode(claims_for(expired), None, algorithm="none")
    credentials = [old, revoked_token, expired_token, stale_jwt, forged, unsigned]
    return [regenerated, revoked, expired, reset], credentials


def test_strangers_attempts_write_no_usage_and_no_last_use_on_the_key_they_name(
    client, session, settings, issue, admin
):
    victims, credentials = strangers_credentials(session, settings, issue)
    for credential in credentials:
        assert not verify(client, credential)["allowed"]
        bearer = {"Authorization": f"Bearer {credential}"}
        nginx = client.get("/v1/auth", headers={**bearer, "X-Keyward-Endpoint": "orders.list"})
        assert nginx.status_code == 401
        refused = client.get("/api/v1/clients", headers=bearer)
        assert refused.status_code == 401
        assert set(refused.json) == {"error", "reason", "message"}
    for key in victims:
        assert admin("GET", f"/api/v1/usage?key_id={key.id}&granularity=day").json["rows"] == []
        shown = admin("GET", f"/api/v1/keys/{key.id}").json
        assert (shown["last_used_at"], shown["last_used_ip"]) == (None, None)
    # The same measurement does see a live token's use.
    live, token = issue(name="live")
    assert verify(client, token)["allowed"]
    assert admin("GET", f"/api/v1/usage?key_id={live.id}&granularity=day").json["rows"]
    assert admin("GET", f"/api/v1/keys/{live.id}").json["last_used_ip"] == "203.0.113.9"
