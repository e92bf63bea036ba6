"""Scans never delay a leak: two scans hung on a git server that never answers, and an alert.

The scans hold both processes of the scan worker; the leak response has its own queue
and worker (as in production), so the leaked key is refused at once and its emails go
out while the scans are still stuck.  The scans are then cut off by the time limit and
their runs end as failed, with a reason.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import TEST_PEPPER
from tests.integration.stack import GATEWAY_HEADERS, new_client, wait_until
from tests.integration.test_leak_pipeline import RECIPIENTS, mails_about, notified, post_github
from tests.integration.test_scheduled_scan import admin, runs
from tests.partner import alert
from tests.stalled import StalledServer


@pytest.fixture
def stalled():
    server = StalledServer()
    yield server
    server.close()


def refused(stack, token: str) -> bool:
    answer = requests.post(
        f"{stack.base_url}/v1/verify",
        json={"token": token, "endpoint": "orders.list"},
        headers=GATEWAY_HEADERS,
        timeout=5,
    ).json()
    return answer["allowed"] is False


def test_a_leak_is_refused_within_a_second_while_two_scans_hang(stack, stalled):
    repo_ids = [
        admin(
            stack,
            "POST",
            "/api/v1/repositories",
            json={"url": f"http://127.0.0.1:{stalled.port}/{name}.git"},
        ).json()["id"]
        for name in ("one", "two")
    ]
    wait_until(
        lambda: stalled.git_requests() >= 2, timeout=30, what="both scans to hang in git fetch"
    )
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "stalled", environment="prod")
    assert not refused(stack, token)

    started = time.monotonic()
    assert post_github(stack, alert(token)).status_code == 200
    wait_until(lambda: refused(stack, token), timeout=5, what="the refusal", interval=0.02)
    elapsed = time.monotonic() - started
    print(f"leak refused {elapsed * 1000:.0f} ms after the alert, with 2 scans hung")
    assert elapsed < 1.0

    wait_until(lambda: notified(stack, key_id), timeout=15, what="the leak's emails")
    assert mails_about(stack, "stalled") == sorted([*RECIPIENTS, "stalled@client.example"])
    assert [runs(stack, repo_id)[0]["status"] for repo_id in repo_ids] == ["running"] * 2

    for repo_id in repo_ids:
        ended = wait_until(
            lambda repo_id=repo_id: [r for r in runs(stack, repo_id) if r["status"] != "running"],
            timeout=60,
            what="the hung scan to be cut off",
        )[0]
        assert ended["status"] == "failed"
        assert ended["reason"] in ("timeout", "transfer_stalled")
        assert ended["error"].startswith("could not fetch")
