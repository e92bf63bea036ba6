"""Rate limits and quotas for clients and keys, in Redis or in one process.

A request is checked against every limit of every scope it names (typically
``client:<id>`` and ``key:<id>``) and counted only if all of them pass, so a
refused request never consumes anything.

Algorithms:

* **Rate** (``rate_limit`` per ``rate_window_seconds``): a sliding-window log.
  Each allowed hit is kept with its time; a hit passes when fewer than
  ``rate_limit`` hits lie in ``(now - window, now]``.  It is exact at any instant
  (no burst of twice the limit across a boundary, unlike fixed windows) and its
  ``retry_after`` is exact.  Memory per scope is bounded by ``rate_limit``
  entries, which suits per-second to per-hour limits; large volumes belong in
  the quotas, which cost one counter each.
* **Quotas** (``quota_daily``, ``quota_monthly``): one counter per UTC calendar
  bucket (``20261123``, ``202611``), expiring shortly after its bucket ends.

In Redis one Lua script (``ratelimit.lua``) does the whole hit, so concurrent
processes can never together exceed a limit.  Time comes from the caller's host
(``time.time()`` unless ``now`` is given): hosts must keep their clocks in sync
(NTP), and quota keys expire an hour after their bucket to absorb small skew.
A hit touches one key per limit, so on Redis Cluster the script needs all of a
request's keys in one slot: run the limiter on a single Redis (or a primary
with replicas), which is what Keyward's production mode expects.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import uuid
from bisect import bisect_right, insort
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Protocol

from keystore.decision import Decision, Limits
from keystore.redis_calls import redis_calls

QUOTA_GRACE_SECONDS = 3600
# The memory limiter sweeps expired quota counters after this many hits.
SWEEP_EVERY = 10_000
LUA_SCRIPT = resources.files("keystore").joinpath("ratelimit.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class LimitScope:
    """Who a limit applies to (``"client:5"``, ``"key:9"``) and its limits."""

    name: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class LimitResult:
    """The outcome of one hit, and the tightest limit for the ``RateLimit-*`` headers."""

    allowed: bool
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: int | None = None
    retry_after: int | None = None
    exceeded: str | None = None
    policy: str | None = None


UNLIMITED = LimitResult(allowed=True)


def scopes_for(decision: Decision) -> list[LimitScope]:
    """What to hit for an allowed decision: its client's limits and its key's, each beside
    its named policy's under the same name, so :func:`plan` keeps the strictest of each."""
    client, key = f"client:{decision.client_id}", f"key:{decision.key_id}"
    scopes = [
        LimitScope(name=client, limits=decision.client_limits),
        LimitScope(name=key, limits=decision.key_limits),
    ]
    for name, limits in (
        (client, decision.client_policy_limits),
        (key, decision.key_policy_limits),
    ):
        if not limits.empty:
            scopes.append(LimitScope(name=name, limits=limits))
    return scopes


class RateLimiter(Protocol):
    def hit(self, scopes: Sequence[LimitScope], *, now: float | None = None) -> LimitResult: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One limit to enforce: ``window`` is its length in seconds (for the policy);
    ``ends_at`` is a quota bucket's end (epoch seconds), unused for rates."""

    key: str
    kind: str
    limit: int
    window: int
    ends_at: float = 0.0


def plan(scopes: Sequence[LimitScope], now: float) -> list[Check]:
    """Every limit the scopes set, with the storage key of its current bucket.

    Buckets belong to the holder (``client:5``, ``key:9``) and the window, never to where a
    limit came from: when a holder's own settings and its policy set a limit on the same
    bucket (the same rate window, or a daily or monthly quota) the smaller one is kept and
    the bucket counted once; different rate windows are all enforced.  So no combination of
    own settings and policy gives a holder more than the strictest of them.
    """
    # UTC days are 86,400 epoch seconds each (POSIX time has no leap seconds).
    buckets = _buckets(int(now // 86400))
    strictest: dict[str, Check] = {}
    for scope in scopes:
        for check in _scope_checks(scope, buckets):
            kept = strictest.get(check.key)
            if kept is None or check.limit < kept.limit:
                strictest[check.key] = check
    return list(strictest.values())


@dataclass(frozen=True, slots=True)
class _Bucket:
    label: str
    window: int
    ends_at: float


@functools.lru_cache(maxsize=8)
def _buckets(day_number: int) -> tuple[_Bucket, _Bucket]:
    """The day's and the month's quota buckets; cached, as every hit of a day asks alike."""
    day = datetime.fromtimestamp(day_number * 86400, UTC)
    first = day.replace(day=1)
    # Day 32 from the 1st is always in the next month.
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        _Bucket(label=f"{day:%Y%m%d}", window=86400, ends_at=day.timestamp() + 86400),
        _Bucket(
            label=f"{first:%Y%m}",
            window=int((following - first).total_seconds()),
            ends_at=following.timestamp(),
        ),
    )


def _scope_checks(scope: LimitScope, buckets: tuple[_Bucket, _Bucket]) -> Iterator[Check]:
    limits, name = scope.limits, scope.name
    if limits.rate_limit is not None and limits.rate_window_seconds:
        window = limits.rate_window_seconds
        yield Check(key=f"rl:{name}:{window}", kind="rate", limit=limits.rate_limit, window=window)
    for prefix, limit, bucket in (
        ("qd", limits.quota_daily, buckets[0]),
        ("qm", limits.quota_monthly, buckets[1]),
    ):
        if limit is not None:
            key = f"{prefix}:{name}:{bucket.label}"
            yield Check(
                key=key, kind="quota", limit=limit, window=bucket.window, ends_at=bucket.ends_at
            )


def evaluate(checks: Sequence[Check], counts: Sequence[int], free_at: Sequence[float], now: float):
    """Turn what the store saw (counts before this hit, when each check frees a slot)
    into a :class:`LimitResult`; shared by both backends so they answer alike."""
    waits = [max(0.0, at - now) for at in free_at]
    refusing = [i for i, check in enumerate(checks) if counts[i] >= check.limit]
    if refusing:
        # The request passes only when every refusing limit has freed a slot.
        worst = max(refusing, key=lambda i: waits[i])
        check, wait = checks[worst], max(1, math.ceil(waits[worst]))
        exceeded = "rate_limited" if check.kind == "rate" else "quota_exceeded"
        return _result(check, allowed=False, remaining=0, reset=wait, exceeded=exceeded)
    remaining = [check.limit - counts[i] - 1 for i, check in enumerate(checks)]
    tightest = min(range(len(checks)), key=lambda i: (remaining[i], -waits[i]))
    reset = math.ceil(waits[tightest])
    return _result(checks[tightest], allowed=True, remaining=remaining[tightest], reset=reset)


def _result(check: Check, *, allowed: bool, remaining: int, reset: int, exceeded=None):
    return LimitResult(
        allowed=allowed,
        limit=check.limit,
        remaining=remaining,
        reset_seconds=reset,
        retry_after=None if allowed else reset,
        exceeded=exceeded,
        policy=f"{check.limit};w={check.window}",
    )


class RedisRateLimiter:
    """Limits shared by every process that uses the same Redis (see the module docstring)."""

    def __init__(self, redis_client, *, namespace: str = "keyward"):
        self._namespace = namespace
        self._script = redis_client.register_script(LUA_SCRIPT)

    def hit(self, scopes: Sequence[LimitScope], *, now: float | None = None) -> LimitResult:
        """Check and count one request in one round trip."""
        now = time.time() if now is None else now
        checks = plan(scopes, now)
        if not checks:
            return UNLIMITED
        keys = [f"{self._namespace}:{check.key}" for check in checks]
        args = [_ms(now), uuid.uuid4().hex, QUOTA_GRACE_SECONDS * 1000]
        for check in checks:
            span = check.window * 1000 if check.kind == "rate" else _ms(check.ends_at)
            args += ["r" if check.kind == "rate" else "q", check.limit, span]
        with redis_calls("checking rate limits"):
            _, counts, free_at = self._script(keys=keys, args=args)
        return evaluate(checks, counts, [at / 1000 for at in free_at], now)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class MemoryRateLimiter:
    """The same limits for the embedded mode: one process, any number of threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}
        self._counters: dict[str, list[float]] = {}  # key -> [count, expires_at]
        self._since_sweep = 0

    def hit(self, scopes: Sequence[LimitScope], *, now: float | None = None) -> LimitResult:
        """Check and count one request under the lock, as the Lua script does in Redis."""
        now = time.time() if now is None else now
        checks = plan(scopes, now)
        if not checks:
            return UNLIMITED
        with self._lock:
            seen = [self._observe(check, now) for check in checks]
            counts = [count for count, _ in seen]
            if all(count < check.limit for count, check in zip(counts, checks, strict=True)):
                for check in checks:
                    self._count(check, now)
            self._sweep(now)
        return evaluate(checks, counts, [at for _, at in seen], now)

    def _observe(self, check: Check, now: float) -> tuple[int, float]:
        if check.kind == "quota":
            counter = self._counters.get(check.key)
            return (int(counter[0]) if counter else 0), check.ends_at
        hits = self._hits.get(check.key, [])
        # Keep (now - window, now], as ZREMRANGEBYSCORE does.
        del hits[: bisect_right(hits, now - check.window)]
        index = max(0, len(hits) - check.limit)
        return len(hits), (hits[index] if hits else now) + check.window

    def _count(self, check: Check, now: float) -> None:
        if check.kind == "quota":
            counter = self._counters.setdefault(check.key, [0, 0.0])
            counter[0] += 1
            counter[1] = check.ends_at + QUOTA_GRACE_SECONDS
        else:
            insort(self._hits.setdefault(check.key, []), now)

    def _sweep(self, now: float) -> None:
        # Expired buckets would otherwise pile up for the life of the process.
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        self._counters = {k: c for k, c in self._counters.items() if c[1] > now}
        # A rate key ends with its window, so a log is stale once its newest hit left it.
        self._hits = {k: h for k, h in self._hits.items() if h and h[-1] > now - _window_of(k)}


def _window_of(key: str) -> int:
    return int(key.rsplit(":", 1)[1])
