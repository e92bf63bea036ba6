"""The gateway under gunicorn with two worker processes sharing Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import TEST_PEPPER
from tests.integration.stack import GATEWAY_HEADERS, METRICS_HEADERS, new_client, wait_until


def verify(stack, token: str) -> dict:
    # A new connection per request, so both gunicorn workers take turns.
    response = requests.post(
        f"{stack.base_url}/v1/verify",
        timeout=10,
        headers={"Connection": "close", **GATEWAY_HEADERS},
        json={"token": token, "endpoint": "orders.list", "address": "203.0.113.5"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def admin(stack, method: str, path: str, **kwargs):
    headers = {"Authorization": f"Bearer {stack.admin_token}", "Connection": "close"}
    return requests.request(
        method, f"{stack.base_url}{path}", headers=headers, timeout=10, **kwargs
    )


def burst(stack, token: str, count: int) -> list[dict]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: verify(stack, token), range(count)))


def test_a_rate_limit_holds_across_both_workers(stack):
    _, token = new_client(
        stack.database_url,
        TEST_PEPPER,
        "india",
        limits={"rate_limit": 10, "rate_window_seconds": 60},
    )
    answers = burst(stack, token, 40)
    assert sum(a["allowed"] for a in answers) == 10
    assert {a["reason"] for a in answers if not a["allowed"]} == {"rate_limited"}
    # Both workers answered (each keeps its own metrics file, named by its pid).
    pids = {path.stem.rsplit("_", 1)[-1] for path in (stack.tmp / "metrics").glob("counter_*.db")}
    assert len(pids) >= 2


def test_a_quota_holds_across_both_workers(stack):
    _, token = new_client(stack.database_url, TEST_PEPPER, "juliet", limits={"quota_daily": 7})
    answers = burst(stack, token, 25)
    assert sum(a["allowed"] for a in answers) == 7
    assert {a["reason"] for a in answers if not a["allowed"]} == {"quota_exceeded"}


def test_a_revoked_or_regenerated_key_is_refused_on_the_very_next_request(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "kilo")
    assert verify(stack, token)["allowed"]
    regenerated = admin(stack, "POST", f"/api/v1/keys/{key_id}/regenerate", json={})
    assert regenerated.status_code == 200
    new_token = regenerated.json()["token"]
    assert verify(stack, token)["reason"] == "revoked"
    assert verify(stack, new_token)["allowed"]
    assert admin(stack, "POST", f"/api/v1/keys/{key_id}/revoke").status_code == 200
    assert verify(stack, new_token)["reason"] == "revoked"


def test_usage_counts_from_both_workers_reach_the_api(stack):
    key_id, token = new_client(
        stack.database_url, TEST_PEPPER, "lima", limits={"rate_limit": 5, "rate_window_seconds": 60}
    )
    burst(stack, token, 12)

    def totals():
        usage = admin(stack, "GET", f"/api/v1/usage?key_id={key_id}&granularity=day").json()
        return {row["outcome"]: row["count"] for row in usage["rows"]}

    # The answering worker pushes its counts before the flush; the other one within
    # KEYWARD_USAGE_PUSH_SECONDS (1 s).
    expected = {"allowed": 5, "rate_limited": 7}
    wait_until(lambda: totals() == expected, timeout=10, what=f"usage {expected}")
    assert totals() == expected  # and nothing counted twice
    shown = admin(stack, "GET", f"/api/v1/keys/{key_id}").json()
    assert shown["last_used_ip"] == "203.0.113.5"


def test_nginx_auth_request_endpoint(stack):
    _, token = new_client(stack.database_url, TEST_PEPPER, "mike")
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Original-URI": "/orders?page=2",
        "X-Original-Method": "GET",
        **GATEWAY_HEADERS,
    }
    allowed = requests.get(f"{stack.base_url}/v1/auth", headers=headers, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["X-Keyward-Client-Id"].isdigit()
    denied = requests.get(
        f"{stack.base_url}/v1/auth", timeout=10, headers={**headers, "X-Original-URI": "/admin"}
    )
    assert denied.status_code == 403


def test_metrics_add_up_over_workers(stack):
    _, token = new_client(stack.database_url, TEST_PEPPER, "november")
    burst(stack, token, 6)
    assert requests.get(f"{stack.base_url}/metrics", timeout=10).status_code == 401
    text = requests.get(f"{stack.base_url}/metrics", headers=METRICS_HEADERS, timeout=10).text
    allowed = [
        line
        for line in text.splitlines()
        if line.startswith('keyward_decisions_total{reason="allowed",surface="verify"}')
    ]
    assert allowed
    assert float(allowed[0].split()[-1]) >= 6
