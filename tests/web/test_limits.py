"""Rate limits, quotas and usage through the gateway, in memory and in a real Redis."""

import pytest

from keystore.limits_factory import make_rate_limiter, make_usage_recorder
from keystore.services import clients, keys
from tests.conftest import unreachable_redis
from tests.worlds import ACTOR


@pytest.fixture(params=["memory", "redis"])
def backend(request, app):
    """Switch the app between the embedded (memory) and the Redis limiter/usage buffer."""
    runtime = app.extensions["keyward"]
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        runtime.redis = client
        runtime.limiter = make_rate_limiter(client)
        runtime.usage = make_usage_recorder(client)
    return request.param


def verify(client, token):
    body = {"token": token, "endpoint": "orders.list", "address": "198.51.100.4"}
    return client.post("/v1/verify", json=body)


def test_rate_limit_refuses_with_429_state_and_headers(client, session, issue, backend):
    _key, token = issue(limits={"rate_limit": 3, "rate_window_seconds": 60})
    answers = [verify(client, token) for _ in range(5)]
    assert [a.json["allowed"] for a in answers] == [True, True, True, False, False]
    refused = answers[3]
    assert refused.json["reason"] == "rate_limited"
    assert refused.json["rate_limit"]["remaining"] == 0
    assert 0 < refused.json["rate_limit"]["retry_after"] <= 60
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert answers[0].headers["RateLimit-Remaining"] == "2"
    assert answers[0].headers["RateLimit-Policy"] == "3;w=60"
    nginx = client.get(
        "/v1/auth",
        headers={"Authorization": f"Bearer {token}", "X-Keyward-Endpoint": "orders.list"},
    )
    assert nginx.status_code == 429
    assert 0 < int(nginx.headers["Retry-After"]) <= 60


def test_client_quota_is_shared_by_its_keys_and_refusals_do_not_count(
    client, session, issue, world, backend
):
    clients.update_client(session, actor=ACTOR, ref=world.client.id, limits={"quota_daily": 3})
    session.flush()
    _, first = issue(name="a")
    _, second = issue(name="b", limits={"rate_limit": 1, "rate_window_seconds": 60})
    assert verify(client, first).json["allowed"]
    assert verify(client, second).json["allowed"]
    assert verify(client, second).json["reason"] == "rate_limited"  # not counted in the quota
    assert verify(client, first).json["allowed"]
    quota = verify(client, first).json
    assert (quota["allowed"], quota["reason"]) == (False, "quota_exceeded")


def test_usage_counts_by_outcome_and_last_use(client, session, issue, admin, backend):
    key, token = issue(limits={"rate_limit": 2, "rate_window_seconds": 60})
    for _ in range(3):
        verify(client, token)
    keys.set_key_active(session, actor=ACTOR, key_id=key.id, active=False)
    session.flush()
    verify(client, token)
    usage = admin("GET", f"/api/v1/usage?key_id={key.id}&granularity=day").json
    totals = {row["outcome"]: row["count"] for row in usage["rows"]}
    assert totals == {"allowed": 2, "rate_limited": 1, "key_inactive": 1}
    shown = admin("GET", f"/api/v1/keys/{key.id}").json
    assert shown["last_used_at"] is not None
    assert shown["last_used_ip"] == "198.51.100.4"
    assert admin("GET", "/api/v1/usage?granularity=week").status_code == 422


def test_redis_down_refuses_limited_keys_but_not_unlimited_ones(app, client, issue):
    runtime = app.extensions["keyward"]
    dead = unreachable_redis()
    runtime.limiter, runtime.usage = make_rate_limiter(dead), make_usage_recorder(dead)
    _, limited = issue(name="l", limits={"rate_limit": 5, "rate_window_seconds": 60})
    _, free = issue(name="f")
    refused = verify(client, limited)
    assert (refused.status_code, refused.json["reason"]) == (503, "redis_unavailable")
    assert verify(client, free).json["allowed"] is True


def test_health_is_readiness_and_a_redis_outage_only_degrades_it(app, client, redis_client):
    runtime = app.extensions["keyward"]
    runtime.redis = redis_client
    assert client.get("/healthz").json == {
        "status": "ok",
        "verification": "full",
        "database": "ok",
        "redis": "ok",
    }
    runtime.redis = unreachable_redis()
    down = client.get("/healthz")
    # Keys without limits are still verified: keep sending traffic, and say what is missing.
    assert down.status_code == 200
    assert down.json == {
        "status": "degraded",
        "verification": "unlimited keys only",
        "database": "ok",
        "redis": "unavailable",
    }
    assert client.get("/livez").status_code == 200


def test_one_redis_round_trip_at_most_per_request_and_none_without_limits(
    app, client, issue, redis_client, monkeypatch
):
    import redis.connection

    runtime = app.extensions["keyward"]
    runtime.redis = redis_client
    runtime.limiter = make_rate_limiter(redis_client)
    runtime.usage = make_usage_recorder(redis_client, push_seconds=60)
    _, free = issue(name="free")
    _, limited = issue(name="limited", limits={"rate_limit": 100, "rate_window_seconds": 60})
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    for token, trips in ((free, 0), (limited, 1)):
        for _ in range(3):
            sent.clear()
            assert verify(client, token).json["allowed"]
            assert len(sent) == trips
