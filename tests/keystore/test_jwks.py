"""Keyward's signing keys: created once, 0600, shared by concurrent processes, rotated safely."""

import os
import stat
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keystore import jwks
from keystore.config import Settings
from keystore.decision import Request, decide
from keystore.errors import ConfigError
from keystore.jwt_access import issue_jwt
from tests.conftest import TEST_PEPPER
from tests.worlds import ACTOR

REQ = Request(endpoint="orders.list", environment="prod", project="shop")


@pytest.fixture(autouse=True)
def _fresh_cache():
    jwks.forget()
    yield
    jwks.forget()


def test_the_embedded_key_is_es256_private_to_its_owner_and_named_by_thumbprint(settings):
    ring = jwks.keyring(settings)
    path = settings.data_dir / "jwt" / "signing.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ring.current.algorithm == "ES256"
    document = ring.jwks()
    (published,) = document["keys"]
    assert published["kid"] == ring.current.kid
    assert "d" not in published  # never the private part
    assert jwt.PyJWK(published).key.public_numbers() == ring.current.key.public_numbers()


def test_concurrent_first_runs_agree_on_one_key(tmp_path):
    path = tmp_path / "jwt" / "signing.pem"
    kids, barrier = [], threading.Barrier(8)

    def first_run():
        barrier.wait()
        kids.append(jwks.public_key(jwks._embedded_key(path)).kid)

    threads = [threading.Thread(target=first_run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(kids) == 8
    assert len(set(kids)) == 1
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]  # no temporary left


def test_rotation_keeps_the_old_key_published_until_its_tokens_expired(session, settings, issue):
    key, _ = issue()
    old_token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    now = time.time()
    retired, current = jwks.rotate(settings, now=now)
    assert retired != current
    ring = jwks.keyring(settings, now=now)
    assert [k["kid"] for k in ring.jwks()["keys"]] == [current, retired]
    assert jwt.get_unverified_header(old_token)["kid"] == retired
    assert decide(session, settings, credential=old_token, request=REQ).allowed
    new_token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    assert jwt.get_unverified_header(new_token)["kid"] == current
    # Once every token it signed has expired, the retired key is gone.
    jwks.forget()
    later = jwks.keyring(settings, now=now + jwks.RETIRED_KEEP_SECONDS + 1)
    assert [k["kid"] for k in later.jwks()["keys"]] == [current]


def test_a_configured_key_and_its_predecessors_are_published(tmp_path):
    def write(name, key):
        path = tmp_path / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return str(path)

    current = write("rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    old = write("old.pem", ec.generate_private_key(ec.SECP256R1()))
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        pepper=TEST_PEPPER,
        jwt_private_key_file=current,
        jwt_previous_key_files=(old,),
    )
    ring = jwks.keyring(settings)
    assert [k["alg"] for k in ring.jwks()["keys"]] == ["RS256", "ES256"]
    assert not (tmp_path / "jwt").exists()  # nothing created when a key is configured
    with pytest.raises(ConfigError):
        jwks.rotate(settings)


def test_weak_or_odd_keys_are_refused(tmp_path):
    weak = tmp_path / "weak.pem"
    weak.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    for path in (weak, junk, tmp_path / "missing.pem"):
        settings = Settings.from_env(
            {}, data_dir=tmp_path, pepper=TEST_PEPPER, jwt_private_key_file=str(path)
        )
        with pytest.raises(ConfigError):
            jwks.keyring(settings)


def test_production_without_a_key_file_derives_one_key_from_the_pepper(tmp_path):
    def production(directory):
        return Settings.from_env(
            {}, mode="production", data_dir=tmp_path / directory, pepper=TEST_PEPPER
        )

    first, second = jwks.keyring(production("a")), jwks.keyring(production("b"))
    assert first.current.kid == second.current.kid  # every host and process agrees
    assert first.current.algorithm == "ES256"
    assert not any(tmp_path.iterdir())  # nothing written
    other = Settings.from_env({}, mode="production", data_dir=tmp_path, pepper="p" * 40)
    assert jwks.keyring(other).current.kid != first.current.kid
    with pytest.raises(ConfigError):
        jwks.rotate(production("a"))


def test_another_processs_rotation_is_seen_on_its_first_jwt(session, settings, issue):
    key, _ = issue()
    old_kid = jwks.keyring(settings).current.kid  # cached here, as in every process
    # Another process rotates: this one's cache is not told.
    path = settings.data_dir / "jwt" / "signing.pem"
    new_private = ec.generate_private_key(ec.SECP256R1())
    pem = new_private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwks._create_atomically(path, pem, replace=True)
    os.utime(path, ns=(1, 1))  # a different stamp even within the file system's time resolution
    new_kid = jwks.public_key(new_private).kid
    assert jwks.keyring(settings).current.kid == old_kid  # still cached
    token, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)  # signed by the old one
    claims = jwt.decode(token, options={"verify_signature": False})
    fresh = jwt.encode(claims, new_private, algorithm="ES256", headers={"kid": new_kid})
    assert decide(session, settings, credential=fresh, request=REQ).allowed
