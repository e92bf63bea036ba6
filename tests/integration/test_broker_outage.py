"""Redis goes away while retries are pending: the worker lives on, every email goes out once."""

from __future__ import annotations

import time
from collections import Counter
from email.header import decode_header, make_header

import requests
from sqlalchemy import select

from keystore.models import Incident, Notification
from tests.conftest import TEST_PEPPER
from tests.integration.stack import new_client, wait_until
from tests.integration.test_leak_pipeline import RECIPIENTS, post_github, query
from tests.partner import alert

TIMEOUT = 90


def states(stack, key_ids: list[int]) -> list[str]:
    rows = query(stack, select(Incident.state).where(Incident.key_id.in_(key_ids)))
    return [state for (state,) in rows]


def tried(stack, key_ids: list[int]) -> int:
    rows = query(
        stack,
        select(Notification.attempts)
        .join(Incident, Incident.id == Notification.incident_id)
        .where(Incident.key_id.in_(key_ids)),
    )
    return sum(attempts for (attempts,) in rows)


def test_a_redis_outage_with_retries_pending_ends_no_worker(stack):
    names = [f"outage{i}" for i in range(4)]
    clients = {name: new_client(stack.database_url, TEST_PEPPER, name) for name in names}
    key_ids = [key_id for key_id, _ in clients.values()]
    log_start = len(stack.worker.output())
    # SMTP refuses every message: the worker holds the scheduled retries, unacknowledged.
    stack.mailbox.refuse = True
    for _, token in clients.values():
        assert post_github(stack, alert(token)).status_code == 200
    wait_until(lambda: tried(stack, key_ids) >= 8, timeout=TIMEOUT, what="failed email attempts")
    time.sleep(0.3)  # the retries are scheduled; the worker waits on Redis
    stack.redis.stop()
    try:
        late_id, late_token = new_client(stack.database_url, TEST_PEPPER, "outage-late")
        started = time.monotonic()
        answer = post_github(stack, alert(late_token))
        elapsed = time.monotonic() - started
        assert answer.status_code == 200  # stored before answering
        assert elapsed < 3.0, f"the webhook waited {elapsed:.1f} s for the broker"
        time.sleep(3)  # the worker notices and reconnects in a loop
        assert stack.worker.process.poll() is None, stack.worker.output()[log_start:][-3000:]
    finally:
        stack.redis.start()
    stack.mailbox.refuse = False
    everyone = [*key_ids, late_id]
    wait_until(
        lambda: states(stack, everyone) == ["notified"] * len(everyone),
        timeout=TIMEOUT,
        what="every incident to be notified after the outage",
    )
    output = stack.worker.output()[log_start:]
    assert stack.worker.process.poll() is None
    assert "Unrecoverable error" not in output
    sent = Counter(
        (m["To"], str(make_header(decode_header(m["Subject"])))) for m in stack.mailbox.messages
    )
    for name in [*names, "outage-late"]:
        mine = {to: n for (to, subject), n in sent.items() if subject.endswith(f" of {name}")}
        assert mine == dict.fromkeys([*RECIPIENTS, f"{name}@client.example"], 1), name
    assert requests.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200
