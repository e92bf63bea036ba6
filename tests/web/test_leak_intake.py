"""The leak door under attack and faults: forged keys, bad records, deep bodies, no worker."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from keystore import tokens
from keystore.decision import Request, decide
from keystore.models import ApiKey, Incident, Occurrence
from rotation import dispatch
from rotation.intake import match_public
from tests.partner import Signer, alert, github

__all__ = ["github"]


@pytest.fixture
def no_worker(monkeypatch):
    """Every Celery worker is down: whatever is enqueued is only noted, never run."""
    sent = []
    monkeypatch.setattr(dispatch, "enqueue", lambda task, *args: sent.append((task.name, args)))
    return sent


def post(client, signer, body, headers=None):
    return client.post(
        "/v1/secret-scanning/github", data=body, headers=headers or signer.headers(body)
    )


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def reason(session, settings, token) -> str:
    return decide(session, settings, credential=token, request=Request("orders.list")).reason


def skipped(reason_: str) -> float:
    value = REGISTRY.get_sample_value(
        "keyward_alert_records_skipped_total", {"origin": "github", "reason": reason_}
    )
    return value or 0.0


def test_forged_key_identifiers_are_refused_without_a_fetch_or_a_wait(
    client, github, session, issue, no_worker, monkeypatch
):
    _, token = issue()
    assert post(client, github, alert(token)).status_code == 200  # the keys are now cached

    def refuse(seconds):
        raise AssertionError(f"an unauthenticated request waited {seconds} s")

    monkeypatch.setattr("time.sleep", refuse)
    for index in range(10):
        forger = Signer(f"{index:064x}")
        response = post(client, forger, alert(token))
        assert (response.status_code, response.json["reason"]) == (401, "unknown_key")
    assert len(github.mock.calls) == 1
    assert count(session, Occurrence) == 1


def test_one_bad_record_does_not_sink_the_signed_batch(
    client, github, session, settings, issue, no_worker
):
    _, token = issue(environment="prod")
    other = tokens.generate("kw", "prod")
    body = json.dumps(
        [
            {"token": token, "type": "keyward_api_token", "url": "https://x/a.py"},
            {"token": other, "type": "keyward_api_token", "url": "https://x/\u0000"},
            "not a record",
        ]
    ).encode()
    before = skipped("url_nul_byte")
    response = post(client, github, body)
    assert response.status_code == 200
    assert response.json == [
        {
            "token_hash": tokens.github_token_hash(token),
            "token_type": "keyward_api_token",
            "label": "true_positive",
        }
    ]
    assert count(session, Incident) == 1
    assert count(session, Occurrence) == 1
    assert reason(session, settings, token) == "revoked"
    assert skipped("url_nul_byte") == before + 1


@pytest.mark.parametrize(
    "bad",
    [
        '{"token": "\\ud800", "type": "keyward_api_token"}',
        '{"token": "kw_prod_\\udfff", "url": ""}',
        '{"token": "x", "source": "\\ud83d"}',
        '{"token": "a\\u0000b"}',
        '{"token": "' + "t" * 600 + '"}',
    ],
    ids=["surrogate_token", "low_surrogate_token", "surrogate_source", "nul_token", "long_token"],
)
def test_records_a_database_or_encoder_would_refuse_are_skipped_before_the_commit(
    client, github, session, settings, issue, no_worker, bad
):
    _, token = issue(environment="dev")
    good = json.dumps({"token": token, "type": "keyward_api_token", "url": ""})
    response = post(client, github, f"[{bad}, {good}]".encode())
    assert response.status_code == 200
    assert [r["label"] for r in response.json] == ["true_positive"]
    assert count(session, Incident) == 1
    alone = post(client, github, f"[{bad}]".encode())
    assert (alone.status_code, alone.json["reason"]) == (422, "malformed_alert")
    assert count(session, Occurrence) == 1


@pytest.mark.parametrize("depth", [9, 1000, 5000])
def test_deeply_nested_signed_bodies_are_a_400(client, github, session, world, depth):
    body = b"[" * depth + b"]" * depth
    response = post(client, github, body)
    assert (response.status_code, response.json["reason"]) == (400, "too_deep")
    inside = json.dumps([{"token": "kw_x", "url": "u"}]).encode()
    nested = inside.replace(b'"u"', b"[" * depth + b"]" * depth)
    assert post(client, github, nested).status_code == 400
    assert count(session, Occurrence) == 0


def test_brackets_inside_strings_do_not_count_as_nesting(client, github, session, issue):
    _, token = issue(environment="dev")
    body = json.dumps([{"token": token, "url": "[" * 5000 + "{" * 5000}]).encode()
    assert post(client, github, body).status_code == 200


def test_a_leaked_token_is_refused_with_every_worker_down(
    client, github, session, settings, issue, no_worker
):
    key, token = issue(environment="prod")
    assert reason(session, settings, token) == "allowed"
    response = post(client, github, alert(token))
    assert response.status_code == 200
    assert reason(session, settings, token) == "revoked"
    incident = session.scalar(select(Incident))
    assert incident.state == "received"
    assert incident.refused_at is not None
    assert incident.action is None  # the regeneration and the emails are the task's
    # One task was sent, under the incident's step lease.
    assert no_worker == [("keyward.handle_incident", (incident.id, incident.lease_id))]
    session.refresh(key)
    assert key.state == "active"


def test_a_notify_only_token_stays_valid(
    client, github, session, settings, world, issue, no_worker
):
    world.role.leak_action = "notify_only"
    session.flush()
    _, token = issue(environment="prod")
    post(client, github, alert(token))
    assert reason(session, settings, token) == "allowed"
    assert session.scalar(select(Incident.refused_at)) is None


def test_public_revocation_answers_alike_and_matches_after_the_answer(
    client, session, settings, issue, no_worker
):
    key, token = issue(environment="dev")
    stranger = tokens.generate("kw", "dev")
    mine = client.post("/v1/credentials/revoke", json={"credentials": [token]})
    theirs = client.post("/v1/credentials/revoke", json={"credentials": [stranger]})
    junk = client.post("/v1/credentials/revoke", json={"credentials": ["kw_dev_x", "junk"]})
    assert {r.status_code for r in (mine, theirs, junk)} == {202}
    assert mine.data == theirs.data == junk.data
    # Text no token can hold is refused like on every surface; it says nothing of our keys.
    bad = client.post("/v1/credentials/revoke", json={"credentials": ["\ud800", "a\x00"]})
    assert bad.status_code == 422
    assert sorted(mine.headers.keys()) == sorted(theirs.headers.keys())
    # Nothing was looked up before the answers: both submissions are stored alike.
    assert count(session, Incident) == 0
    assert count(session, Occurrence, Occurrence.incident_id.is_(None)) == 2
    assert [name for name, _ in no_worker] == ["keyward.match_public_reports"] * 2
    stored = " ".join(str(row) for row in session.execute(select(Occurrence.__table__)))
    assert token not in stored
    assert stranger not in stored
    intake = match_public(session, occurrence_ids=None, older_than=timedelta(0))
    assert len(intake.incident_ids) == 1
    assert count(session, Occurrence) == 1  # the stranger's token is forgotten
    assert reason(session, settings, token) == "revoked"
    assert session.get(ApiKey, key.id).state == "active"  # the task revokes the key itself


def test_public_revocation_refuses_absurd_credentials(client, world):
    response = client.post("/v1/credentials/revoke", json={"credentials": ["x" * 513]})
    assert (response.status_code, response.json["field"]) == (422, "credentials.0")


@pytest.mark.parametrize("depth", [1000, 5000])
def test_public_revocation_refuses_deep_bodies_with_a_400(client, world, depth):
    body = '{"credentials": ' + "[" * depth + "]" * depth + "}"
    response = client.post(
        "/v1/credentials/revoke", data=body, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json["reason"]) == (400, "too_deep")
