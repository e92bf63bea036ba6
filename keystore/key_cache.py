"""Where fetched public-key documents live: Redis (shared) or this process (embedded).

Used for the partners' alert-signing keys (:mod:`rotation.partner_keys`) and for
identity providers' JWKS (:mod:`keystore.remote_jwks`); it lives in the keystore
so both layers can use it.

Both caches keep the document together with the time it was fetched, so the
caller decides freshness with its own clock (tests inject one).  Both also
hand out *fetch claims*: at most one claim per slot and refetch window, which
is how forged key identifiers are kept from making us hammer the key server.
Windows are fixed (``int(now // window)``), so a claim needs no clock in Redis
and expires on its own there.

A claim says a fetch *was allowed* in this window, not that one is running:
the *fetch guard* (a ``redis.lock.Lock``, or a ``threading.Lock`` embedded) is
held only while a fetch is truly in flight, so a request whose key identifier
is unknown waits for that fetch only, never for a window that is merely spent.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Protocol

import redis
import redis.lock

log = logging.getLogger("keyward.keystore")

REDIS_PREFIX = "keyward:partner-keys"
# A fetcher that dies holding the guard frees it after this long (fetches are bounded far below).
GUARD_EXPIRY_SECONDS = 10
# How often a waiter asks Redis whether the fetch in flight has ended.
GUARD_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class KeyDocument:
    """The published keys of one source: identifier -> PEM, and when we fetched them."""

    fetched_at: float
    keys: dict[str, str]

    def to_json(self) -> str:
        return json.dumps({"fetched_at": self.fetched_at, "keys": self.keys})

    @classmethod
    def from_json(cls, raw: bytes | str) -> KeyDocument | None:
        """Read back what :meth:`to_json` wrote; damaged data counts as absent."""
        try:
            data = json.loads(raw)
            keys = {str(k): str(v) for k, v in data["keys"].items()}
            return cls(fetched_at=float(data["fetched_at"]), keys=keys)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


class KeyCache(Protocol):
    """What a key source (partner keys, a JWKS) needs from a cache."""

    def load(self, slot: str) -> KeyDocument | None: ...

    def store(self, slot: str, document: KeyDocument, ttl_seconds: int) -> None: ...

    def claim_fetch(self, slot: str, now: float, window_seconds: int) -> bool: ...

    def fetch_guard(self, slot: str) -> FetchGuard: ...


class FetchGuard(Protocol):
    """Held by the one request that is fetching a slot's document right now."""

    def try_hold(self) -> bool:
        """Take the guard if it is free; never waits."""

    def wait(self, seconds: float) -> None:
        """Return when the holder lets go, or after ``seconds`` at most."""

    def release(self) -> None: ...


class LocalGuard:
    """A fetch guard of this process only."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def try_hold(self) -> bool:
        return self._lock.acquire(blocking=False)

    def wait(self, seconds: float) -> None:
        if self._lock.acquire(timeout=max(seconds, 0.0)):
            self._lock.release()

    def release(self) -> None:
        self._lock.release()


class MemoryKeyCache:
    """The embedded mode's cache: one process, so a dict behind a lock is enough."""

    def __init__(self) -> None:
        self._documents: dict[str, KeyDocument] = {}
        self._claimed_windows: dict[str, int] = {}
        self._guards: dict[str, threading.Lock] = {}
        # Request threads of one process share this cache.
        self._lock = threading.Lock()

    def load(self, slot: str) -> KeyDocument | None:
        with self._lock:
            return self._documents.get(slot)

    def store(self, slot: str, document: KeyDocument, ttl_seconds: int) -> None:
        # Freshness is judged by ``fetched_at``, so the TTL needs no timer here.
        with self._lock:
            self._documents[slot] = document

    def claim_fetch(self, slot: str, now: float, window_seconds: int) -> bool:
        window = int(now // window_seconds)
        with self._lock:
            if self._claimed_windows.get(slot) == window:
                return False
            self._claimed_windows[slot] = window
            return True

    def fetch_guard(self, slot: str) -> LocalGuard:
        with self._lock:
            return LocalGuard(self._guards.setdefault(slot, threading.Lock()))


class RedisKeyCache:
    """The production cache: every web process and worker shares one document per source.

    While Redis is unreachable it falls back to a cache of this process (still
    rate-limited per process): an alert that arrives during a Redis outage is
    verified and stored, not refused.
    """

    def __init__(self, client: redis.Redis, *, fallback: MemoryKeyCache | None = None) -> None:
        self._client = client
        self._fallback = fallback or MemoryKeyCache()

    def load(self, slot: str) -> KeyDocument | None:
        try:
            raw = self._client.get(f"{REDIS_PREFIX}:{slot}")
        except redis.RedisError as exc:
            _degraded(exc)
            return self._fallback.load(slot)
        return None if raw is None else KeyDocument.from_json(raw)

    def store(self, slot: str, document: KeyDocument, ttl_seconds: int) -> None:
        self._fallback.store(slot, document, ttl_seconds)
        try:
            # Redis drops the document after the TTL too, so dead sources leave nothing behind.
            self._client.set(f"{REDIS_PREFIX}:{slot}", document.to_json(), ex=ttl_seconds)
        except redis.RedisError as exc:
            _degraded(exc)

    def claim_fetch(self, slot: str, now: float, window_seconds: int) -> bool:
        window = int(now // window_seconds)
        name = f"{REDIS_PREFIX}:{slot}:fetch:{window}"
        try:
            # SET NX is atomic: of all processes asking in this window, exactly one wins.
            return bool(self._client.set(name, "1", nx=True, ex=window_seconds))
        except redis.RedisError as exc:
            _degraded(exc)
            return self._fallback.claim_fetch(slot, now, window_seconds)

    def fetch_guard(self, slot: str) -> RedisGuard:
        lock = self._client.lock(
            f"{REDIS_PREFIX}:{slot}:fetching",
            timeout=GUARD_EXPIRY_SECONDS,
            sleep=GUARD_POLL_SECONDS,
            raise_on_release_error=False,
        )
        return RedisGuard(lock, fallback=self._fallback.fetch_guard(slot))


class RedisGuard:
    """The guard shared by every process; while Redis is down, this process's own guard."""

    def __init__(self, lock: redis.lock.Lock, *, fallback: LocalGuard) -> None:
        self._lock = lock
        self._fallback = fallback
        self._held_locally = False

    def try_hold(self) -> bool:
        try:
            return bool(self._lock.acquire(blocking=False))
        except redis.RedisError as exc:
            _degraded(exc)
            self._held_locally = self._fallback.try_hold()
            return self._held_locally

    def wait(self, seconds: float) -> None:
        try:
            if self._lock.acquire(blocking=True, blocking_timeout=max(seconds, 0.0)):
                self._lock.release()
        except redis.RedisError as exc:
            _degraded(exc)
            self._fallback.wait(seconds)

    def release(self) -> None:
        if self._held_locally:
            self._fallback.release()
            return
        try:
            self._lock.release()
        except redis.RedisError as exc:  # the lock expires on its own
            _degraded(exc)


def _degraded(exc: Exception) -> None:
    log.warning("key cache: Redis unavailable (%s); using this process's cache", type(exc).__name__)
