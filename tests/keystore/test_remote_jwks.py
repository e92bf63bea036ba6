"""Identity providers' JWKS: what is kept of a document, which URLs are refused, the cache."""

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keystore import remote_jwks
from keystore.errors import ValidationError
from keystore.key_cache import MemoryKeyCache, RedisKeyCache


def jwk_of(private, kid: str, **extra) -> dict:
    algorithm = "ES256" if isinstance(private, ec.EllipticCurvePrivateKey) else "RS256"
    public = jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(private.public_key())
    return {**json.loads(public), "kid": kid, **extra}


EC = ec.generate_private_key(ec.SECP256R1())
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_only_public_signing_keys_of_supported_kinds_are_kept():
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC))
    document = {
        "keys": [
            jwk_of(EC, "ec"),
            jwk_of(RSA, "rsa", alg="RS256"),
            jwk_of(RSA, "mislabelled", alg="HS256"),
            jwk_of(EC, "encryption", use="enc"),
            {**private_jwk, "kid": "private"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            jwk_of(ec.generate_private_key(ec.SECP384R1()), "p384"),
            {"kty": "EC", "kid": "junk", "crv": "P-256", "x": 1, "y": []},
            "not an object",
        ]
    }
    kept = remote_jwks.parse_document(json.dumps(document).encode())
    assert sorted(kept) == ["ec", "rsa"]


@pytest.mark.parametrize(
    "body", [b"", b"[]", b'{"keys": 1}', b"{" * 5000, b'{"keys": [' + b"[" * 3000 + b"]]}"]
)
def test_odd_documents_are_a_fetch_error(body):
    with pytest.raises(remote_jwks.FetchError):
        remote_jwks.parse_document(body)


def test_a_host_resolving_to_a_private_address_is_never_fetched(settings):
    with pytest.raises(remote_jwks.FetchError):
        remote_jwks.fetch_keys("https://localhost:9/jwks", settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example/jwks",
        "https://127.0.0.1/jwks",
        "https://[fe80::1]/jwks",
        "https://192.168.1.1/jwks",
        "https://idp.internal/jwks",
        "https://idp.example:99999/jwks",
        "javascript:alert(1)",
        "https://idp.example/jwks#x",
    ],
)
def test_urls_that_could_reach_inside_are_refused(settings, url):
    with pytest.raises(ValidationError):
        remote_jwks.check_url(url, settings, field="jwks_url")


class CountingFetch:
    def __init__(self, keys):
        self.keys, self.calls = keys, 0

    def __call__(self, url, settings):
        self.calls += 1
        return self.keys


def test_processes_share_one_fetch_through_redis(settings, redis_client):
    fetch = CountingFetch({"ec": jwk_of(EC, "ec")})
    first = remote_jwks.JwksCache(RedisKeyCache(redis_client), fetch=fetch)
    second = remote_jwks.JwksCache(RedisKeyCache(redis_client), fetch=fetch)
    assert first.key("https://idp.example/jwks", "ec", settings, now=1000.0).algorithm == "ES256"
    assert second.key("https://idp.example/jwks", "ec", settings, now=1001.0).algorithm == "ES256"
    assert fetch.calls == 1


def test_unknown_kids_refetch_at_most_once_per_window(settings):
    fetch = CountingFetch({"ec": jwk_of(EC, "ec")})
    cache = remote_jwks.JwksCache(MemoryKeyCache(), fetch=fetch)
    url = "https://idp.example/jwks"
    for n in range(50):
        assert cache.key(url, f"forged-{n}", settings, now=1000.0 + n / 100) is None
    assert fetch.calls == 1
    later = 1000.0 + settings.partner_refetch_seconds
    assert cache.key(url, "forged", settings, now=later) is None
    assert fetch.calls == 2
    # A stale document is refetched once its time is up, and a kid-less JWT uses a sole key.
    stale = later + settings.partner_keys_ttl_seconds + settings.partner_refetch_seconds
    assert cache.key(url, None, settings, now=stale) is not None
    assert fetch.calls == 3
