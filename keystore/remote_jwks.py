"""Public keys published by someone else (an identity provider's JWKS), fetched safely.

* Only https URLs whose host resolves to public addresses (``http://127.0.0.1``
  only under the test-only ``KEYWARD_OIDC_ALLOW_LOOPBACK``); redirects are not
  followed, environment proxies are not used, every step has a time limit and
  the document a size limit.
* Documents are cached for ``KEYWARD_PARTNER_KEYS_TTL_SECONDS`` and refetched
  for an unknown ``kid`` at most once per ``KEYWARD_PARTNER_REFETCH_SECONDS``
  per URL, as partner keys are: forged key ids cannot make us hammer the IdP.
* Only EC P-256 and 2048+ bit RSA keys are kept; a symmetric (``oct``) key in a
  JWKS is ignored, so nobody can make us verify an HMAC with a public value.

Documents are shared through :mod:`keystore.key_cache` (Redis in production,
installed by the app with :meth:`JwksCache.use`; this process alone when embedded).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

import jwt
import requests

from keystore import jwks, public_net
from keystore.config import Settings
from keystore.errors import ConfigError
from keystore.key_cache import KeyCache, KeyDocument, MemoryKeyCache

log = logging.getLogger("keyward.keystore")

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_KEYS = 50
MAX_URL_LENGTH = 500


class FetchError(Exception):
    """The document could not be had; never carries the response body."""


def check_url(url, settings: Settings, *, field: str) -> str:
    """A well-formed https URL (or loopback http under the test-only setting)."""
    return public_net.check_url(
        url, field=field, max_length=MAX_URL_LENGTH, allow_loopback=settings.oidc_allow_loopback
    )


def fetch_keys(url: str, settings: Settings) -> dict[str, dict]:
    """GET the JWKS and keep its usable signing keys (as JWKs) by kid; raises FetchError.

    The request goes to the address that was checked (DNS rebinding cannot redirect it).
    """
    session = public_net.pinned_session()
    try:
        prepared = public_net.prepare(
            session,
            "GET",
            _target(url, settings),
            headers={"Accept": "application/json", "User-Agent": "keyward-jwks"},
        )
        with session.send(
            prepared,
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"the JWKS URL answered {response.status_code}")
            body = _bounded(response)
    except requests.RequestException as exc:
        raise FetchError(f"the JWKS URL could not be reached ({type(exc).__name__})") from None
    finally:
        session.close()
    return parse_document(body)


def _target(url: str, settings: Settings) -> public_net.Target:
    host, port = public_net.host_and_port(url)
    if public_net.loopback_allowed(host, settings.oidc_allow_loopback):
        return public_net.unpinned(url)
    try:
        address = public_net.resolve_public(host, port, timeout=CONNECT_TIMEOUT_SECONDS)
    except public_net.AddressRefused:
        raise FetchError("the JWKS host does not resolve to public addresses only") from None
    return public_net.pin(url, address)


def _bounded(response) -> bytes:
    body = b""
    deadline = time.monotonic() + READ_TIMEOUT_SECONDS
    for chunk in response.iter_content(16384):
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES or time.monotonic() > deadline:
            raise FetchError("the JWKS document is too large or too slow")
    return body


def parse_document(body: bytes) -> dict[str, dict]:
    try:
        document = json.loads(body)
        entries = document["keys"]
    except (ValueError, TypeError, KeyError, RecursionError):
        raise FetchError("the JWKS document is not a JSON key set") from None
    if not isinstance(entries, list):
        raise FetchError("the JWKS document is not a JSON key set")
    keys = {}
    for entry in entries[:MAX_KEYS]:
        if _signing_key(entry) is not None:
            keys[str(entry.get("kid", ""))] = entry
    return keys


def _signing_key(entry) -> jwks.PublicKey | None:
    if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA") or "d" in entry:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    try:
        public = jwks.public_key(jwt.PyJWK(entry).key)
    except (jwt.PyJWTError, ValueError, TypeError, ConfigError):
        return None
    # A JWK that names an algorithm must name the one its key allows.
    return public if entry.get("alg", public.algorithm) == public.algorithm else None


class JwksCache:
    """Key sets by URL in a :class:`~keystore.key_cache.KeyCache` (Redis in production, shared
    by every process), with at most one fetch per URL and refetch window.

    The cache holds each key as its JWK text; parsed keys are kept per document in this
    process, so a key is parsed once per fetch, not once per token.
    """

    def __init__(self, store: KeyCache | None = None, fetch=None) -> None:
        self._store = store or MemoryKeyCache()
        self._fetch = fetch or fetch_keys
        self._parsed: dict[tuple[str, float], dict[str, jwks.PublicKey]] = {}
        self._lock = threading.Lock()

    def use(self, store: KeyCache) -> None:
        """Share documents through ``store`` (the app installs Redis here)."""
        self._store = store
        self.forget()

    def key(self, url: str, kid, settings: Settings, *, now: float | None = None):
        """The key named ``kid`` (or the only key, when the JWT names none), else None."""
        now = time.time() if now is None else now
        slot = "jwks:" + hashlib.sha256(url.encode()).hexdigest()[:32]
        document = self._store.load(slot)
        ttl = settings.partner_keys_ttl_seconds
        fresh = document is not None and now - document.fetched_at < ttl
        found = _pick(self._keys(slot, document), kid)
        if found is None or not fresh:
            window = max(1, settings.partner_refetch_seconds)
            if self._store.claim_fetch(slot, now, window):
                document = self._refresh(slot, url, settings, now) or document
                found = _pick(self._keys(slot, document), kid)
        return found

    def _refresh(self, slot: str, url: str, settings: Settings, now: float) -> KeyDocument | None:
        try:
            entries = self._fetch(url, settings)
        except FetchError as exc:
            log.warning("JWKS fetch failed: %s", exc)
            return None
        document = KeyDocument(fetched_at=now, keys={k: json.dumps(v) for k, v in entries.items()})
        self._store.store(slot, document, settings.partner_keys_ttl_seconds)
        return document

    def _keys(self, slot: str, document: KeyDocument | None) -> dict[str, jwks.PublicKey]:
        if document is None:
            return {}
        with self._lock:
            parsed = self._parsed.get((slot, document.fetched_at))
        if parsed is None:
            parsed = {}
            for kid, text in document.keys.items():
                key = _signing_key(json.loads(text))
                if key is not None:
                    parsed[kid] = key
            with self._lock:
                if len(self._parsed) > 64:
                    self._parsed.clear()
                self._parsed[(slot, document.fetched_at)] = parsed
        return parsed

    def forget(self) -> None:
        with self._lock:
            self._parsed.clear()
        if isinstance(self._store, MemoryKeyCache):
            self._store = MemoryKeyCache()


def _pick(keys: dict[str, jwks.PublicKey], kid) -> jwks.PublicKey | None:
    if kid is None:
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid) if isinstance(kid, str) else None


CACHE = JwksCache()
