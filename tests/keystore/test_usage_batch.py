"""Usage counted in the process and pushed to Redis in batches: what is kept, what is lost."""

from __future__ import annotations

import pytest

from keystore import usage_batch
from keystore.errors import UnavailableError
from keystore.usage import RedisUsageRecorder
from keystore.usage_batch import BatchedUsageRecorder
from keystore.usage_store import usage_report
from tests.conftest import unreachable_redis


@pytest.fixture
def key(issue):
    return issue()[0]


def record(recorder, key, *, times=1, outcome="allowed"):
    for _ in range(times):
        recorder.record(client_id=key.client_id, key_id=key.id, outcome=outcome, address="10.0.0.1")


def test_counts_stay_in_the_process_until_pushed(redis_client, session, key):
    recorder = BatchedUsageRecorder(RedisUsageRecorder(redis_client), push_seconds=60)
    record(recorder, key, times=5)
    assert redis_client.keys("keyward:usage:*") == []  # no round trip per request
    recorder.push()
    assert redis_client.exists("keyward:usage:pending")
    # Another process (the Celery worker) flushes what was pushed.
    RedisUsageRecorder(redis_client).flush(session)
    session.commit()
    assert [row["count"] for row in usage_report(session, key_id=key.id)] == [5]


def test_redis_down_keeps_the_counts_and_loses_only_past_the_bound(
    redis_client, session, key, issue, monkeypatch
):
    lost: list[int] = []
    recorder = BatchedUsageRecorder(
        RedisUsageRecorder(unreachable_redis()), push_seconds=60, on_lost=lost.append
    )
    record(recorder, key, times=3)
    with pytest.raises(UnavailableError):
        recorder.push()
    monkeypatch.setattr(usage_batch, "MAX_FIELDS", 2)
    record(recorder, key, outcome="ip_blocked")
    other = issue(name="other")[0]
    record(recorder, other, times=4)  # a third figure: past the bound
    assert lost == [1, 1, 1, 1]
    recorder._redis = RedisUsageRecorder(redis_client)  # Redis is back
    recorder.flush(session)
    session.commit()
    totals = {r["outcome"]: r["count"] for r in usage_report(session, key_id=key.id)}
    assert totals == {"allowed": 3, "ip_blocked": 1}
    assert usage_report(session, key_id=other.id) == []
