"""The leak pipeline through the Flask app: webhook -> incident -> action -> email."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from keystore import tokens
from keystore.decision import Request, decide
from keystore.models import Incident, Notification, Occurrence
from keystore.services import admins
from rotation import dispatch
from rotation.partner_keys import partner_sources
from rotation.partners import GITHUB, GITLAB
from tests.mailbox import body_text, mailbox
from tests.partner import Signer, alert, github, key_document
from tests.worlds import ACTOR

__all__ = ["github", "mailbox"]


@pytest.fixture(autouse=True)
def inline_tasks(monkeypatch):
    monkeypatch.setattr(dispatch, "run_inline", True)


@pytest.fixture
def with_mail(app, mailbox, session):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(
        runtime.settings, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_tls="none"
    )
    runtime.install_task_context()
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    admins.create_admin(session, actor=ACTOR, name="Bob", email="bob@example.com")
    admins.create_admin(
        session, actor=ACTOR, name="Quiet", email="quiet@example.com", notify_leaks=False
    )
    session.flush()
    return mailbox


def post_alert(client, signer, body, partner=GITHUB):
    return client.post(
        f"/v1/secret-scanning/{partner.name}", data=body, headers=signer.headers(body, partner)
    )


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def reason(session, settings, token) -> str:
    return decide(session, settings, credential=token, request=Request("orders.list")).reason


def test_a_leaked_prod_token_is_regenerated_and_everyone_is_told_once(
    client, github, session, settings, issue, with_mail, admin
):
    key, token = issue(environment="prod")
    response = post_alert(client, github, alert(token))
    assert response.status_code == 200
    assert response.json == [
        {
            "token_hash": tokens.github_token_hash(token),
            "token_type": "keyward_api_token",
            "label": "true_positive",
        }
    ]
    incident = session.scalar(select(Incident))
    assert (incident.state, incident.action) == ("notified", "regenerate")
    assert reason(session, settings, token) == "revoked"
    recipients = sorted(m["To"] for m in with_mail.messages)
    assert recipients == ["ada@example.com", "bob@example.com", "ops@acme.example"]
    text = body_text(with_mail.to("ada@example.com")[0])
    assert key.hint.split("…")[0] in text
    assert "github.com/o/r/blob/x/a.py" in text
    assert token not in text
    # The replacement token travels only through the authenticated API, once.
    picked = admin("POST", f"/api/v1/incidents/{incident.id}/replacement")
    assert picked.status_code == 200
    new_token = picked.json["token"]
    assert new_token not in "".join(body_text(m) for m in with_mail.messages)
    assert reason(session, settings, new_token) == "allowed"
    again = admin("POST", f"/api/v1/incidents/{incident.id}/replacement")
    assert (again.status_code, again.json["reason"]) == (409, "picked_up")


def test_a_leaked_dev_token_is_revoked(client, github, session, settings, issue, with_mail):
    key, token = issue(name="dev", environment="dev")
    post_alert(client, github, alert(token))
    session.refresh(key)
    assert key.state == "revoked"
    assert session.scalar(select(Incident.action)) == "revoke"


def test_a_role_can_override_the_environment_policy(
    client, github, session, world, issue, with_mail
):
    world.role.leak_action = "notify_only"
    session.flush()
    key, token = issue(environment="prod")
    post_alert(client, github, alert(token))
    session.refresh(key)
    assert key.state == "active"
    assert session.scalar(select(Incident.action)) == "notify_only"
    assert len(with_mail.messages) == 3


def test_unknown_and_damaged_tokens_are_false_positives_but_recorded(
    client, github, session, world
):
    foreign = tokens.generate("kw", "prod")
    response = post_alert(client, github, alert(foreign, "not-a-token", url=""))
    assert [r["label"] for r in response.json] == ["false_positive", "false_positive"]
    assert count(session, Occurrence) == 2
    assert count(session, Incident) == 0
    stored = " ".join(str(row) for row in session.execute(select(Occurrence.__table__)))
    assert foreign not in stored


def test_duplicates_join_one_incident_with_one_action_and_one_email_each(
    client, github, session, settings, issue, with_mail
):
    _, token = issue(environment="dev")
    post_alert(client, github, alert(token, token, source="commit"))
    post_alert(client, github, alert(token, source="Issue_Comment"))
    client.post("/v1/credentials/revoke", json={"credentials": [token]})
    assert count(session, Incident) == 1
    assert count(session, Occurrence) == 4
    assert len(with_mail.messages) == 3
    revokes = session.scalar(select(func.count()).select_from(Notification))
    assert revokes == 3
    sources = sorted(session.scalars(select(Occurrence.source)))
    assert sources == ["commit", "commit", "issue_comment", "public_revocation"]


def test_feedback_can_be_turned_off(app, client, github, issue):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, partner_feedback=False)
    _, token = issue()
    response = post_alert(client, github, alert(token))
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("mangle", "status", "reason_"),
    [
        (lambda body, headers: (body + b" ", headers), 401, "bad_signature"),
        (
            lambda body, headers: (body, {**headers, GITHUB.identifier_header: "abc"}),
            401,
            "unknown_key",
        ),
        (
            lambda body, headers: (body, {"Content-Type": "application/json"}),
            401,
            "missing_headers",
        ),
        (lambda body, headers: (body, {**headers, GITHUB.signature_header: "!!"}), 401, None),
    ],
)
def test_bad_signatures_are_rejected_with_no_side_effect(
    client, github, session, issue, mangle, status, reason_
):
    _, token = issue()
    body = alert(token)
    body, headers = mangle(body, github.headers(body))
    response = client.post("/v1/secret-scanning/github", data=body, headers=headers)
    assert response.status_code in (status, 400)
    if reason_:
        assert response.json["reason"] == reason_
    assert count(session, Occurrence) == 0
    assert count(session, Incident) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b"[]",
        b'[{"type": "x"}]',
        b'[{"token": 5}]',
        b'[{"token": "a", "url": 3}]',
        json.dumps(["oops", {"token": "\ud800"}, {"token": "x", "url": "\u0000"}]).encode(),
    ],
)
def test_malformed_alerts_are_rejected_with_no_side_effect(client, github, session, world, body):
    response = post_alert(client, github, body)
    assert response.status_code in (400, 422)
    assert set(response.json) >= {"error", "reason", "message"}
    assert count(session, Occurrence) == 0


def test_a_large_batch_is_accepted(client, github, session, issue):
    _, token = issue()
    body = alert(token, *[tokens.generate("kw", "prod") for _ in range(2000)])
    response = post_alert(client, github, body)
    assert response.status_code == 200
    assert sum(r["label"] == "true_positive" for r in response.json) == 1
    assert count(session, Occurrence) == 2001


def test_oversized_alerts_are_refused(app, client, github, session, world):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, webhook_max_bytes=2048)
    body = alert(*[tokens.generate("kw", "prod") for _ in range(100)])
    assert post_alert(client, github, body).status_code == 413
    assert count(session, Occurrence) == 0


def test_gitlab_alerts(client, session, issue, app, github):
    signer = Signer("gitlab-key-1")
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(
        runtime.settings, gitlab_keys_url="https://gitlab.example/keys"
    )
    runtime.partners = partner_sources(runtime.settings, None, requests.Session())
    github.mock.get("https://gitlab.example/keys", json=key_document(signer))
    _, token = issue(environment="dev")
    response = post_alert(client, signer, alert(token), partner=GITLAB)
    assert response.status_code == 200
    assert session.scalar(select(Incident.first_origin)) == "gitlab"
    wrong = post_alert(client, signer, alert(token))  # GitLab's key is not GitHub's
    assert wrong.status_code == 401


def test_public_revocation_reveals_nothing_and_is_rate_limited(app, client, session, issue):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(runtime.settings, public_revoke_per_hour=2)
    _, token = issue(environment="dev")
    mine = client.post("/v1/credentials/revoke", json={"credentials": [token]})
    theirs = client.post("/v1/credentials/revoke", json={"credentials": ["kw_dev_nothing"]})
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json == theirs.json
    assert count(session, Incident) == 1
    assert count(session, Occurrence) == 1  # unknown tokens from anyone are not kept
    limited = client.post("/v1/credentials/revoke", json={"credentials": [token]})
    assert limited.status_code == 429


def test_public_revocation_input_limits(client, world):
    assert client.post("/v1/credentials/revoke", json={"credentials": []}).status_code == 422
    many = {"credentials": [f"t{i}" for i in range(1001)]}
    assert client.post("/v1/credentials/revoke", json=many).status_code == 422
    assert client.post("/v1/credentials/revoke", json={"credentials": [1]}).status_code == 422


def test_smtp_down_then_recovered(client, github, session, issue, with_mail, admin):
    with_mail.refuse = True
    _, token = issue(environment="dev")
    post_alert(client, github, alert(token))
    incident = session.scalar(select(Incident))
    assert incident.state == "acted"
    assert with_mail.messages == []
    assert {n.state for n in incident.notifications} == {"pending"}
    with_mail.refuse = False
    dispatch.enqueue_incident(incident.id)  # a new report: the failed task still holds the lease
    assert with_mail.messages == []
    incident.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)  # the lease ran out
    session.flush()
    dispatch.enqueue_incident(incident.id)  # what the sweeper does
    session.refresh(incident)
    assert incident.state == "notified"
    assert len(with_mail.messages) == 3
    trail = admin("GET", f"/api/v1/incidents/{incident.id}").json
    assert [o["origin"] for o in trail["occurrences"]] == ["github"]
    assert all(n["state"] == "sent" for n in trail["notifications"])
    assert trail["acted_at"] <= trail["notified_at"]
