from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keystore.config import Settings
from keystore.decision import Request, decide
from keystore.errors import StateError, ValidationError
from keystore.jwt_access import _client_secret, issue_jwt, reset_client_jwts
from keystore.services import clients, keys
from tests.conftest import TEST_PEPPER
from tests.worlds import ACTOR

REQ = Request(endpoint="orders.list", environment="prod", project="shop", address="10.0.0.1")


def check(session, settings, credential):
    return decide(session, settings, credential=credential, request=REQ)


def test_a_jwt_carries_the_client_and_is_accepted(session, settings, issue, world):
    key, _ = issue()
    token, expires = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == f"client:{world.client.id}"
    assert expires > datetime.now(UTC)
    decision = check(session, settings, token)
    assert decision.allowed
    assert decision.credential == "jwt"
    assert decision.key_id == key.id


def test_a_jwt_fails_at_once_when_its_client_is_disabled_or_deleted(
    session, settings, issue, world
):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    clients.set_enabled(session, actor=ACTOR, ref=world.client.id, enabled=False)
    assert check(session, settings, token).reason == "client_disabled"
    clients.delete_client(session, actor=ACTOR, ref=world.client.id)
    assert check(session, settings, token).reason == "unknown"


def test_regenerating_or_revoking_the_key_voids_its_jwts(session, settings, issue):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    assert check(session, settings, token).reason == "revoked"
    fresh, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    assert check(session, settings, fresh).allowed
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    assert check(session, settings, fresh).reason == "revoked"


def test_resetting_the_clients_jwts_voids_them_without_touching_keys(
    session, settings, issue, world
):
    key, api_token = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    reset_client_jwts(session, actor=ACTOR, client=world.client)
    # Its signature (under the old version's secret) verifies; the version is stale.
    assert check(session, settings, token).reason == "revoked"
    assert check(session, settings, api_token).allowed


def test_expired_jwt(session, settings, issue):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id, ttl_seconds=1)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = datetime.now(UTC) - timedelta(seconds=5)
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256")
    # Signed with the wrong secret: the signature is what fails first.
    assert check(session, settings, forged).reason == "bad_signature"


def test_expired_jwt_signed_properly(session, settings, issue, monkeypatch):
    key, _ = issue()
    past = datetime.now(UTC) - timedelta(hours=2)
    monkeypatch.setattr("keystore.jwt_access.datetime", _FrozenClock(past))
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id, ttl_seconds=60)
    monkeypatch.undo()
    assert check(session, settings, token).reason == "expired"


def test_tampered_and_alg_none_jwts_are_refused(session, settings, issue):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    # The algorithm comes from configuration: "none" is not even considered.
    assert check(session, settings, unsigned).reason == "malformed"
    header, payload, signature = token.split(".")
    assert check(session, settings, f"{header}.{payload}.{signature[::-1]}").reason in (
        "bad_signature",
        "malformed",
    )
    assert check(session, settings, "a.b.c").reason == "malformed"


def test_a_properly_signed_jwt_for_a_token_nobody_owns_is_unknown(session, settings, issue):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    keys.delete_key(session, actor=ACTOR, key_id=key.id)
    assert check(session, settings, token).reason == "unknown"


def test_a_forged_jwt_naming_an_unknown_token_fails_on_its_signature(session, settings):
    claims = {"iss": "keyward", "tid": 987654, "sub": "client:1", "ver": 1, "exp": 2**40}
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256")
    assert check(session, settings, forged).reason == "bad_signature"


def test_es256_signing_with_the_operators_key(session, settings, issue, tmp_path):
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "jwt.pem").write_bytes(pem)
    es = Settings.from_env(
        {}, data_dir=tmp_path, pepper=TEST_PEPPER, jwt_private_key_file=str(tmp_path / "jwt.pem")
    )
    key, _ = issue()
    token, _ = issue_jwt(session, es, actor=ACTOR, key_id=key.id)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert check(session, es, token).allowed
    # A JWT from another key (the embedded one) does not pass for the configured one...
    embedded, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    assert check(session, es, embedded).reason == "bad_signature"
    # ...and an HS256 JWT with the client's legacy secret cannot pass where ES256 is configured.
    claims = jwt.decode(token, options={"verify_signature": False})
    legacy = jwt.encode(claims, _client_secret(es, key.client_id, claims["ver"]), algorithm="HS256")
    assert check(session, es, legacy).reason == "malformed"
    assert check(session, settings, legacy).allowed  # still accepted without a configured file


def test_jwt_needs_a_usable_key_and_a_sane_ttl(session, settings, issue):
    key, _ = issue()
    with pytest.raises(ValidationError):
        issue_jwt(session, settings, actor=ACTOR, key_id=key.id, ttl_seconds=0)
    keys.set_key_active(session, actor=ACTOR, key_id=key.id, active=False)
    with pytest.raises(StateError):
        issue_jwt(session, settings, actor=ACTOR, key_id=key.id)


class _FrozenClock:
    def __init__(self, at):
        self._at = at

    def now(self, tz=None):
        return self._at


def test_a_jwt_whose_subject_does_not_own_its_token_is_malformed(session, settings, issue):
    key, _ = issue()
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    claims = jwt.decode(token, options={"verify_signature": False})
    # Signed with another client's (real) secret, naming this client's token.
    other = key.client_id + 1
    claims["sub"] = f"client:{other}"
    crossed = jwt.encode(claims, _client_secret(settings, other, claims["ver"]), algorithm="HS256")
    decision = check(session, settings, crossed)
    assert (decision.allowed, decision.reason) == (False, "malformed")
