"""Verify signed secret-scanning alerts from GitHub and GitLab.

Both partners sign the raw request body with ECDSA P-256 / SHA-256, send the
base64 of the DER ``(r, s)`` pair in ``<Partner>-Public-Key-Signature`` and name
the key in ``<Partner>-Public-Key-Identifier``.  Their public keys come from a
JSON document ``{"public_keys": [{"key_identifier", "key", "is_current"}]}``.

Use: ``sources = partner_sources(settings, redis_client, http_session)`` once,
then per request ``verify_alert(sources, headers=request.headers,
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
from dataclasses import dataclass

import redis
import requests
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keystore.config import GITHUB_PARTNER_KEYS_URL, Settings
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

log = logging.getLogger("keyward.rotation")

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
# How long a process that lost the fetch claim waits for the winner's document.
RIVAL_WAIT_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
RIVAL_POLL_SECONDS = 0.05
# Real identifiers are 40-64 hex digits; the bound keeps junk out of messages and logs.
KEY_IDENTIFIER = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
USER_AGENT = "keyward-partner-keys"


@dataclass(frozen=True)
class PartnerScheme:
    """One partner's header names."""

    name: str
    identifier_header: str
    signature_header: str


GITHUB = PartnerScheme(
    name="github",
    identifier_header="Github-Public-Key-Identifier",
    signature_header="Github-Public-Key-Signature",
)
# GitLab publishes no fixed keys URL ("the endpoint can be provided on request"),
# so its source must be configured; without a URL it knows no keys.
GITLAB = PartnerScheme(
    name="gitlab",
    identifier_header="Gitlab-Public-Key-Identifier",
    signature_header="Gitlab-Public-Key-Signature",
)
SCHEMES = (GITHUB, GITLAB)


@dataclass(frozen=True)
class SignedRequest:
    """The signature headers of one alert: which partner, which key, which signature."""

    scheme: str
    key_identifier: str | None
    signature_b64: str | None


def signature_headers(headers: Mapping[str, str]) -> SignedRequest:
    """Pick the partner whose headers are present; names match case-insensitively.

    Flask's ``request.headers`` already ignores case; a plain dict does not, so
    names are folded here.  GitHub wins when both partners' headers are present.
    """
    folded = {str(name).lower(): value for name, value in headers.items()}
    for scheme in SCHEMES:
        identifier = folded.get(scheme.identifier_header.lower())
        signature = folded.get(scheme.signature_header.lower())
        if identifier or signature:
            return SignedRequest(
                scheme=scheme.name, key_identifier=identifier, signature_b64=signature
            )
    raise SignatureError("the request carries no partner signature headers", reason=MISSING_HEADERS)


def verify_alert(
    sources: Mapping[str, PartnerKeySource], *, headers: Mapping[str, str], payload: bytes
) -> str:
    """Verify an alert against the right partner's keys and return the partner's name."""
    signed = signature_headers(headers)
    source = sources.get(signed.scheme)
    if source is None:
        raise SignatureError(f"{signed.scheme} alerts are not accepted here", reason=UNKNOWN_KEY)
    source.verify(payload, key_identifier=signed.key_identifier, signature_b64=signed.signature_b64)
    return signed.scheme


class PartnerKeySource:
    """One partner's published keys: fetched over HTTP, cached, refetched sparingly.

    A document older than ``ttl_seconds`` is refetched.  An identifier missing
    from the document triggers a refetch too (the partner may have rotated its
    key), but every fetch, whatever its cause, needs a claim: at most one per
    ``refetch_seconds`` window per source, across all processes sharing the cache.
    Without a fresh document and without the claim (this window's fetch failed,
    or another process is still at it) the answer is ``key_fetch_failed``, a 503
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
        rival_wait_seconds: float = RIVAL_WAIT_SECONDS,
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
        self._rival_wait = rival_wait_seconds
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
        if document is None or key_identifier not in document.keys:
            document = self._refetch(seen=document) or document
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

    def _refetch(self, *, seen: KeyDocument | None) -> KeyDocument | None:
        """Fetch if this window's claim is ours; else wait briefly for the winner's document."""
        if not self._cache.claim_fetch(self._slot, now=self._clock(), window_seconds=self._window):
            return self._await_rival(seen=seen)
        document = KeyDocument(fetched_at=self._clock(), keys=self._fetch_keys())
        self._cache.store(self._slot, document, ttl_seconds=self._ttl)
        return document

    def _await_rival(self, *, seen: KeyDocument | None) -> KeyDocument | None:
        # Concurrent alerts right after a start or a rotation would otherwise get 503s
        # while the process that won the claim is still fetching.
        deadline = time.monotonic() + self._rival_wait
        while True:
            document = self._fresh_document()
            if document is not None and (seen is None or document.fetched_at > seen.fetched_at):
                return document
            if time.monotonic() >= deadline:
                return document
            time.sleep(RIVAL_POLL_SECONDS)

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
    """Both partners' key sources, sharing one cache: Redis when given, else this process."""
    cache = MemoryKeyCache() if redis_client is None else RedisKeyCache(redis_client)
    configured = {
        GITHUB.name: (settings.github_keys_url or GITHUB_PARTNER_KEYS_URL, settings.github_token),
        GITLAB.name: (settings.gitlab_keys_url, settings.gitlab_token),
    }
    return {
        name: PartnerKeySource(
            name=name,
            keys_url=url,
            api_token=token,
            http_session=http_session,
            cache=cache,
            ttl_seconds=settings.partner_keys_ttl_seconds,
            refetch_seconds=settings.partner_refetch_seconds,
        )
        for name, (url, token) in configured.items()
    }
