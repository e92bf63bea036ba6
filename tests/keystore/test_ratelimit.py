"""Rate limits and quotas, against real Redis and the in-memory limiter alike."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime

import pytest

from keystore import ratelimit
from keystore.decision import Decision, Limits
from keystore.errors import UnavailableError
from keystore.limits_factory import make_rate_limiter
from keystore.ratelimit import (
    LimitScope,
    MemoryRateLimiter,
    RedisRateLimiter,
    plan,
    scopes_for,
)
from tests.conftest import REDIS_URL, unreachable_redis

# Quota keys expire after their calendar bucket by Redis's own clock, so the
# tests live in a future year whatever today's date is.
YEAR = datetime.now(UTC).year + 2


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: float = 0) -> float:
    whole = int(second)
    moment = datetime(YEAR, month, day, hour, minute, whole, tzinfo=UTC)
    return moment.timestamp() + (second - whole)


T0 = at(3, 10)


def rate(limit: int, window: int) -> Limits:
    return Limits(rate_limit=limit, rate_window_seconds=window)


@pytest.fixture(params=["memory", "redis"])
def limiter(request):
    if request.param == "memory":
        return make_rate_limiter()
    return make_rate_limiter(request.getfixturevalue("redis_client"))


def hits(limiter, scopes, times):
    return [limiter.hit(scopes, now=moment) for moment in times]


def test_no_limits_means_unlimited(limiter):
    result = limiter.hit([LimitScope("client:1", Limits()), LimitScope("key:1", Limits())])
    assert result.allowed
    assert (result.limit, result.remaining, result.policy) == (None, None, None)


def test_rate_limit_allows_then_refuses_with_exact_retry_after(limiter):
    scopes = [LimitScope("key:1", rate(3, 10))]
    first, second, third, fourth = hits(limiter, scopes, [T0, T0 + 1, T0 + 2, T0 + 4])
    assert [r.allowed for r in (first, second, third)] == [True, True, True]
    assert [r.remaining for r in (first, second, third)] == [2, 1, 0]
    assert (first.limit, first.reset_seconds, first.policy) == (3, 10, "3;w=10")
    assert not fourth.allowed
    assert fourth.exceeded == "rate_limited"
    # The hit at T0 leaves the window at T0 + 10: six seconds after T0 + 4.
    assert fourth.retry_after == fourth.reset_seconds == 6
    assert fourth.remaining == 0


def test_rate_window_slides_at_its_boundary(limiter):
    scopes = [LimitScope("key:1", rate(3, 10))]
    hits(limiter, scopes, [T0, T0 + 5, T0 + 9])
    assert not limiter.hit(scopes, now=T0 + 9.999).allowed
    # (now - window, now]: the hit at T0 is out exactly at T0 + 10.
    assert limiter.hit(scopes, now=T0 + 10).allowed
    refused = limiter.hit(scopes, now=T0 + 10.5)
    assert (refused.allowed, refused.retry_after) == (False, 5)
    assert limiter.hit(scopes, now=T0 + 15).allowed


def test_no_double_burst_across_a_window_boundary(limiter):
    scopes = [LimitScope("key:1", rate(3, 10))]
    assert all(r.allowed for r in hits(limiter, scopes, [T0 + 9.7, T0 + 9.8, T0 + 9.9]))
    # A fixed window would start afresh at T0 + 10 and allow 3 more.
    assert not limiter.hit(scopes, now=T0 + 10.1).allowed


def test_daily_quota_resets_at_utc_midnight(limiter):
    scopes = [LimitScope("client:1", Limits(quota_daily=2))]
    allowed = hits(limiter, scopes, [at(3, 10, 23, 59, 50), at(3, 10, 23, 59, 58)])
    assert [r.remaining for r in allowed] == [1, 0]
    assert allowed[0].policy == "2;w=86400"
    refused = limiter.hit(scopes, now=at(3, 10, 23, 59, 59.5))
    assert (refused.allowed, refused.exceeded, refused.retry_after) == (False, "quota_exceeded", 1)
    after = limiter.hit(scopes, now=at(3, 11, 0, 0, 0))
    assert (after.allowed, after.remaining, after.reset_seconds) == (True, 1, 86400)


def test_monthly_quota_follows_the_calendar_month(limiter):
    scopes = [LimitScope("client:1", Limits(quota_monthly=2))]
    assert all(r.allowed for r in hits(limiter, scopes, [at(11, 1, 0), at(11, 20)]))
    refused = limiter.hit(scopes, now=at(11, 30, 23, 59, 59))
    assert (refused.allowed, refused.exceeded, refused.policy) == (
        False,
        "quota_exceeded",
        "2;w=2592000",
    )
    assert refused.retry_after == 1
    december = limiter.hit(scopes, now=at(12, 1, 0))
    assert (december.allowed, december.policy) == (True, "2;w=2678400")


def test_tightest_limit_is_reported_and_refused_requests_count_nothing(limiter):
    client = Limits(rate_limit=4, rate_window_seconds=60)
    key_one = [LimitScope("client:1", client), LimitScope("key:1", rate(2, 60))]
    key_two = [LimitScope("client:1", client), LimitScope("key:2", Limits())]
    first = limiter.hit(key_one, now=T0)
    assert (first.limit, first.remaining, first.policy) == (2, 1, "2;w=60")
    assert limiter.hit(key_one, now=T0 + 1).allowed
    assert not limiter.hit(key_one, now=T0 + 2).allowed
    # The refused hit did not count against the client: two of its four remain.
    second_key = hits(limiter, key_two, [T0 + 3, T0 + 4, T0 + 5])
    assert [r.allowed for r in second_key] == [True, True, False]
    assert (second_key[1].limit, second_key[1].remaining) == (4, 0)


def test_refusal_by_quota_does_not_consume_the_rate(limiter):
    scopes = [LimitScope("client:1", Limits(quota_daily=1)), LimitScope("key:1", rate(2, 60))]
    assert limiter.hit(scopes, now=T0).allowed
    assert not limiter.hit(scopes, now=T0 + 1).allowed
    key_only = limiter.hit([LimitScope("key:1", rate(2, 60))], now=T0 + 2)
    assert (key_only.allowed, key_only.remaining) == (True, 0)


def test_the_longest_wait_among_refusing_limits_wins(limiter):
    limits = Limits(rate_limit=1, rate_window_seconds=60, quota_daily=1)
    scopes = [LimitScope("key:1", limits)]
    assert limiter.hit(scopes, now=at(3, 10, 23, 0)).allowed
    refused = limiter.hit(scopes, now=at(3, 10, 23, 0, 30))
    # The rate frees a slot in 30 s, but the day's quota only at midnight.
    assert (refused.exceeded, refused.retry_after) == ("quota_exceeded", 3570)


def test_redis_keys_expire_by_themselves(redis_client):
    limiter = RedisRateLimiter(redis_client, namespace="kwtest")
    limits = Limits(rate_limit=5, rate_window_seconds=60, quota_daily=5, quota_monthly=5)
    limiter.hit([LimitScope("key:1", limits)], now=T0)
    keys = redis_client.keys("*")
    assert len(keys) == 3
    assert all(key.startswith(b"kwtest:") for key in keys)
    assert all(redis_client.pttl(key) > 0 for key in keys)


def _hammer(redis_url: str, count: int, queue) -> None:
    """Child process: hit one shared limit ``count`` times; report how many passed."""
    import redis

    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url))
    limits = Limits(rate_limit=100, rate_window_seconds=3600, quota_daily=150)
    scopes = [LimitScope("client:1", Limits(quota_daily=150)), LimitScope("key:1", limits)]
    queue.put(sum(limiter.hit(scopes).allowed for _ in range(count)))


def test_two_processes_never_exceed_a_shared_limit(redis_client):

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(REDIS_URL, 300, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    totals = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert sum(totals) == 100
    assert all(worker.exitcode == 0 for worker in workers)


def test_memory_limiter_is_thread_safe():
    limiter = MemoryRateLimiter()
    scopes = [LimitScope("key:1", Limits(rate_limit=50, rate_window_seconds=3600))]
    passed: list[bool] = []

    def hammer():
        passed.extend(limiter.hit(scopes).allowed for _ in range(100))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(passed) == 50


def test_scopes_for_a_decision_name_client_and_key():
    client, key = Limits(quota_daily=5), Limits(rate_limit=1, rate_window_seconds=1)
    decision = Decision(
        True, "allowed", client_id=5, key_id=9, client_limits=client, key_limits=key
    )
    assert scopes_for(decision) == [LimitScope("client:5", client), LimitScope("key:9", key)]


def test_a_policy_beside_own_limits_keeps_the_strictest_of_each_bucket(limiter):
    own = Limits(rate_limit=5, rate_window_seconds=60, quota_daily=100)
    policy = Limits(rate_limit=2, rate_window_seconds=60, quota_daily=3)
    decision = Decision(
        True, "allowed", client_id=5, key_id=9, key_limits=own, key_policy_limits=policy
    )
    scopes = scopes_for(decision)
    assert scopes[-1] == LimitScope("key:9", policy)
    checks = plan(scopes, T0)
    # One bucket per holder and window, counted once, at the smaller limit.
    assert sorted((c.kind, c.limit) for c in checks) == [("quota", 3), ("rate", 2)]
    answers = hits(limiter, scopes, [T0, T0 + 1, T0 + 2])
    assert [a.allowed for a in answers] == [True, True, False]
    assert answers[2].policy == "2;w=60"
    # A longer window of the policy is enforced beside the holder's shorter one.
    hourly = Limits(rate_limit=3, rate_window_seconds=3600)
    both = [LimitScope("key:10", rate(2, 60)), LimitScope("key:10", hourly)]
    times = [T0, T0 + 1, T0 + 61, T0 + 62, T0 + 122]
    assert [a.allowed for a in hits(limiter, both, times)] == [True, True, True, False, False]


def test_redis_failure_is_a_keyward_error():
    limiter = RedisRateLimiter(unreachable_redis())
    with pytest.raises(UnavailableError) as caught:
        limiter.hit([LimitScope("key:1", rate(1, 1))], now=T0)
    assert (caught.value.reason, caught.value.status) == ("redis_unavailable", 503)


def test_memory_limiter_forgets_expired_buckets(monkeypatch):
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 1)
    limiter = MemoryRateLimiter()
    limits = Limits(rate_limit=5, rate_window_seconds=60, quota_daily=5, quota_monthly=5)
    limiter.hit([LimitScope("key:1", limits)], now=T0)
    assert (len(limiter._hits), len(limiter._counters)) == (1, 2)
    # Two months later every bucket of key:1 has expired; only key:2's remain.
    limiter.hit([LimitScope("key:2", limits)], now=at(5, 10))
    assert list(limiter._hits) == ["rl:key:2:60"]
    assert all(":key:2:" in name for name in limiter._counters)
