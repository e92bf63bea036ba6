"""Usage figures: buffered records, flushes into the database, reports."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from keystore import usage
from keystore.errors import UnavailableError, ValidationError
from keystore.limits_factory import make_usage_recorder
from keystore.models import ApiKey, UsageCount
from keystore.usage import RedisUsageRecorder, usage_report
from tests.conftest import unreachable_redis

H0 = datetime(2026, 11, 23, 22, 15, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis", "batched"])
def recorder(request):
    if request.param == "memory":
        return make_usage_recorder()
    client = request.getfixturevalue("redis_client")
    if request.param == "batched":  # the web processes': counted here, pushed in batches
        return make_usage_recorder(client, push_seconds=60)
    return make_usage_recorder(client)


@pytest.fixture
def key(issue) -> ApiKey:
    return issue()[0]


def record(recorder, key, outcome="allowed", *, at=H0, address="10.0.0.1", times=1):
    for _ in range(times):
        recorder.record(
            client_id=key.client_id, key_id=key.id, outcome=outcome, address=address, at=at
        )


def flush_and_commit(recorder, session) -> int:
    touched = recorder.flush(session)
    session.commit()
    return touched


def test_record_flush_report_per_hour_and_day(recorder, session, key):
    record(recorder, key, times=3)
    record(recorder, key, "ip_blocked", at=H0 + timedelta(minutes=40))
    record(recorder, key, at=H0 + timedelta(hours=1), times=2)
    record(recorder, key, "rate_limited", at=H0 + timedelta(hours=2))
    assert flush_and_commit(recorder, session) == 5  # four count rows, one key's last use
    assert usage_report(session, key_id=key.id) == [
        {"bucket": "2026-11-23T22:00:00+00:00", "outcome": "allowed", "count": 3},
        {"bucket": "2026-11-23T22:00:00+00:00", "outcome": "ip_blocked", "count": 1},
        {"bucket": "2026-11-23T23:00:00+00:00", "outcome": "allowed", "count": 2},
        {"bucket": "2026-11-24T00:00:00+00:00", "outcome": "rate_limited", "count": 1},
    ]
    assert usage_report(session, client_id=key.client_id, granularity="day") == [
        {"bucket": "2026-11-23", "outcome": "allowed", "count": 5},
        {"bucket": "2026-11-23", "outcome": "ip_blocked", "count": 1},
        {"bucket": "2026-11-24", "outcome": "rate_limited", "count": 1},
    ]
    hour = H0.replace(minute=0)
    since, until = hour + timedelta(hours=1), hour + timedelta(hours=2)
    window = usage_report(session, key_id=key.id, since=since, until=until)
    assert window == [{"bucket": "2026-11-23T23:00:00+00:00", "outcome": "allowed", "count": 2}]
    assert usage_report(session, key_id=key.id + 1000) == []


def test_flushes_add_up(recorder, session, key):
    record(recorder, key, times=2)
    flush_and_commit(recorder, session)
    record(recorder, key, times=5)
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key.id)[0]["count"] == 7
    assert session.scalar(select(UsageCount.count).where(UsageCount.key_id == key.id)) == 7


def test_last_use_only_moves_forward(recorder, session, key):
    updated_at = key.updated_at
    record(recorder, key, at=H0, address="10.0.0.2")
    record(recorder, key, at=H0 - timedelta(minutes=5), address="10.0.0.1")
    flush_and_commit(recorder, session)
    session.refresh(key)
    assert (key.last_used_at, key.last_used_ip) == (H0, "10.0.0.2")
    assert key.updated_at == updated_at
    record(recorder, key, at=H0 - timedelta(hours=1), address="10.0.0.3")
    flush_and_commit(recorder, session)
    session.refresh(key)
    assert (key.last_used_at, key.last_used_ip) == (H0, "10.0.0.2")
    record(recorder, key, at=H0 + timedelta(seconds=1), address="2001:db8::1")
    flush_and_commit(recorder, session)
    session.refresh(key)
    assert (key.last_used_at, key.last_used_ip) == (H0 + timedelta(seconds=1), "2001:db8::1")


def test_empty_flush_touches_no_database(recorder, session, request):
    statements = []
    engine = session.get_bind().engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert recorder.flush(session) == 0
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    if isinstance(recorder, RedisUsageRecorder):
        assert request.getfixturevalue("redis_client").keys("*") == []


def test_a_rolled_back_flush_is_applied_again_once(recorder, session, key):
    record(recorder, key, times=2)
    recorder.flush(session)
    session.rollback()
    record(recorder, key)
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key.id)[0]["count"] == 3
    assert recorder.flush(session) == 0


def test_failed_flush_keeps_the_buffer(recorder, session, key, monkeypatch):
    record(recorder, key, times=2)

    def crash(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(usage, "apply", crash)
    with pytest.raises(RuntimeError):
        recorder.flush(session)
    monkeypatch.undo()
    session.rollback()
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key.id)[0]["count"] == 2


def test_leftover_of_a_crashed_flush_is_applied_exactly_once(redis_client, session, key):
    recorder = RedisUsageRecorder(redis_client)
    record(recorder, key, times=2)
    # A flush renamed the buffer, then its process died (its lock has expired).
    recorder._claim_batches(batch="crashed")
    record(recorder, key, times=3)
    assert flush_and_commit(recorder, session) == 2
    assert usage_report(session, key_id=key.id)[0]["count"] == 5
    assert flush_and_commit(recorder, session) == 0
    assert usage_report(session, key_id=key.id)[0]["count"] == 5
    assert redis_client.keys("*") == []


def test_a_second_flush_waits_for_the_first_to_commit(redis_client, session, key):
    recorder = RedisUsageRecorder(redis_client)
    record(recorder, key)
    assert recorder.flush(session) == 2
    record(recorder, key)
    assert recorder.flush(session) == 0  # the first flush's batch is not committed yet
    session.commit()
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key.id)[0]["count"] == 2


def test_history_outlives_the_key(recorder, session, key):
    record(recorder, key)
    session.delete(key)
    session.flush()
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key.id)[0]["count"] == 1


def test_bad_input_is_refused(recorder, session, key):
    with pytest.raises(ValidationError) as caught:
        record(recorder, key, "sneaky")
    assert caught.value.reason == "unknown_outcome"
    with pytest.raises(ValidationError):
        record(recorder, key, at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError) as caught:
        usage_report(session, granularity="week")
    assert caught.value.reason == "invalid_granularity"


def test_redis_failures_are_keyward_errors():
    recorder = RedisUsageRecorder(unreachable_redis())
    for call in (
        lambda: recorder.record(client_id=1, key_id=1, outcome="allowed", address=None),
        lambda: recorder.flush(None),  # fails reading Redis, before any database work
    ):
        with pytest.raises(UnavailableError) as caught:
            call()
        assert caught.value.reason == "redis_unavailable"


def test_records_during_flushes_are_neither_lost_nor_doubled(recorder, session, key):
    # Plain ids: the threads must not touch the session (commits expire ORM attributes).
    client_id, key_id = key.client_id, key.id

    def hammer():
        for _ in range(500):
            recorder.record(client_id=client_id, key_id=key_id, outcome="allowed", address=None)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    # Flush while the threads record: each record lands in exactly one batch.
    while any(thread.is_alive() for thread in threads):
        flush_and_commit(recorder, session)
    for thread in threads:
        thread.join()
    flush_and_commit(recorder, session)
    assert usage_report(session, key_id=key_id)[0]["count"] == 2000


def test_a_redis_failure_after_commit_does_not_fail_the_commit(
    redis_client, session, key, monkeypatch, caplog
):
    recorder = RedisUsageRecorder(redis_client)
    record(recorder, key)
    recorder.flush(session)

    def redis_gone(*_args, **_kwargs):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(recorder, "_finish", redis_gone)
    session.commit()
    assert "could not finish" in caplog.text
    assert usage_report(session, key_id=key.id)[0]["count"] == 1
