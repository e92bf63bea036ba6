"""Partner-key fixtures: real P-256 signers, a fake key server, a settable clock, real Redis."""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keystore.key_cache import MemoryKeyCache, RedisKeyCache
from rotation.partner_keys import PartnerKeySource

KEYS_URL = "https://keys.example.test/meta/public_keys/secret_scanning"
# A multiple of the refetch window, so "+30 s" stays in the same fixed window.
START = 6000.0


class Signer:
    """A partner's signing key, as GitHub or GitLab would hold it."""

    def __init__(self, key_identifier: str | None = None) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.pem = (
            self.private_key.public_key()
            .public_bytes(
                encoding=serialization.Encoding.PEM,
                format=serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode("ascii")
        )
        self.key_identifier = key_identifier or hashlib.sha256(self.pem.encode()).hexdigest()

    def sign(self, payload: bytes) -> str:
        der = self.private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(der).decode("ascii")

    def entry(self, *, is_current: bool = True) -> dict:
        return {"key_identifier": self.key_identifier, "key": self.pem, "is_current": is_current}


def key_document(*signers: Signer) -> dict:
    """The published document; only the first key is marked current."""
    return {"public_keys": [s.entry(is_current=i == 0) for i, s in enumerate(signers)]}


class Clock:
    """A clock the test moves by hand instead of sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyserver():
    """The key endpoint, faked at the HTTP edge; ``len(keyserver.calls)`` counts fetches."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def http_session():
    with requests.Session() as session:
        yield session


@pytest.fixture(params=["memory", "redis"])
def cache(request):
    """Each behaviour is checked with the embedded cache and with the shared one."""
    if request.param == "memory":
        return MemoryKeyCache()
    return RedisKeyCache(request.getfixturevalue("redis_client"))


@pytest.fixture
def make_source(http_session, clock):
    """Build a source against the fake key server; keyword overrides as the constructor's."""

    def make(cache, **overrides) -> PartnerKeySource:
        options = {
            "name": "github",
            "keys_url": KEYS_URL,
            "http_session": http_session,
            "cache": cache,
            "clock": clock,
            **overrides,
        }
        return PartnerKeySource(**options)

    return make
