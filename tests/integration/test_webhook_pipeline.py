"""Outgoing webhooks on the real stack: gunicorn, Redis, a Celery worker, a local receiver."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from keystore.models import Incident, Notification
from tests.conftest import TEST_PEPPER
from tests.integration.stack import new_client, wait_until
from tests.integration.test_leak_pipeline import notified, post_github, query
from tests.partner import alert
from tests.receiver import receiver, verify

__all__ = ["receiver"]
TIMEOUT = 60


def add_webhook(stack, url: str, kind: str = "json") -> dict:
    response = requests.post(
        f"{stack.base_url}/api/v1/webhooks",
        json={"name": f"ops-{kind}", "kind": kind, "url": url},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def remove_webhook(stack, hook_id: int) -> None:
    requests.delete(
        f"{stack.base_url}/api/v1/webhooks/{hook_id}",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=10,
    )


def webhook_states(stack, key_id: int) -> list[tuple[str, int]]:
    return [
        tuple(row)
        for row in query(
            stack,
            select(Notification.state, Notification.attempts)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Incident.key_id == key_id, Notification.channel == "webhook"),
        )
    ]


def test_a_leak_is_posted_once_signed_and_retried_after_a_receiver_error(stack, receiver):
    hook = add_webhook(stack, receiver.url)
    try:
        receiver.answers = [500]
        key_id, token = new_client(stack.database_url, TEST_PEPPER, "webhook-alpha")
        assert post_github(stack, alert(token)).status_code == 200
        wait_until(lambda: notified(stack, key_id), timeout=TIMEOUT, what="notification")
    finally:
        remove_webhook(stack, hook["id"])
    assert len(receiver.requests) == 2  # the 500, then the delivery that counted
    assert webhook_states(stack, key_id) == [("sent", 2)]
    deliveries = {headers["x-keyward-delivery"] for headers, _, _ in receiver.requests}
    assert len(deliveries) == 1
    headers, body, _ = receiver.requests[-1]
    assert verify(hook["secret"], headers["x-keyward-signature"], body)
    assert token not in body.decode()
    assert json.loads(body)["client"]["name"] == "webhook-alpha"
