"""Build the rate limiter and usage recorder for the running mode.

Production (``KEYWARD_REDIS_URL`` set) shares both through Redis across every
process; the embedded mode keeps them in this process.  Build them once per
process (in the app factory) and reuse them: the memory versions hold state.
"""

from __future__ import annotations

from collections.abc import Callable

from keystore.config import Settings
from keystore.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from keystore.usage import MemoryUsageRecorder, RedisUsageRecorder, UsageRecorder
from keystore.usage_batch import BatchedUsageRecorder

NAMESPACE = "keyward"


def make_rate_limiter(redis_client=None, *, namespace: str = NAMESPACE) -> RateLimiter:
    """Redis-backed when given a client, in memory otherwise."""
    if redis_client is None:
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_client, namespace=namespace)


def make_usage_recorder(
    redis_client=None,
    *,
    namespace: str = NAMESPACE,
    push_seconds: float | None = None,
    on_lost: Callable[[int], None] | None = None,
) -> UsageRecorder:
    """Redis-backed when given a client, in memory otherwise.

    With ``push_seconds`` (the web processes) requests are counted in the process and
    pushed to Redis in batches: no Redis round trip per request.
    """
    if redis_client is None:
        return MemoryUsageRecorder()
    recorder = RedisUsageRecorder(redis_client, namespace=namespace)
    if push_seconds is None:
        return recorder
    return BatchedUsageRecorder(
        recorder, push_seconds=push_seconds, on_lost=on_lost or (lambda _count: None)
    )


REDIS_TIMEOUT_SECONDS = 1.0


def make_redis(settings: Settings):
    """The Redis client of the settings, or ``None`` in the embedded mode.

    Short timeouts and one quick retry: during an outage a gateway request must
    fail fast (503) rather than wait through redis-py's default backoff.
    """
    if settings.redis_url is None:
        return None
    # Imported here: the embedded mode never needs the redis package loaded.
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
    )


def make_limits(settings: Settings) -> tuple[RateLimiter, UsageRecorder]:
    """The (rate limiter, usage recorder) pair for these settings."""
    client = make_redis(settings)
    return make_rate_limiter(client), make_usage_recorder(client)
