"""Client-signed JWTs: ES256, RS256 and HS256 keys; replay, lifetime and algorithm confusion."""

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keystore import client_jwt
from keystore.decision import Request, decide
from keystore.errors import LimitError, NotFoundError, ValidationError
from keystore.models import AuditEvent, ClientJwtKey
from keystore.services import clients
from tests.worlds import ACTOR

REQ = Request(endpoint="orders.list", environment="prod", project="shop")


def pem(public) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def claims_for(client, **changes) -> dict:
    now = int(time.time())
    base = {"iss": str(client.id), "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex}
    return {k: v for k, v in (base | changes).items() if v is not ...}


@pytest.fixture
def signer(session, settings, world):
    """Register a key of the given kind for the world's client; returns a signing function."""

    def make(kind: str, *, as_jwk: bool = False):
        if kind == "HS256":
            row, secret = client_jwt.add_key(
                session, settings, actor=ACTOR, client_ref=world.client.id, algorithm="HS256"
            )
            return row, lambda claims, **kw: jwt.encode(claims, secret, algorithm="HS256", **kw)
        private = (
            ec.generate_private_key(ec.SECP256R1())
            if kind == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        algorithm = jwt.algorithms.get_default_algorithms()[kind]
        public = (
            json.loads(algorithm.to_jwk(private.public_key()))
            if as_jwk
            else pem(private.public_key())
        )
        row, secret = client_jwt.add_key(
            session,
            settings,
            actor=ACTOR,
            client_ref=world.client.id,
            algorithm=kind,
            public_key=public,
        )
        assert secret is None
        return row, lambda claims, **kw: jwt.encode(claims, private, algorithm=kind, **kw)

    return make


def check(session, settings, credential, request=REQ):
    return decide(session, settings, credential=credential, request=request)


@pytest.mark.parametrize(
    ("kind", "as_jwk"),
    [("ES256", False), ("ES256", True), ("RS256", False), ("RS256", True), ("HS256", False)],
)
def test_a_client_signed_jwt_is_accepted_with_the_clients_rules(
    session, settings, world, signer, kind, as_jwk
):
    _, sign = signer(kind, as_jwk=as_jwk)
    decision = check(session, settings, sign(claims_for(world.client)))
    assert (decision.allowed, decision.credential, decision.client_id) == (
        True,
        "client_jwt",
        world.client.id,
    )
    assert decision.key_id is None
    # The client's role, projects and environments apply.
    assert (
        check(session, settings, sign(claims_for(world.client)), Request("orders.create")).reason
        == "endpoint_denied"
    )
    assert (
        check(
            session,
            settings,
            sign(claims_for(world.client)),
            Request("orders.list", project="billing"),
        ).reason
        == "project_denied"
    )
    assert (
        check(
            session,
            settings,
            sign(claims_for(world.client)),
            Request("orders.list", environment="staging"),
        ).reason
        == "environment_denied"
    )
    clients.set_enabled(session, actor=ACTOR, ref=world.client.id, enabled=False)
    assert check(session, settings, sign(claims_for(world.client))).reason == "client_disabled"


def test_a_replayed_jti_is_refused_within_its_lifetime(session, settings, world, signer):
    _, sign = signer("ES256")
    token = sign(claims_for(world.client))
    assert check(session, settings, token).allowed
    replay = check(session, settings, token)
    assert (replay.allowed, replay.reason, replay.client_id) == (False, "replayed", None)
    # Without a jti the client accepts reuse until exp: its choice.
    reusable = sign(claims_for(world.client, jti=...))
    assert check(session, settings, reusable).allowed
    assert check(session, settings, reusable).allowed


def test_lifetime_expiry_and_required_claims(session, settings, world, signer):
    _, sign = signer("ES256")
    now = int(time.time())
    cases = {
        "too_long": (claims_for(world.client, exp=now + 24 * 3600 + 120), "malformed"),
        "no_exp": (claims_for(world.client, exp=...), "malformed"),
        "expired": (claims_for(world.client, exp=now - 120), "expired"),
        "other_issuer": (claims_for(world.client, iss=str(world.client.id + 1)), "bad_signature"),
        "foreign_audience": (
            claims_for(world.client, aud="https://elsewhere.example"),
            "malformed",
        ),
        "odd_jti": (claims_for(world.client, jti=["x"]), "malformed"),
        "long_jti": (claims_for(world.client, jti="x" * 129), "malformed"),
    }
    for name, (claims, reason) in cases.items():
        assert check(session, settings, sign(claims)).reason == reason, name
    assert check(
        session, settings, sign(claims_for(world.client, exp=now + 24 * 3600 - 60))
    ).allowed


def test_algorithm_confusion_is_refused(session, settings, world, signer):
    row, _ = signer("RS256")
    public_pem = row.public_pem.encode()
    claims = claims_for(world.client)
    # HS256 with the public key as secret (PyJWT refuses PEM as HMAC key, so sign by hand).
    header = {"alg": "HS256", "typ": "JWT"}
    forged = _hs256(claims, public_pem, header)
    assert check(session, settings, forged).reason in ("malformed", "bad_signature")
    assert not check(session, settings, forged).allowed
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert check(session, settings, unsigned).reason == "malformed"
    # An ES256 JWT does not pass for the RS256 key, whatever its header says.
    other = ec.generate_private_key(ec.SECP256R1())
    assert not check(session, settings, jwt.encode(claims, other, algorithm="ES256")).allowed


def _hs256(claims, secret: bytes, header) -> str:
    import base64
    import hashlib
    import hmac

    def part(data) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_removing_the_key_stops_its_jwts_and_everything_is_audited(
    session, settings, world, signer
):
    row, sign = signer("HS256")
    token = sign(claims_for(world.client, jti=...))
    assert check(session, settings, token).allowed
    assert row.secret_sealed is not None
    client_jwt.delete_key(session, actor=ACTOR, client_ref=world.client.id, key_id=row.id)
    assert check(session, settings, token).reason == "bad_signature"
    actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert {"client.jwt_key_add", "client.jwt_key_delete"} <= set(actions)
    with pytest.raises(NotFoundError):
        client_jwt.delete_key(session, actor=ACTOR, client_ref=world.client.id, key_id=row.id)


BAD_KEYS = [
    ("ES256", "not a key"),
    ("ES256", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
    ("ES256", {"kty": "oct", "k": "c2VjcmV0"}),
    ("ES256", {"kty": "EC", "crv": "P-256", "x": "\u0000", "y": 1}),
    ("ES256", "x" * 100_000),
    ("ES256", 12),
    ("ES256", None),
    ("RS256", pem(ec.generate_private_key(ec.SECP256R1()).public_key())),
    ("ES256", pem(ec.generate_private_key(ec.SECP384R1()).public_key())),
    ("RS256", pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())),  # noqa: S505
    ("HS256", "a public key for HS256"),
    ("none", None),
    ("es256", None),
    (["ES256"], None),
]


@pytest.mark.parametrize(("algorithm", "public_key"), BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_bad_keys_are_refused_and_nothing_is_stored(
    session, settings, world, algorithm, public_key
):
    with pytest.raises(ValidationError):
        client_jwt.add_key(
            session,
            settings,
            actor=ACTOR,
            client_ref=world.client.id,
            algorithm=algorithm,
            public_key=public_key,
        )
    assert session.query(ClientJwtKey).count() == 0


def test_a_private_key_is_never_accepted_as_public(session, settings, world):
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private))
    assert "d" in jwk
    with pytest.raises(ValidationError):
        client_jwt.add_key(
            session,
            settings,
            actor=ACTOR,
            client_ref=world.client.id,
            algorithm="ES256",
            public_key=jwk,
        )


def test_a_client_has_a_bounded_number_of_keys(session, settings, world, signer):
    for _ in range(client_jwt.MAX_KEYS_PER_CLIENT):
        signer("HS256")
    with pytest.raises(LimitError):
        signer("HS256")


def test_a_jti_may_be_used_again_once_its_record_expired(session, settings, world, signer):
    from datetime import UTC, datetime, timedelta

    from keystore.models import JwtReplay

    _, sign = signer("ES256")
    session.add(
        JwtReplay(
            client_id=world.client.id,
            jti="old",
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
        )
    )
    session.flush()
    assert check(session, settings, sign(claims_for(world.client, jti="old"))).allowed
    assert check(session, settings, sign(claims_for(world.client, jti="old"))).reason == "replayed"
