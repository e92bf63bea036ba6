"""The outgoing-webhook admin API: the secret shown once, URLs checked, privileges enforced."""

import dataclasses

import pytest
from sqlalchemy import func, select

from keystore.models import AuditEvent, Webhook
from keystore.services import catalogue, clients, keys, roles
from keystore.services.bootstrap import ADMIN_ROLE
from tests.receiver import receiver, verify
from tests.worlds import ACTOR

__all__ = ["receiver"]


@pytest.fixture
def settings(settings):
    """The test-only allowance for a receiver on http://127.0.0.1."""
    return dataclasses.replace(settings, notify_webhook_allow_loopback=True)


def webhook_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Webhook))


def test_create_shows_the_secret_once_and_never_again(admin, receiver, session):
    created = admin(
        "POST", "/api/v1/webhooks", json={"name": "pager", "kind": "json", "url": receiver.url}
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    secret = created.json["secret"]
    assert secret.startswith("whsec_")
    hook_id = created.json["id"]
    shown = admin("GET", f"/api/v1/webhooks/{hook_id}")
    listed = admin("GET", "/api/v1/webhooks")
    for body in (shown.text, listed.text):
        assert secret not in body
        assert "/hooks/keyward" not in body  # the path can be the credential
    assert shown.json["signed"] is True
    stored = session.get(Webhook, hook_id)
    assert secret.encode() not in stored.secret_sealed
    assert b"/hooks/keyward" not in stored.url_sealed
    tested = admin("POST", f"/api/v1/webhooks/{hook_id}/test")
    assert tested.json == {"delivered": True}
    headers, body, _ = receiver.requests[0]
    assert verify(secret, headers["x-keyward-signature"], body)
    assert admin("DELETE", f"/api/v1/webhooks/{hook_id}").json == {"deleted": hook_id}
    assert admin("GET", f"/api/v1/webhooks/{hook_id}").status_code == 404


def test_a_slack_webhook_has_no_secret_and_a_failing_test_is_a_502(admin, receiver):
    created = admin(
        "POST", "/api/v1/webhooks", json={"name": "chat", "kind": "slack", "url": receiver.url}
    )
    assert created.status_code == 201
    assert created.json["secret"] is None
    receiver.answers = [500]
    tested = admin("POST", f"/api/v1/webhooks/{created.json['id']}/test")
    assert tested.status_code == 502
    assert tested.json["reason"] == "receiver_error"
    assert "text" in receiver.requests[0][1].decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "json", "url": "http://hooks.example.com/x"}, "url"),
        ({"name": "x", "kind": "json", "url": "https://10.0.0.1/x"}, "url"),
        ({"name": "x", "kind": "json", "url": "https://169.254.169.254/"}, "url"),
        ({"name": "x", "kind": "json", "url": "file:///etc/passwd"}, "url"),
        ({"name": "x", "kind": "json", "url": "https://a\x00b.example/"}, "url"),
        ({"name": "x", "kind": "json", "url": "https://\ud800.example/"}, "url"),
        ({"name": "x", "kind": "json", "url": "https://x.example/" + "a" * 5000}, "url"),
        ({"name": "x", "kind": "json", "url": 12}, "url"),
        ({"name": "x", "kind": "json", "url": ["https://x.example/"]}, "url"),
        ({"name": "x", "kind": "pager", "url": "https://x.example/"}, "kind"),
        ({"name": "x", "kind": ["json"], "url": "https://x.example/"}, "kind"),
        ({"name": "", "kind": "json", "url": "https://93.184.215.14/"}, "name"),
        ({"name": "x" * 101, "kind": "json", "url": "https://93.184.215.14/"}, "name"),
        ({"name": "a\ud800b", "kind": "json", "url": "https://93.184.215.14/"}, "name"),
        ({"name": "a\x00b", "kind": "json", "url": "https://93.184.215.14/"}, "name"),
        ({"name": {"a": 1}, "kind": "json", "url": "https://93.184.215.14/"}, "name"),
        ({"kind": "json", "url": "https://x.example/"}, "name"),
        ({"name": "x", "kind": "json", "url": "https://x.example/", "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(admin, session, body, field):
    before = webhook_count(session)
    response = admin("POST", "/api/v1/webhooks", json=body)
    assert 400 <= response.status_code < 500
    assert set(response.json) >= {"error", "reason", "message"}
    assert response.json.get("field") == field
    assert webhook_count(session) == before


def test_hostile_ids_and_bodies_are_4xx(admin):
    assert admin("GET", "/api/v1/webhooks/99999999999999999999").status_code == 404
    assert admin("DELETE", "/api/v1/webhooks/12345").status_code == 404
    nested = "[" * 5000 + "]" * 5000
    response = admin("POST", "/api/v1/webhooks", data=nested, content_type="application/json")
    assert 400 <= response.status_code < 500


def test_webhook_admin_needs_its_privileges(client, session, settings, world):
    roles.create_role(session, actor=ACTOR, name="reader-ops", endpoints=["keyward.webhooks.read"])
    clients.create_client(
        session, actor=ACTOR, name="ops-bot", role="reader-ops", environments=["prod"]
    )
    _, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref="ops-bot", name="op", environment="prod"
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 200
    denied = client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"name": "x", "kind": "json", "url": "https://x.example/"},
    )
    assert denied.status_code == 403


def test_the_full_admin_role_gets_new_builtin_privileges_on_upgrade(session, admin_token):
    role = roles.get_role(session, ADMIN_ROLE)
    # As on a database from before the webhooks: their endpoints not yet declared.
    role.endpoints = [e for e in role.endpoints if not e.name.startswith("keyward.webhooks.")]
    for endpoint in catalogue.list_endpoints(session):
        if endpoint.name.startswith("keyward.webhooks."):
            session.delete(endpoint)
    session.flush()
    assert catalogue.ensure_builtin_endpoints(session) == 2
    names = {e.name for e in roles.get_role(session, ADMIN_ROLE).endpoints}
    assert {"keyward.webhooks.read", "keyward.webhooks.write"} <= names
    assert names == set(catalogue.BUILTIN_ENDPOINTS)


def test_creating_and_removing_are_audited(admin, session):
    created = admin(
        "POST",
        "/api/v1/webhooks",
        json={"name": "pager", "kind": "json", "url": "https://93.184.215.14/hook"},
    )
    admin("DELETE", f"/api/v1/webhooks/{created.json['id']}")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "webhook")
    ).all()
    assert sorted(actions) == ["webhook.create", "webhook.delete"]
    summaries = " ".join(session.scalars(select(AuditEvent.summary)).all())
    assert "/hook" not in summaries.replace("/…", "")
    assert created.json["secret"] not in summaries
