"""Signature verification of partner alerts, against real P-256 keys and a faked key endpoint."""

from __future__ import annotations

import base64
import json
import threading

import pytest
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keystore.key_cache import MemoryKeyCache, RedisKeyCache
from rotation.partner_errors import KeyFetchError, SignatureError
from tests.conftest import REDIS_URL, unreachable_redis
from tests.rotation.conftest import KEYS_URL, Signer, key_document

BODY = b'[{"token":"kw_prod_0123456789abcdefghijklmnopqrstuvwxyz","type":"keyward_api_token"}]'


def accept(source, signer: Signer) -> None:
    """Verify ``BODY`` as signed by ``signer``, named by its identifier; raises if refused."""
    source.verify(BODY, key_identifier=signer.key_identifier, signature_b64=signer.sign(BODY))


def rejection(source, payload, key_identifier, signature_b64) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        source.verify(payload, key_identifier=key_identifier, signature_b64=signature_b64)
    # The body (and the token in it) never travels in an error.
    assert "kw_prod_" not in caught.value.message
    return caught.value


@pytest.fixture
def primed(keyserver, cache, make_source, signer):
    """A source (on each kind of cache) that has fetched ``signer``'s key document once."""
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(cache)
    accept(source, signer)
    return source


def test_a_good_signature_over_the_raw_body_is_accepted(keyserver, cache, make_source, signer):
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(cache)
    accept(source, signer)
    accept(source, signer)
    assert len(keyserver.calls) == 1


def test_the_key_is_chosen_by_identifier_current_or_not(keyserver, cache, make_source):
    signers = [Signer(), Signer(), Signer()]
    keyserver.get(KEYS_URL, json=key_document(*signers))
    source = make_source(cache)
    for signer in reversed(signers):
        accept(source, signer)
    # A signature by one published key does not pass under another's identifier.
    error = rejection(source, BODY, signers[0].key_identifier, signers[1].sign(BODY))
    assert error.reason == "bad_signature"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_key", "bad_signature"),
        ("tampered_body", "bad_signature"),
        ("garbage_base64", "malformed_signature"),
        ("not_der", "malformed_signature"),
        ("raw_r_and_s", "malformed_signature"),
        ("bad_identifier", "malformed_signature"),
        ("no_identifier", "missing_headers"),
        ("no_signature", "missing_headers"),
        ("empty_signature", "missing_headers"),
    ],
)
def test_bad_signatures_are_refused_with_their_reason(keyserver, make_source, signer, case, reason):
    keyserver.get(KEYS_URL, json=key_document(signer))
    good = signer.sign(BODY)
    payload, key_identifier, signature = {
        "wrong_key": (BODY, signer.key_identifier, Signer().sign(BODY)),
        "tampered_body": (BODY.replace(b"prod", b"test"), signer.key_identifier, good),
        "garbage_base64": (BODY, signer.key_identifier, "not base64!!"),
        "not_der": (BODY, signer.key_identifier, base64.b64encode(b"not der").decode()),
        "raw_r_and_s": (BODY, signer.key_identifier, base64.b64encode(bytes(64)).decode()),
        "bad_identifier": (BODY, "../../etc/passwd\n" + "x" * 200, good),
        "no_identifier": (BODY, None, good),
        "no_signature": (BODY, signer.key_identifier, None),
        "empty_signature": (BODY, signer.key_identifier, ""),
    }[case]
    error = rejection(make_source(MemoryKeyCache()), payload, key_identifier, signature)
    assert (error.reason, error.status) == (reason, 401)
    assert not isinstance(error, KeyFetchError)
    if reason != "bad_signature":
        assert len(keyserver.calls) == 0, "a malformed request must cost no key fetch"


def test_an_unknown_identifier_refetches_once_per_window(keyserver, primed, signer, clock):
    source = primed
    clock.advance(60)
    for forged in ("aa" * 32, "bb" * 32, "cc" * 32):
        clock.advance(10)
        error = rejection(source, BODY, forged, signer.sign(BODY))
        assert (error.reason, error.status) == ("unknown_key", 401)
    assert len(keyserver.calls) == 2
    clock.advance(60)
    rejection(source, BODY, "dd" * 32, signer.sign(BODY))
    assert len(keyserver.calls) == 3


def test_github_key_rotation_is_picked_up_with_one_refetch(keyserver, primed, signer, clock):
    source = primed
    clock.advance(600)
    successor = Signer()
    keyserver.replace("GET", KEYS_URL, json=key_document(successor, signer))
    for _ in range(3):
        accept(source, successor)
    accept(source, signer)
    assert len(keyserver.calls) == 2


def test_redis_shares_documents_and_refetch_claims_between_processes(
    keyserver, redis_client, make_source, signer, clock
):
    keyserver.get(KEYS_URL, json=key_document(signer))
    other_client = redis.Redis.from_url(REDIS_URL)
    first = make_source(RedisKeyCache(redis_client))
    second = make_source(RedisKeyCache(other_client))
    accept(first, signer)
    accept(second, signer)
    assert len(keyserver.calls) == 1
    clock.advance(60)
    for index in range(4):
        rejection((first, second)[index % 2], BODY, f"{index:064x}", signer.sign(BODY))
    assert len(keyserver.calls) == 2
    other_client.close()
    claims = redis_client.keys("keyward:partner-keys:github:*:fetch:*")
    assert claims
    assert all(0 < redis_client.ttl(name) <= 60 for name in claims)


def test_memory_caches_are_per_process(keyserver, make_source, signer):
    keyserver.get(KEYS_URL, json=key_document(signer))
    for _ in range(2):
        source = make_source(MemoryKeyCache())
        accept(source, signer)
    assert len(keyserver.calls) == 2


def test_the_cache_ttl_is_honoured(keyserver, primed, signer, clock):
    source = primed  # its TTL is the default, 3600 s
    clock.advance(3599)
    accept(source, signer)
    assert len(keyserver.calls) == 1
    clock.advance(1)
    accept(source, signer)
    assert len(keyserver.calls) == 2


def test_redis_expires_the_document_after_the_ttl(keyserver, redis_client, make_source, signer):
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(RedisKeyCache(redis_client), ttl_seconds=900)
    accept(source, signer)
    (document,) = [n for n in redis_client.keys("keyward:partner-keys:*") if b":fetch:" not in n]
    assert 890 < redis_client.ttl(document) <= 900


@pytest.mark.parametrize("token", ["ghp_secret_token", None])
def test_the_optional_token_is_sent_as_bearer_with_timeouts(keyserver, make_source, signer, token):
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(MemoryKeyCache(), api_token=token)
    accept(source, signer)
    request = keyserver.calls[0].request
    assert request.headers.get("Authorization") == (f"Bearer {token}" if token else None)
    assert request.req_kwargs["timeout"] == (1.0, 1.0)
    assert "ghp_secret_token" not in repr(source)


NOT_P256 = (
    ec.generate_private_key(ec.SECP384R1())
    .public_key()
    .public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    .decode("ascii")
)


@pytest.mark.parametrize(
    "reply",
    [
        {"body": requests.ConnectTimeout("connect timed out")},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("refused")},
        {"status": 500, "json": {"message": "boom"}},
        {"status": 403, "json": {"message": "API rate limit exceeded"}},
        {"body": "<html>not json</html>"},
        {"json": ["a", "list"]},
        {"json": {"public_keys": [{"key_identifier": 1, "key": None}]}},
        {"json": {"public_keys": [{"key_identifier": "k1", "key": "not a pem"}]}},
        {"json": {"public_keys": [{"key_identifier": "k1", "key": NOT_P256}]}},
    ],
    ids=[
        "connect_timeout",
        "read_timeout",
        "connection_error",
        "http_500",
        "rate_limited",
        "bad_json",
        "wrong_shape",
        "no_usable_key",
        "bad_pem",
        "not_p256",
    ],
)
def test_key_server_failures_are_ours_to_retry(keyserver, make_source, signer, reply):
    keyserver.get(KEYS_URL, **reply)
    source = make_source(MemoryKeyCache())
    error = rejection(source, BODY, "k1", signer.sign(BODY))
    assert isinstance(error, KeyFetchError)
    assert (error.reason, error.status, error.error) == ("key_fetch_failed", 503, "unavailable")
    assert "boom" not in error.message
    assert "rate limit exceeded" not in error.message


def test_after_a_failed_fetch_the_next_waits_for_the_window(
    keyserver, cache, make_source, signer, clock
):
    keyserver.get(KEYS_URL, status=502)
    source = make_source(cache)
    for _ in range(3):
        error = rejection(source, BODY, signer.key_identifier, signer.sign(BODY))
        assert error.reason == "key_fetch_failed"
    assert len(keyserver.calls) == 1
    keyserver.replace("GET", KEYS_URL, json=key_document(signer))
    clock.advance(60)
    accept(source, signer)
    assert len(keyserver.calls) == 2


def test_an_unreachable_redis_falls_back_to_this_process(make_source, signer, keyserver):
    down = unreachable_redis()
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(RedisKeyCache(down))
    accept(source, signer)
    accept(source, signer)
    assert len(keyserver.calls) == 1  # the process cache served the second alert
    # Forged identifiers still cannot make us hammer the key server.
    for _ in range(3):
        rejection(source, BODY, "deadbeef", signer.sign(BODY))
    assert len(keyserver.calls) == 1


class RivalFirst(RedisKeyCache):
    """A cache where another process fetches just before this one takes the fetch guard."""

    def __init__(self, client, rival_fetch) -> None:
        super().__init__(client)
        self._rival_fetch = rival_fetch

    def fetch_guard(self, slot: str):
        self._rival_fetch()
        return super().fetch_guard(slot)


def test_a_process_that_loses_the_claim_uses_the_winners_keys(
    keyserver, redis_client, make_source, signer, clock
):
    keyserver.get(KEYS_URL, json=key_document(signer))
    rival = make_source(RedisKeyCache(redis_client))
    rival.public_key_pem(signer.key_identifier)
    clock.advance(120)
    successor = Signer()
    keyserver.replace("GET", KEYS_URL, json=key_document(successor, signer))
    # The rival's refetch happens between our read of the cache and our claim.
    loser = make_source(
        RivalFirst(redis_client, lambda: rival.public_key_pem(successor.key_identifier))
    )
    accept(loser, successor)
    assert len(keyserver.calls) == 2


@pytest.fixture
def no_waiting(monkeypatch):
    """Any sleep (a poll for a rival, a blocking lock acquire) fails the test."""

    def refuse(seconds):
        raise AssertionError(f"a request waited ({seconds} s)")

    monkeypatch.setattr("time.sleep", refuse)


def test_a_forged_identifier_is_refused_at_once_once_the_window_is_spent(
    keyserver, primed, signer, clock, no_waiting
):
    source = primed
    clock.advance(60)
    # The first unknown identifier of a window costs one fetch; the rest cost nothing.
    for index in range(20):
        error = rejection(source, BODY, f"{index:064x}", signer.sign(BODY))
        assert (error.reason, error.status) == ("unknown_key", 401)
    assert len(keyserver.calls) == 2
    accept(source, signer)


def test_a_forged_identifier_waits_for_no_window_with_a_rival_holding_the_claim(
    keyserver, redis_client, make_source, signer, no_waiting
):
    keyserver.get(KEYS_URL, json=key_document(signer))
    winner = make_source(RedisKeyCache(redis_client))
    accept(winner, signer)  # this window's claim is now taken, by another process
    loser = make_source(RedisKeyCache(redis.Redis.from_url(REDIS_URL)))
    error = rejection(loser, BODY, "ab" * 32, signer.sign(BODY))
    assert error.reason == "unknown_key"
    assert len(keyserver.calls) == 1


def test_a_request_waits_for_a_fetch_in_flight_and_uses_its_document(
    keyserver, cache, make_source, signer, clock
):
    successor = Signer()
    started = threading.Event()

    def slow_reply(request):
        started.set()
        threading.Event().wait(0.3)  # the key server takes its time
        return 200, {}, json.dumps(key_document(successor, signer))

    keyserver.add_callback("GET", KEYS_URL, callback=slow_reply)
    fetcher, waiter = make_source(cache), make_source(cache)
    first = threading.Thread(target=accept, args=(fetcher, successor))
    first.start()
    assert started.wait(5)
    accept(waiter, successor)  # no fetch of its own, no 503: the fetch in flight served it
    first.join(5)
    assert len(keyserver.calls) == 1


def test_the_wait_for_a_fetch_in_flight_is_bounded(keyserver, cache, make_source, signer, clock):
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(cache, in_flight_wait_seconds=0.1)
    accept(source, signer)
    clock.advance(60)
    stuck = cache.fetch_guard(source._slot)
    assert stuck.try_hold()  # a fetcher that hangs (or died holding the guard)
    try:
        error = rejection(source, BODY, "cd" * 32, signer.sign(BODY))
    finally:
        stuck.release()
    assert error.reason == "unknown_key"
    assert len(keyserver.calls) == 1


def test_a_rotation_is_picked_up_within_the_window_after_forgeries(
    keyserver, primed, signer, clock, no_waiting
):
    source = primed
    clock.advance(60)
    rejection(source, BODY, "ef" * 32, signer.sign(BODY))  # a forgery spends this window
    successor = Signer()
    keyserver.replace("GET", KEYS_URL, json=key_document(successor, signer))
    assert rejection(source, BODY, successor.key_identifier, successor.sign(BODY)).reason == (
        "unknown_key"
    )
    clock.advance(60)  # KEYWARD_PARTNER_REFETCH_SECONDS later at the latest
    accept(source, successor)
    assert len(keyserver.calls) == 3


def test_forgeries_cannot_keep_an_expired_document_from_being_renewed(
    keyserver, cache, make_source, signer, clock
):
    keyserver.get(KEYS_URL, json=key_document(signer))
    source = make_source(cache, ttl_seconds=30)
    clock.advance(-10)  # the previous window
    accept(source, signer)
    clock.advance(15)  # a new window: a forgery spends its unknown-identifier fetch
    rejection(source, BODY, "ab" * 32, signer.sign(BODY))
    assert len(keyserver.calls) == 2
    clock.advance(31)  # same window, the document has expired
    accept(source, signer)  # renewed at once, not a 503 until the next window
    assert len(keyserver.calls) == 3
