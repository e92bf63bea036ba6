"""Verify signed secret-scanning alerts from GitHub and GitLab.

Both partners sign the raw request body with ECDSA P-256 / SHA-256, send the
base64 of the DER ``(r, s)`` pair in ``<Partner>-Public-Key-Signature`` and name
the key in ``<Partner>-Public-Key-Identifier``.  Their public keys come from a
JSON document ``{"public_keys": [{"key_identifier", "key", "is_current"}]}``.

The partners and their header names are declared in :mod:`rotation.partners`.
Use: ``sources = partner_sources(settings, redis_client, http_session)`` once,
then per request ``verify_alert(sources, partner, headers=request.headers,
payload=request.get_data())`` *before* parsing the body.  Errors are in
:mod:`rotation.partner_errors` (401 for the sender's fault, 503 for ours).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping

import redis
import requests
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keystore.config import Settings
from keystore.errors import ConfigError
from keystore.key_cache import KeyCache, KeyDocument, MemoryKeyCache, RedisKeyCache
from rotation.partner_errors import (
    BAD_SIGNATURE,
    MALFORMED_SIGNATURE,
    MISSING_HEADERS,
    UNKNOWN_KEY,
    KeyFetchError,
    SignatureError,
)
from rotation.partners import PARTNERS, Partner

log = logging.getLogger("keyward.rotation")

# A fetch is bounded so that a request waiting for it is too (GitHub answers in well under 1 s).
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 1.0
# How long a request whose key identifier is unknown waits for a fetch truly in flight elsewhere.
IN_FLIGHT_WAIT_SECONDS = 2.0
# Real identifiers are 40-64 hex digits; the bound keeps junk out of messages and logs.
KEY_IDENTIFIER = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
USER_AGENT = "keyward-partner-keys"
# Why a fetch is wanted: no fresh document at all, or an identifier the document lacks.
STALE, UNKNOWN = "stale", "unknown"


def verify_alert(
    sources: Mapping[str, PartnerKeySource],
    partner: Partner,
    *,
    headers: Mapping[str, str],
    payload: bytes,
) -> None:
    """Verify an alert sent to ``partner``'s route against that partner's keys only; else raise.

    Header names match case-insensitively (Flask's ``request.headers`` already does;
    a plain mapping is folded here).
    """
    folded = {str(name).lower(): value for name, value in headers.items()}
    sources[partner.name].verify(
        payload,
        key_identifier=folded.get(partner.identifier_header.lower()),
        signature_b64=folded.get(partner.signature_header.lower()),
    )


class PartnerKeySource:
    """One partner's published keys: fetched over HTTP, cached, refetched sparingly.

    A document older than ``ttl_seconds`` is refetched.  An identifier missing
    from the document triggers a refetch too (the partner may have rotated its
    key), but every fetch, whatever its cause, needs a claim: at most one per
    ``refetch_seconds`` window per source, across all processes sharing the cache.

    Nothing waits for a window: when this window's claim is spent, an unknown
    identifier is refused at once (``unknown_key``), so forged identifiers cost
    a cache read, not a worker.  Only while a fetch is in flight (its guard is
    held) does a request wait, for that fetch alone and ``in_flight_wait_seconds``
    at most.  Without a fresh document the answer is ``key_fetch_failed``, a 503
    after which the partner redelivers.
    """

    def __init__(
        self,
        *,
        name: str,
        keys_url: str | None,
        http_session: requests.Session,
        cache: KeyCache,
        api_token: str | None = None,
        ttl_seconds: int = 3600,
        refetch_seconds: int = 60,
        clock: Callable[[], float] = time.time,
        in_flight_wait_seconds: float = IN_FLIGHT_WAIT_SECONDS,
    ) -> None:
        if ttl_seconds <= 0 or refetch_seconds <= 0:
            raise ConfigError(
                "KEYWARD_PARTNER_KEYS_TTL_SECONDS and KEYWARD_PARTNER_REFETCH_SECONDS"
                " must be positive"
            )
        self.name = name
        self.keys_url = keys_url
        self._http = http_session
        self._cache = cache
        self._api_token = api_token
        self._ttl = ttl_seconds
        self._window = refetch_seconds
        self._clock = clock
        self._in_flight_wait = in_flight_wait_seconds
        # Changing the URL (staging, a fake key server) must not reuse another URL's keys.
        url_tag = hashlib.sha256((keys_url or "").encode("utf-8")).hexdigest()[:12]
        self._slot = f"{name}:{url_tag}"

    def __repr__(self) -> str:
        # The API token stays out of reprs and logs.
        return f"PartnerKeySource(name={self.name!r}, keys_url={self.keys_url!r})"

    def verify(self, payload: bytes, key_identifier: str | None, signature_b64: str | None) -> None:
        """Accept ``payload`` (the raw body) only if the named key signed it; else raise."""
        if not key_identifier or not signature_b64:
            raise SignatureError(
                f"{self.name} alerts need both signature headers", reason=MISSING_HEADERS
            )
        signature = decode_signature(signature_b64=signature_b64, key_identifier=key_identifier)
        public_key = load_public_key(self.public_key_pem(key_identifier), key_identifier)
        try:
            public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SignatureError(
                f"the {self.name} signature does not match the body (key {key_identifier})",
                reason=BAD_SIGNATURE,
            ) from None

    def public_key_pem(self, key_identifier: str) -> str:
        """The PEM published under ``key_identifier``, refetching once per window if unknown."""
        if self.keys_url is None:
            raise SignatureError(f"no {self.name} keys URL is configured", reason=UNKNOWN_KEY)
        document = self._fresh_document()
        if document is None:
            document = self._refetch(cause=STALE)
        elif key_identifier not in document.keys:
            document = self._refetch(cause=UNKNOWN) or document
        if document is None:
            raise KeyFetchError(
                f"no fresh {self.name} public keys: this window's fetch failed or is under way"
            )
        if key_identifier not in document.keys:
            raise SignatureError(
                f"{self.name} publishes no key {key_identifier}", reason=UNKNOWN_KEY
            )
        return document.keys[key_identifier]

    def _fresh_document(self) -> KeyDocument | None:
        document = self._cache.load(self._slot)
        if document is None or self._clock() - document.fetched_at >= self._ttl:
            return None
        return document

    def _refetch(self, *, cause: str) -> KeyDocument | None:
        """Fetch if nobody is fetching and this window's claim is free; else never wait long.

        Claims are per cause: forged identifiers spend the ``unknown`` claim, never the
        ``stale`` one, so they cannot time themselves to leave an expired document
        unrenewed (503s) for a window.  Returns the freshest document there is, or None.
        """
        guard = self._cache.fetch_guard(self._slot)
        if not guard.try_hold():
            # A fetch is truly under way: its document is worth a short, bounded wait.
            guard.wait(self._in_flight_wait)
            return self._fresh_document()
        try:
            if not self._claim(cause):
                # This window's fetch is spent; another process may have stored its result
                # between our first read and now, so read once more, then answer at once.
                return self._fresh_document()
            document = KeyDocument(fetched_at=self._clock(), keys=self._fetch_keys())
            self._cache.store(self._slot, document, ttl_seconds=self._ttl)
            if cause == STALE:
                self._claim(UNKNOWN)  # the document just fetched is this window's answer
            return document
        finally:
            guard.release()

    def _claim(self, cause: str) -> bool:
        slot = f"{self._slot}:{cause}"
        return self._cache.claim_fetch(slot, now=self._clock(), window_seconds=self._window)

    def _fetch_keys(self) -> dict[str, str]:
        """GET the key document; every failure becomes a :class:`KeyFetchError`."""
        try:
            response = self._http.get(
                self.keys_url,
                headers=self._request_headers(),
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
            response.raise_for_status()
            keys = parse_key_document(response.json())
        except (requests.RequestException, ValueError) as exc:
            cause = failure_cause(exc)
            log.warning("fetching %s public keys failed: %s", self.name, cause)
            raise KeyFetchError(f"fetching {self.name} public keys failed ({cause})") from None
        log.info("fetched %d %s public keys", len(keys), self.name)
        return keys

    def _request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._api_token:
            # A token lifts GitHub's low unauthenticated rate limit.
            headers["Authorization"] = f"Bearer {self._api_token}"
        return headers


class KeyDocumentError(ValueError):
    """The key document is JSON but not of the expected shape."""


def failure_cause(exc: Exception) -> str:
    """Name a fetch failure by type and HTTP status: exception texts may quote the response."""
    if isinstance(exc, KeyDocumentError):
        return str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"{type(exc).__name__}, HTTP {status}" if status else type(exc).__name__


def parse_key_document(data: object) -> dict[str, str]:
    """``{"public_keys": [...]}`` -> identifier -> PEM, every published key (current or not)."""
    entries = data.get("public_keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeyDocumentError("the key document has no public_keys list")
    keys = {
        entry["key_identifier"]: entry["key"]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("key_identifier"), str)
        and isinstance(entry.get("key"), str)
    }
    if not keys:
        raise KeyDocumentError("the key document lists no usable key")
    return keys


def decode_signature(*, signature_b64: str, key_identifier: str) -> bytes:
    """Check the identifier's shape and that the signature is base64 of a DER (r, s) pair.

    Done before any key lookup, so garbage costs no fetch and no cache read.
    """
    if not KEY_IDENTIFIER.fullmatch(key_identifier):
        raise SignatureError("the key identifier is malformed", reason=MALFORMED_SIGNATURE)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        decode_dss_signature(signature)
    except (binascii.Error, ValueError):
        raise SignatureError(
            "the signature is not base64 of a DER-encoded ECDSA signature",
            reason=MALFORMED_SIGNATURE,
        ) from None
    return signature


def load_public_key(pem: str, key_identifier: str) -> ec.EllipticCurvePublicKey:
    """Load a published PEM; a key we cannot use is the key server's fault, hence a 503."""
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFetchError(f"the published key {key_identifier} is not a P-256 public key")
    return key


def partner_sources(
    settings: Settings, redis_client: redis.Redis | None, http_session: requests.Session
) -> dict[str, PartnerKeySource]:
    """Every partner's key source, sharing one cache: Redis when given, else this process."""
    cache = MemoryKeyCache() if redis_client is None else RedisKeyCache(redis_client)
    return {
        partner.name: PartnerKeySource(
            name=partner.name,
            keys_url=partner.keys_url(settings),
            api_token=partner.api_token(settings),
            http_session=http_session,
            cache=cache,
            ttl_seconds=settings.partner_keys_ttl_seconds,
            refetch_seconds=settings.partner_refetch_seconds,
        )
        for partner in PARTNERS
    }
