"""Time what counting adds to each gateway request: one rate-limit hit and one usage record.

    python bench/usage_overhead.py [--calls 20000] [--redis redis://127.0.0.1:6379/15]

Each call is timed on its own (``time.perf_counter_ns``) against a real Redis,
over 1,000 keys of 100 clients, every key and client with a rate limit and
daily and monthly quotas (five limits per hit).  The memory versions of the
embedded mode are timed too.  Prints the median and p99 in microseconds; the
benchmark's keys live under their own namespace and are deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import redis

from keystore.decision import Limits
from keystore.ratelimit import LimitScope, MemoryRateLimiter, RedisRateLimiter
from keystore.usage import MemoryUsageRecorder, RedisUsageRecorder

NAMESPACE = "keyward-bench"
KEYS = 1000
KEYS_PER_CLIENT = 10
# Large enough that no call is refused: refusals are cheaper and would flatter the figures.
LIMITS = Limits(
    rate_limit=1_000_000, rate_window_seconds=60, quota_daily=10**9, quota_monthly=10**9
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis)
    try:
        report(
            "RedisRateLimiter.hit",
            time_hits(RedisRateLimiter(client, namespace=NAMESPACE), args.calls),
        )
        report(
            "RedisUsageRecorder.record",
            time_records(RedisUsageRecorder(client, namespace=NAMESPACE), args.calls),
        )
        report("MemoryRateLimiter.hit", time_hits(MemoryRateLimiter(), args.calls))
        report("MemoryUsageRecorder.record", time_records(MemoryUsageRecorder(), args.calls))
    finally:
        delete_namespace(client)


def time_hits(limiter, calls: int) -> list[int]:
    timings = []
    for _ in range(calls):
        key_id = random.randrange(KEYS)
        scopes = [
            LimitScope(f"client:{key_id // KEYS_PER_CLIENT}", LIMITS),
            LimitScope(f"key:{key_id}", Limits(rate_limit=1_000_000, rate_window_seconds=1)),
        ]
        started = time.perf_counter_ns()
        limiter.hit(scopes)
        timings.append(time.perf_counter_ns() - started)
    return timings


def time_records(recorder, calls: int) -> list[int]:
    timings = []
    for _ in range(calls):
        key_id = random.randrange(KEYS)
        started = time.perf_counter_ns()
        recorder.record(
            client_id=key_id // KEYS_PER_CLIENT,
            key_id=key_id,
            outcome="allowed",
            address="10.1.2.3",
        )
        timings.append(time.perf_counter_ns() - started)
    return timings


def report(name: str, timings: list[int]) -> None:
    micros = sorted(t / 1000 for t in timings)
    p99 = micros[int(len(micros) * 0.99) - 1]
    median = statistics.median(micros)
    print(f"{name:28} median {median:7.1f} µs   p99 {p99:7.1f} µs   ({len(micros):,} calls)")


def delete_namespace(client) -> None:
    for key in client.scan_iter(match=f"{NAMESPACE}:*", count=1000):
        client.delete(key)


if __name__ == "__main__":
    main()
