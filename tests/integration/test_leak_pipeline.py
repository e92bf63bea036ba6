"""The leak pipeline on a real stack: gunicorn, Redis, a Celery worker, SMTP, PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keystore.db import make_engine
from keystore.models import ApiKey, AuditEvent, Incident, Occurrence
from rotation.partners import GITLAB
from tests.conftest import TEST_PEPPER
from tests.integration.stack import GATEWAY_HEADERS, new_client, wait_until
from tests.partner import Signer, alert, key_document

TIMEOUT = 60


def post_github(stack, body: bytes, signer=None):
    signer = signer or stack.github
    return requests.post(
        f"{stack.base_url}/v1/secret-scanning/github",
        data=body,
        headers=signer.headers(body),
        timeout=30,
    )


def post_gitlab(stack, body: bytes):
    return requests.post(
        f"{stack.base_url}/v1/secret-scanning/gitlab",
        data=body,
        headers=stack.gitlab.headers(body, GITLAB),
        timeout=30,
    )


def post_public(stack, token: str):
    return requests.post(
        f"{stack.base_url}/v1/credentials/revoke", json={"credentials": [token]}, timeout=30
    )


def query(stack, statement):
    engine = make_engine(stack.database_url)
    try:
        with Session(engine) as session:
            return session.execute(statement).all()
    finally:
        engine.dispose()


def incident_of(stack, key_id: int):
    rows = query(
        stack, select(Incident.id, Incident.state, Incident.action).where(Incident.key_id == key_id)
    )
    return rows[0] if rows else None


def notified(stack, key_id: int):
    found = incident_of(stack, key_id)
    return found if found and found.state == "notified" else None


def revocations(stack, key_id: int) -> int:
    return query(
        stack,
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "key.revoke", AuditEvent.object_id == str(key_id)),
    )[0][0]


def mails_about(stack, client: str) -> list[str]:
    return sorted(m["To"] for m in stack.mailbox.messages if client in m["Subject"])


RECIPIENTS = ["ada@example.com", "bob@example.com"]


def test_a_signed_alert_is_revoked_and_mailed_within_seconds(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "alpha")
    log_start = len(stack.worker.output())
    response = post_github(stack, alert(token))
    assert response.status_code == 200
    assert response.json()[0]["label"] == "true_positive"
    found = wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="notification")
    assert found.action == "revoke"
    assert mails_about(stack, "alpha") == sorted([*RECIPIENTS, "alpha@client.example"])
    verdict = requests.post(
        f"{stack.base_url}/v1/verify",
        json={"token": token, "endpoint": "orders.list"},
        headers=GATEWAY_HEADERS,
        timeout=10,
    ).json()
    assert verdict["reason"] == "revoked"
    # It came through the broker right after the commit, not through the sweeper.
    assert "sweeper re-enqueued" not in stack.worker.output()[log_start:]


def test_a_prod_leak_is_regenerated_and_the_new_token_picked_up_once(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "bravo", environment="prod")
    post_github(stack, alert(token))
    found = wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="notification")
    assert found.action == "regenerate"
    auth = {"Authorization": f"Bearer {stack.admin_token}"}
    url = f"{stack.base_url}/api/v1/incidents/{found.id}/replacement"
    picked = requests.post(url, headers=auth, timeout=10)
    assert picked.status_code == 200
    new_token = picked.json()["token"]
    assert requests.post(url, headers=auth, timeout=10).status_code == 409
    verdict = requests.post(
        f"{stack.base_url}/v1/verify",
        json={"token": new_token, "endpoint": "orders.list"},
        headers=GATEWAY_HEADERS,
        timeout=10,
    )
    assert verdict.json()["allowed"] is True
    assert all(new_token not in m.as_string() for m in stack.mailbox.messages)


def test_fifty_duplicates_in_parallel_yield_one_revocation_and_one_email_each(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "charlie")
    senders = [
        lambda: post_github(stack, alert(token)),
        lambda: post_gitlab(stack, alert(token)),
        lambda: post_public(stack, token),
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: senders[i % 3](), range(50)))
    assert all(a.status_code in (200, 202) for a in answers), [a.status_code for a in answers]
    wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="notification")
    assert revocations(stack, key_id) == 1
    assert (
        query(stack, select(func.count()).select_from(Incident).where(Incident.key_id == key_id))[
            0
        ][0]
        == 1
    )
    occurrences = query(
        stack,
        select(func.count())
        .select_from(Occurrence)
        .join(Incident)
        .where(Incident.key_id == key_id),
    )[0][0]
    assert occurrences == 50
    assert mails_about(stack, "charlie") == sorted([*RECIPIENTS, "charlie@client.example"])


def test_github_rotating_its_key_is_followed(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "delta")
    rotated = Signer("github-key-2")
    stack.keys.documents["/github"] = key_document(rotated, stack.github)
    try:
        response = wait_until(
            lambda: _accepted(post_github(stack, alert(token), rotated)),
            timeout=10,
            what="the new key to be fetched",
        )
        assert response.json()[0]["label"] == "true_positive"
    finally:
        stack.keys.documents["/github"] = key_document(stack.github)
    wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="notification")


def _accepted(response):
    # A refetch is allowed once per window; inside the window GitHub would redeliver.
    return response if response.status_code == 200 else None


def test_bad_requests_change_nothing(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "echo")
    body = alert(token)
    forged = Signer("github-key-1")  # right identifier, wrong key
    assert post_github(stack, body, forged).status_code == 401
    assert (
        requests.post(
            f"{stack.base_url}/v1/secret-scanning/github", data=body, timeout=10
        ).status_code
        == 401
    )
    malformed = json.dumps({"token": token}).encode()
    assert post_github(stack, malformed).status_code == 422
    assert incident_of(stack, key_id) is None
    assert revocations(stack, key_id) == 0


def test_redis_down_at_webhook_time_then_back(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "foxtrot")
    stack.redis.stop()
    try:
        response = post_github(stack, alert(token))
        assert response.status_code == 200  # stored before answering, even without a broker
        assert incident_of(stack, key_id).state == "received"
    finally:
        stack.redis.start()
    found = wait_until(
        lambda: notified(stack, key_id),
        timeout=TIMEOUT,
        what="the sweeper to re-enqueue and the worker to finish",
    )
    assert found.action == "revoke"
    assert revocations(stack, key_id) == 1
    assert mails_about(stack, "foxtrot") == sorted([*RECIPIENTS, "foxtrot@client.example"])


def test_a_worker_killed_mid_task_is_replaced_and_nothing_is_done_twice(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "golf")
    stack.mailbox.rcpt_delay = 30.0  # the worker is stuck in the SMTP session
    seen = stack.mailbox.rcpt_seen
    post_github(stack, alert(token))
    wait_until(lambda: stack.mailbox.rcpt_seen > seen, timeout=TIMEOUT, what="the SMTP session")
    stack.worker.kill()
    stack.mailbox.rcpt_delay = 0.0
    assert incident_of(stack, key_id).state == "acted"
    stack.start_worker()
    wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="the redelivered task")
    assert revocations(stack, key_id) == 1
    assert mails_about(stack, "golf") == sorted([*RECIPIENTS, "golf@client.example"])


def test_smtp_down_then_recovered(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "hotel")
    stack.mailbox.refuse = True
    post_github(stack, alert(token))
    wait_until(
        lambda: (incident_of(stack, key_id) or (0, ""))[1] == "acted",
        timeout=TIMEOUT,
        what="the action",
    )
    assert mails_about(stack, "hotel") == []
    stack.mailbox.refuse = False
    wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="the retried emails")
    assert mails_about(stack, "hotel") == sorted([*RECIPIENTS, "hotel@client.example"])
    states = query(stack, select(ApiKey.state).where(ApiKey.id == key_id))
    assert states == [("revoked",)]


def test_with_every_worker_down_a_reported_key_is_refused_on_the_next_request(stack):
    key_id, token = new_client(stack.database_url, TEST_PEPPER, "india", environment="prod")
    verify = {"token": token, "endpoint": "orders.list"}
    assert requests.post(
        f"{stack.base_url}/v1/verify", json=verify, headers=GATEWAY_HEADERS, timeout=10
    ).json()["allowed"]
    stack.worker.stop()
    try:
        assert post_github(stack, alert(token)).status_code == 200
        verdict = requests.post(
            f"{stack.base_url}/v1/verify", json=verify, headers=GATEWAY_HEADERS, timeout=10
        ).json()
        assert verdict["reason"] == "revoked"
        assert incident_of(stack, key_id).state == "received"  # no task has run
    finally:
        stack.start_worker()
    found = wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="the regeneration")
    assert found.action == "regenerate"
